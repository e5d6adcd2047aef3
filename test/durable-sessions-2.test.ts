/**
 * Durable sessions (issue #16), continued: kill -9 of one session host (its
 * sessions come back restored, exactly; the run it cut short stays
 * CANCELLED and is not replayed; the other host's sessions are untouched);
 * `--session-restore eager` (restored at start, without a call); and forks
 * (SessionService.ForkSession and `vmsystem session fork`): a fork holds
 * exactly the state its source had right after the execution named, built
 * by replay with nothing outside done again, leaves its source alone (even
 * while the source runs), numbers its own executions from 1, can be forked
 * itself, and survives kill -9 of the server.
 */
import { status } from "@grpc/grpc-js";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { describeExecution, EventType, ExecutionStatus, okValue, SessionStatus, type Api, type Session } from "./support/fixtures";
import { Daemon, eventually, fork, startRunning, systemMessages, type Running } from "./support/durable";
import { cli } from "./support/process";
import { Metadata, rpcError, unary } from "./support/server";

const HOSTS = ["--session-hosts", "2"];

const json = async (api: Api, sessionId: string, input: string) => okValue(await api.repl(sessionId, input)).json;

/** Random draws, a clock reading, a class instance and a closure called twice; reads back as JSON without calling the closure. */
const STATE_INPUT = `var r = [Math.random(), Math.random()];
var t = Date.now();
class C { constructor(x) { this.x = x; } }
var c = new C(5);
const f = (() => { let n = 0; return () => ++n; })();
f(); f();
JSON.stringify([r, t, c instanceof C, c.x])`;
/** The same state with the closure's next call: `before` with 3 appended. */
const STATE_AFTER = "JSON.stringify([r, t, c instanceof C, c.x, f()])";
const withNext = (before: unknown, next: number) => `${(before as string).slice(0, -1)},${next}]`;

describe("kill -9 of one session host", { timeout: 60_000 }, () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await Daemon.start(HOSTS);
    await eventually("two hosts", () => d.poolPids().length === 2);
  });
  afterEach(() => {
    expect(d.strays(), "hosts that outlived their server").toEqual([]);
  });
  afterAll(async () => {
    await d?.shutDown();
  });

  it("its sessions come back restored exactly, its cut-short run CANCELLED and not replayed; the other host's sessions keep running untouched", async () => {
    const { api, clients } = d;
    // Placed on the host with the fewest sessions: each host gets one idle and one busy session.
    const sessions: Session[] = [];
    for (const name of ["idle-a", "idle-b", "busy-a", "busy-b"]) sessions.push(await api.ready({ name }));
    const before = new Map<string, unknown>();
    for (const s of sessions) before.set(s.id, await json(api, s.id, STATE_INPUT));
    const busy = sessions.slice(2);
    const runs: Running[] = [];
    for (const s of busy) {
      runs.push(
        await startRunning(
          clients,
          s.id,
          "globalThis.g = 'set'; console.log('g set'); await new Promise((resolve) => setTimeout(resolve, 4000)); typeof g",
          "g set",
        ),
      );
    }
    const victim = d.poolPids()[0];
    process.kill(victim, "SIGKILL");
    await Promise.all(runs.map((r) => r.stream.done));
    const ends = await Promise.all(runs.map((r) => api.getExecution(r.id)));
    expect(ends.map((e) => ExecutionStatus[e.status]).sort(), ends.map(describeExecution).join("\n")).toEqual([
      "EXECUTION_STATUS_CANCELLED",
      "EXECUTION_STATUS_OK",
    ]);
    const cut = ends.findIndex((e) => e.status === ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    expect(ends[cut].error?.message).toMatch(/session host/);
    expect(okValue(ends[1 - cut]).json).toBe("string");
    const cutSession = busy[cut].id;
    const untouchedBusy = busy[1 - cut].id;

    // Every session, on either host: the same state, the closure going on from 2.
    const restored: string[] = [];
    for (const s of sessions) {
      const e = await api.repl(s.id, STATE_AFTER);
      expect(okValue(e).json, s.id).toBe(withNext(before.get(s.id), 3));
      const session = await api.getSession(s.id);
      expect(SessionStatus[session.status]).toBe("SESSION_STATUS_READY");
      expect(session.restartCount, "restarted instead of restored").toBe(0);
      if (session.restoreCount === 1) {
        restored.push(s.id);
        expect(systemMessages(e)[0], describeExecution(e)).toMatch(/restored from 1 execution/);
      } else {
        expect(session.restoreCount).toBe(0);
        expect(systemMessages(e), describeExecution(e)).toEqual([]);
      }
    }
    // The killed host held one idle session and the run it cut short: those two were restored.
    expect(restored).toContain(cutSession);
    expect(restored).not.toContain(untouchedBusy);
    expect(restored).toHaveLength(2);
    // The cut-short run is not replayed: the global it set before its await is absent; the finished one's is there.
    expect(await json(api, cutSession, "typeof g")).toBe("undefined");
    expect(await json(api, untouchedBusy, "typeof g")).toBe("string");
    expect(ExecutionStatus[(await api.getExecution(runs[cut].id)).status]).toBe("EXECUTION_STATUS_CANCELLED");

    await eventually("two hosts again", () => d.poolPids().length === 2);
    expect(d.poolPids()).not.toContain(victim);
    expect(d.server.proc.exitCode).toBeNull();
  });
});

describe("--session-restore eager", { timeout: 60_000 }, () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await Daemon.start([...HOSTS, "--session-restore", "eager"]);
  });
  afterEach(() => {
    expect(d.strays(), "hosts that outlived their server").toEqual([]);
  });
  afterAll(async () => {
    await d?.shutDown();
  });

  it("restores every session at start without a call (READY or RESTORING meanwhile, never anything else), exactly", async () => {
    const dir = d.worktree();
    const plain = await d.api.ready({ name: "eager" });
    const withFs = await d.api.ready({ name: "eager-fs", modules: ["fs"] }, dir);
    const before = await json(d.api, plain.id, STATE_INPUT);
    expect(await json(d.api, withFs.id, "require('fs').appendFile('once.txt', 'once\\n'); var r = Math.random(); r")).toEqual(expect.any(Number));
    const r = await json(d.api, withFs.id, "r");
    const counts = [(await d.api.allExecutions(plain.id)).length, (await d.api.allExecutions(withFs.id)).length];

    await d.restart();
    const seen = new Set<string>();
    await eventually("both sessions restored", async () => {
      const rows = await Promise.all([plain.id, withFs.id].map((id) => d.api.getSession(id)));
      for (const s of rows) seen.add(SessionStatus[s.status]);
      return rows.every((s) => s.restoreCount === 1 && s.status === SessionStatus.SESSION_STATUS_READY);
    });
    expect([...seen].filter((s) => s !== "SESSION_STATUS_READY" && s !== "SESSION_STATUS_RESTORING")).toEqual([]);
    // No call was made, and the restore wrote no executions.
    expect([(await d.api.allExecutions(plain.id)).length, (await d.api.allExecutions(withFs.id)).length]).toEqual(counts);

    const first = await d.api.repl(plain.id, STATE_AFTER);
    expect(systemMessages(first)[0], describeExecution(first)).toMatch(new RegExp(`restored from ${counts[0]} execution`));
    expect(okValue(first).json).toBe(withNext(before, 3));
    const second = await d.api.repl(withFs.id, "r");
    expect(systemMessages(second)[0], describeExecution(second)).toMatch(new RegExp(`restored from ${counts[1]} execution`));
    expect(okValue(second).json).toBe(r);
    expect(readFileSync(join(dir, "once.txt"), "utf8")).toBe("once\n");
  });

  it("a slow restore reads RESTORING; a call arriving meanwhile waits for READY within its deadline, and one with time to wait runs on the restored state", async () => {
    const slow = await d.api.ready({ name: "slow", settings: { limits: { cpuMs: 30_000, wallMs: 60_000 } } });
    const spin = "var spun = 0; for (let i = 0; i < 2e8; i++) { spun = (spun + i) % 1000003; } spun";
    const spun = await json(d.api, slow.id, spin);
    await d.restart();
    await eventually("the slow session to read RESTORING", async () => (await d.api.getSession(slow.id)).status === SessionStatus.SESSION_STATUS_RESTORING);
    const hurried = unary((cb) =>
      d.clients.executions.executeRepl({ sessionId: slow.id, input: "spun", requestId: "" }, new Metadata(), { deadline: Date.now() + 200 }, cb),
    );
    // It waited (no SESSION_NOT_READY or SESSION_BUSY at once) until its deadline.
    expect(await rpcError(hurried)).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    const patient = await d.api.repl(slow.id, "spun");
    expect(systemMessages(patient)[0], describeExecution(patient)).toMatch(/restored from 1 execution/);
    expect(okValue(patient).json).toBe(spun);
    const s = await d.api.getSession(slow.id);
    expect([SessionStatus[s.status], s.restoreCount]).toEqual(["SESSION_STATUS_READY", 1]);
  });
});

/** Counts executions, draws a random number each time, appends to a file and reads one. */
const STEP = `var n = (typeof n === 'number' ? n : 0) + 1;
var draws = (typeof draws === 'object' ? draws : []).concat([Math.random()]);
require('fs').appendFile('fork-log.txt', 'e' + n + '\\n');
var read = require('fs').readFile('x.txt');
JSON.stringify([n, draws, read])`;
const READ = "JSON.stringify([n, draws, read])";

describe("forks", { timeout: 60_000 }, () => {
  let d: Daemon;
  let source: Session;
  let src = "";
  /** The source's state right after its execution k (1..3). */
  const at: unknown[] = [];
  /** Forks to find again after the kill, with what they held. */
  const kept: { id: string; name: string; value: unknown; fromId: string; fromNumber: number }[] = [];
  const dirs = { own: "", chain: "" };

  beforeAll(async () => {
    d = await Daemon.start(HOSTS);
    src = d.worktree({ "x.txt": "source file" });
    source = await d.api.ready({ name: "forked", modules: ["fs"] }, src);
    for (let k = 1; k <= 3; k++) at[k] = await json(d.api, source.id, STEP);
    expect(readFileSync(join(src, "fork-log.txt"), "utf8")).toBe("e1\ne2\ne3\n");
  });
  afterEach(() => {
    expect(d.strays(), "hosts that outlived their server").toEqual([]);
  });
  afterAll(async () => {
    await d?.shutDown();
  });

  it("at 1, 2 and 0 (= latest) a fork holds exactly that point's state; its executions count from 1; the source and its files are untouched", async () => {
    const { api, clients } = d;
    for (const k of [1, 2, 0]) {
      const point = k || 3;
      const f = await fork(clients, source.id, k);
      expect(f.id).not.toBe(source.id);
      expect(SessionStatus[f.status], f.lastError).toBe("SESSION_STATUS_READY");
      expect(f).toMatchObject({
        templateId: source.templateId,
        workspaceId: source.workspaceId,
        worktreePath: src,
        forkedFromSessionId: source.id,
        forkedFromExecutionNumber: point,
        restartCount: 0,
      });
      const e = await api.repl(f.id, READ);
      expect(e.number).toBe(1);
      expect(okValue(e).json, `fork at ${k}`).toBe(at[point]);
      expect((await api.getSession(f.id)).forkedFromExecutionNumber).toBe(point);
      // Its own state from there on: the source does not see it.
      expect(await json(api, f.id, "n += 100; n")).toBe(point + 100);
      expect((await api.allExecutions(f.id)).map((x) => x.number)).toEqual([2, 1]);
    }
    // Replaying the appends wrote nothing.
    expect(readFileSync(join(src, "fork-log.txt"), "utf8")).toBe("e1\ne2\ne3\n");
    expect(await json(api, source.id, READ)).toBe(at[3]);
    const s = await api.getSession(source.id);
    expect([SessionStatus[s.status], s.restoreCount, s.restartCount, s.forkedFromSessionId]).toEqual(["SESSION_STATUS_READY", 0, 0, ""]);
    expect((await api.allExecutions(source.id)).length).toBe(4);
  });

  it("with worktree_path: what was read stays as recorded, new reads and writes go to the fork's worktree", async () => {
    const { api, clients } = d;
    dirs.own = d.worktree({ "x.txt": "fork file" });
    const f = await fork(clients, source.id, 1, dirs.own);
    expect(f.worktreePath).toBe(dirs.own);
    expect(await json(api, f.id, READ)).toBe(at[1]);
    const stepped = (await json(api, f.id, STEP)) as string;
    const [n, draws, read] = JSON.parse(stepped) as [number, number[], string];
    expect([n, draws.slice(0, 1), draws.length, read]).toEqual([2, JSON.parse(at[1] as string)[1], 2, "fork file"]);
    expect(readFileSync(join(dirs.own, "fork-log.txt"), "utf8")).toBe("e2\n");
    expect(readFileSync(join(src, "fork-log.txt"), "utf8")).toBe("e1\ne2\ne3\n");
    kept.push({ id: f.id, name: "fork with its own worktree", value: stepped, fromId: source.id, fromNumber: 1 });
  });

  it("while the source runs: the fork takes its latest finished execution and the run goes on untouched", async () => {
    const { api, clients } = d;
    const run = await startRunning(clients, source.id, `await new Promise((resolve) => setTimeout(resolve, 3000)); ${READ}`);
    const f = await fork(clients, source.id, 0);
    expect(ExecutionStatus[(await api.getExecution(run.id)).status], "the source's run, once the fork returned").toBe("EXECUTION_STATUS_RUNNING");
    expect(f.forkedFromExecutionNumber).toBe(run.number - 1);
    expect(await json(api, f.id, READ)).toBe(at[3]);
    // The running execution has no recording yet: not a fork point.
    const err = await rpcError(fork(clients, source.id, run.number));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR" });

    expect(await run.stream.done).toEqual({ ok: true });
    const finished = run.stream.messages[run.stream.messages.length - 1].finished!;
    expect(ExecutionStatus[finished.status], describeExecution(finished)).toBe("EXECUTION_STATUS_OK");
    expect(finished.result?.json).toBe(at[3]);
    // Its events as the stream delivered them: no note of anything done to its session.
    const events = run.stream.messages.flatMap((m) => (m.event ? [m.event] : []));
    expect(events.map((ev) => EventType[ev.type])).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_VALUE"]);
    const s = await api.getSession(source.id);
    expect([SessionStatus[s.status], s.restoreCount, s.restartCount]).toEqual(["SESSION_STATUS_READY", 0, 0]);
  });

  it("a fork of a fork holds its source fork's state; it defaults to that fork's worktree", async () => {
    const { api, clients } = d;
    dirs.chain = d.worktree({ "x.txt": "chain file" });
    const first = await fork(clients, source.id, 2, dirs.chain);
    const stepped = await json(api, first.id, STEP);
    expect(JSON.parse(stepped as string)[0]).toBe(3);
    expect(JSON.parse(stepped as string)[2]).toBe("chain file");
    const second = await fork(clients, first.id, 1);
    expect(second).toMatchObject({ forkedFromSessionId: first.id, forkedFromExecutionNumber: 1, worktreePath: dirs.chain });
    expect(SessionStatus[second.status], second.lastError).toBe("SESSION_STATUS_READY");
    const e = await api.repl(second.id, READ);
    expect(e.number).toBe(1);
    expect(okValue(e).json).toBe(stepped);
    expect(readFileSync(join(dirs.chain, "fork-log.txt"), "utf8")).toBe("e3\n");
    kept.push({ id: first.id, name: "first of a chain", value: stepped, fromId: source.id, fromNumber: 2 });
    kept.push({ id: second.id, name: "fork of a fork", value: stepped, fromId: first.id, fromNumber: 1 });
  });

  it("refuses an execution number beyond the latest (VALIDATION_ERROR) and an unknown session (SESSION_NOT_FOUND)", async () => {
    const { clients } = d;
    const beyond = await rpcError(fork(clients, source.id, 99));
    expect(beyond).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR", domain: "vmsystem.v1" });
    const unknown = await rpcError(fork(clients, randomUUID(), 0));
    expect(unknown).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND", domain: "vmsystem.v1" });
  });

  it("vmsystem session fork ID --at N (json and human)", async () => {
    const { api } = d;
    const r = await cli(["--server", d.address, "session", "fork", source.id, "--at", "2", "--output", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout) as { id: string; status: string; forkedFromSessionId: string; forkedFromExecutionNumber: number };
    expect(f).toMatchObject({ status: "SESSION_STATUS_READY", forkedFromSessionId: source.id, forkedFromExecutionNumber: 2 });
    expect(await json(api, f.id, READ)).toBe(at[2]);
    const human = await cli(["--server", d.address, "session", "fork", source.id, "--at", "1"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`${source.id} at 1`);
  });

  it("forks are durable: after kill -9 and a restart each comes back with its state and its fork source; forking a source not yet restored works", async () => {
    const sourceState = await json(d.api, source.id, READ);
    await d.restart();
    const { api, clients } = d;
    // The source's first use after the restart is a fork.
    const late = await fork(clients, source.id, 1);
    expect(SessionStatus[late.status], late.lastError).toBe("SESSION_STATUS_READY");
    expect(await json(api, late.id, READ)).toBe(at[1]);
    for (const k of kept) {
      const e = await api.repl(k.id, READ);
      expect(okValue(e).json, k.name).toBe(k.value);
      expect(systemMessages(e)[0], `${k.name}: ${describeExecution(e)}`).toMatch(/restored from \d+ execution/);
      const s = await api.getSession(k.id);
      expect([SessionStatus[s.status], s.restoreCount, s.forkedFromSessionId, s.forkedFromExecutionNumber], k.name).toEqual([
        "SESSION_STATUS_READY",
        1,
        k.fromId,
        k.fromNumber,
      ]);
    }
    expect(await json(api, source.id, READ)).toBe(sourceState);
    expect(readFileSync(join(src, "fork-log.txt"), "utf8")).toBe("e1\ne2\ne3\n");
    expect(readFileSync(join(dirs.own, "fork-log.txt"), "utf8")).toBe("e2\n");
    expect(readFileSync(join(dirs.chain, "fork-log.txt"), "utf8")).toBe("e3\n");
  });
});
