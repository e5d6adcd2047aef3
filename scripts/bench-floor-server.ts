/**
 * The floors of `npm run bench` that need a server: a bare grpc-js server
 * with the service's own message types and nothing else, run as a child
 * process of the bench (as the real server is), on 127.0.0.1:0; it sends its
 * port to the parent and stops on SIGTERM.
 *
 *   ExecuteRepl  evaluates the input (`1+1`) in one of ISOLATES isolated-vm
 *                isolates, the one the session id names (no store, no
 *                session, no limits); answers an Execution shaped like the
 *                service's (input echo and value events).
 *   TailEvents   streams REPLAY_EVENTS console events held in memory (no
 *                database), one a response with max_batch 0, else batches of
 *                max_batch, each written as the connection takes it.
 *
 * Two variants, for scripts/bench-hop-floor.ts (what the service's session
 * hosts and its store cost by themselves): `--hop` evaluates in HOSTS child
 * processes of this one (ISOLATES / HOSTS isolates each, the service's IPC:
 * fork with "advanced" serialization, a message each way per call);
 * `--commit DIR` stores a row per call in SQLite under DIR before it
 * answers (WAL, synchronous NORMAL, the rows of calls that end in the same
 * turn in one transaction, as the service does).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Server, ServerCredentials, type ServerUnaryCall, type ServerWritableStream, type UntypedServiceImplementation } from "@grpc/grpc-js";
import ivm from "isolated-vm";
import {
  EventType,
  ExecutionKind,
  ExecutionServiceService,
  ExecutionStatus,
  type Execution,
  type ExecutionEvent,
  type ExecuteReplRequest,
  type TailEventsRequest,
  type TailEventsResponse,
} from "../gen/vmsystem/v1/execution";

export const ISOLATES = 32;
export const REPLAY_EVENTS = 100_002;
/** With --hop: as many as the service's default session hosts on this machine. */
const HOSTS = 2;

/** What the parent gets once the server listens. */
export interface FloorReady {
  port: number;
}

const makeContexts = (count: number) =>
  Promise.all(
    Array.from({ length: count }, async () => {
      const isolate = new ivm.Isolate({ memoryLimit: 128 });
      return isolate.createContext();
    }),
  );

/** How a call's input is evaluated: here, or in a child process over IPC (--hop). */
async function evaluator(hop: boolean): Promise<(session: number, input: string) => Promise<unknown>> {
  if (!hop) {
    const contexts = await makeContexts(ISOLATES);
    return (session, input) => contexts[session % ISOLATES].eval(input);
  }
  const waiting = new Map<number, (value: unknown) => void>();
  let next = 0;
  const hosts = await Promise.all(
    Array.from(
      { length: HOSTS },
      () =>
        new Promise<ChildProcess>((resolve, reject) => {
          const child = fork(__filename, ["--host"], { execArgv: ["--no-node-snapshot"], serialization: "advanced" });
          child.once("message", () => {
            child.on("message", (m: { id: number; value: unknown }) => {
              waiting.get(m.id)?.(m.value);
              waiting.delete(m.id);
            });
            resolve(child);
          });
          child.once("exit", (code) => reject(new Error(`a floor host exited ${code}`)));
        }),
    ),
  );
  process.on("exit", () => hosts.forEach((h) => h.kill()));
  return (session, input) =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      hosts[session % HOSTS].send({ id, session: Math.floor(session / HOSTS), input });
    });
}

/** A --hop child: evaluates what its parent sends. */
async function host(): Promise<void> {
  const contexts = await makeContexts(ISOLATES / HOSTS);
  process.on("message", (m: { id: number; session: number; input: string }) => {
    void contexts[m.session % contexts.length].eval(m.input).then((value: unknown) => process.send!({ id: m.id, value }));
  });
  process.on("disconnect", () => process.exit(0));
  process.send!({ ready: true });
}

/** With --commit: a row per call, the rows of a turn in one transaction. */
function committer(dir: string | undefined): ((row: unknown[]) => Promise<void>) | undefined {
  if (!dir) return undefined;
  const db = new Database(join(dir, "floor.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(
    "CREATE TABLE IF NOT EXISTS executions (id TEXT PRIMARY KEY, session_id TEXT, number INTEGER, input TEXT, result TEXT, started_at INTEGER, ended_at INTEGER)",
  );
  const insert = db.prepare("INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?)");
  const insertAll = db.transaction((rows: unknown[][]) => rows.forEach((row) => insert.run(...row)));
  let turn: { row: unknown[]; done(): void }[] = [];
  return (row) =>
    new Promise((done) => {
      if (turn.push({ row, done }) > 1) return;
      setImmediate(() => {
        const rows = turn;
        turn = [];
        insertAll(rows.map((r) => r.row));
        rows.forEach((r) => r.done());
      });
    });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const evaluate = await evaluator(args.includes("--hop"));
  const commit = committer(args.includes("--commit") ? args[args.indexOf("--commit") + 1] : undefined);
  const executionId = randomUUID();
  const ts = new Date();
  const replay: ExecutionEvent[] = Array.from({ length: REPLAY_EVENTS }, (_, i) => ({
    executionId,
    seq: i + 1,
    ts,
    type: EventType.EVENT_TYPE_CONSOLE,
    console: { level: "log", text: String(i) },
  }));
  let number = 0;

  const executeRepl = (call: ServerUnaryCall<ExecuteReplRequest, Execution>, done: (err: Error | null, res?: Execution) => void) => {
    const { sessionId, input } = call.request;
    const startedAt = new Date();
    evaluate(Number(sessionId), input).then(
      (value: unknown) => {
        const id = randomUUID();
        const endedAt = new Date();
        const result = { type: typeof value, preview: String(value), json: value };
        const n = ++number;
        // Answered in the same turn unless there is a commit to wait for: the floor itself stays as it was.
        const answer = () =>
          done(null, {
            id,
            number: n,
            sessionId,
            kind: ExecutionKind.EXECUTION_KIND_REPL,
            input,
            path: "",
            args: [],
            env: {},
            status: ExecutionStatus.EXECUTION_STATUS_OK,
            requestId: "",
            startedAt,
            endedAt,
            result,
            metrics: { durationMs: endedAt.getTime() - startedAt.getTime(), cpuMs: 0, eventCount: 2, outputBytes: 0 },
            events: [
              { executionId: id, seq: 1, ts: startedAt, type: EventType.EVENT_TYPE_INPUT_ECHO, inputEcho: { text: input } },
              { executionId: id, seq: 2, ts: endedAt, type: EventType.EVENT_TYPE_VALUE, value: result },
            ],
          });
        if (commit) void commit([id, sessionId, n, input, JSON.stringify(result), startedAt.getTime(), endedAt.getTime()]).then(answer);
        else answer();
      },
      (err: Error) => done(err),
    );
  };

  const stream = async (call: ServerWritableStream<TailEventsRequest, TailEventsResponse>) => {
    const size = call.request.maxBatch;
    const step = size === 0 ? 1 : size;
    for (let i = 0; i < replay.length && !call.cancelled; i += step) {
      const message = size === 0 ? { event: replay[i], events: [] } : { events: replay.slice(i, i + step) };
      if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
    }
    call.end();
  };
  const tailEvents = (call: ServerWritableStream<TailEventsRequest, TailEventsResponse>) => void stream(call);

  const server = new Server();
  server.addService(ExecutionServiceService, { executeRepl, tailEvents } as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  // The isolates would keep the process alive: it ends when told to or when the bench is gone.
  const stop = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("disconnect", stop);
  process.send?.({ port } satisfies FloorReady);
}

if (require.main === module) {
  (process.argv.includes("--host") ? host() : main()).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
