/**
 * `npm run bench`'s concurrent figure: IN_FLIGHT ExecuteRepl('1+1') calls in
 * flight on IN_FLIGHT sessions (a loop per session, each awaiting its answer
 * before the next call), against the same load on the floor server (a bare
 * grpc-js server evaluating `1+1` in one of 32 isolates per call), timed
 * alternately in rounds.
 */
import type { Client } from "@grpc/grpc-js";
import { Execution, ExecutionServiceService } from "../gen/vmsystem/v1/execution";
import type { FloorServer } from "./bench-floors";
import { call, okOrThrow, type Served } from "./bench-served";
import { childPids, mainThreadCpuMs, processCpuMs } from "./proc-cpu";
import { alternate, underLoad } from "./timing";

export const IN_FLIGHT = 32;
const INPUT = "1+1";
const WARM_UP_MS = 500;
const TIMED_MS = 1500;
/** Untimed, once per target before the rounds: a server that has not run this load yet is still compiling its paths. */
const FIRST_WARM_UP_MS = 1000;

export interface Target {
  label: string;
  client: Client;
  sessionIds: string[];
}

/** ExecuteRepl decoded and checked, the same on the floor and on the service. */
export function replOn(target: Target, sessionId: string): Promise<Execution> {
  const def = ExecutionServiceService.executeRepl;
  return call<Execution>((cb) =>
    target.client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, { sessionId, input: INPUT, requestId: "" }, cb),
  ).then((execution) => okOrThrow(target.label, INPUT, execution));
}

/** The load on a target, a loop per session (see underLoad in timing.ts). */
const loadOn = <T>(target: Target, warmUpMs: number, timedMs: number, sample: () => T) =>
  underLoad(target.sessionIds.length, (i) => replOn(target, target.sessionIds[i]), warmUpMs, timedMs, sample);

/** Calls answered per second in a window of `timedMs` after `warmUpMs`, with a loop per session. */
async function callsPerSec(target: Target, warmUpMs: number, timedMs: number): Promise<number> {
  const { calls, seconds } = await loadOn(target, warmUpMs, timedMs, () => undefined);
  return calls / seconds;
}

/** calls/s per round: [0] the floor, then one array per server, then one per other floor, in the order given. */
export async function inFlight(floor: FloorServer, servers: Served[], rounds: number, otherFloors: FloorServer[] = []): Promise<number[][]> {
  const floorTarget = (f: FloorServer, label: string): Target => ({
    label,
    client: f.executions,
    sessionIds: Array.from({ length: IN_FLIGHT }, (_, k) => String(k)),
  });
  const targets: Target[] = [floorTarget(floor, "floor")];
  try {
    for (const s of servers) {
      const ids: string[] = [];
      targets.push({ label: s.label, client: s.executions, sessionIds: ids });
      for (let k = 0; k < IN_FLIGHT; k++) ids.push(await s.newSession());
    }
    otherFloors.forEach((f, i) => targets.push(floorTarget(f, `floor variant ${i + 1}`)));
    for (const target of targets) await callsPerSec(target, FIRST_WARM_UP_MS, 0);
    const rates = targets.map(() => [] as number[]);
    await alternate(targets, rounds, async (target, i) => void rates[i].push(await callsPerSec(target, WARM_UP_MS, TIMED_MS)));
    return rates;
  } finally {
    for (const [i, s] of servers.entries()) for (const id of targets[i + 1]?.sessionIds ?? []) await s.closeSession(id).catch(() => undefined);
  }
}

export const FLIGHT_WINDOW = { warmUpMs: WARM_UP_MS, timedMs: TIMED_MS };

/** CPU time so far, in ms, of a process's main thread, of its other threads, and of its child processes (zeros off Linux). */
function cpuSoFar(pid: number): { main: number; other: number; children: number } {
  const main = mainThreadCpuMs(pid) ?? 0;
  const children = childPids(pid).reduce((sum, child) => sum + (processCpuMs(child) ?? 0), 0);
  return { main, other: (processCpuMs(pid) ?? 0) - main, children };
}

/** Where a call's CPU went, µs a call: the server's main thread, its other threads, its child processes (session hosts), this process (the client). */
export interface CallCpu {
  perSec: number;
  main: number;
  other: number;
  children: number;
  client: number;
}

/** The in-flight load on one server for `ms`, after the warm-up: calls/s, and CPU µs a call by process (/proc). */
export async function inFlightCpu(label: string, client: Client, pid: number, sessionIds: string[], ms = 3000): Promise<CallCpu> {
  const sample = () => {
    const self = process.cpuUsage();
    return { server: cpuSoFar(pid), self: (self.user + self.system) / 1000 };
  };
  const { calls, seconds, before, after } = await loadOn({ label, client, sessionIds }, WARM_UP_MS, ms, sample);
  const us = (a: number, b: number) => ((a - b) * 1000) / calls;
  return {
    perSec: calls / seconds,
    main: us(after.server.main, before.server.main),
    other: us(after.server.other, before.server.other),
    children: us(after.server.children, before.server.children),
    client: us(after.self, before.self),
  };
}
