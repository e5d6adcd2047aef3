/**
 * Sessions' runtimes in this process: the runtime port (core/ports.ts
 * `Runtimes`) as the server has it today. It owns what all its runtimes
 * share: the prelude's code cache, made once after a warm-up, and the spare
 * isolates made ahead of the next create (IsolateSpares). The next step
 * puts the same port in front of session host processes.
 */
import type ivm from "isolated-vm";
import { fillSync } from "./code-cache";
import { IsolateSpares, type Spare } from "./isolate-spares";
import { isKnownLibrary } from "./libraries";
import { MODULE_NAMES } from "./modules";
import { builtInNames, MIN_MEMORY_MB, newIsolate, preludeSetup, type CatastrophicHandler, type PreludeCode } from "./prelude-code";
import { preludeSource } from "./sandbox/prelude";
import { SessionRuntime } from "./session-runtime";
import { PRELUDE_FILENAME } from "./stack";
import { RuntimeError, type RunHooks, type RunLimits, type RuntimeOptions } from "./types";

const WARM_UP_MEMORY_MB = 32;
/** No modules or libraries: the worktree is never touched. */
const WARM_UP_OPTIONS: RuntimeOptions = {
  memMb: WARM_UP_MEMORY_MB,
  worktreePath: "/",
  runtime: { esm: false, strict: false, console: true, wasm: false },
  resolver: { roots: [], extensions: [".js"], allowAbsoluteRepoImports: false },
  modules: [],
  libraries: [],
  allowExec: false,
};
const WARM_UP_LIMITS: RunLimits = { cpuMs: 5000, wallMs: 5000 };
const WARM_UP_HOOKS: RunHooks = { onConsole: () => true, consoleBudget: () => ({ events: 1000, bytes: 1 << 20 }) };
const WARM_UP_INPUTS = [
  "1 + 1",
  "var a = 'text'; let b = [1, { c: 2 }]; class K {} b",
  "console.log('line', 1, true); console.error({ e: [1, 2] }, new Map([[1, 2]])); ({ k: new K(), f() {} })",
  "throw new TypeError('warm-up')",
  "const p = await new Promise((r) => setTimeout(() => r(a), 0)); p",
  "Promise.reject(new Error('rejected'))",
  "(",
];

/**
 * A spare: isolate, context and the prelude's setup function, compiled and
 * defined but not called (that takes the session's configuration); running
 * the prelude's script changes nothing else.
 */
interface SpareRuntime extends Spare {
  context: ivm.Context;
  setup?: ivm.Reference;
}

export interface LocalRuntimesOptions {
  /** isolated-vm's "V8 lost control" hook, for every isolate made here: the process should log and exit. */
  onCatastrophicError?: CatastrophicHandler;
}

export class LocalRuntimes {
  private prelude?: Promise<PreludeCode>;
  /** The prelude once made: set once (spares are asked for only after a create, which waits for it). */
  private preludeMade?: PreludeCode;
  private readonly spares: IsolateSpares<SpareRuntime>;
  private readonly onCatastrophicError?: CatastrophicHandler;

  constructor(options: LocalRuntimesOptions = {}) {
    this.onCatastrophicError = options.onCatastrophicError;
    this.spares = new IsolateSpares<SpareRuntime>((memMb, onCatastrophicError) => {
      const isolate = newIsolate(memMb, onCatastrophicError);
      try {
        const context = isolate.createContextSync();
        const code = this.preludeMade;
        return { isolate, context, setup: code && preludeSetup(isolate, context, code) };
      } catch (e) {
        isolate.dispose();
        throw e;
      }
    });
  }

  /**
   * Makes the prelude's code cache now rather than in the first create (its
   * failure is left to create). Resolves once the throwaway isolate is gone.
   */
  warmUp(): Promise<void> {
    return this.preludeCode().then(
      () => undefined,
      () => undefined,
    );
  }

  async create(opts: RuntimeOptions): Promise<SessionRuntime> {
    const unknownModule = opts.modules.find((m) => !(MODULE_NAMES as readonly string[]).includes(m));
    if (unknownModule !== undefined) throw new RuntimeError("INVALID_OPTIONS", `unknown module '${unknownModule}'`);
    const unknownLibrary = opts.libraries.find((l) => !isKnownLibrary(l));
    if (unknownLibrary !== undefined) throw new RuntimeError("INVALID_OPTIONS", `unknown library '${unknownLibrary}'`);

    const code = await this.preludeCode();
    const memMb = Math.max(MIN_MEMORY_MB, opts.memMb);
    const spare = this.spares.take(memMb, this.onCatastrophicError);
    const isolate = spare?.isolate ?? newIsolate(memMb, this.onCatastrophicError);
    return SessionRuntime.open(opts, isolate, code, spare);
  }

  /**
   * Has an isolate, context and compiled prelude made for the next session
   * start with this memory limit once the current work has answered.
   */
  keepSpare(memMb: number): void {
    this.spares.replenish(Math.max(MIN_MEMORY_MB, memMb), this.onCatastrophicError);
  }

  /** Frees the spares, once the warm-up (whose isolate may be running) is over. */
  async close(): Promise<void> {
    this.spares.close();
    await this.prelude?.catch(() => undefined);
  }

  private preludeCode(): Promise<PreludeCode> {
    // Made once; tried again if that failed.
    return (this.prelude ??= warmPrelude().then(
      (code) => (this.preludeMade = code),
      (e: unknown) => {
        this.prelude = undefined;
        throw e;
      },
    ));
  }
}

/**
 * V8 compiles a function when it is first called, and a code cache holds
 * only what was compiled when it was made. Made right after a context's setup,
 * it left every new session compiling the run, describe and console code on
 * its first execution (measured: the first REPL of a session took 2.6 ms, the
 * next ones 0.4). So a throwaway runtime first runs inputs that take the
 * common paths, then the cache is made.
 */
async function warmPrelude(): Promise<PreludeCode> {
  const isolate = newIsolate(WARM_UP_MEMORY_MB);
  let code: PreludeCode;
  try {
    code = { source: preludeSource(builtInNames(isolate)), cache: { data: undefined } };
  } catch (e) {
    isolate.dispose();
    throw e;
  }
  const runtime = await SessionRuntime.open(WARM_UP_OPTIONS, isolate, code);
  try {
    for (const input of WARM_UP_INPUTS) await runtime.runRepl(input, WARM_UP_LIMITS, WARM_UP_HOOKS);
    fillSync(isolate, code.source, PRELUDE_FILENAME, code.cache);
    return code;
  } finally {
    runtime.dispose();
  }
}
