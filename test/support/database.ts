import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { openDatabase } from "../../src/store/data-source";
import { qualifiedTable } from "../../src/store/sql";

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

/**
 * Rewrites a stored template's settings as an older version of the server
 * wrote them (`edit` deletes the fields it did not know), with the server
 * stopped: for tests that an old row still reads right.
 */
export async function rewriteStoredSettings(
  db: TestDatabase,
  templateId: string,
  edit: (settings: Record<string, Record<string, unknown>>) => void,
): Promise<void> {
  const d = await openDatabase({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
  try {
    const p = (n: number) => (TEST_DB === "postgres" ? `$${n}` : "?");
    const table = qualifiedTable(d, "templates");
    const [row]: { settings: string }[] = await d.query(`SELECT settings FROM ${table} WHERE id = ${p(1)}`, [templateId]);
    const settings = JSON.parse(row.settings) as Record<string, Record<string, unknown>>;
    edit(settings);
    await d.query(`UPDATE ${table} SET settings = ${p(1)} WHERE id = ${p(2)}`, [JSON.stringify(settings), templateId]);
  } finally {
    await d.destroy();
  }
}
