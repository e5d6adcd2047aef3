/** The sandbox runtime: what the rest of the service uses. */
export { LocalRuntimes } from "./local-runtimes";
export type { SessionRuntime } from "./session-runtime";
export { AVAILABLE_MODULES, JS_BUILTIN_NAMES, LIBRARY_CATALOGUE } from "./catalogue";
export { RuntimeError } from "./types";
export type { ConsoleLevel, ReplayStep, RunFileOptions, RunHooks, RunLimits, RunOutcome, RunResult, RuntimeOptions } from "./types";
