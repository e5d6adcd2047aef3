/**
 * Durable sessions (issue #16, SPEC "Durable sessions and forks"): kill -9
 * of `vmsystem serve`, then a new server on the same database. With the
 * default `--session-restore lazy` every session that was READY reads READY
 * after the restart and comes back, on its first execution, exactly as it
 * was: globals, closures, class instances, Math.random() draws, clock
 * readings, crypto bytes, timer order, an in-memory database's rows; the
 * files its startup file and run-file had then, not as edited since. Nothing
 * outside the isolate happens twice: no file appended again, no program run
 * again, no request sent again, no row inserted again into a database file.
 * The execution running at the kill stays CANCELLED and is not replayed.
 * Twice over (two kills), and with isolates in-process. With
 * `--session-restore off` sessions are closed as before. What cannot come
 * back exactly does not come back silently different: a replay that ends otherwise than recorded leaves the session
 * CRASHED naming the execution, and a recording past the cap closes the
 * session at the next start, saying why.
 */
import { status } from "@grpc/grpc-js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { describeExecution, EventType, eventTypes, ExecutionStatus, okValue, SessionStatus, type Api, type Execution } from "./support/fixtures";
import { countingHttpServer, Daemon, eventually, startRunning, systemMessages, type Counter } from "./support/durable";
import { rpcError } from "./support/server";
import { ExecutionKind, type WatchSessionResponse } from "../gen/vmsystem/v1/execution";
import { collect } from "./support/streams";

const HOSTS = ["--session-hosts", "2"];

/** Everything the state session holds but its closure, as one JSON array. */
const STATE = "[r, t, p, u, bytes, c instanceof C, c.x, c.twice(), [...m], order, t2, r3]";

const STATE_INPUTS = [
  `var r = [Math.random(), Math.random()];
var t = Date.now();
var p = performance.now();
var u = crypto.randomUUID();
var bytes = Array.from(crypto.getRandomValues(new Uint8Array(8)));
class C { constructor(x) { this.x = x; } twice() { return this.x * 2; } }
var c = new C(5);
const f = (() => { let n = 0; return () => ++n; })();
f(); f();
let m = new Map([["k", { deep: [1, 2] }]]);`,
  // Timers fire in their own order, not the order they were set in.
  `var order = [];
setTimeout(() => order.push("late"), 40);
setTimeout(() => order.push("early"), 5);
await new Promise((resolve) => setTimeout(resolve, 80));
order.length`,
  // An ERROR execution: what it changed before the throw stays.
  `c.x = 6; throw new Error("after a change")`,
  `var t2 = new Date().getTime(); var r3 = Math.random(); t2 >= t`,
];

const BOOT_OLD = "var greeting = 'old'; function hello() { return 'hello ' + greeting; }";
const BOOT_NEW = "var greeting = 'new'; function hello() { return 'HELLO ' + greeting; }";

/** Executions a restore replays: all but those cancelled by the kill (none of these sessions had others cancelled). */
async function replayable(api: Api, sessionId: string): Promise<number> {
  return (await api.allExecutions(sessionId)).filter((e) => e.status !== ExecutionStatus.EXECUTION_STATUS_CANCELLED).length;
}

/** The first execution after a restore: INPUT_ECHO, then a SYSTEM event saying from how many executions. */
function expectRestoredFrom(e: Execution, n: number): void {
  expect(eventTypes(e).slice(0, 2), describeExecution(e)).toEqual(["INPUT_ECHO", "SYSTEM"]);
  expect(systemMessages(e)[0], describeExecution(e)).toMatch(new RegExp(`restored from ${n} execution`));
}

const json = async (api: Api, sessionId: string, input: string) => okValue(await api.repl(sessionId, input)).json;

describe("kill -9 of the server, restored lazily (session hosts)", { timeout: 60_000 }, () => {
  let d: Daemon;
  let http: Counter;
  const ids = { state: "", effects: "", fileDb: "", running: "", startup: "" };
  const dirs = { effects: "", fileDb: "", startup: "" };
  /** Used first by a WatchSession after the restart (so not in `ids`, which every test executes in). */
  let watched = "";
  let watchedBefore: unknown;
  let stateBefore: unknown;
  let runningId = "";
  const executionsBefore: Record<string, number> = {};

  beforeAll(async () => {
    http = await countingHttpServer();
    d = await Daemon.start([...HOSTS, "--allow-exec"]);
    const { api } = d;

    const state = await api.ready({ name: "state" });
    ids.state = state.id;
    const ends = [];
    for (const input of STATE_INPUTS) ends.push(await api.repl(state.id, input));
    expect(
      ends.map((e) => ExecutionStatus[e.status]),
      ends.map(describeExecution).join("\n"),
    ).toEqual(["EXECUTION_STATUS_OK", "EXECUTION_STATUS_OK", "EXECUTION_STATUS_ERROR", "EXECUTION_STATUS_OK"]);
    stateBefore = await json(api, state.id, `JSON.stringify(${STATE})`);

    dirs.effects = d.worktree({ "note.txt": "v1" });
    const effects = await api.ready(
      {
        name: "effects",
        modules: ["fs", "exec", "database"],
        capabilities: [{ kind: "net", name: "local", config: { allow_hosts: ["127.0.0.1"] } }],
      },
      dirs.effects,
    );
    ids.effects = effects.id;
    expect(await json(api, effects.id, "require('fs').appendFile('appended.txt', 'once\\n'); require('fs').readFile('appended.txt')")).toBe("once\n");
    expect(await json(api, effects.id, "var ran = require('exec')(['sh', '-c', 'echo x >> hits.txt; wc -l < hits.txt']).stdout.trim(); ran")).toBe("1");
    expect(await json(api, effects.id, `var got = await (await fetch(${JSON.stringify(`${http.url}/hit`)})).text(); got`)).toBe("hit 1");
    expect(
      await json(
        api,
        effects.id,
        "var db = require('database'); db.exec('create table t (id integer primary key, v text)'); db.exec('insert into t (v) values (?), (?)', ['a', 'b']).changes",
      ),
    ).toBe(2);
    expect(await json(api, effects.id, "db.exec('insert into t (v) values (?)', ['c']).changes")).toBe(1);
    expect(await json(api, effects.id, "var seen = require('fs').readFile('note.txt'); seen")).toBe("v1");
    // The file changes after it was read: a restore serves what was read then.
    writeFileSync(join(dirs.effects, "note.txt"), "v2");

    dirs.fileDb = d.worktree();
    const fileDb = await api.ready({ name: "file-db", modules: ["database"] }, dirs.fileDb);
    ids.fileDb = fileDb.id;
    expect(
      await json(
        api,
        fileDb.id,
        "var fdb = require('database'); fdb.configure({ filename: 'rows.db' }); fdb.exec('create table t (v text)'); fdb.exec('insert into t (v) values (?)', ['one']).changes",
      ),
    ).toBe(1);

    const running = await api.ready({ name: "running" });
    ids.running = running.id;
    expect(await json(api, running.id, "var kept = 'before'; kept")).toBe("before");
    runningId = (
      await startRunning(
        d.clients,
        running.id,
        "globalThis.g = 'set'; console.log('g set'); await new Promise((resolve) => setTimeout(resolve, 60000)); 'never'",
        "g set",
      )
    ).id;

    dirs.startup = d.worktree({
      "boot.js": BOOT_OLD,
      "main.mjs": "import { v } from './lib.mjs'; globalThis.fromFile = v; export const got = v;",
      "lib.mjs": "export const v = 'lib v1';",
    });
    const startup = await api.ready({ name: "startup", settings: { runtime: { esm: true } }, startupFiles: [{ path: "boot.js", mode: "eval" }] }, dirs.startup);
    ids.startup = startup.id;
    expect(okValue(await api.runFile(startup.id, "main.mjs")).json).toEqual({ got: "lib v1" });
    expect(await json(api, startup.id, "hello()")).toBe("hello old");
    // Edited after the session ran them: a restore runs the sources recorded then.
    writeFileSync(join(dirs.startup, "boot.js"), BOOT_NEW);
    writeFileSync(join(dirs.startup, "lib.mjs"), "export const v = 'lib v2';");

    watched = (await api.ready({ name: "watched" })).id;
    watchedBefore = await json(api, watched, "var w = Math.random(); w");

    for (const id of [...Object.values(ids), watched]) executionsBefore[id] = (await api.allExecutions(id)).length;
    await d.restart();
  }, 120_000);

  afterEach(() => {
    expect(d.strays(), "hosts that outlived their server").toEqual([]);
  });

  afterAll(async () => {
    await d?.shutDown();
    await http?.close();
  });

  it("after the restart every session reads READY with restore_count 0 before its first use; the run at the kill is CANCELLED", async () => {
    const { api } = d;
    for (const [name, id] of [...Object.entries(ids), ["watched", watched]]) {
      const s = await api.getSession(id);
      expect(SessionStatus[s.status], `${name}: ${s.lastError}`).toBe("SESSION_STATUS_READY");
      expect(s.restoreCount, name).toBe(0);
      expect(s.restartCount, name).toBe(0);
      // Nothing ran for them yet: no execution rows were written by the start.
      expect((await api.allExecutions(id)).length, name).toBe(executionsBefore[id]);
    }
    const cancelled = await api.getExecution(runningId);
    expect(ExecutionStatus[cancelled.status], describeExecution(cancelled)).toBe("EXECUTION_STATUS_CANCELLED");
    expect(cancelled.error?.code).toBe("CANCELLED");
    expect(cancelled.error?.message).toMatch(/restart/);
  });

  it("globals, closures, class instances, random draws, clock readings, crypto bytes and timer order come back exactly; the first execution says it restored", async () => {
    const { api } = d;
    const n = await replayable(api, ids.state);
    expect(n).toBe(STATE_INPUTS.length + 1);
    const first = await api.repl(ids.state, `JSON.stringify([${STATE}, f()])`);
    expectRestoredFrom(first, n);
    // The closure goes on from 2: the replayed f() calls counted.
    expect(okValue(first).json).toBe(`[${stateBefore as string},3]`);
    // What was read before the kill was what the inputs made.
    const [r, t, , u, bytes, isC, x, twice, m, order] = JSON.parse(stateBefore as string) as unknown[];
    expect([typeof (r as number[])[0], typeof (r as number[])[1], typeof t, typeof u, (bytes as number[]).length]).toEqual([
      "number",
      "number",
      "number",
      "string",
      8,
    ]);
    expect([isC, x, twice, m, order]).toEqual([true, 6, 12, [["k", { deep: [1, 2] }]], ["early", "late"]]);

    const s = await api.getSession(ids.state);
    expect(SessionStatus[s.status]).toBe("SESSION_STATUS_READY");
    expect(s.restoreCount).toBe(1);
    // Replay wrote no executions: only the new one was added.
    expect((await api.allExecutions(ids.state)).length).toBe(executionsBefore[ids.state] + 1);

    // Only the first execution after the restore says so; the clock is live again.
    const from = Date.now();
    const second = await api.repl(ids.state, "Date.now()");
    const to = Date.now();
    expect(systemMessages(second), describeExecution(second)).toEqual([]);
    expect(okValue(second).json).toBeGreaterThanOrEqual(from - 1000);
    expect(okValue(second).json).toBeLessThanOrEqual(to + 1000);
    expect((await api.getSession(ids.state)).restoreCount).toBe(1);
  });

  it("a file appended, a program run, a request sent are not done again; module answers are the recorded ones; the in-memory database has its rows", async () => {
    const { api } = d;
    const n = await replayable(api, ids.effects);
    const first = await api.repl(ids.effects, "JSON.stringify([ran, got, seen, db.query('select v from t order by id').map((row) => row.v)])");
    expectRestoredFrom(first, n);
    expect(okValue(first).json).toBe(JSON.stringify(["1", "hit 1", "v1", ["a", "b", "c"]]));
    expect(readFileSync(join(dirs.effects, "appended.txt"), "utf8")).toBe("once\n");
    expect(readFileSync(join(dirs.effects, "hits.txt"), "utf8")).toBe("x\n");
    expect(http.hits()).toBe(1);
    expect((await api.getSession(ids.effects)).restoreCount).toBe(1);

    // The restored session's modules are live: new calls do happen, once.
    const live = await json(
      api,
      ids.effects,
      `require('fs').appendFile('appended.txt', 'twice\\n');
var ran2 = require('exec')(['sh', '-c', 'echo x >> hits.txt; wc -l < hits.txt']).stdout.trim();
var got2 = await (await fetch(${JSON.stringify(`${http.url}/hit`)})).text();
db.exec('insert into t (v) values (?)', ['d']);
JSON.stringify([ran2, got2, require('fs').readFile('note.txt')])`,
    );
    expect(live).toBe(JSON.stringify(["2", "hit 2", "v2"]));
    expect(readFileSync(join(dirs.effects, "appended.txt"), "utf8")).toBe("once\ntwice\n");
    expect(http.hits()).toBe(2);
  });

  it("a database file gets no row twice", async () => {
    const { api } = d;
    const n = await replayable(api, ids.fileDb);
    const first = await api.repl(ids.fileDb, "fdb.query('select v from t').map((row) => row.v)");
    expectRestoredFrom(first, n);
    expect(okValue(first).json).toEqual(["one"]);
    expect(await json(api, ids.fileDb, "fdb.exec('insert into t (v) values (?)', ['two']).changes")).toBe(1);
  });

  it("the execution running at the kill is not replayed: its global is absent, what came before it is kept", async () => {
    const { api } = d;
    const first = await api.repl(ids.running, "JSON.stringify([typeof g, kept])");
    expectRestoredFrom(first, 1);
    expect(okValue(first).json).toBe(JSON.stringify(["undefined", "before"]));
    const cancelled = await api.getExecution(runningId);
    expect(ExecutionStatus[cancelled.status]).toBe("EXECUTION_STATUS_CANCELLED");
    expect((await api.allExecutions(ids.running)).length).toBe(executionsBefore[ids.running] + 1);
    expect((await api.getSession(ids.running)).restoreCount).toBe(1);
  });

  it("startup file and imported module edited since: restored from the recorded sources; no startup execution is added", async () => {
    const { api } = d;
    const n = await replayable(api, ids.startup);
    expect(n).toBe(3);
    const first = await api.repl(ids.startup, "JSON.stringify([hello(), fromFile])");
    expectRestoredFrom(first, n);
    expect(okValue(first).json).toBe(JSON.stringify(["hello old", "lib v1"]));
    // A restore runs the startup file again without recording a new STARTUP execution (as a restart would).
    const kinds = (await api.allExecutions(ids.startup)).map((e) => ExecutionKind[e.kind]);
    expect(kinds.filter((k) => k === "EXECUTION_KIND_STARTUP")).toHaveLength(1);
    expect((await api.allExecutions(ids.startup)).length).toBe(executionsBefore[ids.startup] + 1);
    expect((await api.getSession(ids.startup)).restoreCount).toBe(1);
  });

  it("a WatchSession is a first use too: it restores the session, and sees the next execution's events, the restore note first", async () => {
    const { api, clients } = d;
    const watch = collect<WatchSessionResponse>(clients.executions.watchSession({ sessionId: watched, maxBatch: 0 }));
    try {
      await eventually("the watched session to be restored", async () => (await api.getSession(watched)).restoreCount === 1);
      expect((await api.allExecutions(watched)).length).toBe(executionsBefore[watched]);
      const e = await api.repl(watched, "w");
      expectRestoredFrom(e, 1);
      expect(okValue(e).json).toBe(watchedBefore);
      await eventually("the watch to see the execution's value", () => watch.messages.some((m) => m.event?.type === EventType.EVENT_TYPE_VALUE));
      const seen = watch.messages.filter((m) => m.event?.executionId === e.id).map((m) => EventType[m.event!.type]);
      expect(seen).toEqual(["EVENT_TYPE_INPUT_ECHO", "EVENT_TYPE_SYSTEM", "EVENT_TYPE_VALUE"]);
    } finally {
      watch.call.cancel();
      await watch.done;
    }
  });

  it("a second kill -9: every session restored twice, still exact, restore_count 2, still nothing done again", async () => {
    const { api: before } = d;
    const counts: Record<string, number> = {};
    for (const id of Object.values(ids)) counts[id] = await replayable(before, id);
    await d.restart();
    const { api } = d;

    const state = await api.repl(ids.state, `JSON.stringify([${STATE}, f()])`);
    expectRestoredFrom(state, counts[ids.state]);
    expect(okValue(state).json).toBe(`[${stateBefore as string},4]`);

    const effects = await api.repl(ids.effects, "JSON.stringify([ran, got, ran2, got2, seen, db.query('select v from t order by id').map((row) => row.v)])");
    expectRestoredFrom(effects, counts[ids.effects]);
    expect(okValue(effects).json).toBe(JSON.stringify(["1", "hit 1", "2", "hit 2", "v1", ["a", "b", "c", "d"]]));
    expect(readFileSync(join(dirs.effects, "appended.txt"), "utf8")).toBe("once\ntwice\n");
    expect(readFileSync(join(dirs.effects, "hits.txt"), "utf8")).toBe("x\nx\n");
    expect(http.hits()).toBe(2);

    expect(await json(api, ids.fileDb, "fdb.query('select v from t').map((row) => row.v)")).toEqual(["one", "two"]);
    expect(await json(api, ids.running, "JSON.stringify([typeof g, kept])")).toBe(JSON.stringify(["undefined", "before"]));
    expect(await json(api, ids.startup, "JSON.stringify([hello(), fromFile])")).toBe(JSON.stringify(["hello old", "lib v1"]));

    for (const [name, id] of Object.entries(ids)) {
      const s = await api.getSession(id);
      expect(SessionStatus[s.status], `${name}: ${s.lastError}`).toBe("SESSION_STATUS_READY");
      expect(s.restoreCount, name).toBe(2);
    }
  });
});

describe("kill -9 of an in-process server (--session-hosts 0)", { timeout: 60_000 }, () => {
  let d: Daemon | undefined;
  afterAll(async () => {
    await d?.shutDown();
  });

  it("restores the session exactly, without appending again", async () => {
    d = await Daemon.start(["--session-hosts", "0"]);
    const dir = d.worktree();
    const session = await d.api.ready({ name: "in-process", modules: ["fs"] }, dir);
    const before = await json(
      d.api,
      session.id,
      "var r = Math.random(); var t = Date.now(); const f = (() => { let n = 0; return () => ++n; })(); f(); require('fs').appendFile('a.txt', 'once\\n'); JSON.stringify([r, t])",
    );
    await d.restart();
    const first = await d.api.repl(session.id, "JSON.stringify([r, t, f()])");
    expectRestoredFrom(first, 1);
    expect(okValue(first).json).toBe(`${(before as string).slice(0, -1)},2]`);
    expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("once\n");
    expect((await d.api.getSession(session.id)).restoreCount).toBe(1);
  });
});

describe("--session-restore off", { timeout: 60_000 }, () => {
  let d: Daemon | undefined;
  afterAll(async () => {
    await d?.shutDown();
  });

  it("closes the sessions a kill -9 left, saying the server restarted; their run is CANCELLED", async () => {
    d = await Daemon.start(HOSTS);
    const idle = await d.api.ready({ name: "idle" });
    expect(await json(d.api, idle.id, "var x = 41; x + 1")).toBe(42);
    const busy = await d.api.ready({ name: "busy" });
    const run = await startRunning(d.clients, busy.id, "await new Promise((resolve) => setTimeout(resolve, 60000))");
    await d.restart([...HOSTS, "--session-restore", "off"]);
    for (const id of [idle.id, busy.id]) {
      const s = await d.api.getSession(id);
      expect(SessionStatus[s.status]).toBe("SESSION_STATUS_CLOSED");
      expect(s.lastError).toMatch(/restarted/);
      expect(s.closedAt).toBeDefined();
      expect(s.restoreCount).toBe(0);
      const err = await rpcError(d.api.repl(id, "x"));
      expect(err).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });
    }
    const cancelled = await d.api.getExecution(run.id);
    expect(ExecutionStatus[cancelled.status]).toBe("EXECUTION_STATUS_CANCELLED");
    expect(cancelled.error?.message).toMatch(/restarted/);
  });
});

describe("what a restore cannot bring back exactly", { timeout: 60_000 }, () => {
  let d: Daemon;
  const ids = { env: "", big: "" };
  const ends: Record<string, Execution> = {};
  beforeAll(async () => {
    d = await Daemon.start([...HOSTS, "--env-allow", "DURABLE_GREETING"], { DURABLE_GREETING: "one" });
    ids.env = (await d.api.ready({ name: "env", capabilities: [{ kind: "env", name: "greeting", config: { allow: ["DURABLE_GREETING"] } }] })).id;
    expect(await json(d.api, ids.env, "var seen = env.DURABLE_GREETING; seen")).toBe("one");
    const dir = d.worktree({ "big.txt": "a".repeat(9 * 1024 * 1024) });
    ids.big = (await d.api.ready({ name: "big", modules: ["fs"] }, dir)).id;
    ends.big = await d.api.repl(ids.big, "var size = require('fs').readFile('big.txt').length; size");
    ends.next = await d.api.repl(ids.big, "size");
    await d.restart(undefined, { DURABLE_GREETING: "two" });
  }, 120_000);
  afterEach(() => {
    expect(d.strays(), "hosts that outlived their server").toEqual([]);
  });
  afterAll(async () => {
    await d?.shutDown();
  });

  it("a granted environment variable changed across the restart: not silently different (the restore diverges: CRASHED, last_error naming the execution)", async () => {
    const outcome = await d.api.repl(ids.env, "seen").then(
      (e) => okValue(e).json,
      (err: Error) => err,
    );
    const s = await d.api.getSession(ids.env);
    if (outcome instanceof Error) {
      // Execution 1 replayed ended with another value than recorded.
      expect(await rpcError(Promise.reject(outcome))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });
      expect(SessionStatus[s.status]).toBe("SESSION_STATUS_CRASHED");
      expect(s.lastError).toMatch(/execution 1\b/);
      expect(s.restoreCount).toBe(0);
    } else {
      // The other way to keep the contract: the environment was recorded with the session, and served back.
      expect(outcome).toBe("one");
    }
  });

  it("an execution whose recording passes the cap says so at once; the next start closes its session, saying why", async () => {
    expect(okValue(ends.big).json).toBe(9 * 1024 * 1024);
    expect(systemMessages(ends.big), describeExecution(ends.big)).toEqual([expect.stringMatching(/recording.*cap.*restored/)]);
    // The session itself went on as before.
    expect(okValue(ends.next).json).toBe(9 * 1024 * 1024);
    expect(systemMessages(ends.next)).toEqual([]);
    expect(await rpcError(d.api.repl(ids.big, "size"))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });
    const s = await d.api.getSession(ids.big);
    expect(SessionStatus[s.status]).toBe("SESSION_STATUS_CLOSED");
    expect(s.lastError).toMatch(/execution 1.*cap/);
    expect(s.closedAt).toBeDefined();
  });
});
