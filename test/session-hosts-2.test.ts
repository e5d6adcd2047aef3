/**
 * Session hosts, second slice of issue #15: `runtime.dedicated_host` (a
 * session in a host process of its own, outside the pool, that ends with
 * the session's runtime) and `--host-memory-mb` (a host whose RSS passes
 * the budget is killed and replaced; the run that grew it ends
 * MEMORY_LIMIT_EXCEEDED). Servers run as their own processes, hosts as
 * their children.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Template, TemplateSettings } from "../gen/vmsystem/v1/template";
import { testDatabase, type TestDatabase } from "./support/database";
import { describeExecution, ExecutionStatus, okValue, SessionStatus } from "./support/fixtures";
import { dedicatedPids, healthThroughout, poolEnded, poolPids, processGone, serve, shutDown, until, type Served } from "./support/hosts";
import { startTestServer, templateStoredByOlderVersion, unary, useTestServer } from "./support/server";

const DEDICATED = { runtime: { dedicatedHost: true } };
const runtime = (dedicatedHost: boolean) => ({ esm: false, strict: false, console: true, wasm: false, dedicatedHost });

describe("the runtime.dedicated_host setting (in-process server: stored, no effect)", () => {
  const s = useTestServer();
  const get = (templateId: string) => unary<Template>((cb) => s.templates.getTemplate({ templateId }, cb));
  const update = (templateId: string, settings: TemplateSettings, updateMask: string[]) =>
    unary<Template>((cb) => s.templates.updateTemplateSettings({ templateId, settings, updateMask }, cb));

  it("is false by default and round-trips through Create, Get and UpdateTemplateSettings (update_mask runtime.dedicated_host)", async () => {
    const t = await s.api.template({ name: "dedicated-default" });
    expect(t.settings?.runtime).toEqual(runtime(false));
    expect((await update(t.id, DEDICATED, ["runtime.dedicated_host"])).settings?.runtime).toEqual(runtime(true));
    expect((await get(t.id)).settings?.runtime).toEqual(runtime(true));
    // Masked but absent: back to the default.
    expect((await update(t.id, {}, ["runtime.dedicated_host"])).settings?.runtime).toEqual(runtime(false));
    const created = await s.api.template({ name: "dedicated-on", settings: DEDICATED });
    expect((await get(created.id)).settings?.runtime?.dedicatedHost).toBe(true);
    // With --session-hosts 0 the session runs in the server's process, as any other.
    const session = await s.api.session(created.id);
    expect(okValue(await s.api.repl(session.id, "1 + 1")).json).toBe(2);
  });
});

describe("a template stored before runtime.dedicated_host existed", () => {
  let db: TestDatabase;
  beforeAll(() => {
    db = testDatabase();
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it("reads as dedicated_host false", async () => {
    // The row as the previous version wrote it: no `dedicatedHost` in its settings.
    const id = await templateStoredByOlderVersion(db, (settings) => delete settings.runtime.dedicatedHost);
    const server = await startTestServer({}, db);
    try {
      const t = await unary<Template>((cb) => server.templates.getTemplate({ templateId: id }, cb));
      expect(t.settings?.runtime).toEqual(runtime(false));
    } finally {
      await server.stop();
    }
  });
});

describe("dedicated hosts (--session-hosts 1)", () => {
  let s: Served | undefined;
  beforeAll(async () => {
    s = await serve(["--session-hosts", "1"]);
    await until("the pool's host", () => poolPids(s!.server).length === 1);
  });
  afterAll(async () => {
    const pids = s ? [...poolPids(s.server), ...dedicatedPids(s.server)] : [];
    await shutDown(s);
    for (const pid of pids) expect(processGone(pid), `host ${pid} outlived the server`).toBe(true);
  });

  /** A ready dedicated session and the host process started for it. */
  async function dedicatedSession(name: string, settings: TemplateSettings = DEDICATED) {
    const before = dedicatedPids(s!.server).length;
    const session = await s!.api.ready({ name, settings });
    const started = dedicatedPids(s!.server);
    expect(started.length, "one new dedicated host per dedicated session").toBe(before + 1);
    return { session, pid: started[before] };
  }

  it("two dedicated sessions and a normal one run in three processes; killing one's host touches no other session, it is restored by replay in a new host of its own; closing ends the host", async () => {
    const { api, server, clients } = s!;
    const [pool] = poolPids(server);
    const a = await dedicatedSession("a");
    const b = await dedicatedSession("b");
    const n = await api.ready({ name: "normal" });
    expect(new Set([pool, a.pid, b.pid]).size).toBe(3);
    for (const pid of [pool, a.pid, b.pid]) expect(processGone(pid)).toBe(false);
    for (const x of [a.session, b.session, n]) okValue(await api.repl(x.id, `var name = '${x.id}'; name`));

    process.kill(a.pid, "SIGKILL");
    const { failures } = await healthThroughout(
      clients,
      until("a's host to end", () => processGone(a.pid) && server.logs.some((l) => l.msg === "dedicated session host ended" && l.pid === a.pid)),
    );
    expect(failures).toEqual([]);
    // The pool was not touched: its host and the other dedicated one keep their sessions' state.
    expect(poolEnded(server)).toBe(0);
    expect(okValue(await api.repl(b.session.id, "name")).json).toBe(b.session.id);
    expect(okValue(await api.repl(n.id, "name")).json).toBe(n.id);
    // a is restored by replay on its next execution, in a new host of its own.
    const restored = await api.repl(a.session.id, "name");
    expect(okValue(restored).json).toBe(a.session.id);
    expect(restored.events.map((e) => e.system?.message).filter(Boolean)).toEqual([
      expect.stringMatching(/restored from 1 executions \(its session host was lost while the session was idle\)/),
    ]);
    expect(await api.getSession(a.session.id)).toMatchObject({ restartCount: 0, restoreCount: 1 });
    const started = dedicatedPids(server);
    expect(started.length).toBe(3);
    const aAgain = started[2];
    expect([pool, a.pid, b.pid]).not.toContain(aAgain);
    expect(processGone(aAgain)).toBe(false);

    // Closing a dedicated session ends its host, and only that one.
    await api.closeSession(a.session.id);
    await until("a's second host to end", () => processGone(aAgain));
    await api.closeSession(b.session.id);
    await until("b's host to end", () => processGone(b.pid));
    expect(processGone(pool)).toBe(false);
    expect(okValue(await api.repl(n.id, "name")).json).toBe(n.id);
    // Killed from outside: an error; ended with their sessions: info (pino levels).
    await until("three ends logged", () => server.logs.filter((l) => l.msg === "dedicated session host ended").length === 3);
    const ends = Object.fromEntries(server.logs.filter((l) => l.msg === "dedicated session host ended").map((l) => [l.pid, l.level]));
    expect(ends).toEqual({ [a.pid]: 50, [aAgain]: 30, [b.pid]: 30 });
    expect(server.proc.exitCode).toBeNull();
  });

  it("a dedicated session that crashes on its memory limit ends its host", async () => {
    const { api } = s!;
    const { session, pid } = await dedicatedSession("small", { limits: { memMb: 16 }, runtime: { dedicatedHost: true } });
    const e = await api.repl(session.id, "const hog = []; for (;;) hog.push('x'.repeat(1024) + hog.length)");
    expect(e.error?.code, describeExecution(e)).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(SessionStatus[(await api.getSession(session.id)).status]).toBe("SESSION_STATUS_CRASHED");
    await until("its host to end", () => processGone(pid));
  });
});

describe("--host-memory-mb 300 (--session-hosts 2)", () => {
  let s: Served | undefined;
  beforeAll(async () => {
    s = await serve(["--session-hosts", "2", "--host-memory-mb", "300"]);
    await until("two hosts", () => poolPids(s!.server).length === 2);
  });
  afterAll(async () => {
    await shutDown(s);
  });

  // mem_mb 1024 is far above the host's budget: isolated-vm's own limit (which counts ArrayBuffers) would let 600 MB through.
  const BIG = { limits: { memMb: 1024 } };
  const GROW = "const a = []; for (let i = 0; i < 38; i++) a.push(new Uint8Array(16 << 20).fill(1)); await new Promise((r) => setTimeout(r, 5000)); a.length";

  it("a run that grows its host past the budget ends MEMORY_LIMIT_EXCEEDED, its session CRASHED; the host is replaced, the other host's session keeps its state", async () => {
    const { api, server, clients } = s!;
    // With both hosts empty: one session each.
    const holder = await api.ready({ name: "holder" });
    const victim = await api.ready({ name: "big", settings: BIG });
    okValue(await api.repl(holder.id, "var kept = 'state'; kept"));
    const holding = api.repl(holder.id, "await new Promise((r) => setTimeout(r, 2500)); kept + ' kept'");
    const { failures, result } = await healthThroughout(clients, api.repl(victim.id, GROW));
    expect(failures).toEqual([]);
    expect(result.error?.code, describeExecution(result)).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(result.error?.message).toMatch(/--host-memory-mb 300 \(RSS \d+ MB\)/);
    expect(SessionStatus[(await api.getSession(victim.id)).status]).toBe("SESSION_STATUS_CRASHED");
    expect(okValue(await holding).json).toBe("state kept");
    expect(okValue(await api.repl(holder.id, "kept")).json).toBe("state");
    expect(server.logs.filter((l) => l.msg === "session host over its memory budget: killing it").length).toBe(1);
    expect(poolEnded(server)).toBe(1);
    await until("two hosts again", () => poolPids(server).length === 2);
    const fresh = await api.ready({ name: "fresh" });
    expect(okValue(await api.repl(fresh.id, "1 + 1")).json).toBe(2);
    await api.closeAll();
  });

  it("another run on that host ends CANCELLED naming the cause", async () => {
    const { api, server } = s!;
    const before = poolEnded(server);
    // Placed by fewest sessions: holder and x on one host, victim and bystander on the other.
    const holder = await api.ready({ name: "holder" });
    const victim = await api.ready({ name: "big", settings: BIG });
    await api.ready({ name: "x" });
    const bystander = await api.ready({ name: "bystander" });
    okValue(await api.repl(holder.id, "var kept = 'state'; kept"));
    const waiting = api.repl(bystander.id, "await new Promise((r) => setTimeout(r, 8000)); 'waited'");
    const grown = await api.repl(victim.id, GROW);
    const waited = await waiting;
    // Two runs on the lost host: which one grew it is not known, both end cancelled, told why.
    for (const e of [grown, waited]) {
      expect(ExecutionStatus[e.status], describeExecution(e)).toBe("EXECUTION_STATUS_CANCELLED");
      expect(e.error?.message).toMatch(/its session host was lost: the session host passed --host-memory-mb 300/);
    }
    expect(okValue(await api.repl(holder.id, "kept")).json).toBe("state");
    expect(poolEnded(server)).toBe(before + 1);
    await api.closeAll();
  });
});
