import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Structured logs: one JSON object a line on stdout, written asynchronously
 * (a synchronous write per RPC measured ~30 µs of every call); `exitWith`
 * flushes before the process ends.
 */
export function createLogger(level = "info"): Logger {
  return pino({ level, base: { service: "vmsystem" }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 1, sync: false }));
}

const DEFER_MS = 50;
const deferred: (() => void)[] = [];
let deferredTimer: NodeJS.Timeout | undefined;
let deferring = true;

/**
 * Runs a log write up to 50 ms later, with the others made meanwhile. Written
 * at once, a line's write (a thread-pool round trip whose completion wakes the
 * event loop) landed between a unary response's message and its trailers and
 * delayed the end of every call by ~0.15 ms (measured on ExecuteRepl); written
 * together, calls back to back share one write and one wake-up. A line's
 * `time` is when it is written; its `durationMs` is exact.
 * `exitWith`/`killWith` write what is still waiting.
 */
export function logSoon(write: () => void): void {
  if (!deferring) return write();
  deferred.push(write);
  deferredTimer ??= setTimeout(writeDeferred, DEFER_MS);
}

/** Shutdown: what waits is written now, and later lines at once, so the log keeps its order. */
export function stopDeferringLogs(): void {
  deferring = false;
  writeDeferred();
}

function writeDeferred(): void {
  if (deferredTimer) clearTimeout(deferredTimer);
  deferredTimer = undefined;
  for (const write of deferred.splice(0)) write();
}

/** Flushes the log, then exits. */
export function exitWith(log: Logger, code: number): never {
  flushLog(log);
  process.exit(code);
}

/**
 * Flushes the log, then ends the process at once with SIGKILL (a non-zero
 * exit). For isolated-vm's catastrophic errors: an isolate thread is then
 * stuck in V8 and process.exit()/reallyExit() wait for it forever in exit
 * handlers (measured: the process hangs and ignores SIGTERM), so nothing that
 * runs exit handlers can be used.
 */
export function killWith(log: Logger): never {
  flushLog(log);
  process.kill(process.pid, "SIGKILL");
  // Not reached; the signal is delivered synchronously to ourselves.
  throw new Error("SIGKILL did not end the process");
}

function flushLog(log: Logger): void {
  try {
    writeDeferred();
    log.flush();
    (log as unknown as { [pino.symbols.streamSym]: { flushSync(): void } })[pino.symbols.streamSym].flushSync();
  } catch {
    // nothing more to do
  }
}
