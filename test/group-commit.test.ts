/**
 * Group commit (issue #17): executions that end in the same turn of the
 * event loop are stored in one transaction, and none of them is lost, stored
 * twice, or failed by another's bad write. GroupCommit runs against the real
 * database of the project under test (SQLite or PostgreSQL); the service
 * test runs many executions at once through a real server.
 */
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/data-source";
import { GroupCommit } from "../src/store/group-commit";
import { openHotSql, type HotSql, type Statement } from "../src/store/sql";
import { TEST_DB, testDatabase, type TestDatabase } from "./support/database";
import { describeExecution, ExecutionStatus, okValue } from "./support/fixtures";
import { useTestServer } from "./support/server";

describe("GroupCommit on the real database", () => {
  let db: TestDatabase;
  let source: DataSource;
  let sql: HotSql;
  let table: string;
  const insert = (id: string): Statement => [`INSERT INTO ${table} (id, v) VALUES (?, ?)`, [id, `value of ${id}`]];
  const stored = async () => (await sql.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`, [])).map((r) => r.id);

  beforeAll(async () => {
    db = testDatabase();
    source = await openDatabase({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
    sql = openHotSql(source);
    table = sql.table("group_commit_probe");
    // On PostgreSQL each row also records its transaction: the one a shared commit used.
    const tx = TEST_DB === "postgres" ? ", tx BIGINT NOT NULL DEFAULT txid_current()" : "";
    await source.query(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, v TEXT NOT NULL${tx})`);
  });
  afterAll(async () => {
    await source?.destroy();
    await db?.cleanup();
  });

  it("writes asked for in one turn share a transaction; one member's bad write fails only that member", async () => {
    const commits = new GroupCommit(sql);
    await commits.run([insert("taken")]);
    // Asked for together (one turn): a, then one that breaks the primary key, then b with two statements.
    const results = await Promise.allSettled([commits.run([insert("a")]), commits.run([insert("taken")]), commits.run([insert("b1"), insert("b2")])]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    // Each member gets its own statements' row counts.
    expect((results[0] as PromiseFulfilledResult<number[]>).value).toEqual([1]);
    expect((results[2] as PromiseFulfilledResult<number[]>).value).toEqual([1, 1]);
    expect(await stored()).toEqual(["a", "b1", "b2", "taken"]);
    if (TEST_DB === "postgres") {
      // a and b were retried alone after the shared transaction failed: each its own.
      const tx = await sql.query<{ id: string; tx: string }>(`SELECT id, tx FROM ${table} WHERE id IN ('a', 'b1', 'b2') ORDER BY id`, []);
      expect(tx[1].tx).toBe(tx[2].tx);
      expect(tx[0].tx).not.toBe(tx[1].tx);
    }
  });

  it("writes asked for in one turn are one transaction (PostgreSQL: one txid)", async (ctx) => {
    if (TEST_DB !== "postgres") ctx.skip();
    const commits = new GroupCommit(sql);
    await Promise.all(["t1", "t2", "t3"].map((id) => commits.run([insert(id)])));
    const tx = await sql.query<{ tx: string }>(`SELECT DISTINCT tx FROM ${table} WHERE id IN ('t1', 't2', 't3')`, []);
    expect(tx.length).toBe(1);
    // Asked for in separate turns: separate transactions.
    await commits.run([insert("u1")]);
    await commits.run([insert("u2")]);
    const apart = await sql.query<{ tx: string }>(`SELECT DISTINCT tx FROM ${table} WHERE id IN ('u1', 'u2')`, []);
    expect(apart.length).toBe(2);
  });

  it("a fault that fails every member alone too fails each of them, and stores nothing", async () => {
    const commits = new GroupCommit(sql);
    const missing = sql.table("no_such_table");
    const results = await Promise.allSettled([1, 2, 3].map((n) => commits.run([[`INSERT INTO ${missing} (id) VALUES (?)`, [`m${n}`]]])));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
  });

  it("a hundred writes in one turn: every one stored once (groups of at most 64)", async () => {
    const commits = new GroupCommit(sql);
    const ids = Array.from({ length: 100 }, (_, i) => `many-${String(i).padStart(3, "0")}`);
    const counts = await Promise.all(ids.map((id) => commits.run([insert(id)])));
    expect(counts).toEqual(ids.map(() => [1]));
    expect((await stored()).filter((id) => id.startsWith("many-"))).toEqual(ids);
  });
});

describe("many executions ending together through the server", () => {
  const s = useTestServer();

  it("each is stored exactly once, with its own events and value", async () => {
    const sessions = await Promise.all(Array.from({ length: 16 }, (_, i) => s.api.ready({ name: `g${i}` })));
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all(sessions.map((session, i) => s.api.repl(session.id, `console.log('s${i} r${round}'); ${i * 100 + round}`)));
      for (const [i, run] of runs.entries()) {
        expect(okValue(run).json, describeExecution(run)).toBe(i * 100 + round);
        const back = await s.api.getExecution(run.id);
        expect(back.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
        expect(back.events.map((e) => e.console?.text).filter(Boolean)).toEqual([`s${i} r${round}`]);
        expect(back.events.length).toBe(back.metrics?.eventCount);
      }
    }
    for (const session of sessions) {
      const all = await s.api.allExecutions(session.id);
      expect(all.length).toBe(3);
      expect(new Set(all.map((e) => e.number)).size).toBe(3);
    }
  });
});
