import { chmodSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";

export interface DataDirLock {
  release(): void;
}

/**
 * One server per embedded data directory: a second one would close the
 * first one's live sessions as stale and write beside it. The lock is an
 * exclusive SQLite transaction held open on `<dir>/server.lock` for the
 * server's lifetime: an OS file lock (so it is freed when the process dies,
 * even by kill -9, and never outlives it the way a pid file can), which
 * SQLite also holds against other connections in the same process.
 */
export function lockDataDir(dir: string): DataDirLock {
  const path = join(resolve(dir), "server.lock");
  const db = new Database(path, { timeout: 0 });
  keepOwn(path, 0o600);
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") {
      throw new Error(
        `the data directory ${resolve(dir)} is in use by another vmsystem server (${path} is locked): stop that server, or give this one its own --data-dir`,
        { cause: err },
      );
    }
    throw err;
  }
  return {
    release: () => {
      if (!db.open) return;
      db.exec("ROLLBACK");
      db.close();
    },
  };
}

/**
 * chmod, except on a shared directory (sticky, as /tmp given as the data
 * dir: closing it would break the machine) and on what the server does not
 * own (EPERM: it was usable before and stays so; the operator owns that).
 */
export function keepOwn(path: string, mode: number): void {
  if (statSync(path).mode & 0o1000) return;
  try {
    chmodSync(path, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
  }
}
