/**
 * Schema migrations on real data: events stored by the server survive every
 * migration's `down` back to the first schema (a row per event) and `up`
 * again (rows into pages), and read back unchanged through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrations, openDatabase } from "../src/store/data-source";
import { eventEncoding } from "../src/transport/event-wire";
import { qualifiedTable } from "../src/store/sql";
import { testDatabase, TEST_DB, type TestDatabase } from "./support/database";
import { Api, EventType, type Execution } from "./support/fixtures";
import { startTestServer } from "./support/server";

let db: TestDatabase;
let runs: Execution[];

/** Starts a server on the database, runs `body` against it, stops it (the data stays). */
async function withServer<T>(body: (api: Api) => Promise<T>): Promise<T> {
  const s = await startTestServer({}, db);
  try {
    return await body(new Api(s));
  } finally {
    await s.stop();
  }
}

beforeAll(async () => {
  db = testDatabase();
  runs = await withServer(async (api) => {
    const session = await api.ready({ name: "migrations", settings: { limits: { maxEvents: 5000, maxOutputKb: 1024 } } });
    return [
      await api.repl(session.id, "console.log('a', {b: 2}); console.warn('q\"uote'); ({a: [1, 2]})"),
      await api.repl(session.id, "throw new Error('x\\u0000y')"),
      await api.repl(session.id, "for (let i = 0; i < 3000; i++) console.log(i); 7"),
    ];
  });
});
afterAll(async () => {
  await db?.cleanup();
});

describe("EventPages migration", () => {
  it("down turns pages into one row per event, up turns first-schema rows back into pages", async () => {
    const d = await openDatabase({ dataDir: db.dataDir, databaseUrl: db.databaseUrl, encoding: eventEncoding });
    try {
      // Back to the first schema.
      for (let i = 1; i < migrations().length; i++) await d.undoLastMigration({ transaction: "each" });
      const rows: { execution_id: string; seq: number; ts: string | number; type: string; payload: string }[] = await d.query(
        `SELECT execution_id, seq, ts, type, payload FROM ${qualifiedTable(d, "events")} WHERE execution_id = ${TEST_DB === "postgres" ? "$1" : "?"} ORDER BY seq`,
        [runs[0].id],
      );
      expect(rows.map((r) => [r.seq, r.type, Number(r.ts)])).toEqual(
        runs[0].events.map((e) => [e.seq, EventType[e.type].replace("EVENT_TYPE_", ""), e.ts!.getTime()]),
      );
      expect(JSON.parse(rows[1].payload)).toMatchObject({ level: "log", text: "a { b: 2 }" });
      const count: { n: string | number }[] = await d.query(`SELECT count(*) AS n FROM ${qualifiedTable(d, "events")}`);
      expect(Number(count[0].n)).toBe(runs.reduce((sum, r) => sum + r.events.length, 0));

      // The first schema stored payloads without `type`: make them so, then migrate up.
      const strip =
        TEST_DB === "postgres"
          ? `UPDATE ${qualifiedTable(d, "events")} SET payload = regexp_replace(payload, '^\\{"type":"[A-Z_]+",?', '{')`
          : `UPDATE events SET payload = json_remove(payload, '$.type')`;
      await d.query(strip);
      await d.runMigrations({ transaction: "each" });
    } finally {
      await d.destroy();
    }
    await withServer(async (api) => {
      for (const run of runs) {
        expect(await api.listEvents(run.id, 0, 10_000)).toEqual(run.events);
        expect(await api.listEvents(run.id, 1500, 2)).toEqual(run.events.slice(1500, 1502));
      }
    });
    expect(runs[1].events[1].exception?.message).toBe("x\u0000y");
  });
});
