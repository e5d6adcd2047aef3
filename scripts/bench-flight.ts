/**
 * `npm run bench`'s concurrent figure: IN_FLIGHT ExecuteRepl('1+1') calls in
 * flight on IN_FLIGHT sessions (a loop per session, each awaiting its answer
 * before the next call), against the same load on the floor server (a bare
 * grpc-js server evaluating `1+1` in one of 32 isolates per call), timed
 * alternately in rounds.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Client } from "@grpc/grpc-js";
import { Execution, ExecutionServiceService } from "../gen/vmsystem/v1/execution";
import type { FloorServer } from "./bench-floors";
import { call, okOrThrow, type Served } from "./bench-served";
import { alternate, sleep } from "./timing";

export const IN_FLIGHT = 32;
const INPUT = "1+1";
const WARM_UP_MS = 500;
const TIMED_MS = 1500;
/** Untimed, once per target before the rounds: a server that has not run this load yet is still compiling its paths. */
const FIRST_WARM_UP_MS = 1000;

interface Target {
  label: string;
  client: Client;
  sessionIds: string[];
}

/** ExecuteRepl decoded and checked, the same on the floor and on the service. */
function replOn(target: Target, sessionId: string): Promise<Execution> {
  const def = ExecutionServiceService.executeRepl;
  return call<Execution>((cb) =>
    target.client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, { sessionId, input: INPUT, requestId: "" }, cb),
  ).then((execution) => okOrThrow(target.label, INPUT, execution));
}

/** Calls answered per second in a window of `timedMs` after `warmUpMs`, with a loop per session. */
async function callsPerSec(target: Target, warmUpMs: number, timedMs: number): Promise<number> {
  let running = true;
  let answered = 0;
  const loops = target.sessionIds.map(async (id) => {
    while (running) {
      await replOn(target, id);
      answered++;
    }
  });
  // A failed call ends the measurement at once rather than after the window.
  const failed = Promise.all(loops).then(() => undefined);
  try {
    await Promise.race([sleep(warmUpMs), failed]);
    const before = { answered, at: performance.now() };
    await Promise.race([sleep(timedMs), failed]);
    return (answered - before.answered) / ((performance.now() - before.at) / 1000);
  } finally {
    running = false;
    await failed;
  }
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

/** CPU time so far, in ms, of a process's main thread, of its other threads, and of its child processes (Linux /proc; zeros elsewhere). */
function processCpuMs(pid: number): { main: number; other: number; children: number } {
  const ticks = (path: string) => {
    try {
      const fields = readFileSync(path, "utf8").split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, USER_HZ = 100
    } catch {
      return 0;
    }
  };
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  let children: number[] = [];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    // not Linux, or the process is gone
  }
  return { main, other: ticks(`/proc/${pid}/stat`) - main, children: children.reduce((sum, child) => sum + ticks(`/proc/${child}/stat`), 0) };
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
  const target: Target = { label, client, sessionIds };
  let answered = 0;
  let running = true;
  const loops = sessionIds.map(async (id) => {
    while (running) {
      await replOn(target, id);
      answered++;
    }
  });
  const take = () => {
    const self = process.cpuUsage();
    return { at: performance.now(), server: processCpuMs(pid), self: (self.user + self.system) / 1000, answered };
  };
  try {
    await sleep(WARM_UP_MS);
    const sample = take();
    await sleep(ms);
    const end = take();
    const calls = end.answered - sample.answered;
    const us = (a: number, b: number) => ((a - b) * 1000) / calls;
    return {
      perSec: calls / ((end.at - sample.at) / 1000),
      main: us(end.server.main, sample.server.main),
      other: us(end.server.other, sample.server.other),
      children: us(end.server.children, sample.server.children),
      client: us(end.self, sample.self),
    };
  } finally {
    running = false;
    await Promise.all(loops);
  }
}
