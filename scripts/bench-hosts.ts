/**
 * The session hosts' speed (issue #15): servers running sessions in 1, 2 and
 * 4 host processes against one running them in its own process
 * (--session-hosts 0), all started up front (embedded SQLite, a data dir
 * each) and timed in alternating blocks in the same run, since the machine's
 * speed drifts during a run. Prints figures; asserts nothing. The last
 * section of `npm run bench`; alone, after `npm run build`:
 *
 *   node --no-node-snapshot dist/scripts/bench-hosts.js
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Execution } from "../gen/vmsystem/v1/execution";
import { LIMITS, LINES, startServed, type Served as BenchServed } from "./bench-served";
import { childPids, processCpuMs } from "./proc-cpu";
import { alternate, stats, timeEach, timeOnce } from "./timing";

const HOST_COUNTS = [0, 1, 2, 4];
const REPL_WARM_UP = 1000;
const REPL_ROUNDS = 10;
const REPL_BLOCK = 200;
const CREATE_WARM_UP = 5;
const CREATE_PACED = 30;
/** Before each paced create (and each burst): the spare isolate made after the previous create is ready by then (400 ms made creates no faster). */
const CREATE_PAUSE_MS = 100;
const CREATE_BURST = 30;
const CREATE_BURST_ROUNDS = 2;
const EVENT_ROUNDS = 4;
const IN_FLIGHT = 32;
/** What the loops run: '1+1', and a variant with a little host-side work per call (console lines drained, formatted, stored). */
const FLIGHT_LOADS = [
  { input: "1+1", rounds: 3, warmUpMs: 1000, timedMs: 3000 },
  { input: "for (let i = 0; i < 10; i++) console.log(i)", rounds: 3, warmUpMs: 500, timedMs: 1500 },
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Served = BenchServed & { hosts: number };

/** A server with `hosts` session hosts on a data dir of its own (see startServed). */
async function serve(hosts: number): Promise<Served> {
  const dataDir = mkdtempSync(join(tmpdir(), "vmsystem-bench-hosts-"));
  try {
    const served = await startServed(label(hosts), ["--data-dir", dataDir, "--session-hosts", String(hosts), "--log-level", "info"]);
    const stop = async () => {
      await served.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
    return { ...served, hosts, stop };
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

interface CpuSample {
  server?: number;
  hosts: Map<number, number>;
  client: NodeJS.CpuUsage;
}

function sampleCpu(pid: number): CpuSample {
  const hosts = new Map<number, number>();
  for (const child of childPids(pid)) {
    const ms = processCpuMs(child);
    if (ms !== undefined) hosts.set(child, ms);
  }
  return { server: processCpuMs(pid), hosts, client: process.cpuUsage() };
}

/** Cores busy between two samples: the server process, its hosts (those alive at both), this client. */
function coresBusy(a: CpuSample, b: CpuSample, wallMs: number): { server?: number; hosts: number; client: number } {
  let hostsMs = 0;
  for (const [pid, ms] of b.hosts) if (a.hosts.has(pid)) hostsMs += ms - a.hosts.get(pid)!;
  return {
    server: a.server === undefined || b.server === undefined ? undefined : (b.server - a.server) / wallMs,
    hosts: hostsMs / wallMs,
    client: (b.client.user + b.client.system - a.client.user - a.client.system) / 1000 / wallMs,
  };
}

type Load = (typeof FLIGHT_LOADS)[number];

/** IN_FLIGHT loops, one per session, each awaiting its call before the next: calls answered per second in the timed window. */
async function throughput(s: Served, sessionIds: string[], load: Load): Promise<{ perSec: number; cores: ReturnType<typeof coresBusy> }> {
  let running = true;
  let answered = 0;
  const loops = sessionIds.map(async (id) => {
    while (running) {
      await s.repl(id, load.input);
      answered++;
    }
  });
  // A failed call ends the measurement at once rather than after the window.
  const failed = Promise.all(loops).then(() => undefined);
  try {
    await Promise.race([sleep(load.warmUpMs), failed]);
    const before = { answered, at: performance.now(), cpu: sampleCpu(s.server.pid) };
    await Promise.race([sleep(load.timedMs), failed]);
    const after = { answered, at: performance.now(), cpu: sampleCpu(s.server.pid) };
    const wallMs = after.at - before.at;
    return { perSec: (after.answered - before.answered) / (wallMs / 1000), cores: coresBusy(before.cpu, after.cpu, wallMs) };
  } finally {
    running = false;
    await failed;
  }
}

const ms = (x: number) => `${x.toFixed(3)} ms`;
const ratio = (x: number) => `${x.toFixed(2)}×`;
const count = (x: number) => Math.round(x).toLocaleString("en");
const label = (hosts: number) => `--session-hosts ${hosts}`;

export async function benchSessionHosts(): Promise<void> {
  const started = performance.now();
  const machine = cpus();
  console.log(`\n[session hosts, embedded SQLite]`);
  console.log(
    `  servers: vmsystem serve --listen 127.0.0.1:0 --data-dir <tmp> --session-hosts N --log-level info, N = ${HOST_COUNTS.join(", ")} (0: sessions in the server's own process, the baseline); started up front, a data dir each, timed in alternating blocks`,
  );
  console.log(
    `  machine: ${machine.length} cores (${machine[0]?.model.trim()}), Node ${process.version}; this client runs on the same cores as the servers and their hosts`,
  );
  console.log(
    `  load average at the start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(", ")} (other work on the machine moves the figures)`,
  );
  console.log(
    `  template limits: max_events ${LIMITS.maxEvents}, max_output_kb ${LIMITS.maxOutputKb}, wall_ms ${LIMITS.wallMs}, cpu_ms ${LIMITS.cpuMs}; mem_mb default (creates can take the spare isolate)`,
  );
  const servers: Served[] = [];
  try {
    for (const hosts of HOST_COUNTS) servers.push(await serve(hosts));
    await latency(servers);
    await creates(servers);
    await consoleLines(servers);
    await inFlight(servers);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  console.log(`  (section took ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${loadavg()[0].toFixed(2)})`);
}

async function latency(servers: Served[]): Promise<void> {
  for (const s of servers) await timeEach(REPL_WARM_UP, () => s.repl(s.session, "1+1"));
  const samples = servers.map(() => [] as number[]);
  await alternate(servers, REPL_ROUNDS, async (s, i) => void samples[i].push(...(await timeEach(REPL_BLOCK, () => s.repl(s.session, "1+1")))));
  const [base, ...rest] = samples.map(stats);
  console.log(
    `  ExecuteRepl('1+1') on one session: ${REPL_WARM_UP} warm-up calls, then ${REPL_ROUNDS} rounds × ${REPL_BLOCK} per server (target: p50 ≤ 1.2× in-process)`,
  );
  console.log(`    ${label(0)}  p50 ${ms(base.median)}  p99 ${ms(base.p99)}`);
  for (const [k, st] of rest.entries()) {
    console.log(
      `    ${label(servers[k + 1].hosts)}  p50 ${ms(st.median)}  p99 ${ms(st.p99)}  → p50 ${ratio(st.median / base.median)}, p99 ${ratio(st.p99 / base.p99)} in-process`,
    );
  }
}

async function creates(servers: Served[]): Promise<void> {
  const paced = servers.map(() => [] as number[]);
  let visits = 0;
  await alternate(servers, CREATE_WARM_UP + CREATE_PACED, async (s, i) => {
    await sleep(CREATE_PAUSE_MS);
    let id = "";
    const t = await timeOnce(async () => (id = await s.newSession()));
    await s.closeSession(id);
    if (visits++ >= CREATE_WARM_UP * servers.length) paced[i].push(t);
  });
  const burst = servers.map(() => [] as number[]);
  await alternate(servers, CREATE_BURST_ROUNDS, async (s, i) => {
    await sleep(CREATE_PAUSE_MS);
    const ids: string[] = [];
    burst[i].push(...(await timeEach(CREATE_BURST, async () => ids.push(await s.newSession()))));
    for (const id of ids) await s.closeSession(id);
  });
  const p = paced.map((x) => stats(x).median);
  const b = burst.map((x) => stats(x).median);
  console.log(
    `  CreateSession, each closed (untimed) after; target p50 ≤ 1.5× in-process, read against "paced" (a user creating a session now and then); both printed`,
  );
  console.log(
    `    paced: ${CREATE_PACED} per server after ${CREATE_WARM_UP} warm-up, one at a time, ${CREATE_PAUSE_MS} ms pause before each (the spare isolate is ready); back to back: ${CREATE_BURST_ROUNDS} × ${CREATE_BURST} in a row per server, each asked as soon as the previous answered`,
  );
  for (const [i, s] of servers.entries()) {
    const vs = (x: number[]) => (i === 0 ? "" : ` (${ratio(x[i] / x[0])})`);
    console.log(`    ${label(s.hosts)}  paced p50 ${ms(p[i])}${vs(p)}  back to back p50 ${ms(b[i])}${vs(b)}`);
  }
}

async function consoleLines(servers: Served[]): Promise<void> {
  const input = `for (let i = 0; i < ${LINES}; i++) console.log(i)`;
  const rounds = servers.map(() => [] as number[]);
  await alternate(servers, EVENT_ROUNDS, async (s, i) => {
    let execution: Execution | undefined;
    rounds[i].push(await timeOnce(async () => (execution = await s.repl(s.session, input))));
    const events = execution?.metrics?.eventCount;
    if (events !== LINES + 2 || execution?.events.length !== LINES + 2)
      throw new Error(`${label(s.hosts)}: expected ${LINES + 2} events, got ${events} counted, ${execution?.events.length} in the response`);
  });
  const perSec = rounds.map((r) => LINES / (stats(r).median / 1000));
  console.log(
    `  ${count(LINES)} console lines in one ExecuteRepl, from the call until it returns with every event stored (in the response), median of ${EVENT_ROUNDS} (target ≥ 0.9× in-process)`,
  );
  for (const [i, s] of servers.entries()) {
    console.log(
      `    ${label(s.hosts)}  ${count(perSec[i])} events/s  (${rounds[i].map((x) => (x / 1000).toFixed(2)).join(", ")} s)${i === 0 ? "" : `  → ${ratio(perSec[i] / perSec[0])} in-process`}`,
    );
  }
}

async function inFlight(servers: Served[]): Promise<void> {
  const sessionsOf = new Map<Served, string[]>();
  try {
    for (const s of servers) {
      const ids: string[] = [];
      sessionsOf.set(s, ids);
      for (let k = 0; k < IN_FLIGHT; k++) ids.push(await s.newSession());
      await Promise.all(ids.map((id) => s.repl(id, "1+1")));
    }
    for (const load of FLIGHT_LOADS) await inFlightOf(servers, sessionsOf, load);
  } finally {
    for (const [s, ids] of sessionsOf) for (const id of ids) await s.closeSession(id).catch(() => undefined);
  }
}

async function inFlightOf(servers: Served[], sessionsOf: Map<Served, string[]>, load: Load): Promise<void> {
  const results = servers.map(() => [] as Awaited<ReturnType<typeof throughput>>[]);
  await alternate(servers, load.rounds, async (s, i) => void results[i].push(await throughput(s, sessionsOf.get(s)!, load)));
  console.log(
    `  throughput: ${IN_FLIGHT} sessions, ${IN_FLIGHT} ExecuteRepl(${JSON.stringify(load.input)}) in flight (a loop per session), ${load.warmUpMs / 1000} s warm-up + ${load.timedMs / 1000} s timed, median of ${load.rounds} rounds${load.input === "1+1" ? " (target ≥ 1.0× in-process)" : ""}`,
  );
  const median = results.map((r) => [...r].sort((a, b) => a.perSec - b.perSec)[Math.floor(r.length / 2)]);
  for (const [i, s] of servers.entries()) {
    const { perSec, cores } = median[i];
    const perCall = cores.server === undefined ? "" : `, server+hosts CPU ${(((cores.server + cores.hosts) * 1e6) / perSec).toFixed(0)} µs/call`;
    console.log(
      `    ${label(s.hosts)}  ${count(perSec)} calls/s  (${results[i].map((r) => count(r.perSec)).join(", ")})${i === 0 ? "" : `  → ${ratio(perSec / median[0].perSec)} in-process`}`,
    );
    console.log(
      `      median round's cores busy: server ${cores.server?.toFixed(2) ?? "?"}, its hosts ${cores.hosts.toFixed(2)}, this client ${cores.client.toFixed(2)}${perCall}`,
    );
  }
}

if (require.main === module) {
  benchSessionHosts().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
