/**
 * What the service's shape costs by itself under issue #17's concurrent
 * load (32 ExecuteRepl('1+1') in flight on 32 sessions), beside the
 * service: the bench's floor (a bare grpc-js server evaluating in its own
 * process), that floor with a session-host hop (two child processes,
 * the service's IPC), with a SQLite commit per call (grouped per turn, as
 * the service's), and with both; the service on SQLite with its default
 * session hosts and with --session-hosts 0. Alternating rounds, each read
 * as a ratio to the floor; then one call at a time (the p50 target's
 * shape), each as a ratio to the floor with its commit; then each one's CPU
 * a call, by process. Not part of `npm run bench` (about two minutes):
 *
 *   npm run build && node --no-node-snapshot dist/scripts/bench-hop-floor.js
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { FLIGHT_WINDOW, inFlight, inFlightCpu, IN_FLIGHT, replOn, type CallCpu, type Target } from "./bench-flight";
import { startFloorServer, type FloorServer } from "./bench-floors";
import { startServed, type Served } from "./bench-served";
import { alternate, median, timeEach } from "./timing";

const ROUNDS = 5;
const CPU_WINDOW_MS = 3000;
const P50_ROUNDS = 10;
const P50_CALLS = 200;

/**
 * One call at a time on one session of each target, P50_CALLS a block, the
 * blocks alternated over P50_ROUNDS rounds after a warm-up block each: the
 * median ms of each target's calls.
 */
async function sequentialMedians(targets: Target[]): Promise<number[]> {
  const once = (t: Target) => replOn(t, t.sessionIds[0]);
  for (const t of targets) await timeEach(P50_CALLS * 5, () => once(t));
  const samples = targets.map(() => [] as number[]);
  await alternate(targets, P50_ROUNDS, async (t, i) => void samples[i].push(...(await timeEach(P50_CALLS, () => once(t)))));
  return samples.map(median);
}

async function main() {
  console.log(`load average at the start: ${loadavg()[0].toFixed(2)} (${availableParallelism()} cores; other work moves the figures)`);
  const dirs = Array.from({ length: 4 }, () => mkdtempSync(join(tmpdir(), "vmsystem-hop-floor-")));
  const floors: FloorServer[] = [];
  const served: Served[] = [];
  try {
    const floor = await startFloorServer();
    floors.push(floor);
    const variants = [
      { label: "floor + host hop", args: ["--hop"] },
      { label: "floor + commit", args: ["--commit", dirs[0]] },
      { label: "floor + host hop + commit", args: ["--hop", "--commit", dirs[1]] },
    ];
    for (const v of variants) floors.push(await startFloorServer(v.args));
    served.push(await startServed("service, default hosts", ["--data-dir", dirs[2]]));
    served.push(await startServed("service, --session-hosts 0", ["--data-dir", dirs[3], "--session-hosts", "0"]));
    const [floorRates, ...rest] = await inFlight(floor, served, ROUNDS, floors.slice(1));
    const labels = [...served.map((s) => s.label), ...variants.map((v) => v.label)];
    const base = median(floorRates);
    console.log(
      `${IN_FLIGHT} ExecuteRepl('1+1') in flight, ${FLIGHT_WINDOW.warmUpMs / 1000} s warm-up + ${FLIGHT_WINDOW.timedMs / 1000} s timed, median of ${ROUNDS} rounds, alternating`,
    );
    console.log(`  ${"floor".padEnd(28)} ${Math.round(base).toLocaleString("en-US").padStart(6)} calls/s  (${floorRates.map(Math.round).join(", ")})`);
    for (const [i, rates] of rest.entries()) {
      const m = median(rates);
      console.log(
        `  ${labels[i].padEnd(28)} ${Math.round(m).toLocaleString("en-US").padStart(6)} calls/s → ${(m / base).toFixed(2)}× floor  (${rates.map(Math.round).join(", ")})`,
      );
    }
    // The p50 target's shape: what one call at a time costs on each, against the served floor with its commit.
    const sequential = [
      ...floors.map((f, i) => ({ label: i === 0 ? "floor" : variants[i - 1].label, client: f.executions, sessionIds: ["0"] })),
      ...served.map((s) => ({ label: s.label, client: s.executions, sessionIds: [s.session] })),
    ];
    const p50 = await sequentialMedians(sequential);
    const withCommit = p50[sequential.findIndex((t) => t.label === "floor + commit")];
    console.log(`ExecuteRepl('1+1') one call at a time, one session, median of ${P50_ROUNDS} alternated blocks of ${P50_CALLS}: ms, × floor + commit`);
    for (const [i, t] of sequential.entries()) console.log(`  ${t.label.padEnd(28)} ${p50[i].toFixed(3)} ms  ${(p50[i] / withCommit).toFixed(2)}×`);
    // Where each one's CPU goes, one window each after the rounds: calls/s drift with the machine, CPU a call less.
    console.log(`CPU µs a call by process (/proc, ${CPU_WINDOW_MS / 1000} s each): server main thread, its other threads, its children (hosts), the client`);
    const floorIds = Array.from({ length: IN_FLIGHT }, (_, k) => String(k));
    const show = (label: string, c: CallCpu) =>
      console.log(
        `  ${label.padEnd(28)} ${[c.main, c.other, c.children, c.client].map((us) => us.toFixed(0).padStart(5)).join(" ")}   total ${(c.main + c.other + c.children + c.client).toFixed(0)} (${Math.round(c.perSec).toLocaleString("en-US")} calls/s)`,
      );
    show("floor", await inFlightCpu("floor", floor.executions, floor.pid, floorIds, CPU_WINDOW_MS));
    for (const [i, v] of variants.entries()) show(v.label, await inFlightCpu(v.label, floors[i + 1].executions, floors[i + 1].pid, floorIds, CPU_WINDOW_MS));
    for (const s of served) {
      const ids: string[] = [];
      for (let k = 0; k < IN_FLIGHT; k++) ids.push(await s.newSession());
      show(s.label, await inFlightCpu(s.label, s.executions, s.server.pid, ids, CPU_WINDOW_MS));
      for (const id of ids) await s.closeSession(id);
    }
  } finally {
    for (const s of served) await s.stop();
    for (const f of floors) f.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
