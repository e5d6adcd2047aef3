import { invalidField, notFound } from "./errors";
import type { ExecuteOptions, ExecutionPipeline } from "./execution-pipeline";
import type { Execution, ExecutionEvent, ExecutionWithEvents, Page } from "./model";
import { pageSize, type PageRequest } from "./pagination";
import type { ExecutionStore, SessionStore } from "./ports";
import { requireId } from "./validate";

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
  ) {}

  executeRepl(req: ReplInput, options: ExecuteOptions = {}): Promise<ExecutionWithEvents> {
    const sessionId = requireId("session_id", req.sessionId);
    const input = req.input ?? "";
    if (Buffer.byteLength(input) > MAX_INPUT_BYTES) throw invalidField("input", `must be at most ${MAX_INPUT_BYTES} bytes`);
    return this.pipeline.execute(sessionId, { kind: "REPL", input, requestId: checkRequestId(req.requestId) }, options);
  }

  executeRunFile(req: RunFileInput, options: ExecuteOptions = {}): Promise<ExecutionWithEvents> {
    const sessionId = requireId("session_id", req.sessionId);
    if (!req.path) throw invalidField("path", "is required");
    const args = req.args ?? [];
    if (args.length > MAX_ARGS) throw invalidField("args", `must have at most ${MAX_ARGS} entries`);
    return this.pipeline.execute(sessionId, { kind: "RUN_FILE", path: req.path, args, env: req.env ?? {}, requestId: checkRequestId(req.requestId) }, options);
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
    const rows = await this.executions.listBySession(sessionId, size + 1, before);
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextPageToken: rows.length > size && last ? encodeNumberToken(last.number) : "" };
  }

  async listEvents(req: { executionId?: string; afterSeq?: number; limit?: number }): Promise<ExecutionEvent[]> {
    const executionId = requireId("execution_id", req.executionId);
    if (!(await this.executions.get(executionId))) throw notFound("EXECUTION_NOT_FOUND", executionId);
    const limit = req.limit ? Math.min(req.limit, MAX_EVENT_LIMIT) : DEFAULT_EVENT_LIMIT;
    return this.executions.listEvents(executionId, req.afterSeq ?? 0, limit);
  }
}

function checkRequestId(requestId: string | undefined): string | undefined {
  if (!requestId) return undefined;
  if (requestId.length > 200) throw invalidField("request_id", "must be at most 200 characters");
  return requestId;
}

const encodeNumberToken = (n: number) => Buffer.from(`n:${n}`).toString("base64url");

function decodeNumberToken(token: string | undefined): number | undefined {
  if (!token) return undefined;
  const match = /^n:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match) throw invalidField("page_token", "is not a token this server issued");
  return Number(match[1]);
}
