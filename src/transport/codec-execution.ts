import * as pb from "../../gen/vmsystem/v1/execution";
import { SessionStatus as PbSessionStatus, type Session as PbSession } from "../../gen/vmsystem/v1/session";
import { invalidField } from "../core/errors";
import type { EventType, Execution, ExecutionEvent, ExecutionKind, ExecutionStatus, Session, SessionStatus, ValueDescription } from "../core/model";

const date = (ms: number | null) => (ms === null ? undefined : new Date(ms));

const KIND: Record<ExecutionKind, pb.ExecutionKind> = {
  REPL: pb.ExecutionKind.EXECUTION_KIND_REPL,
  RUN_FILE: pb.ExecutionKind.EXECUTION_KIND_RUN_FILE,
  STARTUP: pb.ExecutionKind.EXECUTION_KIND_STARTUP,
};
const STATUS: Record<ExecutionStatus, pb.ExecutionStatus> = {
  RUNNING: pb.ExecutionStatus.EXECUTION_STATUS_RUNNING,
  OK: pb.ExecutionStatus.EXECUTION_STATUS_OK,
  ERROR: pb.ExecutionStatus.EXECUTION_STATUS_ERROR,
  TIMEOUT: pb.ExecutionStatus.EXECUTION_STATUS_TIMEOUT,
  CANCELLED: pb.ExecutionStatus.EXECUTION_STATUS_CANCELLED,
};
const EVENT_TYPE: Record<EventType, pb.EventType> = {
  INPUT_ECHO: pb.EventType.EVENT_TYPE_INPUT_ECHO,
  CONSOLE: pb.EventType.EVENT_TYPE_CONSOLE,
  VALUE: pb.EventType.EVENT_TYPE_VALUE,
  EXCEPTION: pb.EventType.EVENT_TYPE_EXCEPTION,
  SYSTEM: pb.EventType.EVENT_TYPE_SYSTEM,
};
const SESSION_STATUS: Record<SessionStatus, PbSessionStatus> = {
  STARTING: PbSessionStatus.SESSION_STATUS_STARTING,
  READY: PbSessionStatus.SESSION_STATUS_READY,
  CLOSED: PbSessionStatus.SESSION_STATUS_CLOSED,
  CRASHED: PbSessionStatus.SESSION_STATUS_CRASHED,
  RESTORING: PbSessionStatus.SESSION_STATUS_RESTORING,
};

export function sessionStatusToProto(status: SessionStatus): PbSessionStatus {
  return SESSION_STATUS[status];
}

/** UNSPECIFIED means "any"; values outside the enum are a validation error. */
export function sessionStatusFromProto(status: PbSessionStatus | undefined): SessionStatus | undefined {
  if (!status) return undefined;
  const found = (Object.keys(SESSION_STATUS) as SessionStatus[]).find((k) => SESSION_STATUS[k] === status);
  if (!found) throw invalidField("status", `unknown session status ${status}`);
  return found;
}

export function sessionToProto(s: Session): PbSession {
  return {
    id: s.id,
    templateId: s.templateId,
    workspaceId: s.workspaceId,
    baseCommitOid: s.baseCommitOid,
    worktreePath: s.worktreePath,
    status: SESSION_STATUS[s.status],
    lastError: s.lastError,
    restartCount: s.restartCount,
    restoreCount: s.restoreCount,
    forkedFromSessionId: s.forkedFromSessionId,
    forkedFromExecutionNumber: s.forkedFromExecutionNumber,
    createdAt: date(s.createdAt),
    closedAt: date(s.closedAt),
    lastActivityAt: date(s.lastActivityAt),
  };
}

function valueToProto(v: ValueDescription): pb.Value {
  return { type: v.type, preview: v.preview, json: v.json };
}

export function eventToProto(e: ExecutionEvent): pb.ExecutionEvent {
  const out: pb.ExecutionEvent = { executionId: e.executionId, seq: e.seq, ts: new Date(e.ts), type: EVENT_TYPE[e.payload.type] };
  const p = e.payload;
  switch (p.type) {
    case "INPUT_ECHO":
      out.inputEcho = { text: p.text };
      break;
    case "CONSOLE":
      out.console = { level: p.level, text: p.text };
      break;
    case "VALUE":
      out.value = valueToProto(p.value);
      break;
    case "EXCEPTION":
      out.exception = { name: p.name, message: p.message, stack: p.stack };
      break;
    case "SYSTEM":
      out.system = { level: p.level, message: p.message };
      break;
  }
  return out;
}

/** An event's ts and payload as eventToProto wrote them. */
export function eventFromProto(e: pb.ExecutionEvent): Pick<ExecutionEvent, "ts" | "payload"> {
  const ts = e.ts ? e.ts.getTime() : 0;
  if (e.inputEcho) return { ts, payload: { type: "INPUT_ECHO", text: e.inputEcho.text } };
  if (e.console) return { ts, payload: { type: "CONSOLE", level: e.console.level, text: e.console.text } };
  if (e.value) return { ts, payload: { type: "VALUE", value: valueFromProto(e.value) } };
  if (e.exception) return { ts, payload: { type: "EXCEPTION", name: e.exception.name, message: e.exception.message, stack: e.exception.stack } };
  if (e.system) return { ts, payload: { type: "SYSTEM", level: e.system.level, message: e.system.message } };
  throw new Error(`event ${e.executionId}#${e.seq} has no payload`);
}

function valueFromProto(v: pb.Value): ValueDescription {
  return v.json === undefined ? { type: v.type, preview: v.preview } : { type: v.type, preview: v.preview, json: v.json as unknown };
}

export function executionToProto(e: Execution, events: ExecutionEvent[] = []): pb.Execution {
  return {
    id: e.id,
    number: e.number,
    sessionId: e.sessionId,
    kind: KIND[e.kind],
    input: e.input,
    path: e.path,
    args: e.args,
    env: e.env,
    status: STATUS[e.status],
    startedAt: date(e.startedAt),
    endedAt: date(e.endedAt),
    result: e.result ? valueToProto(e.result) : undefined,
    error: e.error ?? undefined,
    metrics: e.metrics,
    events: events.map(eventToProto),
    requestId: e.requestId ?? "",
  };
}
