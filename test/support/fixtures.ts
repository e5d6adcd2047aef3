/**
 * Helpers for the ExecutionService end-to-end suites: worktrees on disk,
 * templates with their sub-resources, sessions, and typed wrappers around the
 * generated clients. Everything goes through real gRPC calls.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  EventType,
  ExecutionStatus,
  type Execution,
  type ExecutionEvent,
  type ListEventsResponse,
  type ListExecutionsResponse,
  type Value,
} from "../../gen/vmsystem/v1/execution";
import { SessionStatus, type Session } from "../../gen/vmsystem/v1/session";
import type { Template, TemplateSettings } from "../../gen/vmsystem/v1/template";
import { unary, type TestServer } from "./server";

export { EventType, ExecutionStatus, SessionStatus };
export type { Execution, ExecutionEvent, Session, Template, Value };

/** A fresh temp directory (realpath'd) holding `files` (path → content). */
export function makeWorktree(files: Record<string, string> = {}, prefix = "vmsystem-wt-"): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  writeFiles(dir, files);
  return dir;
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface TemplateSpec {
  name?: string;
  settings?: TemplateSettings;
  modules?: string[];
  libraries?: string[];
  capabilities?: { kind: string; name: string; config?: Record<string, unknown>; enabled?: boolean }[];
  startupFiles?: { path: string; orderIndex?: number; mode?: string }[];
}

/** Typed client calls over one running test server. */
export class Api {
  private readonly opened: string[] = [];
  private readonly dirs: string[] = [];

  constructor(readonly s: Pick<TestServer, "templates" | "sessions" | "executions">) {}

  async template(spec: TemplateSpec = {}): Promise<Template> {
    const t = await unary<Template>((cb) => this.s.templates.createTemplate({ name: spec.name ?? "exec-test", engine: "", settings: spec.settings }, cb));
    for (const name of spec.modules ?? []) await unary((cb) => this.s.templates.addModule({ templateId: t.id, name }, cb));
    for (const name of spec.libraries ?? []) await unary((cb) => this.s.templates.addLibrary({ templateId: t.id, name }, cb));
    for (const c of spec.capabilities ?? []) {
      await unary((cb) =>
        this.s.templates.addCapability({ templateId: t.id, kind: c.kind, name: c.name, enabled: c.enabled ?? true, config: c.config ?? {} }, cb),
      );
    }
    let i = 0;
    for (const f of spec.startupFiles ?? []) {
      await unary((cb) => this.s.templates.addStartupFile({ templateId: t.id, path: f.path, orderIndex: f.orderIndex ?? i++, mode: f.mode ?? "" }, cb));
    }
    return t;
  }

  /** Creates a session (a new temp worktree unless one is given); closed by `closeAll`. */
  async session(templateId: string, worktreePath?: string): Promise<Session> {
    let dir = worktreePath;
    if (!dir) {
      dir = makeWorktree();
      this.dirs.push(dir);
    }
    const session = await unary<Session>((cb) => this.s.sessions.createSession({ templateId, workspaceId: "w", baseCommitOid: "c", worktreePath: dir }, cb));
    this.opened.push(session.id);
    return session;
  }

  /** A template from `spec` and a READY session on it. */
  async ready(spec: TemplateSpec = {}, worktreePath?: string): Promise<Session> {
    const t = await this.template(spec);
    const session = await this.session(t.id, worktreePath);
    if (session.status !== SessionStatus.SESSION_STATUS_READY) throw new Error(`session not READY: ${SessionStatus[session.status]} ${session.lastError}`);
    return session;
  }

  repl(sessionId: string, input: string, requestId = ""): Promise<Execution> {
    return unary<Execution>((cb) => this.s.executions.executeRepl({ sessionId, input, requestId }, cb));
  }

  runFile(sessionId: string, path: string, opts: { args?: string[]; env?: Record<string, string>; requestId?: string } = {}): Promise<Execution> {
    return unary<Execution>((cb) =>
      this.s.executions.executeRunFile({ sessionId, path, args: opts.args ?? [], env: opts.env ?? {}, requestId: opts.requestId ?? "" }, cb),
    );
  }

  getExecution(executionId: string): Promise<Execution> {
    return unary<Execution>((cb) => this.s.executions.getExecution({ executionId }, cb));
  }

  listExecutions(sessionId: string, pageSize = 0, pageToken = ""): Promise<ListExecutionsResponse> {
    return unary<ListExecutionsResponse>((cb) => this.s.executions.listExecutions({ sessionId, pageSize, pageToken }, cb));
  }

  /** Every execution of a session, newest first, following page tokens. */
  async allExecutions(sessionId: string): Promise<Execution[]> {
    const out: Execution[] = [];
    let token = "";
    do {
      const page = await this.listExecutions(sessionId, 1000, token);
      out.push(...page.executions);
      token = page.nextPageToken;
    } while (token);
    return out;
  }

  listEvents(executionId: string, afterSeq = 0, limit = 0): Promise<ExecutionEvent[]> {
    return unary<ListEventsResponse>((cb) => this.s.executions.listEvents({ executionId, afterSeq, limit }, cb)).then((r) => r.events);
  }

  getSession(sessionId: string): Promise<Session> {
    return unary<Session>((cb) => this.s.sessions.getSession({ sessionId }, cb));
  }

  closeSession(sessionId: string): Promise<Session> {
    return unary<Session>((cb) => this.s.sessions.closeSession({ sessionId }, cb));
  }

  /** Closes every session this Api created (ignoring ones already gone) and removes temp worktrees. */
  async closeAll(): Promise<void> {
    for (const id of this.opened.splice(0)) await this.closeSession(id).catch(() => undefined);
    for (const dir of this.dirs.splice(0)) removeDir(dir);
  }
}

/** Short names for enum values in failure messages. */
export const statusName = (s: ExecutionStatus) => ExecutionStatus[s];
const typeName = (t: EventType) => EventType[t];

/** The VALUE payload of a finished execution (its last event), or undefined. */
export function valueOf(e: Execution): Value | undefined {
  return e.events.find((ev) => ev.type === EventType.EVENT_TYPE_VALUE)?.value;
}

/** The types of an execution's events, as short names (INPUT_ECHO, CONSOLE, …). */
export function eventTypes(e: Execution | ExecutionEvent[]): string[] {
  const events = Array.isArray(e) ? e : e.events;
  return events.map((ev) => EventType[ev.type].replace(/^EVENT_TYPE_/, ""));
}

/** The console events of an execution as `level: text`. */
export function consoleLines(e: Execution): string[] {
  return e.events.filter((ev) => ev.type === EventType.EVENT_TYPE_CONSOLE).map((ev) => `${ev.console!.level}: ${ev.console!.text}`);
}

/** Summarises an execution for assertion messages. */
export function describeExecution(e: Execution): string {
  return JSON.stringify({
    status: statusName(e.status),
    error: e.error,
    events: e.events.map((ev) => ({ seq: ev.seq, type: typeName(ev.type), ...(ev.inputEcho ?? ev.console ?? ev.value ?? ev.exception ?? ev.system ?? {}) })),
  }).slice(0, 3000);
}

/** Asserts OK and returns the execution's VALUE (throws with a readable summary otherwise). */
export function okValue(e: Execution): Value {
  const v = valueOf(e);
  if (e.status !== ExecutionStatus.EXECUTION_STATUS_OK || !v) throw new Error(`expected an OK execution with a VALUE, got ${describeExecution(e)}`);
  return v;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
