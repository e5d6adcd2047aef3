/**
 * The one protocol between the server's main process (RemoteRuntimes) and a
 * session host process (host-main.ts), over the IPC channel of
 * child_process.fork with serialization "advanced". Runtimes and runs are
 * named by ids the main process chooses.
 */
import type { ConsoleLevel, ReplayResult, ReplayStep, RunLimits, RunRequest, RunResult, RuntimeErrorCode, RuntimeOptions } from "../runtime/types";

/** What the main process's EventRecorder still accepts when a run starts (RunHooks.consoleBudget). */
export interface Budget {
  events: number;
  bytes: number;
}

export type { RunRequest };

export type ToHost =
  | { t: "create"; id: number; options: RuntimeOptions }
  /** record: RunHooks.record. */
  | { t: "run"; id: number; run: number; request: RunRequest; limits: RunLimits; budget: Budget; record?: boolean }
  /** Recorded executions to run again (runtime/replay.ts); answered by a "done" with `replayed`. */
  | { t: "replay"; id: number; run: number; steps: ReplayStep[] }
  | { t: "cancel"; run: number }
  | { t: "dispose"; id: number }
  | { t: "heap"; id: number }
  | { t: "keepSpare"; memMb: number }
  /** The main process has handled this many more console batches. */
  | { t: "ack"; batches: number };

/** An error as it crosses: RuntimeErrors keep their code, anything else only its message. */
export interface WireError {
  code?: RuntimeErrorCode;
  message: string;
}

export type ToMain =
  /** The host has warmed up and takes requests. */
  | { t: "ready" }
  /** Every HEARTBEAT_MS while the host's thread is free to send it. */
  | { t: "beat" }
  | { t: "created"; id: number; error?: WireError; heap?: number }
  /** Console lines of one run, in order, as the runtime handed them to onConsole. */
  | { t: "console"; run: number; lines: ConsoleLines }
  | { t: "done"; run: number; result?: RunResult; replayed?: ReplayResult; error?: WireError; disposed: boolean; heap: number }
  | { t: "heap"; id: number; bytes: number; disposed: boolean };

/** How often a host says it is alive. */
export const HEARTBEAT_MS = 1000;
/**
 * A host not heard from this long has its thread held (a synchronous module
 * call that does not end, say): every session on it is frozen, so it is killed.
 */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

/**
 * How a host's stderr line starts when isolated-vm reports a catastrophic
 * error (V8 out of memory, mostly), followed by " in runtime <id>" when the
 * isolate was a session's: which session's code ended the host.
 */
export const CATASTROPHE = "vmsystem-host: catastrophic error";
/** The watchdog's stderr lines (hosts/thread-watch.ts): "<THREAD_HELD> <runtime id> for N s", then maybe "<THREAD_RELEASED> <id>". */
export const THREAD_HELD = "vmsystem-host: thread held by runtime";
export const THREAD_RELEASED = "vmsystem-host: thread released by runtime";

/**
 * Console output the main process may leave unacknowledged, by
 * ConsoleBatch.weight (about 2 MB of lines in memory). Past it the sandboxes'
 * console calls wait (up to CATCH_UP_MAX_MS each) until it is back to half
 * that (see behind() in host-main.ts).
 */
export const MAX_UNACKED = 1 << 20;

/**
 * Console lines as they cross: their texts end to end, each one's length,
 * each one's level (an index into LEVELS, a character each). As an array of
 * [level, text] pairs, a 100k-line flood cost both processes far more to
 * serialize and read back, and the main process's garbage collector more.
 */
export interface ConsoleLines {
  texts: string;
  lengths: number[];
  levels: string;
}

const LEVELS: readonly ConsoleLevel[] = ["log", "info", "warn", "error", "debug"];
const LEVEL_CODE = new Map(LEVELS.map((level, i) => [level, String.fromCharCode(48 + i)]));

/** Collects one batch of lines, and its size for MAX_UNACKED: the characters, and a little for each line. */
export class ConsoleBatch {
  private texts: string[] = [];
  private lengths: number[] = [];
  private levels = "";
  weight = 0;

  get size(): number {
    return this.lengths.length;
  }

  push(level: ConsoleLevel, text: string): void {
    this.texts.push(text);
    this.lengths.push(text.length);
    this.levels += LEVEL_CODE.get(level) ?? "0";
    this.weight += text.length + 64;
  }

  take(): ConsoleLines {
    const lines = { texts: this.texts.join(""), lengths: this.lengths, levels: this.levels };
    this.texts = [];
    this.lengths = [];
    this.levels = "";
    this.weight = 0;
    return lines;
  }
}

/** Hands each line to `line`, in order, until it answers false; false if it did. */
export function eachConsoleLine(lines: ConsoleLines, line: (level: ConsoleLevel, text: string) => boolean): boolean {
  let at = 0;
  for (let i = 0; i < lines.lengths.length; i++) {
    const text = lines.texts.slice(at, (at += lines.lengths[i]));
    if (!line(LEVELS[lines.levels.charCodeAt(i) - 48] ?? "log", text)) return false;
  }
  return true;
}
export const CATCH_UP_MAX_MS = 1000;
