import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { HealthCheckResponse, HealthCheckResponse_ServingStatus, HealthClient } from "../gen/grpc/health/v1/health";
import { TemplateServiceClient, type Template } from "../gen/vmsystem/v1/template";
import { ExecutionKind, ExecutionServiceClient, ExecutionStatus, type StreamExecutionResponse, type WatchSessionResponse } from "../gen/vmsystem/v1/execution";
import { SessionStatus, type GetRuntimeSummaryResponse, type ListSessionsResponse, type Session } from "../gen/vmsystem/v1/session";
import { collect, until } from "./support/streams";
import { describe, expect, it } from "vitest";
import { testDatabase } from "./support/database";
import { makeWorktree, removeDir, sleep } from "./support/fixtures";
import { bufCurl, cli, spawnServer } from "./support/process";
import { connect, rpcError, unary, useTestServer, type Clients } from "./support/server";

describe("the server in-process", () => {
  const s = useTestServer();

  it("reports SERVING on grpc.health.v1 for the server and each service", async () => {
    for (const service of ["", "vmsystem.v1.TemplateService", "vmsystem.v1.SessionService", "vmsystem.v1.ExecutionService"]) {
      const r = await unary<HealthCheckResponse>((cb) => s.health.check({ service }, cb));
      expect(r.status, service).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });

  it("serves reflection that a Go client (buf curl) can list and call through", async () => {
    const services = await bufCurl(s.address, ["--list-services", "{server}"]);
    expect(services.code, services.stderr).toBe(0);
    expect(services.stdout.split("\n")).toEqual(
      expect.arrayContaining(["vmsystem.v1.TemplateService", "vmsystem.v1.SessionService", "vmsystem.v1.ExecutionService", "grpc.health.v1.Health"]),
    );
    const methods = await bufCurl(s.address, ["--list-methods", "{server}"]);
    expect(methods.stdout).toContain("vmsystem.v1.ExecutionService/StreamExecution");
    expect(methods.stdout).toContain("vmsystem.v1.TemplateService/UpdateTemplateSettings");
    const created = await bufCurl(s.address, [
      "-d",
      JSON.stringify({ name: "via-reflection", settings: { limits: { cpuMs: 42 } } }),
      "{server}/vmsystem.v1.TemplateService/CreateTemplate",
    ]);
    expect(created.code, created.stderr).toBe(0);
    const t = JSON.parse(created.stdout);
    expect(t).toMatchObject({ name: "via-reflection", engine: "isolated-vm", settings: { limits: { cpuMs: 42, wallMs: 30000 } } });
  });

  it("returns ErrorInfo details that buf curl shows, with exit code 8 × gRPC code", async () => {
    const r = await bufCurl(s.address, ["-d", '{"templateId":"nope"}', "{server}/vmsystem.v1.TemplateService/GetTemplate"]);
    expect(r.code).toBe(8 * status.NOT_FOUND);
    const err = JSON.parse(r.stderr);
    expect(err.code).toBe("not_found");
    expect(err.details[0].type).toBe("google.rpc.ErrorInfo");
  });
});

// Each test starts server and CLI processes: generous timeouts for a loaded 2-core machine.
describe("vmsystem serve as a process", { timeout: 90_000 }, () => {
  it("logs one JSON line per RPC, exits 0 on SIGTERM and keeps templates across a restart", async () => {
    const db = testDatabase();
    try {
      const first = await spawnServer(db);
      const created = await cli(["template", "create", "--name", "durable", "--mem-mb", "64", "--server", first.address, "--output", "json"]);
      expect(created.code, created.stderr).toBe(0);
      const t = JSON.parse(created.stdout) as Template;
      expect(await first.stop("SIGTERM")).toBe(0);
      const rpcLine = first.logs.find((l) => l.msg === "rpc");
      expect(rpcLine).toMatchObject({ method: "vmsystem.v1.TemplateService/CreateTemplate", code: "OK" });
      expect(typeof rpcLine?.durationMs).toBe("number");
      expect(first.logs.some((l) => l.msg === "stopped")).toBe(true);

      const second = await spawnServer(db);
      const got = await cli(["--output", "json", "--server", second.address, "template", "get", t.id]);
      expect(got.code, got.stderr).toBe(0);
      expect(JSON.parse(got.stdout)).toMatchObject({ id: t.id, name: "durable", settings: { limits: { memMb: 64 } } });
      expect(await second.stop("SIGINT")).toBe(0);
    } finally {
      await db.cleanup();
    }
  });

  it("with --session-restore off, after a kill -9 (one session STARTING, others READY, some running), nothing looks live: sessions CLOSED, executions CANCELLED, new sessions work", async () => {
    const db = testDatabase();
    // boot.js keeps its session STARTING for ten minutes: the kill comes first.
    const worktree = makeWorktree({ "boot.js": "console.log('booting'); await new Promise((r) => setTimeout(r, 600_000))" }, "vmsystem-kill-");
    const clients: Clients[] = [];
    try {
      const first = await spawnServer(db);
      const c1 = connect(first.address);
      clients.push(c1);
      const api = c1.api;
      const limits = { wallMs: 600_000, cpuMs: 600_000 };
      const plain = await api.template({ name: "killed", settings: { limits } });
      const slow = await api.template({ name: "killed-while-starting", settings: { limits }, startupFiles: [{ path: "boot.js" }] });
      const idle = await api.session(plain.id, worktree);
      const looping = await api.session(plain.id, worktree);
      const awaiting = await api.session(plain.id, worktree);
      await sleep(5);
      const finished = await api.repl(idle.id, "1");
      expect(finished.endedAt!.getTime()).toBeGreaterThan(idle.lastActivityAt!.getTime());
      // Two executions left running (stored RUNNING): one busy on its isolate's thread, one awaiting.
      c1.executions.executeRepl({ sessionId: looping.id, input: "while (true) {}", requestId: "" }, () => undefined);
      c1.executions.executeRepl({ sessionId: awaiting.id, input: "console.log('waiting'); await new Promise(() => {})", requestId: "" }, () => undefined);
      // And a session whose CreateSession is still running its startup file.
      c1.sessions.createSession({ templateId: slow.id, workspaceId: "w", baseCommitOid: "c", worktreePath: worktree }, () => undefined);
      const running = async (sessionId: string) => (await api.allExecutions(sessionId)).find((e) => e.status === ExecutionStatus.EXECUTION_STATUS_RUNNING);
      let starting: Session | undefined;
      await until(async () => {
        [starting] = (
          await unary<ListSessionsResponse>((cb) =>
            c1.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_STARTING, pageSize: 10, pageToken: "" }, cb),
          )
        ).sessions;
        return Boolean(starting && (await running(starting.id)) && (await running(looping.id)) && (await running(awaiting.id)));
      }, 20_000);
      const startup = (await running(starting!.id))!;
      expect(startup.kind).toBe(ExecutionKind.EXECUTION_KIND_STARTUP);
      const leftRunning = [startup.id, (await running(looping.id))!.id, (await running(awaiting.id))!.id];
      expect(await first.stop("SIGKILL")).toBe(null);

      // Restore off: orphans are closed as before durable sessions (the default restores them: durable-sessions tests).
      const second = await spawnServer(db, ["--session-restore", "off"]);
      const c2 = connect(second.address);
      clients.push(c2);
      const summary = await unary<GetRuntimeSummaryResponse>((cb) => c2.sessions.getRuntimeSummary({}, cb));
      expect(summary.liveSessionCount).toBe(0);
      for (const id of [idle.id, looping.id, awaiting.id, starting!.id]) {
        const after = await c2.api.getSession(id);
        expect(SessionStatus[after.status], id === starting!.id ? "the STARTING session" : "a READY session").toBe("SESSION_STATUS_CLOSED");
        expect(after.lastError).toMatch(/server restarted/);
        expect(after.closedAt).toBeDefined();
        expect(await rpcError(c2.api.repl(id, "1"))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });
      }
      for (const liveStatus of [SessionStatus.SESSION_STATUS_STARTING, SessionStatus.SESSION_STATUS_READY]) {
        const live = await unary<ListSessionsResponse>((cb) => c2.sessions.listSessions({ status: liveStatus, pageSize: 10, pageToken: "" }, cb));
        expect(live.sessions, SessionStatus[liveStatus]).toEqual([]);
      }
      for (const id of leftRunning) {
        const e = await c2.api.getExecution(id);
        expect(e).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_CANCELLED, error: { code: "CANCELLED" } });
        expect(e.error!.message).toMatch(/server restarted/);
      }
      expect((await c2.api.getExecution(finished.id)).status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
      // last_activity_at was kept in memory while the sessions lived: recovered from their executions.
      expect((await c2.api.getSession(idle.id)).lastActivityAt).toEqual(finished.endedAt);
      const awaited = (await c2.api.allExecutions(awaiting.id))[0];
      expect((await c2.api.getSession(awaiting.id)).lastActivityAt).toEqual(awaited.startedAt);
      expect(second.logs.find((l) => l.msg === "recovered from a previous run")).toMatchObject({ closedSessions: 4, cancelledExecutions: 3 });
      // The restarted server starts sessions and runs code as usual.
      const fresh = await c2.api.session(plain.id, worktree);
      expect(fresh.status).toBe(SessionStatus.SESSION_STATUS_READY);
      expect((await c2.api.repl(fresh.id, "6 * 7")).result?.json).toBe(42);
      await c2.api.closeAll();
      expect(await second.stop()).toBe(0);
    } finally {
      for (const c of clients) c.close();
      removeDir(worktree);
      await db.cleanup();
    }
  });

  it("on SIGTERM gives running executions the grace period, cancels and stores them, ends open streams, exits 0", async () => {
    const db = testDatabase();
    const worktree = mkdtempSync(join(tmpdir(), "vmsystem-term-"));
    try {
      const server = await spawnServer(db, ["--shutdown-grace", "500ms"]);
      const json = async (args: string[]) => JSON.parse((await cli(["--server", server.address, "--output", "json", ...args])).stdout);
      const t = await json(["template", "create", "--name", "term"]);
      const session = await json(["session", "create", "--template", t.id, "--workspace", "w", "--commit", "c", "--worktree", worktree]);
      const executions = new ExecutionServiceClient(server.address, credentials.createInsecure());
      const watch = collect<WatchSessionResponse>(executions.watchSession({ sessionId: session.id, maxBatch: 0 }));
      await new Promise((r) => setTimeout(r, 300));
      const run = collect<StreamExecutionResponse>(
        executions.streamExecution({
          sessionId: session.id,
          repl: { input: "console.log('working'); await new Promise(() => {})" },
          requestId: "",
          maxBatch: 0,
        }),
      );
      await until(() => run.messages.length >= 3);
      const executionId = run.messages[0].started!.id;

      const health = new HealthClient(server.address, credentials.createInsecure());
      const healthWatch = collect<HealthCheckResponse>(health.watch({ service: "" }));
      await until(() => healthWatch.messages.length >= 1);
      const exited = server.stop("SIGTERM");
      // During the grace period: health turns NOT_SERVING and new calls are refused.
      await until(() => healthWatch.messages.some((m) => m.status === HealthCheckResponse_ServingStatus.NOT_SERVING));
      const late = new TemplateServiceClient(server.address, credentials.createInsecure());
      const refused = await rpcError(
        unary((cb) => late.createTemplate({ name: "too late", engine: "", settings: undefined }, new Metadata(), { deadline: Date.now() + 5000 }, cb)),
      );
      expect(refused.code).toBe(status.UNAVAILABLE);
      late.close();
      health.close();
      expect(await exited).toBe(0);
      const watchEnd = await watch.done;
      expect(watchEnd.ok || watchEnd.error.code === status.UNAVAILABLE).toBe(true);
      const runEnd = await run.done;
      if (runEnd.ok) expect(run.messages[run.messages.length - 1].finished?.status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
      else expect(runEnd.error.code).toBe(status.UNAVAILABLE);
      executions.close();

      const again = await spawnServer(db);
      const stored = JSON.parse((await cli(["--server", again.address, "--output", "json", "exec", "get", executionId])).stdout);
      expect(stored.status).toBe("EXECUTION_STATUS_CANCELLED");
      expect(stored.error.message).not.toMatch(/server restarted/);
      expect(stored.events.map((e: { type: string }) => e.type)).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_CONSOLE", "EVENT_TYPE_SYSTEM"]);
      expect(await again.stop()).toBe(0);
    } finally {
      rmSync(worktree, { recursive: true, force: true });
      await db.cleanup();
    }
  });

  it("fails to start with a clear message on an unusable database URL", async () => {
    const r = await cli(["serve", "--listen", "127.0.0.1:0", "--database-url", "mysql://nope"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("unsupported database URL");
  });
});
