import { Worker } from "node:worker_threads";

/** How often the worker copies the WAL's new pages into the database file. */
const INTERVAL_MS = 250;

/**
 * The worker: its own connection to the database, checkpointing PASSIVE
 * (never waiting for or blocking the server's writes) on a timer. A
 * checkpoint with nothing new to copy costs microseconds. Kept as a string:
 * it must run as plain JavaScript from the sources (tests) and from dist alike.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma("busy_timeout = 1000");
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  stop(): Promise<void>;
}

/**
 * Checkpoints an SQLite database in WAL mode from a worker thread. Left to
 * the server's own connection, a checkpoint runs inside whichever commit
 * crosses wal_autocheckpoint, on the event loop: copying 10,000 pages and
 * the fsync after them stalled every session for ~40 ms once every ~2,000
 * executions, and cost the rest ~6 µs each. The server's connection keeps
 * its autocheckpoint as a fallback should this worker fall behind or fail.
 */
export function startWalCheckpointer(file: string, onError: (message: string) => void): WalCheckpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { file, driver: require.resolve("better-sqlite3"), intervalMs: INTERVAL_MS },
  });
  worker.unref();
  let reported = false;
  worker.on("message", (m: { error?: string }) => {
    // Once is enough: a checkpoint that fails will fail every 250 ms.
    if (!m.error || reported) return;
    reported = true;
    onError(m.error);
  });
  worker.on("error", (err) => onError(err.message));
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    stop: async () => {
      // Unref'd, the worker would not keep the process alive until it has
      // closed: at shutdown, with nothing else left, the process would exit
      // (code 0) in the middle of the stop, before the log's "stopped".
      worker.ref();
      worker.postMessage("stop");
      await exited;
    },
  };
}
