import { invalidField, notFound } from "./errors";
import type { ExecuteOptions, ExecutionPipeline, ExecutionSpec } from "./execution-pipeline";
import type { Execution, ExecutionEvent, ExecutionWithEvents, Page } from "./model";
import { pageSize, type PageRequest } from "./pagination";
import type { ExecutionStore, SessionStore } from "./ports";
import { storeIfRunning, type SessionRegistry } from "./session-registry";
import { clampSeq, rejectNul, requireId } from "./validate";

const MAX_INPUT_BYTES = 1024 * 1024;
const MAX_ARGS = 1000;
const DEFAULT_EVENT_LIMIT = 1000;
const MAX_EVENT_LIMIT = 10_000;

export interface ReplInput {
  sessionId?: string;
  input?: string;
  requestId?: string;
}

export interface RunFileInput {
  sessionId?: string;
  path?: string;
  args?: string[];
  env?: Record<string, string>;
  requestId?: string;
}

/** ExecutionService: runs code through the pipeline and reads what it did. */
export class ExecutionService {
  constructor(
    private readonly pipeline: ExecutionPipeline,
    private readonly executions: ExecutionStore,
    private readonly sessions: SessionStore,
    private readonly registry: SessionRegistry,
  ) {}

  executeRepl(req: ReplInput, options: ExecuteOptions = {}): Promise<ExecutionWithEvents> {
    return this.pipeline.execute(requireId("session_id", req.sessionId), replSpec(req), options);
  }

  executeRunFile(req: RunFileInput, options: ExecuteOptions = {}): Promise<ExecutionWithEvents> {
    return this.pipeline.execute(requireId("session_id", req.sessionId), runFileSpec(req), options);
  }

  /**
   * Cancels a running execution and returns it once it has ended (after any
   * restart the cancellation caused). A finished execution is returned as is.
   */
  async cancel(executionId: string | undefined): Promise<ExecutionWithEvents> {
    const id = requireId("execution_id", executionId);
    const running = this.registry.running(id);
    if (running) {
      running.abort.abort();
      await running.done;
    }
    await this.pipeline.storeUnfinished(id);
    return this.pipeline.load(id);
  }

  /** Cancels every running execution and waits for them (server shutdown). */
  async cancelAll(): Promise<void> {
    this.pipeline.beginShutdown();
    const running = this.registry.all().flatMap((s) => (s.current ? [s.current] : []));
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done));
  }

  /** Resolves when no execution runs, or after `ms`. */
  async idle(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.registry.all().some((s) => s.current)) await new Promise((r) => setTimeout(r, 20));
  }

  async get(executionId: string | undefined): Promise<ExecutionWithEvents> {
    return this.pipeline.load(requireId("execution_id", executionId));
  }

  /** Newest first by number; the page token is the number to continue below. */
  async list(req: PageRequest & { sessionId?: string }): Promise<Page<Execution>> {
    const sessionId = requireId("session_id", req.sessionId);
    if (!(await this.sessions.get(sessionId))) throw notFound("SESSION_NOT_FOUND", sessionId);
    const size = pageSize(req.pageSize);
    const before = decodeNumberToken(req.pageToken);
    await storeIfRunning(this.registry.get(sessionId)?.current);
    const rows = await this.executions.listBySession(sessionId, size + 1, before);
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextPageToken: rows.length > size && last ? encodeNumberToken(last.number) : "" };
  }

  async listEvents(req: { executionId?: string; afterSeq?: number; limit?: number }): Promise<ExecutionEvent[]> {
    const executionId = requireId("execution_id", req.executionId);
    await storeIfRunning(this.registry.running(executionId));
    if (!(await this.executions.get(executionId))) throw notFound("EXECUTION_NOT_FOUND", executionId);
    const limit = req.limit ? Math.min(req.limit, MAX_EVENT_LIMIT) : DEFAULT_EVENT_LIMIT;
    return this.executions.listEvents(executionId, clampSeq(req.afterSeq), limit);
  }
}

/** Validates a REPL request into the pipeline's spec (shared by the unary and streaming calls). */
export function replSpec(req: ReplInput): ExecutionSpec {
  const input = req.input ?? "";
  if (Buffer.byteLength(input) > MAX_INPUT_BYTES) throw invalidField("input", `must be at most ${MAX_INPUT_BYTES} bytes`);
  rejectNul("input", input);
  return { kind: "REPL", input, requestId: checkRequestId(req.requestId) };
}

export function runFileSpec(req: RunFileInput): ExecutionSpec {
  if (!req.path) throw invalidField("path", "is required");
  if (req.path.length > 4096) throw invalidField("path", "must be at most 4096 characters");
  rejectNul("path", req.path);
  const args = req.args ?? [];
  if (args.length > MAX_ARGS) throw invalidField("args", `must have at most ${MAX_ARGS} entries`);
  for (const arg of args) rejectNul("args", arg);
  for (const [key, value] of Object.entries(req.env ?? {})) {
    rejectNul("env", key);
    rejectNul("env", value);
  }
  return { kind: "RUN_FILE", path: req.path, args, env: req.env ?? {}, requestId: checkRequestId(req.requestId) };
}

function checkRequestId(requestId: string | undefined): string | undefined {
  if (!requestId) return undefined;
  if (requestId.length > 200) throw invalidField("request_id", "must be at most 200 characters");
  rejectNul("request_id", requestId);
  return requestId;
}

const encodeNumberToken = (n: number) => Buffer.from(`n:${n}`).toString("base64url");

function decodeNumberToken(token: string | undefined): number | undefined {
  if (!token) return undefined;
  const match = /^n:(\d{1,9})$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match) throw invalidField("page_token", "is not a token this server issued");
  return Number(match[1]);
}
