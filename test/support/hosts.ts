/**
 * Helpers for tests of `vmsystem serve --session-hosts N` run as its own
 * process: which host processes its log says are alive, health polled
 * while something happens, whether a process is gone.
 */
import { readFileSync } from "node:fs";
import { HealthCheckResponse_ServingStatus, type HealthCheckResponse } from "../../gen/grpc/health/v1/health";
import { testDatabase, type TestDatabase } from "./database";
import { sleep, type Api } from "./fixtures";
import { spawnServer, type ServerProcess } from "./process";
import { connect, Metadata, unary, type Clients } from "./server";

export interface Served {
  server: ServerProcess;
  clients: Clients;
  api: Api;
  db: TestDatabase;
}

export async function serve(args: string[]): Promise<Served> {
  const db = testDatabase();
  const server = await spawnServer(db, args);
  const clients = connect(server.address);
  return { server, clients, api: clients.api, db };
}

export async function shutDown(s: Served | undefined): Promise<void> {
  if (!s) return;
  await s.api.closeAll().catch(() => undefined);
  s.clients.close();
  if (s.server.proc.exitCode === null && s.server.proc.signalCode === null) await s.server.stop();
  await s.db.cleanup();
}

const started = (server: ServerProcess, dedicated: boolean) =>
  server.logs.filter((l) => l.msg === "session host started" && (l.dedicated === true) === dedicated).map((l) => l.pid as number);

/** Pool hosts the server started and has not seen end, from its log. */
export function poolPids(server: ServerProcess): number[] {
  const ended = new Set(server.logs.filter((l) => l.msg === "session host ended: replacing it").map((l) => l.pid as number));
  return started(server, false).filter((pid) => !ended.has(pid));
}

/** Every dedicated host the server started, in order. */
export const dedicatedPids = (server: ServerProcess) => started(server, true);

export const poolEnded = (server: ServerProcess) => server.logs.filter((l) => l.msg === "session host ended: replacing it").length;

export async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A process that is gone or a zombie waiting to be reaped. */
export function processGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

/** Polls health with a 1 s deadline until `during` settles; resolves with every failed check (none expected) and `during`'s result. */
export async function healthThroughout<T>(c: Clients, during: Promise<T>): Promise<{ failures: string[]; result: T }> {
  const failures: string[] = [];
  let done = false;
  const settled = during.finally(() => (done = true));
  while (!done) {
    try {
      const r = await unary<HealthCheckResponse>((cb) => c.health.check({ service: "" }, new Metadata(), { deadline: Date.now() + 1000 }, cb));
      if (r.status !== HealthCheckResponse_ServingStatus.SERVING) failures.push(`status ${r.status}`);
    } catch (err) {
      failures.push((err as Error).message);
    }
    await Promise.race([settled.catch(() => undefined), sleep(200)]);
  }
  return { failures, result: await settled };
}
