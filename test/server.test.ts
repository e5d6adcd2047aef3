import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { HealthCheckResponse, HealthCheckResponse_ServingStatus, HealthClient } from "../gen/grpc/health/v1/health";
import { TemplateServiceClient, type Template } from "../gen/vmsystem/v1/template";
import { ExecutionServiceClient, ExecutionStatus, type ListExecutionsResponse, type StreamExecutionResponse, type WatchSessionResponse } from "../gen/vmsystem/v1/execution";
import { collect, until } from "./support/streams";
import { describe, expect, it } from "vitest";
import { testDatabase } from "./support/database";
import { bufCurl, cli, spawnServer } from "./support/process";
import { rpcError, unary, useTestServer } from "./support/server";

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
    expect(services.stdout.split("\n")).toEqual(expect.arrayContaining(["vmsystem.v1.TemplateService", "vmsystem.v1.SessionService", "vmsystem.v1.ExecutionService", "grpc.health.v1.Health"]));
    const methods = await bufCurl(s.address, ["--list-methods", "{server}"]);
    expect(methods.stdout).toContain("vmsystem.v1.ExecutionService/StreamExecution");
    expect(methods.stdout).toContain("vmsystem.v1.TemplateService/UpdateTemplateSettings");
    const created = await bufCurl(s.address, ["-d", JSON.stringify({ name: "via-reflection", settings: { limits: { cpuMs: 42 } } }), "{server}/vmsystem.v1.TemplateService/CreateTemplate"]);
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

  it("after a kill -9, closes the sessions and cancels the executions the dead process left behind", async () => {
    const db = testDatabase();
    const worktree = mkdtempSync(join(tmpdir(), "vmsystem-kill-"));
    try {
      const first = await spawnServer(db);
      const json = async (args: string[]) => {
        const r = await cli(["--server", first.address, "--output", "json", ...args]);
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout);
      };
      const t = await json(["template", "create", "--name", "killed", "--wall-ms", "60000", "--cpu-ms", "60000"]);
      const session = await json(["session", "create", "--template", t.id, "--workspace", "w", "--commit", "c", "--worktree", worktree]);
      expect(session.status).toBe("SESSION_STATUS_READY");
      await new Promise((r) => setTimeout(r, 5));
      const finished = await json(["exec", "repl", "--session", session.id, "1"]);
      expect(Date.parse(finished.endedAt)).toBeGreaterThan(Date.parse(session.lastActivityAt));
      // Leave an execution running (stored RUNNING), then kill the server without a chance to clean up.
      void cli(["--server", first.address, "exec", "repl", "--session", session.id, "while (true) {}"]);
      const executions = new ExecutionServiceClient(first.address, credentials.createInsecure());
      const stored = async () => (await unary<ListExecutionsResponse>((cb) => executions.listExecutions({ sessionId: session.id, pageSize: 1, pageToken: "" }, cb))).executions;
      for (let tries = 0; (await stored())[0]?.status !== ExecutionStatus.EXECUTION_STATUS_RUNNING; tries++) {
        expect(tries, "the execution is stored RUNNING").toBeLessThan(200);
        await new Promise((r) => setTimeout(r, 50));
      }
      executions.close();
      expect(await first.stop("SIGKILL")).toBe(null);

      const second = await spawnServer(db);
      const again = await cli(["--server", second.address, "--output", "json", "session", "get", session.id]);
      const after = JSON.parse(again.stdout);
      expect(after.status).toBe("SESSION_STATUS_CLOSED");
      expect(after.lastError).toMatch(/restart/);
      // Kept in memory while the session lived: recovered from its executions.
      expect(Date.parse(after.lastActivityAt)).toBeGreaterThanOrEqual(Date.parse(finished.endedAt));
      const list = await cli(["--server", second.address, "--output", "json", "exec", "list", "--session", session.id]);
      const [running] = JSON.parse(list.stdout).items;
      expect(running).toMatchObject({ status: "EXECUTION_STATUS_CANCELLED", error: { code: "CANCELLED" } });
      expect(running.error.message).toMatch(/server restarted/);
      expect(after.lastActivityAt).toBe(running.startedAt);
      expect(second.logs.some((l) => l.msg === "recovered from a previous run")).toBe(true);
      expect(await second.stop()).toBe(0);
    } finally {
      rmSync(worktree, { recursive: true, force: true });
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
      const watch = collect<WatchSessionResponse>(executions.watchSession({ sessionId: session.id }));
      await new Promise((r) => setTimeout(r, 300));
      const run = collect<StreamExecutionResponse>(executions.streamExecution({ sessionId: session.id, repl: { input: "console.log('working'); await new Promise(() => {})" }, requestId: "" }));
      await until(() => run.messages.length >= 3);
      const executionId = run.messages[0].started!.id;

      const health = new HealthClient(server.address, credentials.createInsecure());
      const healthWatch = collect<HealthCheckResponse>(health.watch({ service: "" }));
      await until(() => healthWatch.messages.length >= 1);
      const exited = server.stop("SIGTERM");
      // During the grace period: health turns NOT_SERVING and new calls are refused.
      await until(() => healthWatch.messages.some((m) => m.status === HealthCheckResponse_ServingStatus.NOT_SERVING));
      const late = new TemplateServiceClient(server.address, credentials.createInsecure());
      const refused = await rpcError(unary((cb) => late.createTemplate({ name: "too late", engine: "", settings: undefined }, new Metadata(), { deadline: Date.now() + 5000 }, cb)));
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
