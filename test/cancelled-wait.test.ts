/**
 * A wait that the caller's own deadline or cancel ends is CANCELLED, not
 * UNAVAILABLE (which clients and proxies retry): a retry of a request_id
 * whose first execution still runs waits for it, and giving up on that
 * wait is logged with the status the server answered.
 */
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ExecutionServiceClient, type Execution } from "../gen/vmsystem/v1/execution";
import { SessionServiceClient, type Session } from "../gen/vmsystem/v1/session";
import { TemplateServiceClient, type Template } from "../gen/vmsystem/v1/template";
import { testDatabase } from "./support/database";
import { makeWorktree, removeDir, sleep } from "./support/fixtures";
import { spawnServer } from "./support/process";
import { unary } from "./support/server";

describe("a cancelled wait", { timeout: 60_000 }, () => {
  it("ends CANCELLED in the server's log, and the first execution is unharmed", async () => {
    const db = testDatabase();
    const worktree = makeWorktree();
    const server = await spawnServer(db);
    const creds = credentials.createInsecure();
    const templates = new TemplateServiceClient(server.address, creds);
    const sessions = new SessionServiceClient(server.address, creds);
    const executions = new ExecutionServiceClient(server.address, creds);
    try {
      const t = await unary<Template>((cb) => templates.createTemplate({ name: "wait", engine: "" }, cb));
      const session = await unary<Session>((cb) =>
        sessions.createSession({ templateId: t.id, workspaceId: "w", baseCommitOid: "c", worktreePath: worktree }, cb),
      );
      const input = "await new Promise((r) => setTimeout(r, 1500)); 'first'";
      const first = unary<Execution>((cb) => executions.executeRepl({ sessionId: session.id, input, requestId: "same-key" }, cb));
      await sleep(300);
      const metadata = new Metadata();
      metadata.set("x-request-id", "the-retry");
      const retry = await unary<Execution>((cb) =>
        executions.executeRepl({ sessionId: session.id, input, requestId: "same-key" }, metadata, { deadline: Date.now() + 300 }, cb),
      ).catch((e: ServiceError) => e);
      expect((retry as ServiceError).code).toBe(status.DEADLINE_EXCEEDED);
      expect((await first).result?.json).toBe("first");
      await sleep(200); // RPC log lines are written in batches, up to 50 ms late
      const line = server.logs.find((l) => l.msg === "rpc" && l.requestId === "the-retry");
      expect(line).toMatchObject({ method: "vmsystem.v1.ExecutionService/ExecuteRepl", code: "CANCELLED" });
    } finally {
      for (const c of [templates, sessions, executions]) c.close();
      await server.stop();
      removeDir(worktree);
      await db.cleanup();
    }
  });
});
