/**
 * ExecuteRepl('1+1') against a server running sessions in its own process
 * (--session-hosts 0) and one running them in two hosts (--session-hosts 2),
 * timed in alternating blocks in the same run (the machine's speed drifts).
 * Prints the medians and their ratio; asserts nothing. After `npm run build`:
 *
 *   node --no-node-snapshot dist/scripts/bench-session-hosts.js
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { ExecutionServiceClient } from "../gen/vmsystem/v1/execution";
import { SessionServiceClient, type Session } from "../gen/vmsystem/v1/session";
import { TemplateServiceClient, type Template } from "../gen/vmsystem/v1/template";
import { stats, timeEach } from "./timing";

const ROOT = join(__dirname, "..", "..");
const CALLS = 2000;
const BLOCK = 200;
const WARM_UP = 500;

type Cb<T> = (err: ServiceError | null, res: T) => void;
const call = <T>(start: (cb: Cb<T>) => unknown) => new Promise<T>((res, rej) => start((e, r) => (e ? rej(e) : res(r))));

interface Served {
  hosts: number;
  repl(): Promise<unknown>;
  stop(): void;
}

/** A server as users run it (info: a log line per call), on its own embedded database, with one session. */
async function serve(hosts: number): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), "vmsystem-bench-hosts-"));
  const args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), "--session-hosts", String(hosts), "--log-level", "info"];
  const proc = spawn(join(ROOT, "bin", "vmsystem"), args, { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.once("exit", (code) => reject(new Error(`server exited ${code}`)));
    const lines = createInterface({ input: proc.stdout! });
    lines.on("line", (line) => {
      if (!line.includes('"serving"')) return;
      resolve(JSON.parse(line).port as number);
      // The rest of the log is drained unread, the same for both servers.
      lines.close();
      proc.stdout!.resume();
    });
  });
  const address = `127.0.0.1:${port}`;
  const templates = new TemplateServiceClient(address, credentials.createInsecure());
  const sessions = new SessionServiceClient(address, credentials.createInsecure());
  const executions = new ExecutionServiceClient(address, credentials.createInsecure());
  const stop = () => {
    for (const c of [templates, sessions, executions]) c.close();
    proc.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    proc.kill("SIGTERM");
  };
  try {
    const t = await call<Template>((cb) => templates.createTemplate({ name: "bench", engine: "" }, cb));
    const s = await call<Session>((cb) => sessions.createSession({ templateId: t.id, workspaceId: "w", baseCommitOid: "c", worktreePath: dir }, cb));
    return { hosts, stop, repl: () => call((cb) => executions.executeRepl({ sessionId: s.id, input: "1+1", requestId: "" }, cb)) };
  } catch (err) {
    stop();
    throw err;
  }
}

async function main(): Promise<void> {
  const servers: Served[] = [];
  try {
    for (const hosts of [0, 2]) servers.push(await serve(hosts));
    for (const s of servers) await timeEach(WARM_UP, s.repl);
    const samples = servers.map(() => [] as number[]);
    for (let done = 0; done < CALLS; done += BLOCK) {
      for (const [i, s] of servers.entries()) samples[i].push(...(await timeEach(BLOCK, s.repl)));
    }
    const [local, hosted] = samples.map(stats);
    const ms = (x: number) => `${(x * 1000).toFixed(0)} µs`;
    console.log(`ExecuteRepl('1+1'), ${CALLS} calls each, alternating blocks of ${BLOCK}:`);
    console.log(`  --session-hosts 0  p50 ${ms(local.median)}  p99 ${ms(local.p99)}`);
    console.log(`  --session-hosts 2  p50 ${ms(hosted.median)}  p99 ${ms(hosted.p99)}`);
    console.log(`  p50 ratio (hosts / in-process): ${(hosted.median / local.median).toFixed(2)}`);
  } finally {
    for (const s of servers) s.stop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
