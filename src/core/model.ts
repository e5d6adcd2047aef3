/**
 * The domain model: plain data shared by core, store and transport. No grpc
 * or proto types here; transport/codec.ts translates to and from the wire.
 */

export interface Limits {
  cpuMs: number;
  wallMs: number;
  memMb: number;
  maxEvents: number;
  maxOutputKb: number;
}

interface ResolverSettings {
  roots: string[];
  extensions: string[];
  allowAbsoluteRepoImports: boolean;
}

interface RuntimeSettings {
  esm: boolean;
  strict: boolean;
  console: boolean;
  wasm: boolean;
  dedicatedHost: boolean;
}

export interface TemplateSettings {
  limits: Limits;
  resolver: ResolverSettings;
  runtime: RuntimeSettings;
}

/** Settings as a request states them: every field may be absent. */
export interface PartialSettings {
  limits?: Partial<Limits>;
  resolver?: Partial<ResolverSettings>;
  runtime?: Partial<RuntimeSettings>;
}

export type StartupMode = "eval" | "module";

export interface StartupFile {
  id: string;
  templateId: string;
  path: string;
  orderIndex: number;
  mode: StartupMode;
  createdAt: number;
}

export const CAPABILITY_KINDS = ["module", "global", "fs", "net", "env"] as const;
export type CapabilityKind = (typeof CAPABILITY_KINDS)[number];

export interface Capability {
  id: string;
  templateId: string;
  kind: CapabilityKind;
  name: string;
  enabled: boolean;
  config: Record<string, unknown>;
  createdAt: number;
}

export interface TemplateModule {
  templateId: string;
  name: string;
  createdAt: number;
}

export interface TemplateLibrary {
  templateId: string;
  name: string;
  version: string;
  createdAt: number;
}

export interface Template {
  id: string;
  name: string;
  engine: string;
  settings: TemplateSettings;
  startupFiles: StartupFile[];
  capabilities: Capability[];
  modules: TemplateModule[];
  libraries: TemplateLibrary[];
  createdAt: number;
  updatedAt: number;
}

/** What a session needs of its template, frozen when the session starts. */
export type TemplateSnapshot = Omit<Template, "createdAt" | "updatedAt">;

export type SessionStatus = "STARTING" | "READY" | "CLOSED" | "CRASHED" | "RESTORING";
export type ExecutionKind = "REPL" | "RUN_FILE" | "STARTUP";
export type ExecutionStatus = "RUNNING" | "OK" | "ERROR" | "TIMEOUT" | "CANCELLED";
export type EventType = "INPUT_ECHO" | "CONSOLE" | "VALUE" | "EXCEPTION" | "SYSTEM";

export interface ValueDescription {
  type: string;
  preview: string;
  /** Present only when a JSON round trip is lossless (may be null). */
  json?: unknown;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export interface Session {
  id: string;
  templateId: string;
  workspaceId: string;
  baseCommitOid: string;
  worktreePath: string;
  status: SessionStatus;
  lastError: string;
  restartCount: number;
  /** Times the session was brought back by replay after its holder was lost. */
  restoreCount: number;
  /** A fork's source session and the execution (of the source) whose state it started from; "" and 0 otherwise. */
  forkedFromSessionId: string;
  forkedFromExecutionNumber: number;
  createdAt: number;
  closedAt: number | null;
  lastActivityAt: number;
}

export interface ExecutionError {
  code: string;
  message: string;
}

export interface ExecutionMetrics {
  durationMs: number;
  cpuMs: number;
  eventCount: number;
  outputBytes: number;
}

export interface Execution {
  id: string;
  number: number;
  sessionId: string;
  kind: ExecutionKind;
  input: string;
  path: string;
  args: string[];
  env: Record<string, string>;
  status: ExecutionStatus;
  requestId: string | null;
  startedAt: number;
  endedAt: number | null;
  result: ValueDescription | null;
  error: ExecutionError | null;
  metrics: ExecutionMetrics;
}

export type EventPayload =
  | { type: "INPUT_ECHO"; text: string }
  | { type: "CONSOLE"; level: string; text: string }
  | { type: "VALUE"; value: ValueDescription }
  | { type: "EXCEPTION"; name: string; message: string; stack: string }
  | { type: "SYSTEM"; level: string; message: string };

export interface ExecutionEvent {
  executionId: string;
  seq: number;
  ts: number;
  payload: EventPayload;
}

/** An execution as the unary RPCs return it: finished, with its events. */
export interface ExecutionWithEvents {
  execution: Execution;
  events: ExecutionEvent[];
}
