/**
 * Durable sessions' speed (issue #16), on the embedded SQLite and on
 * PostgreSQL, with real servers (default session hosts):
 *
 *  1. Restore vs history length: a session with N small REPL executions
 *     (assignments, function definitions and calls, a few Date.now(),
 *     Math.random() and fs reads), N = 100, 1,000, 10,000, all on one
 *     server; the server is killed (SIGKILL) and started again on the same
 *     data; the first ExecuteRepl on each session (the lazy restore happens
 *     inside it) is timed, and a second one right after as the plain call's
 *     reference. Then ForkSession at_execution_number 0 of that session.
 *     Targets: ≤ 1 s for 1,000 executions, either (≤ 1 ms an execution).
 *  2. ExecuteRepl with recording vs without: a server with the default
 *     --session-restore lazy (records) and one with --session-restore off
 *     (records nothing), started in the same run, calls in alternating
 *     blocks; `1+1` and a snippet that reads the clock and Math.random.
 *     Target: p50 ≤ 1.05× without.
 *
 * A backend that fails (PostgreSQL unreachable included) prints its error and
 * the run exits non-zero. The last section of `npm run bench`; alone, after
 * `npm run build`:
 *
 *   node --no-node-snapshot dist/scripts/bench-restore.js
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import Table from "cli-table3";
import { Client } from "pg";
import type { Execution } from "../gen/vmsystem/v1/execution";
import { SessionStatus, type Session } from "../gen/vmsystem/v1/session";
import { TemplateServiceClient } from "../gen/vmsystem/v1/template";
import { call, startServed, type Served } from "./bench-served";
import { childPids, processCpuMs } from "./proc-cpu";
import { alternate, sleep, timeEach, timeOnce } from "./timing";

const PG_URL = process.env.VMSYSTEM_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const HISTORIES = [100, 1_000, 10_000];
/** Restored first, after the restart: the first restore in a fresh server and its hosts, cold; its row is not read against the targets. */
const COLD = 20;
/** A history that takes longer than this to build is said so (and kept). */
const SLOW_BUILD_MS = 60_000;
/** Plain calls on the restarted server before the first restore: its request path is warm, as a server that has been up a while. */
const RESTART_WARM_UP = 200;
const RECORDING_WARM_UP = 500;
/** Short blocks, many rounds: a burst of other work on the machine falls on both servers alike. */
const RECORDING_ROUNDS = 25;
const RECORDING_BLOCK = 40;
/** Forks of a history up to this long are timed this many times (the median printed); longer ones once. */
const FORK_ROUNDS = 3;
const FORK_ROUNDS_UP_TO = 1_000;
const SNIPPETS = ["1+1", "Date.now() + Math.random()"];
const DATA = "one small file\n";
/** Target: a restore or a fork of 1,000 executions in ≤ 1 s. */
const TARGET_MS_PER_EXECUTION = 1;
const TARGET_RECORDING = 1.05;

/** The expression whose value shows a session's state (its last execution, and the check after a restore or a fork). */
const probe = (n: number) => `JSON.stringify([a${n - 2}, typeof f3, f13(2), t17, d7, r11])`;

/**
 * Execution i of a history of n: mostly assignments, two function
 * definitions and a call every 20, one Date.now(), one Math.random() and one
 * fs read every 20; the last one reads the state back.
 */
function snippet(i: number, n: number): string {
  if (i === n - 1) return probe(n);
  switch (i % 20) {
    case 3:
    case 13:
      return `function f${i}(x) { return x * ${i} }`;
    case 7:
      return `var d${i} = Date.now()`;
    case 11:
      return `var r${i} = Math.random()`;
    case 17:
      return `var t${i} = require('fs').readFile('data.txt')`;
    case 19:
      return `f${i - 6}(a${i - 1})`;
    default:
      return `var a${i} = ${i}`;
  }
}

const ms = (x: number) => (x >= 100 ? `${Math.round(x).toLocaleString("en")} ms` : `${x.toFixed(2)} ms`);
const ratio = (x: number) => `${x.toFixed(2)}×`;
const met = (ok: boolean) => (ok ? "met" : "MISSED");
const table = (head: string[]) => new Table({ head, style: { head: [], border: [] } });

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** CPU time (user + system) of a process and its children (a server and its session hosts) in ms, from /proc; undefined elsewhere. */
function treeCpuMs(pid: number): number | undefined {
  let total = 0;
  for (const p of [pid, ...childPids(pid)]) {
    const ms = processCpuMs(p);
    if (ms === undefined && p === pid) return undefined;
    total += ms ?? 0;
  }
  return total;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** kill -9 of the server, as a crash; its hosts end themselves (waited for, so they take no CPU from what follows). */
async function crash(served: Served): Promise<void> {
  const hosts = childPids(served.server.pid);
  process.kill(served.server.pid, "SIGKILL");
  await served.server.exited;
  const deadline = Date.now() + 10_000;
  while (hosts.some(alive)) {
    if (Date.now() > deadline) throw new Error(`session hosts ${hosts.filter(alive).join(", ")} outlived their server by 10 s`);
    await sleep(20);
  }
}

interface Store {
  name: string;
  /** Server arguments for a store of its own, `key` naming it; the same key gives the same store. */
  args(key: string): string[];
  cleanUp(): Promise<void>;
}

function sqliteStore(): Store {
  const dirs = new Map<string, string>();
  return {
    name: "embedded SQLite",
    args(key) {
      if (!dirs.has(key)) dirs.set(key, mkdtempSync(join(tmpdir(), "vmsystem-bench-restore-")));
      return ["--data-dir", dirs.get(key)!];
    },
    async cleanUp() {
      for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresStore(): Promise<Store> {
  const check = new Client({ connectionString: PG_URL });
  try {
    await check.connect();
    await check.query("SELECT 1");
  } catch (err) {
    throw new Error(`PostgreSQL at ${PG_URL} not reachable (VMSYSTEM_BENCH_DATABASE_URL sets another): ${(err as Error).message}`, { cause: err });
  } finally {
    await check.end().catch(() => undefined);
  }
  const prefix = `bench_restore_${Date.now().toString(36)}`;
  const stores = new Map<string, { schema: string; dir: string }>();
  return {
    name: "PostgreSQL",
    args(key) {
      if (!stores.has(key)) stores.set(key, { schema: `${prefix}_${key}`, dir: mkdtempSync(join(tmpdir(), "vmsystem-bench-restore-pg-")) });
      const { schema, dir } = stores.get(key)!;
      const url = new URL(PG_URL);
      url.searchParams.set("schema", schema);
      return ["--database-url", url.toString(), "--data-dir", dir];
    },
    async cleanUp() {
      const client = new Client({ connectionString: PG_URL });
      try {
        await client.connect();
        for (const { schema } of stores.values()) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end().catch(() => undefined);
        for (const { dir } of stores.values()) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

interface History {
  n: number;
  sessionId: string;
  buildMs: number;
  /** The probe's value when the history was built. */
  state: string;
}

const previewOf = (e: Execution) => e.result?.preview ?? "";

/** A session of `n` executions on `served`, made in a tight loop (one session: no concurrency). */
async function buildHistory(served: Served, n: number): Promise<History> {
  const sessionId = await served.newSession();
  let last: Execution | undefined;
  const buildMs = await timeOnce(async () => {
    for (let i = 0; i < n; i++) last = await served.repl(sessionId, snippet(i, n));
  });
  return { n, sessionId, buildMs, state: previewOf(last!) };
}

interface Restored {
  history: History;
  restoreMs: number;
  plainMs: number;
  forkMs: number[];
}

async function restoreFigures(store: Store): Promise<Restored[]> {
  const args = store.args("restore");
  const first = await startServed(`${store.name}, before the restart`, args);
  let restarted: Served | undefined;
  try {
    // The sessions' template gets the fs module, and their worktree a file to read.
    const own = await call<Session>((cb) => first.sessions.getSession({ sessionId: first.session }, cb));
    const templates = new TemplateServiceClient(first.server.address, credentials.createInsecure());
    try {
      await call((cb) => templates.addModule({ templateId: own.templateId, name: "fs" }, cb));
    } finally {
      templates.close();
    }
    writeFileSync(join(own.worktreePath, "data.txt"), DATA);

    const histories: History[] = [];
    for (const n of [COLD, ...HISTORIES]) {
      const h = await buildHistory(first, n);
      histories.push(h);
      if (n === COLD) continue;
      const slow = h.buildMs > SLOW_BUILD_MS ? ` (more than ${SLOW_BUILD_MS / 1000} s: kept)` : "";
      console.log(`    built ${n.toLocaleString("en")} executions in ${(h.buildMs / 1000).toFixed(1)} s (${ms(h.buildMs / n)} each)${slow}`);
    }
    await crash(first);

    restarted = await startServed(`${store.name}, restarted`, args);
    await timeEach(RESTART_WARM_UP, () => restarted!.repl(restarted!.session, "1+1"));
    const figures: Restored[] = [];
    for (const history of histories) {
      const { n, sessionId } = history;
      let firstCall: Execution | undefined;
      const restoreMs = await timeOnce(async () => (firstCall = await restarted!.repl(sessionId, "1+1")));
      const plainMs = await timeOnce(() => restarted!.repl(sessionId, "1+1"));
      const notice = firstCall!.events.find((e) => e.system)?.system?.message ?? "";
      if (!notice.includes(`restored from ${n} executions`))
        throw new Error(`the session of ${n} executions: first call after the restart said ${JSON.stringify(notice)}`);
      const state = previewOf(await restarted.repl(sessionId, probe(n)));
      if (state !== history.state) throw new Error(`the session of ${n} executions came back as ${state}, not ${history.state}`);

      const forkMs: number[] = [];
      for (let k = 0; k < (n <= FORK_ROUNDS_UP_TO ? FORK_ROUNDS : 1); k++) {
        let fork: Session | undefined;
        forkMs.push(await timeOnce(async () => (fork = await call<Session>((cb) => restarted!.sessions.forkSession({ sessionId, atExecutionNumber: 0 }, cb)))));
        if (fork!.status !== SessionStatus.SESSION_STATUS_READY)
          throw new Error(`the fork of ${n} executions is ${SessionStatus[fork!.status]}: ${fork!.lastError}`);
        const forkState = previewOf(await restarted.repl(fork!.id, probe(n)));
        if (forkState !== history.state) throw new Error(`the fork of ${n} executions holds ${forkState}, not ${history.state}`);
        await restarted.closeSession(fork!.id);
      }
      figures.push({ history, restoreMs, plainMs, forkMs });
    }
    return figures;
  } finally {
    await restarted?.stop();
    await first.stop(); // already gone: closes its clients and removes the worktree
  }
}

function printRestore(figures: Restored[]): void {
  const t = table([
    "executions",
    "built in",
    "restore: 1st ExecuteRepl",
    "2nd ExecuteRepl",
    "restore per execution",
    "target ≤ 1 ms",
    `ForkSession (median of ${FORK_ROUNDS} up to ${FORK_ROUNDS_UP_TO.toLocaleString("en")})`,
    "fork per execution",
    "target ≤ 1 ms",
  ]);
  for (const { history, restoreMs, plainMs, forkMs: forks } of figures) {
    const n = history.n;
    const forkMs = percentile(forks, 0.5);
    const perRestore = restoreMs / n;
    const perFork = forkMs / n;
    const verdict = (per: number) => (n === COLD ? "(cold: not read)" : `${ratio(per / TARGET_MS_PER_EXECUTION)} ${met(per <= TARGET_MS_PER_EXECUTION)}`);
    t.push([
      n === COLD ? `${n} (the first)` : n.toLocaleString("en"),
      `${(history.buildMs / 1000).toFixed(1)} s`,
      ms(restoreMs),
      ms(plainMs),
      `${(perRestore * 1000).toFixed(0)} µs`,
      verdict(perRestore),
      forks.length > 1 ? `${ms(forkMs)} (${forks.map((x) => Math.round(x)).join(", ")})` : ms(forkMs),
      `${(perFork * 1000).toFixed(0)} µs`,
      verdict(perFork),
    ]);
  }
  console.log(t.toString());
}

interface RecordingFigure {
  input: string;
  with: number[];
  without: number[];
  /** Server and session hosts' CPU ms over the timed blocks (undefined off Linux). */
  cpuWith?: number;
  cpuWithout?: number;
}

async function recordingFigures(store: Store): Promise<RecordingFigure[]> {
  const recording = await startServed("recording (--session-restore lazy)", store.args("lazy"));
  let plain: Served | undefined;
  try {
    plain = await startServed("not recording (--session-restore off)", [...store.args("off"), "--session-restore", "off"]);
    const servers = [recording, plain];
    for (const s of servers) for (const input of SNIPPETS) await timeEach(RECORDING_WARM_UP / SNIPPETS.length, () => s.repl(s.session, input));
    const figures: RecordingFigure[] = SNIPPETS.map((input) => ({ input, with: [], without: [], cpuWith: 0, cpuWithout: 0 }));
    const visits = figures.flatMap((f) => servers.map((s) => ({ f, s })));
    await alternate(visits, RECORDING_ROUNDS, async ({ f, s }) => {
      const before = treeCpuMs(s.server.pid);
      const samples = await timeEach(RECORDING_BLOCK, () => s.repl(s.session, f.input));
      const after = treeCpuMs(s.server.pid);
      const cpu = before === undefined || after === undefined ? undefined : after - before;
      if (s === recording) {
        f.with.push(...samples);
        f.cpuWith = cpu === undefined || f.cpuWith === undefined ? undefined : f.cpuWith + cpu;
      } else {
        f.without.push(...samples);
        f.cpuWithout = cpu === undefined || f.cpuWithout === undefined ? undefined : f.cpuWithout + cpu;
      }
    });
    return figures;
  } finally {
    await Promise.all([recording.stop(), plain?.stop()]);
  }
}

function printRecording(figures: RecordingFigure[]): void {
  const t = table([
    "ExecuteRepl",
    "p50 recording",
    "p50 not",
    "p50 ratio",
    "target ≤ 1.05×",
    "p90 recording",
    "p90 not",
    "p90 ratio",
    "server+hosts CPU/call recording",
    "not",
    "ratio",
  ]);
  const perCall = (cpuMs: number | undefined, calls: number) => (cpuMs === undefined ? undefined : (cpuMs * 1000) / calls);
  for (const f of figures) {
    const [w50, o50, w90, o90] = [percentile(f.with, 0.5), percentile(f.without, 0.5), percentile(f.with, 0.9), percentile(f.without, 0.9)];
    const [cw, co] = [perCall(f.cpuWith, f.with.length), perCall(f.cpuWithout, f.without.length)];
    const cpu = cw === undefined || co === undefined ? ["?", "?", "?"] : [`${cw.toFixed(0)} µs`, `${co.toFixed(0)} µs`, ratio(cw / co)];
    t.push([f.input, ms(w50), ms(o50), ratio(w50 / o50), met(w50 / o50 <= TARGET_RECORDING), ms(w90), ms(o90), ratio(w90 / o90), ...cpu]);
  }
  console.log(t.toString());
}

async function benchBackend(name: string, open: () => Store | Promise<Store>): Promise<boolean> {
  const started = performance.now();
  console.log(`\n[durable sessions, ${name}: default session hosts (${availableParallelism()})]`);
  let store: Store | undefined;
  try {
    store = await open();
    console.log(
      `  restore vs history: sessions of ${HISTORIES.map((n) => n.toLocaleString("en")).join(", ")} REPL executions (per 20: 14 assignments, 2 function definitions and a call, one each of Date.now(), Math.random(), require('fs').readFile), built one call at a time on one server; kill -9; the server started again on the same data (${RESTART_WARM_UP} plain calls on another session first); on each session, smallest first (the first, of ${COLD} executions, is the cold restore: a fresh server and hosts): the 1st ExecuteRepl('1+1') (lazy restore inside it, nothing subtracted), the 2nd right after (a plain call), then ForkSession at_execution_number 0 (replays the history again); state checked after each`,
    );
    printRestore(await restoreFigures(store));
    console.log(
      `  ExecuteRepl with recording (--session-restore lazy, the default) vs without (--session-restore off): two servers, ${RECORDING_WARM_UP} warm-up calls each, then ${RECORDING_ROUNDS} rounds of a block of ${RECORDING_BLOCK} calls per server and snippet, alternating; CPU: the server's and its hosts' (/proc) over those blocks (10 ms ticks: read it for information; it moved by ±5% between runs here)`,
    );
    printRecording(await recordingFigures(store));
    console.log(`  (section took ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()[0].toFixed(2)})`);
    return true;
  } catch (err) {
    console.log(`\n[durable sessions, ${name}] FAILED: ${(err as Error).message}`);
    console.error(err);
    return false;
  } finally {
    await store?.cleanUp().catch((err: Error) => console.error(`cleaning up after ${name}: ${err.message}`));
  }
}

/** Both backends; one boolean a backend, false where it failed (its error printed). */
export async function benchDurableSessions(): Promise<boolean[]> {
  console.log(
    `\n[durable sessions] load average at the start: ${loadavg()[0].toFixed(2)} (other work on this ${availableParallelism()}-core machine moves the figures)`,
  );
  return [await benchBackend("embedded SQLite", sqliteStore), await benchBackend("PostgreSQL", postgresStore)];
}

if (require.main === module) {
  benchDurableSessions().then(
    (ok) => {
      if (ok.includes(false)) {
        console.error(`\n${ok.filter((x) => !x).length} durable-session section(s) failed (errors above)`);
        process.exitCode = 1;
      }
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
