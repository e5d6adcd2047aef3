/**
 * A `vmsystem serve` process under the bench, with its clients, a template
 * and a session, and the raw calls the throughput figures use: responses
 * left undecoded (or only their events counted), so that the client's
 * decoding, which shares this machine's cores with the server, stays out of
 * what the server is timed at.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type Client, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { HealthClient } from "../gen/grpc/health/v1/health";
import { Execution, ExecutionServiceClient, ExecutionServiceService, ExecutionStatus } from "../gen/vmsystem/v1/execution";
import { SessionServiceClient, type Session } from "../gen/vmsystem/v1/session";
import { TemplateServiceClient, type Template } from "../gen/vmsystem/v1/template";
import { startServer, type BenchServer } from "./bench-server";

export const LINES = 100_000;
/** The input echo, LINES console lines and the value. */
export const LINES_EVENTS = LINES + 2;
export const LIMITS = { maxEvents: LINES + 10, maxOutputKb: 64 * 1024, wallMs: 120_000, cpuMs: 120_000 };
const STOP_TIMEOUT_MS = 20_000;

type Cb<T> = (err: ServiceError | null, res?: T) => void;
export const call = <T>(start: (cb: Cb<T>) => unknown) => new Promise<T>((res, rej) => start((e, r) => (e ? rej(e) : res(r as T))));

export interface Served {
  /** How the figures name it: "default hosts (2)", "in-process". */
  label: string;
  server: BenchServer;
  health: HealthClient;
  sessions: SessionServiceClient;
  executions: ExecutionServiceClient;
  newSession(): Promise<string>;
  closeSession(id: string): Promise<unknown>;
  /** Decoded; an execution that did not end OK throws. */
  repl(sessionId: string, input: string): Promise<Execution>;
  /** ExecuteRepl with the response left undecoded (decode it with Execution.decode). */
  replRaw(sessionId: string, input: string): Promise<Buffer>;
  /** The session the one-session figures use. */
  session: string;
  stop(): Promise<void>;
}

export async function startServed(label: string, args: string[]): Promise<Served> {
  const worktree = mkdtempSync(join(tmpdir(), "vmsystem-bench-"));
  let server: BenchServer;
  try {
    server = await startServer(args);
  } catch (err) {
    rmSync(worktree, { recursive: true, force: true });
    throw err;
  }
  const creds = credentials.createInsecure();
  const health = new HealthClient(server.address, creds);
  const templates = new TemplateServiceClient(server.address, creds);
  const sessions = new SessionServiceClient(server.address, creds);
  // 100k events make a ~7 MB response: above grpc-js's 4 MB default.
  const executions = new ExecutionServiceClient(server.address, creds, { "grpc.max_receive_message_length": -1 });
  const stop = async () => {
    for (const c of [health, templates, sessions, executions]) c.close();
    server.stop();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS)));
    const code = await Promise.race([server.exited, timeout]);
    clearTimeout(timer);
    if (code === "timeout") {
      console.error(`${label}: server ${server.pid} still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM; killing it`);
      process.kill(server.pid, "SIGKILL");
      await server.exited;
    }
    rmSync(worktree, { recursive: true, force: true });
  };
  try {
    const template = await call<Template>((cb) => templates.createTemplate({ name: "bench", engine: "", settings: { limits: LIMITS } }, cb));
    const newSession = async () =>
      (await call<Session>((cb) => sessions.createSession({ templateId: template.id, workspaceId: "bench", baseCommitOid: "0", worktreePath: worktree }, cb)))
        .id;
    const def = ExecutionServiceService.executeRepl;
    const replRaw = (sessionId: string, input: string) =>
      call<Buffer>((cb) => executions.makeUnaryRequest(def.path, def.requestSerialize, (b: Buffer) => b, { sessionId, input, requestId: "" }, cb));
    const repl = async (sessionId: string, input: string) => okOrThrow(label, input, Execution.decode(await replRaw(sessionId, input)));
    return {
      label,
      server,
      health,
      sessions,
      executions,
      newSession,
      closeSession: (id) => call((cb) => sessions.closeSession({ sessionId: id }, cb)),
      repl,
      replRaw,
      session: await newSession(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A figure for failed calls would mean nothing. */
export function okOrThrow(label: string, input: string, execution: Execution): Execution {
  if (execution.status !== ExecutionStatus.EXECUTION_STATUS_OK)
    throw new Error(`${label}: ${JSON.stringify(input.slice(0, 60))} ended ${ExecutionStatus[execution.status]}: ${execution.error?.message}`);
  return execution;
}

/**
 * Events in a TailEvents or WatchSession response, read from its top-level
 * fields without decoding them: `event` (1) or each of `events` (2).
 */
export function countEvents(message: Buffer): number {
  const reader = new BinaryReader(message);
  let n = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 || field === 2) n++;
    reader.skip(wireType);
  }
  return n;
}

type StreamMethod = "tailEvents" | "watchSession";
type StreamRequest<M extends StreamMethod> = Parameters<(typeof ExecutionServiceService)[M]["requestSerialize"]>[0];

/** A TailEvents or WatchSession call whose responses reach `onEvents` as counts of events. */
export function countingStream<M extends StreamMethod>(
  client: Client,
  method: M,
  request: StreamRequest<M>,
  onEvents: (n: number) => void,
): ClientReadableStream<Buffer> {
  const def = ExecutionServiceService[method];
  const stream = client.makeServerStreamRequest(def.path, def.requestSerialize as (r: StreamRequest<M>) => Buffer, (b: Buffer) => b, request);
  stream.on("data", (b: Buffer) => onEvents(countEvents(b)));
  return stream;
}
