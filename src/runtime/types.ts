import type { WorktreeFile } from "./paths";

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
  /** Record what the run receives from outside the isolate (RunResult.recording). */
  record?: boolean;
  /** Serve this recording instead of asking the outside world (runtime/replay.ts). */
  replay?: Recording;
  /** With replay: the recorded run was stopped while it waited; stop it the same way once its recording is served. */
  replayStop?: "timeout" | "cancelled";
}

/**
 * What one run received from outside its isolate (SPEC, Durable sessions),
 * in the order it asked: enough to run the same code again and serve it the
 * same values (runtime/replay.ts). Plain data; absent parts were not used.
 */
export interface Recording {
  /** Math.random's seed, when the run drew from it (see sandbox/src/record.js). */
  seed?: number;
  /** Clock readings as runs: [value, count, value, count, …]. */
  clock?: number[];
  /** Host calls' answers in order, by name ("fs.readFile", "exec.run", "crypto.randomBytes"): module envelopes. */
  calls?: Array<[string, unknown]>;
  /** Calls into the isolate on the host's initiative, in order: ["t", timer id] or ["f", fetch id, meta, body]. */
  callbacks?: Array<[string, number, string?, string?]>;
  /** ES module imports: [importer (worktree-relative), specifier, file (worktree-relative, "" if it failed), its source or the failure]. */
  imports?: Array<[string, string, string, string]>;
  /** Console lines the run's output limit let through (present only when the limit ended the run). */
  consoleLines?: number;
  /** Set instead of everything else when the recording passed its cap: why. */
  overflow?: string;
}

/** How a replayed run must end to be the run that was recorded. */
export type ExpectedOutcome =
  { kind: "value"; type: string; preview: string } | { kind: "exception"; message: string } | { kind: "timeout" | "cancelled" | "output-limit" | "other" };

/** One recorded execution, to be run again (runtime/replay.ts). */
export interface ReplayStep {
  number: number;
  request: RunRequest;
  limits: RunLimits;
  recording: Recording;
  expect: ExpectedOutcome;
}

export type RunRequest = { kind: "repl"; code: string } | { kind: "file"; file: string | WorktreeFile; options?: RunFileOptions };

export interface ReplayResult {
  /** Steps that ran and matched. */
  replayed: number;
  /** The first step that did not match, and how. */
  divergence?: { number: number; reason: string };
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
  /** With RunHooks.record: what the run received from outside (absent when nothing). */
  recording?: Recording;
  /** A replayed run that asked for what its recording does not hold, or left some of it unasked: how. */
  diverged?: string;
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
