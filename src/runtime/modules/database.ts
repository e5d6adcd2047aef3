/**
 * require('database'): SQLite through better-sqlite3, one connection per
 * session (in memory unless configured with a file inside the worktree).
 * Calls are synchronous on the host thread, so keep statements short.
 */
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

export interface DatabaseModule {
  methods: Record<string, ModuleMethod>;
  close(): void;
}

export function createDatabaseModule(root: string): DatabaseModule {
  let db: Db | undefined;
  const open = (): Db => (db ??= new Database(":memory:"));
  const close = () => {
    db?.close();
    db = undefined;
  };
  const totalChanges = (d: Db) => (d.prepare("SELECT total_changes() AS n").get() as { n: number }).n;

  const methods: Record<string, ModuleMethod> = {
    configure(options) {
      const filename = optionsObject(options, "options").filename ?? ":memory:";
      requireString(filename, "filename");
      const target = filename === ":memory:" ? ":memory:" : confine(root, filename as string, true);
      close();
      db = new Database(target);
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
  return { methods, close };
}
