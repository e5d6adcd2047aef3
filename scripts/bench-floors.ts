/**
 * The floors `npm run bench` reads the service against, each measured in the
 * bench's run and timed alternately with what it is the floor of.
 */
import { fork } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import ivm from "isolated-vm";
import { Client } from "pg";
import { ExecutionServiceClient } from "../gen/vmsystem/v1/execution";
import { LocalRuntimes, type RunHooks, type RuntimeOptions } from "../src/runtime";
import type { FloorReady } from "./bench-floor-server";
import { timeEach, timeOnce } from "./timing";

/** Raw isolate + context creation, timed; the disposal after it is not (as CreateSession is timed without CloseSession). */
export async function rawCreate(): Promise<number> {
  let isolate: ivm.Isolate | undefined;
  const ms = await timeOnce(async () => {
    isolate = new ivm.Isolate({ memoryLimit: 128 });
    await isolate.createContext();
  });
  isolate?.dispose();
  return ms;
}

/** Raw creates back to back, each started as soon as the previous has its context; all disposed after, untimed. */
export async function rawCreatesBackToBack(n: number): Promise<number[]> {
  const made: ivm.Isolate[] = [];
  const times = await timeEach(n, async () => {
    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    made.push(isolate);
    await isolate.createContext();
  });
  for (const isolate of made) isolate.dispose();
  return times;
}

/** A context for raw eval('1+1') timings; each run of timings starts with a few untimed evals. */
export async function rawEvalContext() {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = await isolate.createContext();
  await timeEach(200, () => context.eval("1+1"));
  const evalOnce = () => context.eval("1+1");
  return {
    timeEvals: async (n: number) => {
      await timeEach(10, evalOnce);
      return timeEach(n, evalOnce);
    },
    dispose: () => isolate.dispose(),
  };
}

/**
 * The sandbox runtime alone (src/runtime's LocalRuntimes in this process: no
 * gRPC, no store), running the same console loop the service runs, its lines
 * taken by a no-op onConsole with a budget as the service's event recorder
 * gives one, so that they come through the console ring as in the service.
 */
export interface RuntimeFloor {
  /** Milliseconds from the start of the run until every line is delivered and the run has ended. */
  timeLines(lines: number): Promise<number>;
  close(): Promise<void>;
}

/** A plain session's runtime options (no modules, no libraries), as the runtime benches use them. */
export function benchRuntimeOptions(worktree: string): RuntimeOptions {
  return {
    memMb: 128,
    worktreePath: worktree,
    runtime: { esm: false, strict: false, console: true },
    resolver: { roots: [], extensions: [".js"], allowAbsoluteRepoImports: false },
    modules: [],
    libraries: [],
    allowExec: false,
  };
}

export async function runtimeFloor(): Promise<RuntimeFloor> {
  const runtimes = new LocalRuntimes();
  const worktree = realpathSync(mkdtempSync(join(tmpdir(), "vmsystem-bench-runtime-")));
  const rt = await runtimes.create(benchRuntimeOptions(worktree));
  const limits = { cpuMs: 120_000, wallMs: 120_000 };
  return {
    timeLines: async (lines) => {
      let seen = 0;
      const hooks: RunHooks = { onConsole: () => (seen++, true), consoleBudget: () => ({ events: 1e9, bytes: 1e12 }) };
      const t0 = performance.now();
      const { outcome } = await rt.runRepl(`for (let i = 0; i < ${lines}; i++) console.log(i)`, limits, hooks);
      const ms = performance.now() - t0;
      if (outcome.kind !== "value" || seen !== lines) throw new Error(`runtime floor: run ended ${outcome.kind} after ${seen} of ${lines} lines`);
      return ms;
    },
    close: async () => {
      rt.dispose();
      await runtimes.close();
      rmSync(worktree, { recursive: true, force: true });
    },
  };
}

/**
 * One durable one-row INSERT, alone, from this process: what storing an
 * execution before answering costs at the least on this database. Not part
 * of the targets' floors; printed so the REPL figure can be read against it.
 */
export interface CommitFloor {
  timeCommits(n: number): Promise<number[]>;
  close(): Promise<void>;
}

export function sqliteCommitFloor(dir: string): CommitFloor {
  // The server's settings (see store/data-source.ts): WAL, synchronous NORMAL.
  const db = new Database(join(dir, "commit-floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("CREATE TABLE floor (id TEXT PRIMARY KEY, v TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO floor (id, v) VALUES (?, ?)");
  let n = 0;
  return {
    timeCommits: (count) => timeEach(count, async () => insert.run(String(++n), "x")),
    close: async () => void db.close(),
  };
}

export async function postgresCommitFloor(url: string, schema: string): Promise<CommitFloor> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE "${schema}".commit_floor (id serial PRIMARY KEY, v text NOT NULL)`);
  } catch (err) {
    await client.end();
    throw err;
  }
  const insert = { name: "commit_floor", text: `INSERT INTO "${schema}".commit_floor (v) VALUES ($1)`, values: ["x"] };
  return {
    timeCommits: (count) => timeEach(count, () => client.query(insert)),
    close: () => client.end(),
  };
}

/** The bare grpc-js server of bench-floor-server.ts, as a child process, and a client of it. */
export interface FloorServer {
  executions: ExecutionServiceClient;
  pid: number;
  stop(): void;
}

/** `args`: a variant of the floor (bench-floor-server.ts: --hop, --commit DIR); none for the floor itself. */
export async function startFloorServer(args: string[] = []): Promise<FloorServer> {
  const child = fork(join(__dirname, "bench-floor-server.js"), args, { execArgv: ["--no-node-snapshot"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const { port } = await new Promise<FloorReady>((resolve, reject) => {
    child.once("message", (m) => resolve(m as FloorReady));
    child.once("exit", (code) => reject(new Error(`the floor server exited ${code} before listening`)));
    child.once("error", reject);
  });
  const executions = new ExecutionServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    executions,
    pid: child.pid!,
    stop: () => {
      executions.close();
      child.kill("SIGTERM");
    },
  };
}
