/**
 * Restores that must not happen silently (SPEC, Durable sessions): a
 * history that replays differently crashes the session naming the
 * execution; one that cannot be replayed (an execution without a
 * recording, a recording past its cap) closes it saying why. Also: an
 * output limit is replayed at the same line. A real server in this process
 * on a real database, stopped and started again on it (a graceful stop
 * leaves READY sessions to be restored, as a kill does).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "../src/store/data-source";
import { qualifiedTable } from "../src/store/sql";
import { Api, describeExecution, ExecutionStatus, makeWorktree, removeDir, SessionStatus, valueOf, type Session, type TemplateSpec } from "./support/fixtures";
import { TEST_DB, testDatabase, type TestDatabase } from "./support/database";
import { startTestServer, unary, type TestServer } from "./support/server";

const dirs: string[] = [];
let server: TestServer | undefined;
let db: TestDatabase | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
  await db?.cleanup();
  db = undefined;
  for (const d of dirs.splice(0)) removeDir(d);
});

async function restart(): Promise<Api> {
  await server!.stop();
  server = await startTestServer({}, db);
  return new Api(server);
}

async function first(modules: string[] = [], settings?: TemplateSpec["settings"]): Promise<{ api: Api; session: Session; dir: string }> {
  db = testDatabase();
  server = await startTestServer({}, db);
  const api = new Api(server);
  const dir = makeWorktree();
  dirs.push(dir);
  const session = await api.ready({ modules, settings }, dir);
  return { api, session, dir };
}

/** Runs SQL on the stopped server's database. */
async function tamper(sql: string, params: unknown[]): Promise<void> {
  const d = await openDatabase({ dataDir: db!.dataDir, databaseUrl: db!.databaseUrl });
  try {
    const text =
      TEST_DB === "postgres"
        ? sql.replace(
            /\?/g,
            (() => {
              let n = 0;
              return () => `$${++n}`;
            })(),
          )
        : sql;
    await d.query(text.replaceAll("executions", qualifiedTable(d, "executions")), params);
  } finally {
    await d.destroy();
  }
}

describe("restore edges", () => {
  it("a history that replays differently leaves the session CRASHED, last_error naming the execution", async () => {
    const { api, session } = await first();
    await api.repl(session.id, "var x = 1");
    expect(valueOf(await api.repl(session.id, "x + 1"))?.preview).toBe("2");
    await server!.stop();
    await tamper("UPDATE executions SET input = ? WHERE session_id = ? AND number = ?", ["var x = 5", session.id, 1]);
    server = await startTestServer({}, db);
    const api2 = new Api(server);
    await expect(api2.repl(session.id, "x")).rejects.toMatchObject({ details: expect.stringContaining("CRASHED") });
    const after = await api2.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_CRASHED);
    expect(after.lastError).toMatch(/execution 2 did not run as recorded/);
    expect(after.lastError).toMatch(/the value 6 instead of the value 2/);
  });

  it("an execution that ran without a recording makes the history unrestorable: the session is closed, saying so", async () => {
    const { api, session } = await first();
    await api.repl(session.id, "var y = 1");
    await server!.stop();
    await tamper("UPDATE executions SET recording = NULL WHERE session_id = ?", [session.id]);
    server = await startTestServer({}, db);
    const api2 = new Api(server);
    await expect(api2.repl(session.id, "y")).rejects.toMatchObject({ details: expect.stringContaining("CLOSED") });
    const after = await api2.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
    expect(after.lastError).toMatch(/could not be restored: execution 1 ran without a recording/);
  });

  it("a recording past its cap is reported at once, and a restart closes the session saying why", async () => {
    const { api, session, dir } = await first(["fs"]);
    writeFileSync(join(dir, "big.txt"), "x".repeat(9 * 1024 * 1024));
    const read = await api.repl(session.id, "require('fs').readFile('big.txt').length");
    expect(valueOf(read)?.preview, describeExecution(read)).toBe(String(9 * 1024 * 1024));
    expect(read.events.some((e) => e.system?.message.includes("recording passed its cap"))).toBe(true);
    const api2 = await restart();
    await expect(api2.repl(session.id, "1")).rejects.toMatchObject({ details: expect.stringContaining("CLOSED") });
    expect((await api2.getSession(session.id)).lastError).toMatch(/recording passed its cap/);
  });

  it("a fork is a use of its source: a source a previous process left live is restored by it (lazy)", async () => {
    const { api, session } = await first();
    await api.repl(session.id, "var z = 41");
    const api2 = await restart();
    expect((await api2.getSession(session.id)).restoreCount).toBe(0);
    const fork = await unary<Session>((cb) => server!.sessions.forkSession({ sessionId: session.id, atExecutionNumber: 0 }, cb));
    expect(valueOf(await api2.repl(fork.id, "z + 1"))?.preview).toBe("42");
    let restored = 0;
    for (let i = 0; i < 200 && restored === 0; i++) {
      restored = (await api2.getSession(session.id)).restoreCount;
      if (restored === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(restored).toBe(1);
    expect((await api2.getSession(session.id)).status).toBe(SessionStatus.SESSION_STATUS_READY);
  });

  it("an execution ended by its output limit is replayed to the same line", async () => {
    const { api, session } = await first([], { limits: { maxEvents: 20 } } as never);
    const limited = await api.repl(session.id, "var k = 0; try { for (;;) { console.log(k); k++ } } catch (e) {} k");
    expect(limited.error?.code, describeExecution(limited)).toBe("OUTPUT_LIMIT_EXCEEDED");
    const before = valueOf(await api.repl(session.id, "k"))?.preview;
    const api2 = await restart();
    const again = await api2.repl(session.id, "k");
    expect(again.status, describeExecution(again)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(valueOf(again)?.preview).toBe(before);
    expect((await api2.getSession(session.id)).restoreCount).toBe(1);
  });
});
