/**
 * A graceful stop (app.stop(), what SIGTERM calls) gives running executions
 * the grace period (`--shutdown-grace`, ServeConfig.shutdownGraceMs): one that
 * ends inside it is stored as it ended, one that outlasts it is stored
 * CANCELLED by the stop itself, and stop() resolves only after both ends are
 * stored. Read back by a second server on the same database.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { StreamExecutionResponse } from "../gen/vmsystem/v1/execution";
import { testDatabase, type TestDatabase } from "./support/database";
import type { ListSessionsResponse } from "../gen/vmsystem/v1/session";
import { Api, ExecutionStatus, makeWorktree, removeDir, SessionStatus, statusName } from "./support/fixtures";
import { startTestServer, unary, type TestServer } from "./support/server";
import { collect, until } from "./support/streams";

const GRACE_MS = 3000;

let db: TestDatabase | undefined;
let worktree: string | undefined;
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  if (worktree) removeDir(worktree);
  await db?.cleanup();
});

async function start(overrides: Parameters<typeof startTestServer>[0] = {}): Promise<{ s: TestServer; api: Api }> {
  const s = await startTestServer(overrides, db);
  servers.push(s);
  return { s, api: new Api(s) };
}

/** Starts `input` on its own session; resolves once it is stored RUNNING, with its id. */
async function startRun(s: TestServer, api: Api, input: string) {
  const session = await api.ready({ name: "shutdown" }, worktree);
  const run = collect<StreamExecutionResponse>(s.executions.streamExecution({ sessionId: session.id, repl: { input }, requestId: "", maxBatch: 0 }));
  const ended = await Promise.race([until(() => run.messages.length > 0).then(() => undefined), run.done]);
  const id = run.messages[0]?.started?.id;
  if (!id) throw new Error(`the run did not start: ${JSON.stringify(ended)}`);
  return { id, run };
}

describe("graceful stop", () => {
  it("waits for a run that ends inside the grace period (stored OK) and cancels one that outlasts it (stored CANCELLED)", async () => {
    db = testDatabase();
    worktree = makeWorktree();
    const first = await start({ shutdownGraceMs: GRACE_MS });
    const inside = await startRun(first.s, first.api, "await new Promise((r) => setTimeout(r, 400)); 'ended inside the grace'");
    const outlasting = await startRun(first.s, first.api, "console.log('waiting forever'); await new Promise(() => {})");

    const stopCalledAt = Date.now();
    await first.s.app.stop();
    const stoppedAt = Date.now();

    // The database the stopped server wrote, as the next server reads it.
    const second = await start();
    const ok = await second.api.getExecution(inside.id);
    const cancelled = await second.api.getExecution(outlasting.id);
    expect(statusName(ok.status), JSON.stringify(ok.error)).toBe("EXECUTION_STATUS_OK");
    expect(ok.result?.json).toBe("ended inside the grace");
    expect(statusName(cancelled.status)).toBe("EXECUTION_STATUS_CANCELLED");
    expect(cancelled.error?.code).toBe("CANCELLED");
    // Stored by the stop itself, not by the next start finding it RUNNING.
    expect(cancelled.error?.message).not.toMatch(/restarted/);
    // The grace was given in full before the cancel, and stop() resolved after both ends were stored.
    expect(cancelled.endedAt!.getTime() - stopCalledAt).toBeGreaterThanOrEqual(GRACE_MS);
    expect(ok.endedAt!.getTime()).toBeLessThanOrEqual(stoppedAt);
    expect(cancelled.endedAt!.getTime()).toBeLessThanOrEqual(stoppedAt);
    // The streams stayed open through the grace and reported each end.
    expect(await inside.run.done).toEqual({ ok: true });
    expect(inside.run.messages[inside.run.messages.length - 1].finished?.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
  });

  it("leaves a session whose startup file it cancelled for the next start to close as restarted, not CRASHED", async () => {
    db = testDatabase();
    worktree = makeWorktree({ "boot.js": "await new Promise(() => {})" });
    const first = await start({ shutdownGraceMs: 200 });
    const t = await first.api.template({ name: "slow-start", settings: { runtime: { esm: true } }, startupFiles: [{ path: "boot.js", mode: "module" }] });
    const creating = first.api.session(t.id, worktree).catch((e: Error) => e);
    const starting = () =>
      unary<ListSessionsResponse>((cb) => first.s.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_STARTING, pageSize: 0, pageToken: "" }, cb));
    await until(async () => (await starting()).sessions.length > 0);
    await first.s.app.stop();
    await creating;

    const second = await start();
    const { sessions } = await unary<ListSessionsResponse>((cb) =>
      second.s.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_UNSPECIFIED, pageSize: 0, pageToken: "" }, cb),
    );
    expect(sessions).toHaveLength(1);
    expect(SessionStatus[sessions[0].status]).toBe("SESSION_STATUS_CLOSED");
    expect(sessions[0].lastError).toMatch(/restarted/);
    // The startup file's execution, which no client call holds, was cancelled and stored by the stop itself.
    const [boot] = await second.api.allExecutions(sessions[0].id);
    expect(statusName(boot.status)).toBe("EXECUTION_STATUS_CANCELLED");
    expect(boot.error?.message).not.toMatch(/restarted/);
  });
});
