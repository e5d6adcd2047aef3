/**
 * The prelude: one strict closure run once per context with
 * `context.evalClosure`. Host references arrive as closure arguments and stay
 * in closure variables (never on globalThis), and strict mode keeps them out
 * of reach of Error.prepareStackTrace tricks (CallSite#getThis/getFunction
 * are undefined for strict frames). It returns the control object, which only
 * the host holds (as a Reference).
 *
 * Closure arguments: $0 consoleSink, $1 timerHost, $2 hostCall, $3 execHost
 * (References to host functions), $4 the control SharedArrayBuffer, $5 config.
 */
import { CONSOLE_SOURCE } from "./console";
import { DESCRIBE_SOURCE } from "./describe";
import { INTRINSICS_SOURCE } from "./intrinsics";
import { REQUIRE_SOURCE } from "./require";
import { TIMERS_SOURCE } from "./timers";

export interface PreludeConfig {
  console: boolean;
  modules: string[];
  allowExec: boolean;
  globals: Record<string, unknown>;
  /** Random global name the module entry wrapper calls when the graph has finished. */
  moduleHook: string;
}

const CONTROL_SOURCE = String.raw`
function deepFreeze(v) {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    freeze(v);
    const keys = ownKeys(v);
    for (let i = 0; i < keys.length; i++) deepFreeze(v[keys[i]]);
  }
  return v;
}

function defineRunGlobal(name, value) {
  defineProp(G, name, { __proto__: null, value: value, writable: true, configurable: true, enumerable: false });
}

defineProp(G, "console", { __proto__: null,
  value: config.console ? makeConsole() : makeSilentConsole(),
  writable: true, configurable: true, enumerable: false });
installTimers();
if (config.modules.length > 0) {
  defineProp(G, "require", { __proto__: null, value: makeRequire(config.modules, config.allowExec),
    writable: true, configurable: true, enumerable: false });
}
{
  const names = ownKeys(config.globals);
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    defineProp(G, n, { __proto__: null, value: deepFreeze(config.globals[n]),
      writable: false, configurable: false, enumerable: true });
  }
}

async function settle(value, wrapped) {
  try {
    if (wrapped) {
      const r = await value;
      value = r === undefined ? undefined : r.value;
    }
    if (value !== null && typeof value === "object" && isPromise(value)) value = await value;
    return describeValue(value);
  } catch (e) {
    return describeThrown(e);
  }
}

// Runs a compiled user script from inside the isolate, so what it throws is
// caught here as the real value (isolated-vm would copy only Error objects).
// The host's call carries the timeout, which covers runSync and microtasks.
const RUN_OPTIONS = freeze({ __proto__: null, reference: true });
const RELEASE = freeze({ __proto__: null, release: true });
async function runScript(script, context, wrapped) {
  let value;
  try {
    value = script.runSync(context, RUN_OPTIONS).deref(RELEASE);
  } catch (e) {
    return describeThrown(e);
  }
  return settle(value, wrapped);
}

// isolated-vm's Module#evaluate drops the evaluation promise, so a module
// with top-level await would look finished too early. The host evaluates a
// wrapper (import * as ns from <entry>; <hook>(ns)) whose body runs only once
// the whole graph has finished; the hook lives on globalThis for that run only.
let abandonModule = null;
async function settleModule() {
  let resolve;
  const done = new PromiseCtor((r) => { resolve = r; });
  abandonModule = () => resolve(null);
  defineProp(G, config.moduleHook, { __proto__: null, configurable: true, writable: false, enumerable: false,
    value: function (ns) { delete G[config.moduleHook]; abandonModule = null; resolve([ns]); } });
  const box = await done; // boxed: a namespace exporting "then" must not be treated as a thenable
  return box === null ? "" : settle(box[0], false);
}

return {
  runScript: runScript,
  settleModule: settleModule,
  beginRun(argv, env) {
    mapClear(timers);
    // A module run that failed or was stopped left its wait pending: end it.
    delete G[config.moduleHook];
    if (abandonModule !== null) { abandonModule(); abandonModule = null; }
    groupIndent = 0;
    defineRunGlobal("argv", argv);
    defineRunGlobal("env", env);
  },
  fireTimer: fireTimer,
};
`;

export const PRELUDE_SOURCE = [
  '"use strict";',
  "const consoleSink = $0, timerHost = $1, hostCall = $2, execHost = $3;",
  "const ctl = new Int32Array($4);",
  "const config = $5;",
  INTRINSICS_SOURCE,
  DESCRIBE_SOURCE,
  CONSOLE_SOURCE,
  TIMERS_SOURCE,
  REQUIRE_SOURCE,
  CONTROL_SOURCE,
].join("\n");
