/**
 * `vmsystem serve --session-hosts 2` (issue #15, first slice): sessions'
 * code runs in two child processes. Through them the service behaves as
 * in-process (same events, values, errors, output limits), and what takes a
 * host down (V8's fatal out-of-memory, isolated-vm's timer-thread crash, a
 * frozen host thread, kill -9 from outside) costs only that host's sessions
 * their state: the server keeps answering health, a session on the other
 * host keeps its state and its running execution, the host is replaced.
 * The server runs as its own process (with --session-hosts 0 the same
 * snippets end it), the hosts as its children.
 */
import { status } from "@grpc/grpc-js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Api,
  describeExecution,
  EventType,
  ExecutionStatus,
  makeWorktree,
  okValue,
  removeDir,
  SessionStatus,
  sleep,
  type Execution,
  type TemplateSpec,
} from "./support/fixtures";
import { Metadata, rpcError, startTestServer, unary, type TestServer } from "./support/server";
import { healthThroughout, poolEnded as endedCount, poolPids as livePids, processGone, serve, shutDown, until, type Served } from "./support/hosts";

/** VMSYSTEM_TEST_SESSION_HOSTS=0 runs the same tests in-process: the crash snippets then end the server. */
const HOSTS = ["--session-hosts", process.env.VMSYSTEM_TEST_SESSION_HOSTS ?? "2"];

/**
 * For the out-of-memory snippets: only memory may end them. On a loaded
 * machine V8 took more than the default 5 s of CPU to get there (its
 * collector working near the heap limit), and the run ended TIMEOUT instead.
 */
const NO_TIME_LIMIT = { cpuMs: 60_000, wallMs: 60_000 };

/** What a user sees of an execution, without ids, times and stacks. */
function observable(e: Execution) {
  return {
    status: ExecutionStatus[e.status],
    error: e.error ?? null,
    events: e.events.map((ev) => ({
      type: EventType[ev.type],
      console: ev.console,
      value: ev.value && { type: ev.value.type, preview: ev.value.preview, json: ev.value.json },
      exception: ev.exception && { name: ev.exception.name, message: ev.exception.message },
      system: ev.system,
    })),
  };
}

describe("through session hosts, as in-process", () => {
  let hosts: Served | undefined;
  let local: Served | undefined;
  beforeAll(async () => {
    [hosts, local] = await Promise.all([serve(HOSTS), serve(["--session-hosts", "0"])]);
  });
  afterAll(async () => {
    await Promise.all([shutDown(hosts), shutDown(local)]);
  });

  it("gives the same values, console lines, exceptions, run-file results and output-limit endings", async () => {
    const files = { "job.js": "console.log('from a file', process.argv.slice(2)); 40 + 2" };
    const cases: Array<{ spec: TemplateSpec; inputs: string[] }> = [
      {
        spec: { name: "plain" },
        inputs: [
          "var kept = { n: 41 }; kept.n + 1",
          "kept.n",
          "console.log('a', { b: [1, 2] }); console.error(new Map([[1, 'x']])); console.warn('%s!', 'w'); 'v'",
          "throw new TypeError('bad input')",
          "const later = await new Promise((r) => setTimeout(() => r('later'), 20)); console.info(later); later",
          "(",
          "run:job.js",
        ],
      },
      { spec: { name: "few-events", settings: { limits: { maxEvents: 6 } } }, inputs: ["for (let i = 0; i < 50; i++) console.log('line', i); 'unreached'"] },
      {
        spec: { name: "little-output", settings: { limits: { maxOutputKb: 1 } } },
        inputs: ["for (let i = 0; i < 100; i++) console.log(String(i).padStart(100, '.')); 'unreached'", "console.log('after the limit'); 1"],
      },
    ];
    for (const { spec, inputs } of cases) {
      const seen: Array<ReturnType<typeof observable>[]> = [];
      for (const s of [hosts!, local!]) {
        const worktree = makeWorktree(files);
        const session = await s.api.ready(spec, worktree);
        const out = [];
        for (const input of inputs) {
          const e = input.startsWith("run:") ? await s.api.runFile(session.id, input.slice(4), { args: ["x"] }) : await s.api.repl(session.id, input);
          out.push(observable(e));
        }
        seen.push(out);
        await s.api.closeSession(session.id);
        removeDir(worktree);
      }
      expect(seen[0], spec.name).toEqual(seen[1]);
      if (spec.name !== "plain") expect(seen[0][0].error?.code, spec.name).toBe("OUTPUT_LIMIT_EXCEEDED");
    }
  });
});

describe("a host that goes down", () => {
  let s: Served | undefined;
  beforeAll(async () => {
    s = await serve(HOSTS);
    if (HOSTS[1] !== "0") await until("two hosts", () => livePids(s!.server).length === 2);
  });
  afterAll(async () => {
    const pids = s ? livePids(s.server) : [];
    await shutDown(s);
    // SIGTERM ended the hosts with the server.
    for (const pid of pids) expect(processGone(pid), `host ${pid} outlived the server`).toBe(true);
  });

  /**
   * `offending` runs in a session on one host while a session on the other
   * holds state and runs; returns the offending execution (or its error).
   */
  async function crashBeside(spec: TemplateSpec, offending: string, expectEnd: "MEMORY_LIMIT_EXCEEDED" | "TIMEOUT" | "harmless") {
    const { api } = s!;
    // A failure here must not leave sessions that skew the next test's placement.
    try {
      await crashedBeside(spec, offending, expectEnd);
    } finally {
      await api.closeAll();
    }
  }

  async function crashedBeside(spec: TemplateSpec, offending: string, expectEnd: "MEMORY_LIMIT_EXCEEDED" | "TIMEOUT" | "harmless") {
    const { api, server } = s!;
    const before = endedCount(server);
    // Sessions go to the host with the fewest: with both empty, one each.
    const holder = await api.ready({ name: "holder" });
    const victim = await api.ready(spec);
    okValue(await api.repl(holder.id, "var kept = 'state'; kept"));
    okValue(await api.repl(victim.id, "var mine = 'victim state'; mine"));
    const holding = api.repl(holder.id, "await new Promise((r) => setTimeout(r, 2500)); kept + ' kept'");
    const { failures, result } = await healthThroughout(
      s!.clients,
      api.repl(victim.id, offending).then(
        (e) => e,
        (err: Error) => err,
      ),
    );
    if (expectEnd === "harmless") {
      expect(result instanceof Error ? result.message : describeExecution(result)).toMatch(/EXECUTION_STATUS_OK/);
      // What it did to isolated-vm's timer thread would show about a second later.
      await sleep(2000);
    } else {
      expect(result, "the offending call failed as an RPC").not.toBeInstanceOf(Error);
      const e = result as Execution;
      // The only run in its host: what ended the host is known (V8 said out of memory; the main process killed it as stuck).
      expect(e.error?.code, describeExecution(e)).toBe(expectEnd);
    }
    expect(failures, "health checks that failed").toEqual([]);
    expect(okValue(await holding).json).toBe("state kept");
    expect(okValue(await api.repl(holder.id, "kept")).json).toBe("state");
    expect(server.proc.exitCode).toBeNull();
    if (expectEnd === "harmless") {
      expect(endedCount(server)).toBe(before);
      expect(okValue(await api.repl(victim.id, "mine")).json).toBe("victim state");
    } else {
      expect(endedCount(server)).toBeGreaterThan(before);
      // The session whose code took its host down is CRASHED (SPEC, Session hosts), for memory as for a runaway call.
      expect(SessionStatus[(await api.getSession(victim.id)).status]).toBe("SESSION_STATUS_CRASHED");
    }
    // The replaced host serves new sessions.
    await until("two hosts again", () => livePids(server).length === 2);
    for (let i = 0; i < 2; i++) {
      const fresh = await api.ready({ name: "fresh" });
      expect(okValue(await api.repl(fresh.id, "1 + 1")).json).toBe(2);
    }
  }

  it("Map growth until V8's own out-of-memory (mem 64)", async () => {
    await crashBeside(
      { name: "map", settings: { limits: { memMb: 64, ...NO_TIME_LIMIT } } },
      "var m = new Map(); for (let i = 0; ; i++) m.set(i, 'v' + i)",
      "MEMORY_LIMIT_EXCEEDED",
    );
  });

  it("an array past V8's size limit", async () => {
    await crashBeside({ name: "array", settings: { limits: NO_TIME_LIMIT } }, "new Array(2 ** 27).fill(0)", "MEMORY_LIMIT_EXCEEDED");
  });

  // Took the in-process server down when issue #15 was filed (SIGSEGV in
  // isolated-vm's timer thread); no longer does on this tree, in-process or
  // in a host: asserted harmless here.
  it("a storm of intervals", async () => {
    await crashBeside(
      { name: "intervals" },
      "for (let i = 0; i < 50; i++) setInterval(() => {}, 1); await new Promise((r) => setTimeout(r, 4000))",
      "harmless",
    );
  });

  it("a database query that never ends freezes its host, which is killed after wall_ms", async () => {
    await crashBeside(
      { name: "cte", modules: ["database"], settings: { limits: { wallMs: 1000 } } },
      "require('database').query('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c')",
      "TIMEOUT",
    );
  });

  it("kill -9 of a host from outside: its running execution ends, its sessions are restored by replay, the other host's session keeps state and finishes", async () => {
    const { api, server } = s!;
    const before = endedCount(server);
    const [a, b] = [await api.ready({ name: "a" }), await api.ready({ name: "b" })];
    const [c, d] = [await api.ready({ name: "c" }), await api.ready({ name: "d" })];
    for (const x of [a, b, c, d]) okValue(await api.repl(x.id, `var name = '${x.id}'; name`));
    // a and b run while one host is killed; c and d (placed like a and b, one per host) sit idle.
    const runs = [a, b].map((x) => api.repl(x.id, "await new Promise((r) => setTimeout(r, 2500)); name"));
    await sleep(300);
    const victimPid = livePids(server)[0];
    process.kill(victimPid, "SIGKILL");
    const { failures, result } = await healthThroughout(s!.clients, Promise.all(runs));
    expect(failures).toEqual([]);
    const statuses = result.map((e) => ExecutionStatus[e.status]).sort();
    expect(statuses, result.map(describeExecution).join("\n")).toEqual(["EXECUTION_STATUS_CANCELLED", "EXECUTION_STATUS_OK"]);
    const lost = result.findIndex((e) => e.status === ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    const [lostRunner, keptRunner] = lost === 0 ? [a, b] : [b, a];
    expect(okValue(result[1 - lost]).json).toBe(keptRunner.id);
    // The session whose run was cancelled was restored by replay at that run's end, as it was before it (Durable sessions).
    expect(okValue(await api.repl(lostRunner.id, "name")).json).toBe(lostRunner.id);
    expect(await api.getSession(lostRunner.id)).toMatchObject({ restartCount: 0, restoreCount: 1 });
    // Of the idle sessions, the one on the killed host is restored on its next execution, which says so.
    const idle = [await api.repl(c.id, "name"), await api.repl(d.id, "name")];
    expect(idle.map((e) => okValue(e).json)).toEqual([c.id, d.id]);
    const notes = idle.map((e) => e.events.map((ev) => ev.system?.message).filter(Boolean));
    expect(notes.filter((n) => n.length > 0)).toEqual([
      [expect.stringMatching(/restored from 1 executions \(its session host was lost while the session was idle\)/)],
    ]);
    const restored = idle[notes.findIndex((n) => n.length > 0)];
    expect(await api.getSession(restored.sessionId)).toMatchObject({ restartCount: 0, restoreCount: 1 });
    expect(server.proc.exitCode).toBeNull();
    expect(endedCount(server)).toBe(before + 1);
    await until("two hosts again", () => livePids(server).length === 2);
    expect(livePids(server)).not.toContain(victimPid);
    const fresh = await api.ready({ name: "fresh" });
    expect(okValue(await api.repl(fresh.id, "1 + 1")).json).toBe(2);
    await api.closeAll();
  });
  it("a host killed while a session on it starts: the start ends (CRASHED, saying why), the server serves on", async () => {
    const { api, server } = s!;
    const worktree = makeWorktree({ "boot.js": "await new Promise((r) => setTimeout(r, 3000)); var booted = true" });
    try {
      const t = await api.template({ name: "slow-boot", startupFiles: [{ path: "boot.js" }] });
      const starting = api.session(t.id, worktree).then(
        (session) => session,
        (err: Error) => err,
      );
      await sleep(500);
      // Both hosts: the one the session starts on is among them.
      for (const pid of livePids(server)) process.kill(pid, "SIGKILL");
      const { failures, result } = await healthThroughout(s!.clients, starting);
      expect(failures).toEqual([]);
      expect(result).not.toBeInstanceOf(Error);
      const session = result as Exclude<typeof result, Error>;
      expect(SessionStatus[session.status]).toBe("SESSION_STATUS_CRASHED");
      expect(session.lastError).toMatch(/startup file boot\.js failed: execution cancelled/);
      await until("two hosts again", () => livePids(server).length === 2);
      const fresh = await api.ready({ name: "fresh" });
      expect(okValue(await api.repl(fresh.id, "1 + 1")).json).toBe(2);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await api.closeAll();
      removeDir(worktree);
    }
  });
});

describe("the server's end", () => {
  it("SIGTERM ends every host with the server; SIGKILL of the server leaves hosts that end themselves", async () => {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const s = await serve([...HOSTS, "--shutdown-grace", "500ms"]);
      try {
        await until("two hosts", () => livePids(s.server).length === 2);
        const pids = livePids(s.server);
        const session = await s.api.ready({ name: "busy" });
        const running = s.api.repl(session.id, "await new Promise(() => {})").catch(() => undefined);
        await sleep(200);
        s.clients.close();
        await s.server.stop(signal);
        await running;
        if (signal === "SIGTERM") for (const pid of pids) expect(processGone(pid), `host ${pid} after SIGTERM`).toBe(true);
        else await until("hosts without their server to end", () => pids.every(processGone), 10_000);
      } finally {
        await s.db.cleanup();
      }
    }
  });
});

describe("through session hosts, in an in-process server", () => {
  let worktree: string;
  let t: TestServer | undefined;
  let api: Api;
  beforeAll(async () => {
    worktree = makeWorktree({ "ok.txt": "fine" });
    const dataDir = join(worktree, ".vmsystem");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "secret.txt"), "server-only");
    t = await startTestServer({ dataDir, sessionHosts: Number(HOSTS[1]) });
    api = new Api(t);
  });
  afterAll(async () => {
    await api?.closeAll();
    await t?.close();
    removeDir(worktree);
  });

  it("keeps the server's own files out of sessions' reach in the hosts too", async () => {
    const session = await api.ready({ modules: ["fs", "database"] }, worktree);
    const attempt = (code: string) => `(() => { try { ${code}; return 'reached'; } catch (e) { return e.code + ': ' + e.message; } })()`;
    expect(okValue(await api.repl(session.id, attempt("require('fs').readFile('ok.txt')"))).json).toBe("reached");
    for (const code of ["require('fs').readFile('.vmsystem/secret.txt')", "require('database').configure({ filename: '.vmsystem/vmsystem.db' })"])
      expect(okValue(await api.repl(session.id, attempt(code))).json, code).toMatch(/^EACCES: .*server's own data/);
  });

  it("a console flood arrives whole and in order, and its limit ends it as in-process", async () => {
    const session = await api.ready({ name: "flood", settings: { limits: { maxEvents: 50_000, maxOutputKb: 8192 } } });
    const e = await api.repl(session.id, "for (let i = 0; i < 30000; i++) console.log(i); 'flooded'");
    expect(okValue(e).json).toBe("flooded");
    const lines = e.events.filter((ev) => ev.type === EventType.EVENT_TYPE_CONSOLE).map((ev) => ev.console!.text);
    expect(lines).toEqual(Array.from({ length: 30000 }, (_, i) => String(i)));
    const capped = await api.repl(session.id, "for (let i = 0; ; i++) console.log(i)");
    expect(capped.error?.code, describeExecution(capped)).toBe("OUTPUT_LIMIT_EXCEEDED");
    expect(capped.events.length).toBe(50_000);
  });

  it("a caller's deadline cancels the run in its host: an await keeps the state, a busy loop costs it", async () => {
    const session = await api.ready({ name: "cancel" });
    okValue(await api.repl(session.id, "var kept = 'state'; kept"));
    for (const input of ["await new Promise(() => {})", "while (true) {}"]) {
      const call = unary<Execution>((cb) =>
        t!.executions.executeRepl({ sessionId: session.id, input, requestId: "" }, new Metadata(), { deadline: Date.now() + 300 }, cb),
      );
      expect((await rpcError(call)).code).toBe(status.DEADLINE_EXCEEDED);
      let ended: Execution | undefined;
      for (let i = 0; i < 300 && !ended; i++) {
        const found = (await api.allExecutions(session.id)).find((x) => x.input === input);
        if (found && found.status !== ExecutionStatus.EXECUTION_STATUS_RUNNING) ended = found;
        else await sleep(20);
      }
      expect(ended && ExecutionStatus[ended.status]).toBe("EXECUTION_STATUS_CANCELLED");
      if (input.startsWith("await")) expect(okValue(await api.repl(session.id, "kept")).json).toBe("state");
    }
    // The await was cancelled in place; the busy loop only by disposing the isolate: restarted.
    let after: Execution | undefined;
    for (let i = 0; i < 300 && !after; i++) after = await api.repl(session.id, "typeof kept").catch(() => sleep(20).then(() => undefined));
    expect(okValue(after!).json).toBe("undefined");
    expect((await api.getSession(session.id)).restartCount).toBe(1);
  });
});
