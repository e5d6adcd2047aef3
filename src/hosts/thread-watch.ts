/**
 * A session host's watchdog: a worker thread that sees which session's
 * synchronous module call holds the host's thread (runtime/thread-holder.ts)
 * and, once one call has held it for HELD_REPORT_MS, says so on stderr, the
 * only channel a frozen host still has (its IPC is answered by the held
 * thread). The main process reads the last such line when it kills the host
 * for missed heartbeats: that session's execution is the one that froze it.
 */
import { Worker } from "node:worker_threads";
import { shareThreadHolder } from "../runtime/thread-holder";
import { HEARTBEAT_TIMEOUT_MS, THREAD_HELD, THREAD_RELEASED } from "./protocol";

/** Well before the main process gives up on the host (HEARTBEAT_TIMEOUT_MS). */
const HELD_REPORT_MS = HEARTBEAT_TIMEOUT_MS / 2;
const POLL_MS = 250;

// Plain JavaScript, run by the worker as given (no module to resolve).
const WATCHDOG = `
const { workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const { cells, heldMs, pollMs, held, released } = workerData;
let seq = -1, since = 0, reported = 0;
setInterval(() => {
  const tag = Atomics.load(cells, 0), now = Date.now();
  const callSeq = Atomics.load(cells, 1);
  if (tag === 0 || callSeq !== seq) {
    if (reported) writeSync(2, released + " " + reported + "\\n");
    reported = 0;
    seq = callSeq;
    since = now;
    return;
  }
  if (!reported && now - since >= heldMs) {
    reported = tag;
    writeSync(2, held + " " + tag + " for " + Math.round((now - since) / 1000) + " s\\n");
  }
}, pollMs);
`;

export function watchThread(): void {
  const cells = new Int32Array(new SharedArrayBuffer(8));
  shareThreadHolder(cells);
  const worker = new Worker(WATCHDOG, {
    eval: true,
    workerData: { cells, heldMs: HELD_REPORT_MS, pollMs: POLL_MS, held: THREAD_HELD, released: THREAD_RELEASED },
  });
  // The host's life is its IPC channel's, not this thread's.
  worker.unref();
}
