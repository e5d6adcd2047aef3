/**
 * The prelude: one strict function, compiled once per process (its V8 code
 * cache is reused for every later context, see session-runtime.ts) and called
 * once per context. Host references arrive as its arguments and stay in
 * closure variables (never on globalThis), and strict mode keeps them out of
 * reach of Error.prepareStackTrace tricks (CallSite#getThis/getFunction are
 * undefined for strict frames). It returns the control function, which only
 * the host holds (as a Reference).
 *
 * Arguments: consoleSink, consoleSync, timerHost, hostCall, execHost, netHost
 * (References to host functions), the SharedArrayBuffer of the control slots
 * and the console ring (see ../console-ring.ts), config, and
 * the context itself (user scripts run from inside, see run()).
 *
 * Its body is the JavaScript files in ./src (type-checked on their own, see
 * ./src/tsconfig.json), joined in SOURCE_FILES order after the constants
 * they share with the host (./constants.ts). The files are read next to this
 * module: `npm run build` copies them beside the compiled one.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as shared from "./constants";

export type { PreludeConfig } from "./constants";
export { OP_BEGIN, OP_FIRE_TIMER, OP_REPLAY, OP_RUN, OP_SETTLE_FETCH, OP_SETTLE_MODULE, OP_TAKE_RECORDING } from "./constants";

/** Run in this order: each may use what the ones before it defined. */
export const SOURCE_FILES: readonly string[] = [
  "intrinsics.js",
  "wasm.js", // WebAssembly is deleted or bounded before anything else runs
  "record.js",
  "describe.js",
  "console.js",
  "timers.js",
  "require.js",
  "net.js",
  "control.js",
];

/** The folder of the sandbox's sources, beside this module in src/ and in dist/. */
export const SANDBOX_SOURCE_DIR = join(__dirname, "src");

/**
 * Finds the names of the global constructors every fresh context has (what
 * the shim's "%s" handling treats as built-ins). Run once per process in a
 * throwaway context; evaluates to JSON text.
 */
export const BUILT_IN_NAMES_PROBE = String.raw`(() => {
  const out = [];
  for (const n of Reflect.ownKeys(globalThis)) {
    if (typeof n === "string" && /^[A-Z][a-zA-Z0-9]+$/.test(n)) {
      const d = Object.getOwnPropertyDescriptor(globalThis, n);
      if (d && typeof d.value === "function") out.push(n);
    }
  }
  return JSON.stringify(out);
})()`;

let body: string | undefined;

/** The sources, joined: read once per process. */
function sandboxBody(): string {
  body ??= SOURCE_FILES.map((file) => readFileSync(join(SANDBOX_SOURCE_DIR, file), "utf8")).join("\n");
  return body;
}

/**
 * `const NAME = value;` for what the sandbox's sources take from the host
 * (declared for them in ./src/host.d.ts): every export of ./constants.ts
 * (plain data) and this V8's built-in constructor names.
 */
function constantsHeader(builtInNames: readonly string[]): string {
  const lines = Object.entries(shared).map(([name, value]) => `const ${name} = ${JSON.stringify(value)};`);
  lines.push(`const BUILT_IN_NAMES = ${JSON.stringify(builtInNames)};`);
  return lines.join("\n");
}

/** The prelude as one function expression (the completion value of its script). */
export function preludeSource(builtInNames: readonly string[]): string {
  return [
    "(function (consoleSink, consoleSync, timerHost, hostCall, execHost, netHost, ctlBuffer, config, context, isolate) {",
    '"use strict";',
    constantsHeader(builtInNames),
    sandboxBody(),
    "return control;",
    "})",
  ].join("\n");
}
