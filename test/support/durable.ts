/**
 * Helpers for the durable-session suites (issue #16): a `vmsystem serve`
 * process on one database that a test kills with SIGKILL and starts again
 * (same data dir, same database URL), the session hosts each of its servers
 * started (so a test can kill one, and check none outlives its server), a
 * counting HTTP server, a run started by StreamExecution and left running,
 * and ForkSession.
 */
import { execFileSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { StreamExecutionResponse } from "../../gen/vmsystem/v1/execution";
import type { ForkSessionRequest, Session } from "../../gen/vmsystem/v1/session";
import { testDatabase, type TestDatabase } from "./database";
import { EventType, makeWorktree, removeDir, sleep, type Api, type Execution } from "./fixtures";
import { processGone } from "./hosts";
import { spawnServer, type ServerProcess } from "./process";
import { connect, unary, type Clients } from "./server";
import { collect, type Collected } from "./streams";

/** The server's direct children right now (its session hosts). */
function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    // pgrep exits 1 when nothing matches.
    return [];
  }
}

/** Polls an async condition; throws naming `what` after `ms`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A `vmsystem serve` process that a test kills (kill -9) and starts again
 * on the same database, with `args` (or other args for one start).
 */
export class Daemon {
  server!: ServerProcess;
  clients!: Clients;
  /** Host pids of servers that were killed or stopped: none may outlive them. */
  private readonly orphanable = new Set<number>();
  private readonly dirs: string[] = [];
  /** Every Api a server of this daemon had: their temp worktrees go at shutDown. */
  private readonly apis: Api[] = [];

  private constructor(
    readonly db: TestDatabase,
    readonly args: string[],
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A new database and a server on it, with `args` and extra environment `env`. */
  static async start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
    const d = new Daemon(testDatabase(), args, env);
    await d.start();
    return d;
  }

  get api(): Api {
    return this.clients.api;
  }

  get address(): string {
    return this.server.address;
  }

  /** Starts a server on the daemon's database (the previous one must be gone). */
  async start(args: string[] = this.args, env: NodeJS.ProcessEnv = this.env): Promise<void> {
    this.server = await spawnServer(this.db, args, env);
    this.clients = connect(this.server.address);
    this.apis.push(this.clients.api);
  }

  /** Session hosts of the running server: from its log, and its children now. */
  hostPids(): number[] {
    const ended = new Set(this.server.logs.filter((l) => l.msg === "session host ended: replacing it").map((l) => l.pid as number));
    const logged = this.server.logs.filter((l) => l.msg === "session host started").map((l) => l.pid as number);
    const live = new Set([...logged.filter((pid) => !ended.has(pid)), ...(this.server.proc.pid ? childPids(this.server.proc.pid) : [])]);
    return [...live].filter((pid) => !processGone(pid));
  }

  /** Pool hosts (not dedicated) the running server started and has not seen end, from its log. */
  poolPids(): number[] {
    const ended = new Set(this.server.logs.filter((l) => l.msg === "session host ended: replacing it").map((l) => l.pid as number));
    return this.server.logs
      .filter((l) => l.msg === "session host started" && l.dedicated !== true)
      .map((l) => l.pid as number)
      .filter((pid) => !ended.has(pid) && !processGone(pid));
  }

  /** kill -9 of the server; resolves once it has exited and every host it had is gone. */
  async kill9(): Promise<void> {
    const hosts = this.hostPids();
    for (const pid of hosts) this.orphanable.add(pid);
    this.clients.close();
    await this.server.stop("SIGKILL");
    // Hosts end on their own when their parent's IPC channel closes.
    await eventually(`the killed server's hosts (${hosts.join(", ")}) to end`, () => hosts.every(processGone), 15_000);
  }

  /** kill -9, then a new server on the same database (with `args` and `env`, default the daemon's). */
  async restart(args: string[] = this.args, env: NodeJS.ProcessEnv = this.env): Promise<void> {
    await this.kill9();
    await this.start(args, env);
  }

  /** Hosts of servers already gone that are still alive (none expected). */
  strays(): number[] {
    return [...this.orphanable].filter((pid) => !processGone(pid));
  }

  /** A temp worktree removed by `shutDown`. */
  worktree(files: Record<string, string> = {}): string {
    const dir = makeWorktree(files, "vmsystem-durable-");
    this.dirs.push(dir);
    return dir;
  }

  /** Stops the server (SIGTERM), checks its hosts ended with it, drops the database and worktrees. */
  async shutDown(): Promise<void> {
    try {
      if (this.server && this.server.proc.exitCode === null && this.server.proc.signalCode === null) {
        for (const pid of this.hostPids()) this.orphanable.add(pid);
        this.clients.close();
        await this.server.stop();
      }
      await eventually("every host to end with its server", () => this.strays().length === 0, 15_000);
    } finally {
      // Closing sessions fails at once on a closed channel; the temp worktrees are removed all the same.
      for (const api of this.apis.splice(0)) await api.closeAll();
      await this.db.cleanup();
      for (const dir of this.dirs.splice(0)) removeDir(dir);
    }
  }
}

/** An HTTP server on loopback that counts its requests and answers `hit N`. */
export interface Counter {
  url: string;
  hits(): number;
  close(): Promise<void>;
}

export async function countingHttpServer(): Promise<Counter> {
  let hits = 0;
  const http: Server = createServer((_req, res) => {
    hits++;
    res.setHeader("content-type", "text/plain");
    res.end(`hit ${hits}`);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    hits: () => hits,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

export interface Running {
  /** The execution's id (from the stream's `started`). */
  id: string;
  number: number;
  stream: Collected<StreamExecutionResponse>;
}

/**
 * Starts `input` with StreamExecution and resolves once it runs: after
 * `started`, and, when `consoleText` is given, after that console line
 * arrived (so the code before it has run).
 */
export async function startRunning(clients: Clients, sessionId: string, input: string, consoleText?: string): Promise<Running> {
  const stream = collect<StreamExecutionResponse>(clients.executions.streamExecution({ sessionId, repl: { input }, requestId: "", maxBatch: 0 }));
  const ready = () => {
    const started = stream.messages.some((m) => m.started);
    const said = consoleText === undefined || stream.messages.some((m) => m.event?.console?.text === consoleText);
    return started && said;
  };
  const outcome = await Promise.race([eventually("the run to start", ready, 20_000).then(() => "running" as const), stream.done]);
  if (outcome !== "running") throw new Error(`the run ended before it was seen running: ${JSON.stringify(outcome)} ${JSON.stringify(stream.messages)}`);
  const started = stream.messages.find((m) => m.started)!.started!;
  return { id: started.id, number: started.number, stream };
}

export function fork(clients: Clients, sessionId: string, atExecutionNumber: number, worktreePath?: string): Promise<Session> {
  const request: ForkSessionRequest = { sessionId, atExecutionNumber, worktreePath };
  return unary<Session>((cb) => clients.sessions.forkSession(request, cb));
}

/** The messages of an execution's SYSTEM events. */
export function systemMessages(e: Execution): string[] {
  return e.events.filter((ev) => ev.type === EventType.EVENT_TYPE_SYSTEM).map((ev) => ev.system!.message);
}
