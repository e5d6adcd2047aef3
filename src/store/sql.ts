import { createHash } from "node:crypto";
import type { DataSource } from "typeorm";

/** One statement: SQL with `?` placeholders, and its parameters. */
export type Statement = [sql: string, params: unknown[]];

/**
 * Raw statements for the execution hot path (execution rows, events,
 * session activity). TypeORM's per-query work (query building, statement
 * preparation per call) measured at ~0.7 ms per REPL round trip, more than
 * the whole target budget, so these few statements go to the drivers
 * directly: cached prepared statements on better-sqlite3, named prepared
 * statements on pg. Same tables, same columns as the entities.
 */
export interface HotSql {
  readonly dialect: "sqlite" | "postgres";
  /**
   * Runs the statements in one transaction; returns each statement's
   * affected row count. durable false: the commit does not wait for its WAL
   * flush. shared: several callers' writes (GroupCommit), whose combination
   * is seldom seen twice, so PostgreSQL is not asked to keep it prepared.
   */
  transaction(statements: Statement[], options?: { durable?: boolean; shared?: boolean }): Promise<number[]>;
  /** Runs one read; rows as the driver returns them (BIGINT as string on PostgreSQL). */
  query<T = Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]>;
  /** The table name, schema-qualified where the database needs it. */
  table(name: string): string;
}

interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  all(...params: unknown[]): unknown[];
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
}
interface PgClient {
  query(config: { name?: string; text: string; values?: unknown[] } | string): Promise<{ rowCount: number | null; rows: unknown[] }>;
  release(err?: Error | boolean): void;
  on(event: "error", listener: (err: Error) => void): void;
  off(event: "error", listener: (err: Error) => void): void;
}
interface PgPool {
  connect(): Promise<PgClient>;
  query(config: { name?: string; text: string; values: unknown[] }): Promise<{ rowCount: number | null; rows: unknown[] }>;
}

/** A table's name in SQL: quoted, and schema-qualified when the data source has a schema (PostgreSQL `?schema=`). */
export function qualifiedTable(db: DataSource, name: string): string {
  const schema = (db.options as { schema?: string }).schema;
  return schema ? `"${schema}"."${name}"` : `"${name}"`;
}

const opened = new WeakMap<DataSource, HotSql>();

/** The data source's raw path, shared by every store (one statement cache). */
export function openHotSql(db: DataSource): HotSql {
  let sql = opened.get(db);
  if (!sql) opened.set(db, (sql = createHotSql(db)));
  return sql;
}

function createHotSql(db: DataSource): HotSql {
  if (db.options.type === "better-sqlite3") {
    const connection = (db.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
    const cache = new Map<string, SqliteStatement>();
    const prepared = (sql: string) => {
      let statement = cache.get(sql);
      if (!statement) cache.set(sql, (statement = connection.prepare(sql)));
      return statement;
    };
    // Made once: better-sqlite3's transaction() builds four wrapped functions
    // per call (~10 µs, a tenth of a REPL's whole write).
    const runAll = connection.transaction((statements: Statement[]) => statements.map(([sql, params]) => prepared(sql).run(...params).changes));
    return {
      dialect: "sqlite",
      table: (name) => qualifiedTable(db, name),
      query: async <T>(sql: string, params: unknown[]) => prepared(sql).all(...params) as T[],
      // better-sqlite3 is synchronous; WAL + synchronous=NORMAL makes each commit cheap.
      transaction: async (statements) => runAll(statements),
    };
  }
  const pool = (db.driver as unknown as { master: PgPool }).master;
  const names = new Map<string, { name: string; text: string }>();
  const toPg = (sql: string) => {
    let entry = names.get(sql);
    if (!entry) {
      entry = { name: "vm_" + createHash("sha1").update(sql).digest("hex").slice(0, 16), text: numbered(sql) };
      names.set(sql, entry);
    }
    return entry;
  };
  return {
    dialect: "postgres",
    table: (name) => qualifiedTable(db, name),
    query: async <T>(sql: string, params: unknown[]) => (await pool.query({ ...toPg(sql), values: params })).rows as T[],
    transaction: async (statements, options = {}) => {
      // A durable transaction is one statement, so one round trip: each
      // write a data-modifying CTE (their foreign keys are checked at the
      // end of the statement), each one's row count selected at the end.
      // BEGIN, the writes and COMMIT one by one cost ~0.1 ms each.
      if (options.durable !== false && statements.every(([sql]) => /^(INSERT|UPDATE|DELETE)\b/.test(sql))) {
        const combined = statements.length === 1 ? statements[0][0] : asOneStatement(statements.map(([sql]) => sql));
        const values = statements.flatMap(([, params]) => params).map(pgText);
        const { rows, rowCount } = await (options.shared ? pool.query({ text: numbered(combined), values }) : pool.query({ ...toPg(combined), values }));
        return statements.length === 1 ? [rowCount ?? 0] : statements.map((_, i) => Number((rows[0] as Record<string, unknown>)[`c${i}`]));
      }
      const client = await pool.connect();
      let failed: Error | undefined;
      // The pool listens for a client's connection errors only while the
      // client is idle: a backend that ends while we hold the client (the
      // database restarting, pg_terminate_backend) emits 'error' on it, and
      // with no listener that is an uncaught exception, the server's end.
      // The query under way fails on its own; the client is given back broken.
      const onError = (err: Error) => void (failed ??= err);
      client.on("error", onError);
      try {
        // A non-durable transaction skips the commit's WAL flush wait (see
        // ExecutionStore.appendEvents for why that is safe there).
        await client.query(options.durable === false ? "BEGIN; SET LOCAL synchronous_commit TO OFF" : "BEGIN");
        const counts: number[] = [];
        for (const [sql, params] of statements) counts.push((await client.query({ ...toPg(sql), values: params.map(pgText) })).rowCount ?? 0);
        await client.query("COMMIT");
        return counts;
      } catch (err) {
        failed = err as Error;
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release(failed);
        client.off("error", onError);
      }
    },
  };
}

/** `?` placeholders as PostgreSQL's `$1`, `$2`, … */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** `WITH s0 AS (… RETURNING 1), s1 AS (…) SELECT count(*) of each`: one statement, one transaction. */
function asOneStatement(writes: string[]): string {
  const ctes = writes.map((sql, i) => `s${i} AS (${sql} RETURNING 1)`).join(", ");
  return `WITH ${ctes} SELECT ${writes.map((_, i) => `(SELECT count(*) FROM s${i}) AS c${i}`).join(", ")}`;
}

/**
 * PostgreSQL text cannot hold NUL. Requests with NUL are refused up front;
 * this covers what the sandbox produced (an exception message with "\0"):
 * stored with U+FFFD in its place rather than failing the execution.
 */
function pgText(value: unknown): unknown {
  return typeof value === "string" && value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value;
}
