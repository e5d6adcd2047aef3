import { SessionServiceService, type SessionServiceServer } from "../../gen/vmsystem/v1/session";
import type { SessionService } from "../core/session-service";
import type { Rpc } from "./call";
import { sessionStatusFromProto, sessionStatusToProto, sessionToProto } from "./codec-execution";

/** SessionService over gRPC: decode, call core, encode. */
export function sessionHandlers(service: SessionService, rpc: Rpc): SessionServiceServer {
  return {
    createSession: rpc.unary(SessionServiceService.createSession, async (req) => sessionToProto(await service.create(req))),
    getSession: rpc.unary(SessionServiceService.getSession, async (req) => sessionToProto(await service.get(req.sessionId))),
    listSessions: rpc.unary(SessionServiceService.listSessions, async (req) => {
      const page = await service.list({ pageSize: req.pageSize, pageToken: req.pageToken, status: sessionStatusFromProto(req.status) });
      return { sessions: page.items.map(sessionToProto), nextPageToken: page.nextPageToken };
    }),
    closeSession: rpc.unary(SessionServiceService.closeSession, async (req) => sessionToProto(await service.close(req.sessionId))),
    forkSession: rpc.unary(SessionServiceService.forkSession, async (req) =>
      sessionToProto(await service.fork({ sessionId: req.sessionId, atExecutionNumber: req.atExecutionNumber, worktreePath: req.worktreePath })),
    ),
    getRuntimeSummary: rpc.unary(SessionServiceService.getRuntimeSummary, () => {
      const summary = service.runtimeSummary();
      return { liveSessionCount: summary.liveSessionCount, sessions: summary.sessions.map((s) => ({ ...s, status: sessionStatusToProto(s.status) })) };
    }),
  };
}
