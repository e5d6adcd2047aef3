/**
 * The contract between the sandbox runtime and the rest of the service.
 * Plain TypeScript on purpose: no gRPC, proto or database types here.
 */

export type ConsoleLevel = "log" | "info" | "warn" | "error" | "debug";

export interface ValueDescription {
  type: string;
  preview: string;
  /** Present only when a JSON round trip is lossless; may be null. */
  json?: unknown;
}

export interface ExceptionDescription {
  name: string;
  message: string;
  stack: string;
}

export interface RuntimeOptions {
  memMb: number;
  /** Absolute and realpath'd. */
  worktreePath: string;
  /** dedicatedHost: a session host process of its own (only RemoteRuntimes reads it). */
  runtime: { esm: boolean; strict: boolean; console: boolean; wasm?: boolean; dedicatedHost?: boolean };
  resolver: { roots: string[]; extensions: string[]; allowAbsoluteRepoImports: boolean };
  /** Host modules granted: a subset of "fs", "path", "database", "exec". */
  modules: string[];
  /** A subset of LIBRARY_CATALOGUE names. */
  libraries: string[];
  /** Server flag: require('exec') throws unless true. */
  allowExec: boolean;
  /** Read-only globals (JSON values). */
  globals?: Record<string, unknown>;
  /** Base `env` global for every execution. */
  env?: Record<string, string>;
  /** Default true; false makes the fs module read-only. */
  fsWritable?: boolean;
  /**
   * Present: the sandbox gets a global fetch() limited to these hosts (see
   * net.ts for the entry forms; an empty list denies everything). Absent: no fetch.
   */
  net?: { allowHosts: string[] };
}

export interface RunLimits {
  cpuMs: number;
  wallMs: number;
}

export interface RunHooks {
  /**
   * Called in order, once per console call, with Node-formatted text.
   * Returning false means "limit reached: drop this line"; from then on console
   * calls in the sandbox throw and onConsole is not called again for this run.
   */
  onConsole(level: ConsoleLevel, text: string): boolean;
  /**
   * Optional: what onConsole will still accept right now, assuming nothing
   * else is recorded meanwhile: `events` more lines, as long as their texts
   * total at most `bytes` UTF-8 bytes. The runtime reads it when a run starts
   * and after every console line it had to deliver synchronously.
   *
   * With it, console calls stay fire-and-forget while a line certainly fits
   * and only calls near a limit wait for the host (so the call that crosses a
   * limit can throw itself). Without it, every console call waits for
   * onConsole's answer: always correct, much slower.
   */
  consoleBudget?(): ConsoleBudget;
  /**
   * Optional: when whoever reads onConsole's lines has fallen behind (a
   * session host's main process), a promise for when it has caught up. The
   * sandbox's console calls then wait for it on the isolate's thread (this
   * thread stays free to hear that it has), so the lines in between are
   * held by nobody. Asked after every batch of lines; it must settle by
   * itself within a bounded time.
   */
  consoleWait?(): Promise<void> | undefined;
  /** Abort = cancel the run. */
  signal?: AbortSignal;
}

interface ConsoleBudget {
  events: number;
  bytes: number;
}

export type RunOutcome =
  | { kind: "value"; value: ValueDescription }
  | { kind: "exception"; exception: ExceptionDescription }
  /**
   * cause: when not the limit itself (the run held its session host's
   * thread). hostLost: the run took its session host down, which ends its
   * session (CRASHED) rather than restarting it.
   */
  | { kind: "timeout"; limit: "wall" | "cpu"; isolateDisposed: boolean; cause?: string; hostLost?: boolean }
  /** cause: why, when not the caller's cancel (the session host was lost). */
  | { kind: "cancelled"; isolateDisposed: boolean; cause?: string }
  /** cause: when not the session's own mem_mb (the session host's memory budget). */
  | { kind: "memory"; cause?: string }
  | { kind: "output-limit" };

export interface RunResult {
  outcome: RunOutcome;
  /** CPU time the isolate spent during this run. */
  cpuMs: number;
}

export interface RunFileOptions {
  args?: string[];
  env?: Record<string, string>;
  /** Defaults to "module" when runtime.esm is on, else "eval". */
  mode?: "eval" | "module";
}

export type RuntimeErrorCode =
  | "INVALID_PATH"
  | "FILE_NOT_FOUND"
  /** The isolate is gone (memory limit, disposal, dispose()). */
  | "DISPOSED"
  /** A run is already in progress on this runtime. */
  | "BUSY"
  /** A library or module name that is not in the catalogue. */
  | "INVALID_OPTIONS";

/** Problems detected before any user code runs. */
export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RuntimeError";
  }
}
