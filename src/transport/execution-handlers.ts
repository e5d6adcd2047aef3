import type { ExecutionServiceServer } from "../../gen/vmsystem/v1/execution";
import { ExecutionServiceService } from "../../gen/vmsystem/v1/execution";
import type { ExecutionService } from "../core/execution-service";
import type { Logger } from "../log";
import { unary } from "./call";
import { eventToProto, executionToProto } from "./codec-execution";
import { unimplementedHandlers } from "./unimplemented";

/** ExecutionService over gRPC: decode, call core, encode. Streams land with the live-events milestone. */
export function executionHandlers(service: ExecutionService, log: Logger): ExecutionServiceServer {
  const m = (name: string) => `vmsystem.v1.ExecutionService/${name}`;
  const pending = unimplementedHandlers(ExecutionServiceService, log);
  return {
    ...(pending as unknown as ExecutionServiceServer),
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
  };
}
