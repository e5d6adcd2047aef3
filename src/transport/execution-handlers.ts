import type { ExecutionServiceServer, StreamExecutionResponse, TailEventsResponse, WatchSessionResponse } from "../../gen/vmsystem/v1/execution";
import { invalidField } from "../core/errors";
import { replSpec, runFileSpec, type ExecutionService } from "../core/execution-service";
import type { LiveEvents } from "../core/live-events";
import type { Logger } from "../log";
import { serverStream, unary } from "./call";
import { eventToProto, executionToProto } from "./codec-execution";
import { requireId } from "../core/validate";

/** ExecutionService over gRPC: decode, call core, encode. */
export function executionHandlers(service: ExecutionService, live: LiveEvents, log: Logger): ExecutionServiceServer {
  const m = (name: string) => `vmsystem.v1.ExecutionService/${name}`;
  return {
    executeRepl: unary(log, m("ExecuteRepl"), async (req, ctx) => {
      const { execution, events } = await service.executeRepl(req, { signal: ctx.signal });
      return executionToProto(execution, events);
    }),
    executeRunFile: unary(log, m("ExecuteRunFile"), async (req, ctx) => {
      const { execution, events } = await service.executeRunFile(req, { signal: ctx.signal });
      return executionToProto(execution, events);
    }),
    getExecution: unary(log, m("GetExecution"), async (req) => {
      const { execution, events } = await service.get(req.executionId);
      return executionToProto(execution, events);
    }),
    listExecutions: unary(log, m("ListExecutions"), async (req) => {
      const page = await service.list({ sessionId: req.sessionId, pageSize: req.pageSize, pageToken: req.pageToken });
      return { executions: page.items.map((e) => executionToProto(e)), nextPageToken: page.nextPageToken };
    }),
    listEvents: unary(log, m("ListEvents"), async (req) => ({
      events: (await service.listEvents({ executionId: req.executionId, afterSeq: req.afterSeq, limit: req.limit })).map(eventToProto),
    })),
    cancelExecution: unary(log, m("CancelExecution"), async (req) => {
      const { execution, events } = await service.cancel(req.executionId);
      return executionToProto(execution, events);
    }),
    tailEvents: serverStream<Parameters<ExecutionServiceServer["tailEvents"]>[0]["request"], TailEventsResponse>(log, m("TailEvents"), (req, send, ctx) =>
      live.tail(req, ctx.signal, (event) => send({ event: eventToProto(event) })),
    ),
    watchSession: serverStream<Parameters<ExecutionServiceServer["watchSession"]>[0]["request"], WatchSessionResponse>(log, m("WatchSession"), (req, send, ctx) =>
      live.watch(req, ctx.signal, (event) => send({ event: eventToProto(event) })),
    ),
    streamExecution: serverStream<Parameters<ExecutionServiceServer["streamExecution"]>[0]["request"], StreamExecutionResponse>(log, m("StreamExecution"), (req, send, ctx) => {
      const sessionId = requireId("session_id", req.sessionId);
      const spec = req.repl
        ? replSpec({ input: req.repl.input, requestId: req.requestId })
        : req.runFile
          ? runFileSpec({ path: req.runFile.path, args: req.runFile.args, env: req.runFile.env, requestId: req.requestId })
          : undefined;
      if (!spec) throw invalidField("input", "one of repl or run_file is required");
      return live.stream(sessionId, spec, ctx.signal, {
        started: (execution) => send({ started: executionToProto(execution) }),
        event: (event) => send({ event: eventToProto(event) }),
        finished: (execution) => send({ finished: executionToProto(execution) }),
      });
    }),
  };
}
