import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, HealthClient, type HealthCheckResponse } from "../gen/grpc/health/v1/health";
import { SessionStatus, type Session } from "../gen/vmsystem/v1/session";
import { TemplateServiceClient, type Template } from "../gen/vmsystem/v1/template";
import { testDatabase } from "./support/database";
import { bufCurl, cli, selfSignedCertificate, spawnServer } from "./support/process";
import { rpcError, unary, useTestServer } from "./support/server";
import { until } from "./support/streams";

const TOKEN = "s3cret-token-for-tests";

describe("bearer-token auth", () => {
  const s = useTestServer({ authToken: TOKEN, logLevel: "info" });
  const withToken = (token: string) => {
    const m = new Metadata();
    m.set("authorization", `Bearer ${token}`);
    return m;
  };

  it("refuses calls without the right token with UNAUTHENTICATED, accepts the right one", async () => {
    const create = (metadata: Metadata) => unary<Template>((cb) => s.templates.createTemplate({ name: "auth", engine: "", settings: undefined }, metadata, cb));
    expect(await rpcError(create(new Metadata()))).toMatchObject({ code: status.UNAUTHENTICATED, reason: "UNAUTHENTICATED" });
    expect(await rpcError(create(withToken("wrong")))).toMatchObject({ code: status.UNAUTHENTICATED, reason: "UNAUTHENTICATED" });
    const bad = new Metadata();
    bad.set("authorization", TOKEN);
    expect(await rpcError(create(bad))).toMatchObject({ reason: "UNAUTHENTICATED" });
    expect((await create(withToken(TOKEN))).name).toBe("auth");
    const stream = s.executions.watchSession({ sessionId: "x", maxBatch: 0 });
    const err = await new Promise<{ code: number }>((resolve) => stream.on("error", resolve));
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it("keeps health and reflection open", async () => {
    const r = await unary<HealthCheckResponse>((cb) => s.health.check({ service: "" }, cb));
    expect(r.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const listed = await bufCurl(s.address, ["--list-services", "{server}"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("vmsystem.v1.TemplateService");
  });

  it("the CLI sends the token from --token or VMSYSTEM_AUTH_TOKEN", async () => {
    expect((await cli(["--server", s.address, "template", "list"])).code).toBe(1);
    expect((await cli(["--server", s.address, "--token", TOKEN, "template", "list"])).code).toBe(0);
    expect((await cli(["--server", s.address, "template", "list"], { VMSYSTEM_AUTH_TOKEN: TOKEN })).code).toBe(0);
  });

  it("returns the x-request-id it was sent, or a generated one", async () => {
    const metadata = withToken(TOKEN);
    metadata.set("x-request-id", "req-123");
    const seen = await new Promise<Metadata>((resolve, reject) => {
      const call = s.templates.listTemplates({ pageSize: 1, pageToken: "" }, metadata, (err) => err && reject(err));
      call.on("metadata", resolve);
    });
    expect(seen.get("x-request-id")).toEqual(["req-123"]);
    const generated = await new Promise<Metadata>((resolve) => {
      const call = s.templates.listTemplates({ pageSize: 1, pageToken: "" }, withToken(TOKEN), () => undefined);
      call.on("metadata", resolve);
    });
    expect(String(generated.get("x-request-id")[0])).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("the token in logs", () => {
  it("never appears in the server's log, while the request id does", async () => {
    const db = testDatabase();
    try {
      const server = await spawnServer(db, [], { VMSYSTEM_AUTH_TOKEN: TOKEN });
      const r = await cli(["--server", server.address, "--token", TOKEN, "template", "list"]);
      expect(r.code).toBe(0);
      await cli(["--server", server.address, "--token", "a-wrong-token", "template", "list"]);
      await server.stop();
      const text = JSON.stringify(server.logs);
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain("a-wrong-token");
      expect(server.logs.filter((l) => l.msg === "rpc").every((l) => typeof l.requestId === "string")).toBe(true);
      expect(server.logs.some((l) => l.msg === "rpc" && l.code === "UNAUTHENTICATED")).toBe(true);
    } finally {
      await db.cleanup();
    }
  });
});

describe("TLS", () => {
  let dir: string;
  // Registered before the server's hooks: the certificate exists before it starts.
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vmsystem-tls-"));
    await selfSignedCertificate(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const s = useTestServer(() => ({ tlsCert: join(dir, "cert.pem"), tlsKey: join(dir, "key.pem") }));

  it("serves over TLS to clients that trust the CA, and not in plaintext", async () => {
    const { readFileSync } = await import("node:fs");
    const secure = new TemplateServiceClient(`localhost:${s.app.port}`, credentials.createSsl(readFileSync(join(dir, "cert.pem"))));
    const t = await unary<Template>((cb) => secure.createTemplate({ name: "tls", engine: "", settings: undefined }, cb));
    expect(t.name).toBe("tls");
    secure.close();
    const plain = new HealthClient(`127.0.0.1:${s.app.port}`, credentials.createInsecure());
    expect((await rpcError(unary((cb) => plain.check({ service: "" }, new Metadata(), { deadline: Date.now() + 3000 }, cb)))).code).not.toBe(status.OK);
    plain.close();
  });

  it("the CLI connects with --tls-ca", async () => {
    const r = await cli([
      "--server",
      `localhost:${s.app.port}`,
      "--tls-ca",
      join(dir, "cert.pem"),
      "--output",
      "json",
      "template",
      "create",
      "--name",
      "via-cli-tls",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).name).toBe("via-cli-tls");
    const health = await cli(["--server", `localhost:${s.app.port}`, "--tls-ca", join(dir, "cert.pem"), "ops", "health"]);
    expect(health.stdout.trim()).toBe("SERVING");
  });
});

describe("--session-idle-timeout", () => {
  let worktree: string;
  beforeAll(() => {
    worktree = mkdtempSync(join(tmpdir(), "vmsystem-idle-"));
  });
  afterAll(() => rmSync(worktree, { recursive: true, force: true }));
  const s = useTestServer({ sessionIdleTimeoutMs: 400 });

  it("closes sessions idle that long, saying why; an open watch or activity keeps a session alive", async () => {
    const t = await unary<Template>((cb) => s.templates.createTemplate({ name: "idle", engine: "", settings: undefined }, cb));
    const create = () =>
      unary<Session>((cb) => s.sessions.createSession({ templateId: t.id, workspaceId: "w", baseCommitOid: "c", worktreePath: worktree }, cb));
    const idle = await create();
    const watched = await create();
    const busy = await create();
    const watch = s.executions.watchSession({ sessionId: watched.id, maxBatch: 0 });
    watch.on("error", () => undefined);
    const keepBusy = setInterval(() => s.executions.executeRepl({ sessionId: busy.id, input: "1", requestId: "" }, () => undefined), 100);
    try {
      await until(
        async () => (await unary<Session>((cb) => s.sessions.getSession({ sessionId: idle.id }, cb))).status === SessionStatus.SESSION_STATUS_CLOSED,
        10_000,
      );
      const closed = await unary<Session>((cb) => s.sessions.getSession({ sessionId: idle.id }, cb));
      expect(closed.lastError).toMatch(/without activity/);
      const summary = await unary<{ sessions: { sessionId: string }[] }>((cb) => s.sessions.getRuntimeSummary({}, cb));
      expect(summary.sessions.map((x) => x.sessionId)).not.toContain(idle.id);
      expect(summary.sessions.map((x) => x.sessionId)).toEqual(expect.arrayContaining([watched.id, busy.id]));
      expect((await unary<Session>((cb) => s.sessions.getSession({ sessionId: watched.id }, cb))).status).toBe(SessionStatus.SESSION_STATUS_READY);
    } finally {
      clearInterval(keepBusy);
      watch.cancel();
    }
    // Once nobody watches, the watched session goes too.
    await until(
      async () => (await unary<Session>((cb) => s.sessions.getSession({ sessionId: watched.id }, cb))).status === SessionStatus.SESSION_STATUS_CLOSED,
      10_000,
    );
  });
});
