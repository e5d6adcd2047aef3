/**
 * Stored pages keep their events' encoded bytes (event_pages.encoded, issue
 * #17) and replays send those bytes. What a reader gets must not depend on
 * it: the same executions read the same through every reading RPC when the
 * column is there, when it is NULL (a page stored before it), and when it
 * does not hold the page's events (then the page's JSON is used).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecutionEvent, TailEventsResponse } from "../gen/vmsystem/v1/execution";
import { openDatabase } from "../src/store/data-source";
import { qualifiedTable } from "../src/store/sql";
import { testDatabase, TEST_DB, type TestDatabase } from "./support/database";
import { Api, type Execution } from "./support/fixtures";
import { startTestServer, type TestServer } from "./support/server";
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
  it("every reading RPC returns what the execution's own response had, from encoded pages, from pages without them, and from pages whose encoded bytes do not fit", async () => {
    const expected = runs.map((run) => ({ get: run.events, list: run.events, one: run.events, batched: run.events, fromMiddle: run.events.slice(1999) }));
    expect(runs[2].events.length).toBe(4502);
    expect(await withServer(async (s, api) => Promise.all(runs.map((run) => readBack(s, api, run))))).toEqual(expected);

    const d = await openDatabase({ dataDir: db.dataDir, databaseUrl: db.databaseUrl });
    try {
      const pages = qualifiedTable(d, "event_pages");
      const p = (n: number) => (TEST_DB === "postgres" ? `$${n}` : "?");
      const [{ n }]: { n: string | number }[] = await d.query(`SELECT count(*) AS n FROM ${pages} WHERE encoded IS NULL`);
      expect(Number(n), "every page written by this server has its encoded form").toBe(0);
      // As a page stored before the column; one cut short.
      await d.query(`UPDATE ${pages} SET encoded = NULL WHERE execution_id = ${p(1)}`, [runs[0].id]);
      const cut = TEST_DB === "postgres" ? "substring(encoded from 1 for 20)" : "substr(encoded, 1, 20)";
      await d.query(`UPDATE ${pages} SET encoded = ${cut} WHERE execution_id = ${p(1)}`, [runs[1].id]);
      // Another page's bytes, with at least as many events (the largest page's): each entry's seq is not its event's.
      const third: { last_seq: number }[] = await d.query(`SELECT last_seq FROM ${pages} WHERE execution_id = ${p(1)} ORDER BY length(encoded) DESC`, [
        runs[2].id,
      ]);
      expect(third.length).toBeGreaterThan(1);
      await d.query(
        `UPDATE ${pages} SET encoded = (SELECT encoded FROM ${pages} WHERE execution_id = ${p(1)} AND last_seq = ${p(2)}) WHERE execution_id = ${p(3)} AND last_seq = ${p(4)}`,
        [runs[2].id, third[0].last_seq, runs[2].id, third[1].last_seq],
      );
    } finally {
      await d.destroy();
    }
    expect(await withServer(async (s, api) => Promise.all(runs.map((run) => readBack(s, api, run))))).toEqual(expected);
  });
});
