/**
 * What the operator bounds, whatever a template asks for: server variables
 * an `env` capability may copy (--env-allow), the limits a template may set
 * (--max-mem-mb, --max-cpu-ms, --max-wall-ms, --max-events, --max-output-kb)
 * and the number of live sessions (--max-sessions).
 */
import { status } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Template } from "../gen/vmsystem/v1/template";
import { Api, okValue, SessionStatus } from "./support/fixtures";
import { rpcError, startTestServer, unary, type TestServer } from "./support/server";

describe("--env-allow", () => {
  const vars = { VMSYS_TEST_ALLOWED: "visible", VMSYS_TEST_SECRET: "s3cret", VMSYSTEM_DATABASE_URL: "postgres://user:password@db/x" };
  const saved: Record<string, string | undefined> = {};
  beforeAll(() => {
    for (const [k, v] of Object.entries(vars)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const asked = ["VMSYS_TEST_ALLOWED", "VMSYS_TEST_SECRET", "VMSYSTEM_DATABASE_URL", "HOME", "PATH", "__proto__", "constructor"];
  async function envSeen(s: TestServer): Promise<unknown> {
    const api = new Api(s);
    try {
      const session = await api.ready({ capabilities: [{ kind: "env", name: "vars", config: { allow: asked } }] });
      return okValue(await api.repl(session.id, "env")).json;
    } finally {
      await api.closeAll();
    }
  }

  it("copies nothing by default", async () => {
    const s = await startTestServer();
    try {
      expect(await envSeen(s)).toEqual({});
    } finally {
      await s.close();
    }
  });

  it("copies only the variables the operator allowed", async () => {
    const s = await startTestServer({ envAllow: ["VMSYS_TEST_ALLOWED", "VMSYS_TEST_UNSET"] });
    try {
      expect(await envSeen(s)).toEqual({ VMSYS_TEST_ALLOWED: "visible" });
    } finally {
      await s.close();
    }
  });
});

describe("limit ceilings", () => {
  let s: TestServer;
  let api: Api;
  beforeAll(async () => {
    s = await startTestServer({ ceilings: { memMb: 64, cpuMs: 2000, wallMs: 5000, maxEvents: 500, maxOutputKb: 100 } });
    api = new Api(s);
  });
  afterAll(async () => {
    await api?.closeAll();
    await s?.close();
  });

  it("refuses a template that asks for more than a ceiling, naming the field and the flag", async () => {
    const cases: [Record<string, number>, string, string][] = [
      [{ memMb: 128 }, "settings.limits.mem_mb", "--max-mem-mb"],
      [{ cpuMs: 2001 }, "settings.limits.cpu_ms", "--max-cpu-ms"],
      [{ wallMs: 86_400_000 }, "settings.limits.wall_ms", "--max-wall-ms"],
      [{ maxEvents: 10_000_000 }, "settings.limits.max_events", "--max-events"],
      [{ maxOutputKb: 101 }, "settings.limits.max_output_kb", "--max-output-kb"],
    ];
    for (const [limits, field, flag] of cases) {
      const e = await rpcError(unary((cb) => s.templates.createTemplate({ name: "big", engine: "", settings: { limits } }, cb)));
      expect(e.code, field).toBe(status.INVALID_ARGUMENT);
      expect(e.reason).toBe("VALIDATION_ERROR");
      expect(e.metadata.field).toBe(field);
      expect(e.message).toContain(flag);
    }
  });

  it("gives a new template defaults within the ceilings, and refuses an update above them", async () => {
    const t = await unary<Template>((cb) => s.templates.createTemplate({ name: "defaults", engine: "" }, cb));
    expect(t.settings?.limits).toMatchObject({ memMb: 64, cpuMs: 2000, wallMs: 5000, maxEvents: 500, maxOutputKb: 100 });
    const e = await rpcError(
      unary((cb) => s.templates.updateTemplateSettings({ templateId: t.id, settings: { limits: { memMb: 65 } }, updateMask: ["limits.mem_mb"] }, cb)),
    );
    expect([e.code, e.reason, e.metadata.field]).toEqual([status.INVALID_ARGUMENT, "VALIDATION_ERROR", "settings.limits.mem_mb"]);
    const stored = await unary<Template>((cb) => s.templates.getTemplate({ templateId: t.id }, cb));
    expect(stored.settings?.limits?.memMb).toBe(64);
    const session = await api.ready({ settings: { limits: { memMb: 64 } } });
    expect(session.status).toBe(SessionStatus.SESSION_STATUS_READY);
  });

  it("does not start a session from a template written under higher ceilings", async () => {
    const generous = await startTestServer();
    let templateId: string;
    try {
      templateId = (await new Api(generous).template({ settings: { limits: { memMb: 512 } } })).id;
    } finally {
      await generous.stop();
    }
    const strict = await startTestServer({ ceilings: { memMb: 256 } }, generous.db);
    const api2 = new Api(strict);
    try {
      const e = await rpcError(api2.session(templateId));
      expect([e.code, e.reason]).toEqual([status.INVALID_ARGUMENT, "VALIDATION_ERROR"]);
      expect(e.message).toContain("--max-mem-mb");
      const sessions = await unary<{ sessions: unknown[] }>((cb) =>
        strict.sessions.listSessions({ status: SessionStatus.SESSION_STATUS_UNSPECIFIED, pageSize: 0, pageToken: "" }, cb),
      );
      expect(sessions.sessions).toEqual([]);
    } finally {
      await api2.closeAll();
      await strict.close();
    }
  });
});

describe("--max-sessions", () => {
  let s: TestServer;
  let api: Api;
  let templateId: string;
  beforeAll(async () => {
    s = await startTestServer({ maxSessions: 3 });
    api = new Api(s);
    templateId = (await api.template({ settings: { limits: { memMb: 16 } } })).id;
  });
  afterEach(async () => api.closeAll());
  afterAll(async () => s?.close());

  it("refuses sessions past the limit with RESOURCE_EXHAUSTED / SESSION_LIMIT, and takes one again after a close", async () => {
    const live = [await api.session(templateId), await api.session(templateId), await api.session(templateId)];
    const e = await rpcError(api.session(templateId));
    expect([e.code, e.reason, e.metadata.limit]).toEqual([status.RESOURCE_EXHAUSTED, "SESSION_LIMIT", "3"]);
    await api.closeSession(live[0].id);
    const again = await api.session(templateId);
    expect(again.status).toBe(SessionStatus.SESSION_STATUS_READY);
  });

  it("holds under concurrent creates", async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => api.session(templateId)));
    const created = results.filter((r) => r.status === "fulfilled");
    expect(created).toHaveLength(3);
    for (const r of results) {
      if (r.status === "rejected") expect((await rpcError(Promise.reject(r.reason))).reason).toBe("SESSION_LIMIT");
    }
    const summary = await unary<{ liveSessionCount: number }>((cb) => s.sessions.getRuntimeSummary({}, cb));
    expect(summary.liveSessionCount).toBe(3);
  });
});
