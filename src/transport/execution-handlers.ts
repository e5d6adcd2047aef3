import { ExecutionServiceService, type ExecutionServiceServer } from "../../gen/vmsystem/v1/execution";
import type { Send } from "../core/execution-cursor";
import { invalidField } from "../core/errors";
import { replSpec, runFileSpec, type ExecutionService } from "../core/execution-service";
import type { LiveEvents } from "../core/live-events";
import type { Rpc } from "./call";
import { executionToProto } from "./codec-execution";
import { EventBatches } from "./event-batches";
import { batchResponse, eventListResponse, executionResponse, oneEventResponse, STREAM_FIELDS, TAIL_FIELDS, type EventFields } from "./event-wire";
import { requireId } from "../core/validate";

/** ExecutionService over gRPC: decode, call core, encode. */
export function executionHandlers(service: ExecutionService, live: LiveEvents, rpc: Rpc): ExecutionServiceServer {
  return {
    executeRepl: rpc.unary(ExecutionServiceService.executeRepl, async (req, ctx) => {
      const { execution, events } = await service.executeRepl(req, { signal: ctx.signal });
      return executionResponse(execution, events);
    }),
    executeRunFile: rpc.unary(ExecutionServiceService.executeRunFile, async (req, ctx) => {
      const { execution, events } = await service.executeRunFile(req, { signal: ctx.signal });
      return executionResponse(execution, events);
    }),
    getExecution: rpc.unary(ExecutionServiceService.getExecution, async (req) => {
      const { execution, events } = await service.get(req.executionId);
      return executionResponse(execution, events);
    }),
    listExecutions: rpc.unary(ExecutionServiceService.listExecutions, async (req) => {
      const page = await service.list({ sessionId: req.sessionId, pageSize: req.pageSize, pageToken: req.pageToken });
      return { executions: page.items.map((e) => executionToProto(e)), nextPageToken: page.nextPageToken };
    }),
    listEvents: rpc.unary(ExecutionServiceService.listEvents, async (req) =>
      eventListResponse(await service.listEvents({ executionId: req.executionId, afterSeq: req.afterSeq, limit: req.limit })),
    ),
    cancelExecution: rpc.unary(ExecutionServiceService.cancelExecution, async (req) => {
      const { execution, events } = await service.cancel(req.executionId);
      return executionResponse(execution, events);
    }),
    tailEvents: rpc.stream(ExecutionServiceService.tailEvents, (req, send, ctx) =>
      flushedAfter(eventSender(req.maxBatch, send, TAIL_FIELDS), (events) => live.tail(req, ctx.signal, events)),
    ),
    watchSession: rpc.stream(ExecutionServiceService.watchSession, (req, send, ctx) =>
      flushedAfter(eventSender(req.maxBatch, send, TAIL_FIELDS), (events) => live.watch(req, ctx.signal, events)),
    ),
    streamExecution: rpc.stream(ExecutionServiceService.streamExecution, (req, send, ctx) => {
      const sessionId = requireId("session_id", req.sessionId);
      const spec = req.repl
        ? replSpec({ input: req.repl.input, requestId: req.requestId })
        : req.runFile
          ? runFileSpec({ path: req.runFile.path, args: req.runFile.args, env: req.runFile.env, requestId: req.requestId })
          : undefined;
      if (!spec) throw invalidField("input", "one of repl or run_file is required");
      const events = eventSender(req.maxBatch, send, STREAM_FIELDS);
      return live.stream(sessionId, spec, ctx.signal, {
        started: (execution) => send({ started: executionToProto(execution) }),
        event: events.send,
        finished: async (execution) => {
          await events.flushed();
          await send({ finished: executionToProto(execution) });
        },
      });
    }),
  };
}

/**
 * A stream's events as its client asked: one a response (max_batch 0, in
 * `event`) or batches (in `events`), each event encoded once for all its
 * subscribers (event-wire.ts). `flushed` resolves once every event sent so
 * far is written.
 */
function eventSender<R>(
  maxBatch: number,
  send: (message: R, flushed?: boolean) => Promise<void>,
  fields: EventFields,
): { send: Send; flushed(): Promise<void> } {
  if (maxBatch === 0) return { send: (event) => send(oneEventResponse<R>(event, fields)), flushed: async () => undefined };
  const batches = new EventBatches(maxBatch, (events) => send(batchResponse<R>(events, fields), true));
  return { send: batches.send, flushed: () => batches.flushed() };
}

/** Runs a TailEvents or WatchSession stream; every event is written before it ends. */
async function flushedAfter(events: { send: Send; flushed(): Promise<void> }, run: (send: Send) => Promise<void>): Promise<void> {
  try {
    await run(events.send);
  } finally {
    await events.flushed();
  }
}
