import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Client } from "pg";

export const TEST_DB = (process.env.VMSYSTEM_TEST_DB ?? "sqlite") as "sqlite" | "postgres";
export const PG_URL = process.env.VMSYSTEM_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  dataDir: string;
  databaseUrl?: string;
  /** Drops the schema (PostgreSQL) and removes the data dir. */
  cleanup(): Promise<void>;
}

/** A fresh database per call: a temp data dir for SQLite, a new schema on PostgreSQL. */
export function testDatabase(): TestDatabase {
  const dataDir = mkdtempSync(join(tmpdir(), "vmsystem-test-"));
  if (TEST_DB === "sqlite") {
    return { dataDir, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const schema = `t_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const url = new URL(PG_URL);
  url.searchParams.set("schema", schema);
  return {
    dataDir,
    databaseUrl: url.toString(),
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
