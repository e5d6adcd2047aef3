/** CPU time from Linux's /proc, for the bench scripts; undefined (or no children) elsewhere. */
import { readdirSync, readFileSync } from "node:fs";

/** utime + stime in ms of a /proc `stat` file (a process's, or one thread's under task/). */
function statCpuMs(path: string): number | undefined {
  try {
    const fields = readFileSync(path, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ = 100
  } catch {
    return undefined;
  }
}

/** A process's CPU time, all its threads, in ms. */
export const processCpuMs = (pid: number) => statCpuMs(`/proc/${pid}/stat`);

/**
 * The CPU time of a process's main thread alone (a server's event loop), in
 * ms (10 ms ticks, so read over thousands of calls). Unlike latency it does
 * not include thread wake-ups or the client: it is the work the server does
 * per call, and the steadier figure on a noisy machine.
 */
export const mainThreadCpuMs = (pid: number) => statCpuMs(`/proc/${pid}/task/${pid}/stat`);

/** A process's direct children (a server's session hosts). */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  } catch {
    return [];
  }
}
