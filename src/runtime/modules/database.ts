/**
 * require('database'): SQLite through better-sqlite3, one connection per
 * session (in memory unless configured with a file inside the worktree).
 * Calls are synchronous on the host thread, so keep statements short.
 *
 * Every connection is confined to its own file by SQLite itself before any
 * user SQL runs (native/sqlite-guard.c: an authorizer that refuses ATTACH,
 * DETACH, VACUUM INTO and load_extension). Without the guard the module does
 * not open at all: one ATTACH would reach every file the server can.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { confine } from "../paths";
import type { ModuleMethod } from "./fs";
import { optionsObject, requireString, SandboxError } from "./errors";

type Db = Database.Database;

/** SQLite binds numbers, strings, bigints, buffers and null; map the rest. */
function bindable(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}

function bindArgs(params: unknown): unknown[] {
  if (params === undefined || params === null) return [];
  if (Array.isArray(params)) return params.map(bindable);
  if (typeof params === "object" && !(params instanceof Uint8Array)) {
    return [Object.fromEntries(Object.entries(params as object).map(([k, v]) => [k, bindable(v)]))];
  }
  return [bindable(params)];
}

/** Blobs come back as Buffers (views on pooled memory): hand over exact copies. */
function plainRow(row: unknown): unknown {
  if (row === null || typeof row !== "object") return row;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = Buffer.isBuffer(v) ? new Uint8Array(v) : v;
  return out;
}

/**
 * Written by `npm run build` (scripts/build-native.sh): beside the compiled
 * code (dist/src/runtime/modules) or, when running from source, in dist/.
 */
const GUARD_PATH = [
  join(__dirname, "..", "..", "..", "native", "sqlite-guard.so"),
  join(__dirname, "..", "..", "..", "dist", "native", "sqlite-guard.so"),
].find(existsSync);

function openGuarded(target: string): Db {
  if (GUARD_PATH === undefined) {
    throw new SandboxError("the database module is unavailable: its SQLite guard was not built (run `npm run build`)");
  }
  const db = new Database(target);
  try {
    // better-sqlite3 takes the entry point as a second argument; its typings omit it.
    (db.loadExtension as (path: string, entryPoint: string) => Db).call(db, GUARD_PATH, "sqlite3_vmsystemguard_init");
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export interface DatabaseModule {
  methods: Record<string, ModuleMethod>;
  close(): void;
  /** Whether the connection is (or will be, on first use) the in-memory database. */
  inMemory(): boolean;
}

export function createDatabaseModule(root: string): DatabaseModule {
  let db: Db | undefined;
  let memory = true;
  const open = (): Db => (db ??= openGuarded(":memory:"));
  const close = () => {
    db?.close();
    db = undefined;
  };
  const totalChanges = (d: Db) => (d.prepare("SELECT total_changes() AS n").get() as { n: number }).n;

  const methods: Record<string, ModuleMethod> = {
    configure(options) {
      const filename = optionsObject(options, "options").filename ?? ":memory:";
      requireString(filename, "filename");
      // SQLite is built without URI filenames (a "file:" name is a plain
      // file), but a name that looks like a URI is refused rather than guessed at.
      if (/^file:/i.test(filename as string))
        throw new SandboxError(`configure: URI filenames are not accepted ('${filename as string}'); give a path inside the worktree`, "EINVAL", "TypeError");
      const target = filename === ":memory:" ? ":memory:" : confine(root, filename as string, true);
      close();
      db = openGuarded(target);
      memory = target === ":memory:";
      if (target !== ":memory:") db.pragma("journal_mode = WAL");
      return { filename };
    },
    exec(sql, params) {
      const d = open();
      requireString(sql, "sql");
      if (params === undefined) {
        const before = totalChanges(d);
        d.exec(sql as string);
        return { changes: totalChanges(d) - before };
      }
      const r = d.prepare(sql as string).run(...bindArgs(params));
      return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
    },
    query(sql, params) {
      const stmt = open().prepare(requireString(sql, "sql"));
      if (!stmt.reader) throw new SandboxError("query() needs a statement that returns rows; use exec() for changes");
      return stmt.all(...bindArgs(params)).map(plainRow);
    },
    close() {
      close();
    },
  };
  return { methods, close, inMemory: () => db === undefined || memory };
}
