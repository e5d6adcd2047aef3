/**
 * Stored pages hold their events encoded as the transport sends them
 * (event_pages.encoded, issue #17), and replays send those bytes. What a
 * reader gets must not depend on it: the same executions read the same
 * through every reading RPC from encoded pages and from pages stored before
 * (JSON); a damaged page fails only the reads that need it.
 */
import { status } from "@grpc/grpc-js";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecutionEvent, TailEventsResponse } from "../gen/vmsystem/v1/execution";
import { openDatabase } from "../src/store/data-source";
import { qualifiedTable } from "../src/store/sql";
import { testDatabase, TEST_DB, type TestDatabase } from "./support/database";
import { Api, type Execution } from "./support/fixtures";
import { eventEncoding } from "../src/transport/event-wire";
import { rpcError, startTestServer, type TestServer } from "./support/server";
import { collect } from "./support/streams";

let db: TestDatabase;
let runs: Execution[];

/** Starts a server on the database, runs `body` against it, stops it (the data stays). */
async function withServer<T>(body: (s: TestServer, api: Api) => Promise<T>): Promise<T> {
  const s = await startTestServer({}, db);
  try {
    return await body(s, new Api(s));
  } finally {
    await s.stop();
  }
}

/** Every way to read an execution's events back: GetExecution, ListEvents in windows, TailEvents one a response and in batches from the middle. */
async function readBack(s: TestServer, api: Api, run: Execution) {
  const tail = async (maxBatch: number, afterSeq: number) => {
    const c = collect<TailEventsResponse>(s.executions.tailEvents({ executionId: run.id, afterSeq, follow: false, maxBatch }));
    expect(await c.done).toEqual({ ok: true });
    return c.messages.flatMap((m): ExecutionEvent[] => (m.event ? [m.event] : m.events));
  };
  return {
    get: (await api.getExecution(run.id)).events,
    list: [...(await api.listEvents(run.id, 0, 7)), ...(await api.listEvents(run.id, 7, 10_000))],
    one: await tail(0, 0),
    batched: await tail(333, 0),
    fromMiddle: await tail(1000, 1999),
  };
}

beforeAll(async () => {
  db = testDatabase();
  runs = await withServer(async (_, api) => {
    const session = await api.ready({ name: "encoded", settings: { limits: { maxEvents: 10_000, maxOutputKb: 4096 } } });
    return [
      await api.repl(session.id, "console.log('a', {b: 2}); console.warn('q\"uote ✓ 𝄞'); console.error(''); ({a: [1, 2], s: 'x'.repeat(300)})"),
      await api.repl(session.id, "console.log('before'); throw new Error('x\\u0000y')"),
      await api.repl(session.id, "for (let i = 0; i < 4500; i++) console.log(i, 'é'.repeat(i % 7)); 7"),
    ];
  });
});
afterAll(async () => {
  await db?.cleanup();
});

describe("encoded event pages", () => {
  const expected = () => runs.map((run) => ({ get: run.events, list: run.events, one: run.events, batched: run.events, fromMiddle: run.events.slice(1999) }));

  it("every reading RPC returns what the execution's own response had; pages hold no JSON", async () => {
    expect(runs[2].events.length).toBe(4502);
    expect(await withServer(async (s, api) => Promise.all(runs.map((run) => readBack(s, api, run))))).toEqual(expected());
    await withDatabase(async (d, pages) => {
      const rows: { events: string; encoded: Uint8Array | null }[] = await d.query(`SELECT events, encoded FROM ${pages}`);
      expect(rows.length).toBeGreaterThan(3);
      for (const row of rows) expect([row.events, row.encoded === null]).toEqual(["", false]);
    });
  });

  it("pages from before the encoded form (JSON, encoded NULL) read the same: undoing the migration writes their JSON back", async () => {
    await withDatabase(async (d, pages) => {
      await d.undoLastMigration({ transaction: "each" });
      const [{ n }]: { n: string | number }[] = await d.query(`SELECT count(*) AS n FROM ${pages} WHERE events = ''`);
      expect(Number(n)).toBe(0);
      await d.runMigrations({ transaction: "each" });
      const rows: { encoded: Uint8Array | null }[] = await d.query(`SELECT encoded FROM ${pages}`);
      expect(rows.every((r) => r.encoded === null)).toBe(true);
    });
    expect(await withServer(async (s, api) => Promise.all(runs.map((run) => readBack(s, api, run))))).toEqual(expected());
  });

  it("a damaged page fails the reads that need it with INTERNAL; the rest of the execution and other executions read as before", async () => {
    const [damaged, shuffled, intact] = await withServer(async (_, api) => {
      const session = await api.ready({ name: "damaged", settings: { limits: { maxEvents: 10_000 } } });
      return [
        await api.repl(session.id, "console.log('one'); 1"),
        await api.repl(session.id, "for (let i = 0; i < 4500; i++) console.log(i); 2"),
        await api.repl(session.id, "console.log('three'); 3"),
      ];
    });
    let shuffledPage = 0;
    await withDatabase(async (d, pages) => {
      const p = (n: number) => (TEST_DB === "postgres" ? `$${n}` : "?");
      const cut = TEST_DB === "postgres" ? "substring(encoded from 1 for 20)" : "substr(encoded, 1, 20)";
      await d.query(`UPDATE ${pages} SET encoded = ${cut} WHERE execution_id = ${p(1)}`, [damaged.id]);
      // Another page's bytes, with at least as many events (the largest page's): each entry's seq is not its event's.
      const rows: { last_seq: number; first_seq: number }[] = await d.query(
        `SELECT first_seq, last_seq FROM ${pages} WHERE execution_id = ${p(1)} ORDER BY length(encoded) DESC`,
        [shuffled.id],
      );
      expect(rows.length).toBeGreaterThan(1);
      shuffledPage = Number(rows[1].first_seq);
      await d.query(
        `UPDATE ${pages} SET encoded = (SELECT encoded FROM ${pages} WHERE execution_id = ${p(1)} AND last_seq = ${p(2)}) WHERE execution_id = ${p(3)} AND last_seq = ${p(4)}`,
        [shuffled.id, rows[0].last_seq, shuffled.id, rows[1].last_seq],
      );
    });
    await withServer(async (s, api) => {
      const reads = [
        () => api.getExecution(damaged.id),
        () => api.listEvents(damaged.id),
        () => api.getExecution(shuffled.id),
        () => api.listEvents(shuffled.id, shuffledPage - 1, 1),
      ];
      for (const read of reads) expect((await rpcError(read())).code).toBe(status.INTERNAL);
      const tail = collect<TailEventsResponse>(s.executions.tailEvents({ executionId: damaged.id, afterSeq: 0, follow: false, maxBatch: 100 }));
      expect((await tail.done).ok).toBe(false);
      if (shuffledPage > 1) expect(await api.listEvents(shuffled.id, 0, shuffledPage - 1)).toEqual(shuffled.events.slice(0, shuffledPage - 1));
      expect((await api.getExecution(intact.id)).events).toEqual(intact.events);
      expect((await readBack(s, api, runs[2])).batched).toEqual(runs[2].events);
    });
  });
});

/** Opens the test database with no server on it. */
async function withDatabase(body: (d: DataSource, pages: string) => Promise<void>): Promise<void> {
  const d = await openDatabase({ dataDir: db.dataDir, databaseUrl: db.databaseUrl, encoding: eventEncoding });
  try {
    await body(d, qualifiedTable(d, "event_pages"));
  } finally {
    await d.destroy();
  }
}
