import "reflect-metadata";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "pg";
import { DataSource } from "typeorm";
import type { EventEncoding } from "../core/ports";
import { CapabilityEntity } from "./entities/capability.entity";
import { EventPageEntity } from "./entities/event-page.entity";
import { ExecutionEntity } from "./entities/execution.entity";
import { SessionEntity } from "./entities/session.entity";
import { StartupFileEntity } from "./entities/startup-file.entity";
import { TemplateLibraryEntity } from "./entities/template-library.entity";
import { TemplateModuleEntity } from "./entities/template-module.entity";
import { TemplateEntity } from "./entities/template.entity";
import { InitialSchema1764100000000 } from "./migrations/1764100000000-InitialSchema";
import { EventPages1764200000000 } from "./migrations/1764200000000-EventPages";
import { PartialExecutionIndexes1764300000000 } from "./migrations/1764300000000-PartialExecutionIndexes";
import { DurableSessions1764400000000 } from "./migrations/1764400000000-DurableSessions";
import { encodedEventPages } from "./migrations/1764500000000-EncodedEventPages";
import { keepOwn, lockDataDir, type DataDirLock } from "./data-dir-lock";
import { startWalCheckpointer } from "./wal-checkpointer";

const ENTITIES = [
  TemplateEntity,
  StartupFileEntity,
  CapabilityEntity,
  TemplateModuleEntity,
  TemplateLibraryEntity,
  SessionEntity,
  ExecutionEntity,
  EventPageEntity,
];
/** The migrations, in order; the event encoding is what undoing EncodedEventPages reads pages with. */
export function migrations(encoding?: EventEncoding) {
  return [InitialSchema1764100000000, EventPages1764200000000, PartialExecutionIndexes1764300000000, DurableSessions1764400000000, encodedEventPages(encoding)];
}

export interface DatabaseConfig {
  /** postgres://… to use PostgreSQL; otherwise the embedded SQLite file under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  /** Told of a failure of the embedded database's background checkpoints (see wal-checkpointer.ts). */
  onCheckpointError?: (message: string) => void;
  /** How event pages are encoded (core/ports.ts): needed only to undo the migration that brought it in. */
  encoding?: EventEncoding;
}

export function describeDatabase(config: DatabaseConfig): string {
  if (!config.databaseUrl) return `sqlite:${join(resolve(config.dataDir), "vmsystem.db")}`;
  const url = new URL(config.databaseUrl);
  url.password = url.password ? "***" : "";
  return url.toString();
}

/**
 * Opens the database and applies pending migrations (never `synchronize`).
 * A `?schema=NAME` parameter on a PostgreSQL URL keeps the service's tables
 * in that schema (created if missing), e.g. to give each test run its own.
 */
export async function openDatabase(config: DatabaseConfig): Promise<DataSource> {
  const common = { entities: ENTITIES, migrations: migrations(config.encoding), migrationsRun: false, synchronize: false, logging: false } as const;
  let dataSource: DataSource;
  let lock: DataDirLock | undefined;
  if (config.databaseUrl) {
    const url = new URL(config.databaseUrl);
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      throw new Error(`unsupported database URL scheme "${url.protocol}" (expected postgres://)`);
    }
    const schema = url.searchParams.get("schema") ?? undefined;
    url.searchParams.delete("schema");
    if (schema) await ensureSchema(url.toString(), schema);
    dataSource = new DataSource({ ...common, type: "postgres", url: url.toString(), schema, extra: { max: 10 } });
  } else {
    mkdirSync(config.dataDir, { recursive: true });
    // The server's files are its own, never readable by session hosts run
    // as another user (--host-user): the directory first, so the files
    // below are never reachable while they have the umask's mode.
    keepOwn(config.dataDir, 0o700);
    // Before anything is read or written: a refused server changes nothing.
    lock = lockDataDir(config.dataDir);
    dataSource = new DataSource({
      ...common,
      type: "better-sqlite3",
      database: join(resolve(config.dataDir), "vmsystem.db"),
      enableWAL: true,
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        // WAL + NORMAL is durable across process crashes (not power loss) and
        // avoids an fsync per commit.
        db.pragma("synchronous = NORMAL");
        // Only another process can hold a lock on our database, and waiting
        // for it blocks the event loop (the driver is synchronous): fail fast.
        db.pragma("busy_timeout = 250");
        // A fallback: a worker thread checkpoints (startWalCheckpointer
        // below). Only if it falls behind does a commit here copy the WAL,
        // at ~40 MB rather than the default ~4 MB, so the stall is rare.
        db.pragma("wal_autocheckpoint = 10000");
      },
    });
  }
  try {
    await dataSource.initialize();
  } catch (err) {
    lock?.release();
    throw err;
  }
  try {
    await dataSource.runMigrations({ transaction: "each" });
  } catch (err) {
    await dataSource.destroy();
    lock?.release();
    throw err;
  }
  if (dataSource.options.type === "better-sqlite3") {
    // SQLite gives a WAL or shm file it makes later the database's mode.
    const database = dataSource.options.database as string;
    for (const path of [database, `${database}-wal`, `${database}-shm`]) if (existsSync(path)) keepOwn(path, 0o600);
    const checkpointer = startWalCheckpointer(dataSource.options.database, config.onCheckpointError ?? (() => undefined));
    // Stopped before the connection closes, and the directory unlocked after
    // it, wherever the data source is destroyed.
    const destroy = dataSource.destroy.bind(dataSource);
    dataSource.destroy = async () => {
      await checkpointer.stop();
      await destroy();
      lock?.release();
    };
  }
  return dataSource;
}

/** The TLS key should be the server's alone (--host-user keeps the hosts from anything that is not). */
export function warnIfReadableByOthers(path: string | undefined, log: { warn(fields: object, msg: string): void }): void {
  if (!path) return;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return; // a missing key fails the start with its own error
  }
  if (mode & 0o077) log.warn({ path, mode: mode.toString(8).padStart(4, "0") }, "the TLS key is readable by other users: chmod 600 it");
}

async function ensureSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/i.test(schema)) throw new Error(`invalid schema name "${schema}"`);
  const client = new Client({ connectionString: url });
  // A connection lost meanwhile fails the query below; unheard, its 'error' would end the process.
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } finally {
    await client.end();
  }
}
