/**
 * A PostgreSQL backend that ends while the store holds its connection for a
 * transaction (the database restarting, an administrator's
 * pg_terminate_backend): pg's pool listens for a client's connection errors
 * only while the client is idle, so the store must, or the 'error' the
 * client emits is an uncaught exception that ends the server. The write
 * fails; the process and the next write do not. (faults.test.ts cuts the
 * whole database under a running server; there this could only happen when
 * the cut fell inside such a transaction.)
 */
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import { openDatabase } from "../src/store/data-source";
import { openHotSql } from "../src/store/sql";
import { eventEncoding } from "../src/transport/event-wire";
import { PG_URL, testDatabase, TEST_DB, type TestDatabase } from "./support/database";
import { sleep } from "./support/fixtures";

describe.runIf(TEST_DB === "postgres")("a backend that ends under the store's transaction", () => {
  let db: TestDatabase;
  let data: DataSource;
  const admin = new Client({ connectionString: PG_URL });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => void uncaught.push(err);

  beforeAll(async () => {
    db = testDatabase();
    data = await openDatabase({ dataDir: db.dataDir, databaseUrl: db.databaseUrl, encoding: eventEncoding });
    await admin.connect();
    process.on("uncaughtException", onUncaught);
  });
  afterAll(async () => {
    process.off("uncaughtException", onUncaught);
    await admin.end();
    await data?.destroy();
    await db?.cleanup();
  });

  it("fails that write and nothing else: no uncaught error, and the next transaction goes through", async () => {
    const sql = openHotSql(data);
    const marker = `vmsystem_ended_${randomBytes(4).toString("hex")}`;
    // A transaction on a client of its own (durable: false), its statement long enough to be caught running.
    const write = sql.transaction([[`SELECT pg_sleep(20), '${marker}'`, []]], { durable: false });
    const failed = write.then(
      () => undefined,
      (err: unknown) => err,
    );
    let ended = false;
    for (let i = 0; i < 200 && !ended; i++) {
      const { rows } = await admin.query<{ ended: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${marker}%`],
      );
      ended = rows.some((r) => r.ended);
      if (!ended) await sleep(25);
    }
    expect(ended, "the transaction's backend was found and ended").toBe(true);
    const err = await failed;
    expect(err).toBeInstanceOf(Error);
    // The client's 'error' comes with or just after the connection's end.
    await sleep(200);
    expect(uncaught).toEqual([]);
    expect(await sql.transaction([["SELECT 1", []]], { durable: false })).toEqual([1]);
  });
});
