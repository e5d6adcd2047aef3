/**
 * An execution's side effects have happened once its code ran, so the
 * execution is stored whatever it produced. Here the database itself
 * refuses the finishing write for what it holds (a trigger rejects any
 * event page containing a marker the code printed, in its JSON or its
 * encoded bytes): the call still answers
 * with the execution, stored as ERROR/INTERNAL, its unstorable events
 * replaced by SYSTEM notes with the same seq, and nothing is left RUNNING.
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_URL, TEST_DB } from "./support/database";
import { describeExecution, eventTypes, ExecutionStatus, okValue } from "./support/fixtures";
import { useTestServer } from "./support/server";

const MARKER = "unstorable-marker-7f3a";

describe("an execution whose events the database refuses", () => {
  const s = useTestServer();
  let dropTrigger: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    if (TEST_DB === "sqlite") {
      const db = new Database(join(s.db.dataDir, "vmsystem.db"));
      db.exec(
        `CREATE TRIGGER refuse_marker BEFORE INSERT ON event_pages WHEN NEW.events LIKE '%${MARKER}%' OR instr(NEW.encoded, CAST('${MARKER}' AS BLOB)) > 0 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
      );
      dropTrigger = async () => {
        db.exec("DROP TRIGGER IF EXISTS refuse_marker");
        db.close();
      };
    } else {
      const schema = new URL(s.db.databaseUrl!).searchParams.get("schema")!;
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(
        `CREATE FUNCTION "${schema}".refuse_marker() RETURNS trigger AS $$ BEGIN IF NEW.events LIKE '%${MARKER}%' OR position(convert_to('${MARKER}', 'UTF8') in NEW.encoded) > 0 THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
      );
      await client.query(`CREATE TRIGGER refuse_marker BEFORE INSERT ON "${schema}".event_pages FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_marker()`);
      dropTrigger = async () => {
        await client.query(`DROP TRIGGER IF EXISTS refuse_marker ON "${schema}".event_pages`).catch(() => undefined);
        await client.end();
      };
    }
  });
  afterAll(async () => dropTrigger());

  it("is stored as ERROR/INTERNAL and answered, and the session goes on", async () => {
    const session = await s.api.ready();
    const run = await s.api.repl(session.id, `globalThis.sideEffect = 1; console.log("${MARKER}"); 'done'`);
    expect(run.status, describeExecution(run)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(run.error?.code).toBe("INTERNAL");
    expect(JSON.stringify(run.events)).not.toContain(MARKER);
    expect(eventTypes(run)).toContain("SYSTEM");

    const stored = await s.api.getExecution(run.id);
    expect(stored.status).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(stored.events.map((e) => e.seq)).toEqual(run.events.map((e) => e.seq));
    expect(stored.events.length).toBe(stored.metrics?.eventCount);

    // The code ran: its effect is there, and the session is usable.
    expect(okValue(await s.api.repl(session.id, "sideEffect + 1")).json).toBe(2);
    const all = await s.api.allExecutions(session.id);
    expect(all.filter((e) => e.status === ExecutionStatus.EXECUTION_STATUS_RUNNING)).toEqual([]);
  });
});
