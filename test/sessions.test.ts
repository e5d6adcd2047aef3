import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Execution, ExecutionKind, ExecutionStatus } from "../gen/vmsystem/v1/execution";
import { GetRuntimeSummaryResponse, Session, SessionStatus } from "../gen/vmsystem/v1/session";
import type { Template } from "../gen/vmsystem/v1/template";
import { rpcError, unary, useTestServer } from "./support/server";

let root: string;
let worktree: string;
// Registered before the server's hooks: made before it starts, removed after it stops.
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "vmsystem-sessions-"));
  worktree = join(root, "allowed", "repo");
  mkdirSync(worktree, { recursive: true });
  writeFileSync(join(worktree, "a.js"), "var order = ['a']; var fromA = 1;");
  writeFileSync(join(worktree, "b.js"), "order.push('b'); globalThis.fromB = fromA + 1;");
  writeFileSync(join(worktree, "boom.js"), "throw new TypeError('startup exploded')");
  writeFileSync(join(worktree, "slow.js"), "await new Promise((r) => setTimeout(r, 2000)); var slowDone = true;");
  writeFileSync(join(root, "not-a-dir"), "");
  mkdirSync(join(root, "elsewhere"));
  symlinkSync(join(root, "elsewhere"), join(root, "allowed", "link-out"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
const s = useTestServer(() => ({ worktreeRoots: [join(root, "allowed")] }));

const template = (name = "t") => unary<Template>((cb) => s.templates.createTemplate({ name, engine: "", settings: undefined }, cb));
const create = (templateId: string, worktreePath = worktree) =>
  unary<Session>((cb) => s.sessions.createSession({ templateId, workspaceId: "ws-1", baseCommitOid: "abc123", worktreePath }, cb));
const get = (sessionId: string) => unary<Session>((cb) => s.sessions.getSession({ sessionId }, cb));
const repl = (sessionId: string, input: string) => unary<Execution>((cb) => s.executions.executeRepl({ sessionId, input, requestId: "" }, cb));
const executions = async (sessionId: string) =>
  (await unary<{ executions: Execution[] }>((cb) => s.executions.listExecutions({ sessionId, pageSize: 100, pageToken: "" }, cb))).executions;

describe("CreateSession", () => {
  it("starts READY with the request's fields and keeps state across executions", async () => {
    const t = await template();
    const session = await create(t.id);
    expect(session).toMatchObject({
      templateId: t.id,
      workspaceId: "ws-1",
      baseCommitOid: "abc123",
      worktreePath: worktree,
      status: SessionStatus.SESSION_STATUS_READY,
      restartCount: 0,
      lastError: "",
    });
    expect(session.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(session.closedAt).toBeUndefined();
    await repl(session.id, "var x = 41");
    const e = await repl(session.id, "x + 1");
    expect(e.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(e.result).toMatchObject({ type: "number", preview: "42", json: 42 });
    expect(e.number).toBe(2);
  });

  it("reports the end of its latest execution as last_activity_at, in GetSession and ListSessions alike", async () => {
    const t = await template();
    const session = await create(t.id);
    await new Promise((r) => setTimeout(r, 5));
    const e = await repl(session.id, "1");
    expect(e.endedAt!.getTime()).toBeGreaterThan(session.lastActivityAt!.getTime());
    expect((await get(session.id)).lastActivityAt).toEqual(e.endedAt);
    const listed = await unary<{ sessions: Session[] }>((cb) => s.sessions.listSessions({ status: 0, pageSize: 1000, pageToken: "" }, cb));
    expect(listed.sessions.find((x) => x.id === session.id)?.lastActivityAt).toEqual(e.endedAt);
  });

  it.each([
    [{ templateId: "" }, "template_id"],
    [{ workspaceId: "" }, "workspace_id"],
    [{ baseCommitOid: "" }, "base_commit_oid"],
    [{ worktreePath: "" }, "worktree_path"],
  ])("requires every field: %j", async (blank, field) => {
    const t = await template();
    const req = { templateId: t.id, workspaceId: "w", baseCommitOid: "c", worktreePath: worktree, ...blank };
    expect(await rpcError(unary((cb) => s.sessions.createSession(req, cb)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "VALIDATION_ERROR",
      metadata: { field },
    });
  });

  it("rejects worktrees that are relative, missing, not directories or outside every root", async () => {
    const t = await template();
    for (const path of [
      "relative/dir",
      join(root, "allowed", "missing"),
      join(root, "not-a-dir"),
      join(root, "elsewhere"),
      join(root, "allowed", "link-out"),
    ]) {
      expect(await rpcError(create(t.id, path)), path).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH" });
    }
    expect(await rpcError(create("00000000-0000-0000-0000-000000000000"))).toMatchObject({ code: status.NOT_FOUND, reason: "TEMPLATE_NOT_FOUND" });
  });

  it("runs startup files in ascending order_index, each a STARTUP execution", async () => {
    const t = await template("startup");
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "b.js", orderIndex: 20, mode: "" }, cb));
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "a.js", orderIndex: 10, mode: "eval" }, cb));
    const session = await create(t.id);
    expect(session.status).toBe(SessionStatus.SESSION_STATUS_READY);
    const e = await repl(session.id, "[order.join(','), fromB]");
    expect(e.result?.json).toEqual(["a,b", 2]);
    const list = await executions(session.id);
    const startup = list.filter((x) => x.kind === ExecutionKind.EXECUTION_KIND_STARTUP).sort((a, b) => a.number - b.number);
    expect(startup.map((x) => [x.number, x.path, x.status])).toEqual([
      [1, "a.js", ExecutionStatus.EXECUTION_STATUS_OK],
      [2, "b.js", ExecutionStatus.EXECUTION_STATUS_OK],
    ]);
    expect(e.number).toBe(3);
  });

  it("ends CRASHED with last_error when a startup file throws or is missing", async () => {
    const t = await template("crashing");
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "boom.js", orderIndex: 1, mode: "" }, cb));
    const crashed = await create(t.id);
    expect(crashed.status).toBe(SessionStatus.SESSION_STATUS_CRASHED);
    expect(crashed.lastError).toContain("boom.js");
    expect(crashed.lastError).toContain("startup exploded");
    const [boot] = await executions(crashed.id);
    expect(boot).toMatchObject({ kind: ExecutionKind.EXECUTION_KIND_STARTUP, status: ExecutionStatus.EXECUTION_STATUS_ERROR, error: { code: "EXCEPTION" } });
    expect(await rpcError(repl(crashed.id, "1"))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });

    const t2 = await template("missing-startup");
    await unary((cb) => s.templates.addStartupFile({ templateId: t2.id, path: "nowhere.js", orderIndex: 1, mode: "" }, cb));
    const missing = await create(t2.id);
    expect(missing.status).toBe(SessionStatus.SESSION_STATUS_CRASHED);
    expect(missing.lastError).toContain("nowhere.js");
  });

  it("keeps running when its template is deleted", async () => {
    const t = await template("short-lived");
    const session = await create(t.id);
    await unary((cb) => s.templates.deleteTemplate({ templateId: t.id }, cb));
    expect((await repl(session.id, "'still here'")).result?.json).toBe("still here");
  });
});

describe("GetSession, ListSessions, CloseSession, GetRuntimeSummary", () => {
  it("closes idempotently, frees the runtime and refuses further executions", async () => {
    const t = await template();
    const session = await create(t.id);
    await repl(session.id, "1 + 1");
    let summary = await unary<GetRuntimeSummaryResponse>((cb) => s.sessions.getRuntimeSummary({}, cb));
    const mine = summary.sessions.find((x) => x.sessionId === session.id);
    expect(mine).toMatchObject({ status: SessionStatus.SESSION_STATUS_READY, executionsRun: 1, restartCount: 0 });
    expect(mine!.heapUsedBytes).toBeGreaterThan(0);
    expect(summary.liveSessionCount).toBe(summary.sessions.length);

    const closed = await unary<Session>((cb) => s.sessions.closeSession({ sessionId: session.id }, cb));
    expect(closed.status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
    expect(closed.closedAt).toBeInstanceOf(Date);
    const again = await unary<Session>((cb) => s.sessions.closeSession({ sessionId: session.id }, cb));
    expect(again).toEqual(closed);
    summary = await unary<GetRuntimeSummaryResponse>((cb) => s.sessions.getRuntimeSummary({}, cb));
    expect(summary.sessions.map((x) => x.sessionId)).not.toContain(session.id);
    expect(await rpcError(repl(session.id, "1"))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });
  });

  it("closes a CRASHED session", async () => {
    const t = await template("crash-then-close");
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "boom.js", orderIndex: 1, mode: "" }, cb));
    const crashed = await create(t.id);
    const closed = await unary<Session>((cb) => s.sessions.closeSession({ sessionId: crashed.id }, cb));
    expect(closed.status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
  });

  it("closes a session while its startup file runs: it ends CLOSED, not CRASHED, and its isolate is freed", async () => {
    const t = await template("close-while-starting");
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "slow.js", orderIndex: 1, mode: "" }, cb));
    const creating = create(t.id);
    let starting: Session | undefined;
    while (!starting) {
      const listed = await unary<{ sessions: Session[] }>((cb) =>
        s.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_STARTING, pageSize: 1000, pageToken: "" }, cb),
      );
      starting = listed.sessions.find((x) => x.templateId === t.id);
    }
    const closed = await unary<Session>((cb) => s.sessions.closeSession({ sessionId: starting!.id }, cb));
    expect(closed.status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
    expect((await creating).status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
    expect((await get(starting.id)).status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
    const summary = await unary<GetRuntimeSummaryResponse>((cb) => s.sessions.getRuntimeSummary({}, cb));
    expect(summary.sessions.map((x) => x.sessionId)).not.toContain(starting.id);
  });

  it("lists newest first, filters by status and pages", async () => {
    const t = await template();
    const a = await create(t.id);
    const b = await create(t.id);
    await unary((cb) => s.sessions.closeSession({ sessionId: a.id }, cb));
    const ready = await unary<{ sessions: Session[] }>((cb) =>
      s.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_READY, pageSize: 1000, pageToken: "" }, cb),
    );
    expect(ready.sessions.every((x) => x.status === SessionStatus.SESSION_STATUS_READY)).toBe(true);
    expect(ready.sessions.map((x) => x.id)).toContain(b.id);
    expect(ready.sessions.map((x) => x.id)).not.toContain(a.id);
    const page1 = await unary<{ sessions: Session[]; nextPageToken: string }>((cb) => s.sessions.listSessions({ status: 0, pageSize: 1, pageToken: "" }, cb));
    expect(page1.sessions[0].id).toBe(b.id);
    const page2 = await unary<{ sessions: Session[] }>((cb) => s.sessions.listSessions({ status: 0, pageSize: 1, pageToken: page1.nextPageToken }, cb));
    expect(page2.sessions[0].id).toBe(a.id);
    expect(await rpcError(unary((cb) => s.sessions.listSessions({ status: 0, pageSize: 1, pageToken: "bogus" }, cb)))).toMatchObject({
      reason: "VALIDATION_ERROR",
    });
    expect(await rpcError(unary((cb) => s.sessions.listSessions({ status: 99 as SessionStatus, pageSize: 1, pageToken: "" }, cb)))).toMatchObject({
      reason: "VALIDATION_ERROR",
      metadata: { field: "status" },
    });
  });

  it("answers SESSION_NOT_FOUND for unknown ids", async () => {
    const unknown = "00000000-0000-0000-0000-000000000000";
    expect(await rpcError(get(unknown))).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND" });
    expect(await rpcError(unary((cb) => s.sessions.closeSession({ sessionId: unknown }, cb)))).toMatchObject({ reason: "SESSION_NOT_FOUND" });
    expect(await rpcError(repl(unknown, "1"))).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND" });
  });
});
