/**
 * Several sessions share one session host (`--session-hosts 1`) when one of
 * them takes it down: the execution whose code did it ends with the cause's
 * code and its session is CRASHED (MEMORY_LIMIT_EXCEEDED; TIMEOUT for a call
 * that held the host's thread past the heartbeat), every other execution running
 * there ends CANCELLED naming the cause, and the other sessions restart
 * without their state. The server answers health throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeExecution, ExecutionStatus, okValue, SessionStatus } from "./support/fixtures";
import { healthThroughout, poolEnded, poolPids, serve, shutDown, until, type Served } from "./support/hosts";

describe("one host shared by several sessions (--session-hosts 1)", () => {
  let s: Served | undefined;
  beforeAll(async () => {
    s = await serve(["--session-hosts", "1"]);
    await until("the host", () => poolPids(s!.server).length === 1);
  });
  afterAll(async () => {
    await shutDown(s);
  });

  it("V8's out-of-memory in one session: that execution MEMORY_LIMIT_EXCEEDED and its session CRASHED; the other running one CANCELLED naming the cause; both other sessions restored", async () => {
    const { api, server, clients } = s!;
    const before = poolEnded(server);
    // Only memory may end it (a loaded machine made the default 5 s of CPU run out first).
    const culprit = await api.ready({ name: "map", settings: { limits: { memMb: 64, cpuMs: 60_000, wallMs: 60_000 } } });
    const bystander = await api.ready({ name: "bystander" });
    const idle = await api.ready({ name: "idle" });
    for (const x of [bystander, idle]) okValue(await api.repl(x.id, "var kept = 'state'; kept"));
    const waiting = api.repl(bystander.id, "await new Promise((r) => setTimeout(r, 20000)); kept");
    const { failures, result } = await healthThroughout(clients, api.repl(culprit.id, "var m = new Map(); for (let i = 0; ; i++) m.set(i, 'v' + i)"));
    expect(failures).toEqual([]);
    expect(result.error?.code, describeExecution(result)).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(SessionStatus[(await api.getSession(culprit.id)).status]).toBe("SESSION_STATUS_CRASHED");

    const waited = await waiting;
    expect(ExecutionStatus[waited.status], describeExecution(waited)).toBe("EXECUTION_STATUS_CANCELLED");
    expect(waited.error?.message).toMatch(/its session host was lost: out of memory, caused by another session's code/);
    // Restored by replay in another host, as it was before the cancelled run (Durable sessions).
    expect(okValue(await api.repl(bystander.id, "kept")).json).toBe("state");
    expect(await api.getSession(bystander.id)).toMatchObject({ restartCount: 0, restoreCount: 1 });

    const revived = await api.repl(idle.id, "kept");
    expect(okValue(revived).json).toBe("state");
    expect(revived.events.map((e) => e.system?.message).filter(Boolean)).toEqual([
      expect.stringMatching(/restored from 1 executions \(its session host was lost while the session was idle\)/),
    ]);
    expect(poolEnded(server)).toBe(before + 1);
    await api.closeAll();
  });

  it("a call that holds the host's thread: that execution ends TIMEOUT at the missed heartbeat, long before its wall_ms; the other running one CANCELLED naming the cause", async () => {
    const { api, server, clients } = s!;
    await until("the host", () => poolPids(server).length === 1);
    const before = poolEnded(server);
    const culprit = await api.ready({ name: "cte", modules: ["database"], settings: { limits: { wallMs: 120_000 } } });
    const bystander = await api.ready({ name: "bystander" });
    okValue(await api.repl(bystander.id, "var kept = 'state'; kept"));
    const waiting = api.repl(bystander.id, "await new Promise((r) => setTimeout(r, 60000)); kept");
    const started = Date.now();
    const { failures, result } = await healthThroughout(
      clients,
      api.repl(culprit.id, "require('database').query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c')"),
    );
    const tookMs = Date.now() - started;
    expect(failures).toEqual([]);
    expect(result.error?.code, describeExecution(result)).toBe("TIMEOUT");
    expect(result.error?.message).toMatch(/held its session host's thread for 10 s/);
    // Killed for the missed heartbeats (10 s), not for wall_ms (120 s) plus its grace.
    expect(tookMs).toBeLessThan(60_000);
    expect(server.logs.some((l) => l.msg === "session host stopped answering: killing it")).toBe(true);

    const waited = await waiting;
    expect(ExecutionStatus[waited.status], describeExecution(waited)).toBe("EXECUTION_STATUS_CANCELLED");
    expect(waited.error?.message).toMatch(/its session host was lost: it stopped answering .*, caused by another session's code/);
    // The session whose call froze its host is CRASHED (SPEC, Session hosts).
    const crashed = await api.getSession(culprit.id);
    expect(SessionStatus[crashed.status]).toBe("SESSION_STATUS_CRASHED");
    expect(crashed.lastError).toMatch(/held its session host's thread for 10 s: the session host running it had to be killed, and the session crashed/);
    expect(poolEnded(server)).toBe(before + 1);
    await api.closeAll();
  });
});
