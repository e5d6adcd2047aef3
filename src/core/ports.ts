import type { WorktreeFile } from "../runtime/paths";
import type { ReplayResult, ReplayStep, RunFileOptions, RunHooks, RunLimits, RunResult, RuntimeOptions } from "../runtime/types";
import type { Cursor } from "./pagination";
import type {
  Capability,
  Execution,
  ExecutionError,
  ExecutionEvent,
  ExecutionMetrics,
  ExecutionStatus,
  Session,
  SessionStatus,
  StartupFile,
  Template,
  TemplateLibrary,
  TemplateModule,
  TemplateSettings,
  TemplateSnapshot,
  ValueDescription,
} from "./model";

/**
 * What the template service needs from persistence. Implemented by
 * store/template-store.ts; every method throws when the write fails.
 */
export interface TemplateStore {
  insert(template: Template): Promise<void>;
  get(id: string): Promise<Template | undefined>;
  exists(id: string): Promise<boolean>;
  /** Newest first, strictly after `after`, at most `limit`. */
  list(limit: number, after?: Cursor): Promise<Template[]>;
  delete(id: string): Promise<void>;
  updateSettings(id: string, settings: TemplateSettings, updatedAt: number): Promise<void>;

  addStartupFile(file: StartupFile): Promise<void>;
  listStartupFiles(templateId: string): Promise<StartupFile[]>;
  removeStartupFile(templateId: string, id: string, updatedAt: number): Promise<void>;

  addCapability(capability: Capability): Promise<void>;
  listCapabilities(templateId: string): Promise<Capability[]>;
  removeCapability(templateId: string, id: string, updatedAt: number): Promise<void>;

  /** Adds the module unless present; returns the stored row either way. */
  addModule(module: TemplateModule): Promise<TemplateModule>;
  listModules(templateId: string): Promise<TemplateModule[]>;
  removeModule(templateId: string, name: string, updatedAt: number): Promise<void>;

  addLibrary(library: TemplateLibrary): Promise<TemplateLibrary>;
  listLibraries(templateId: string): Promise<TemplateLibrary[]>;
  removeLibrary(templateId: string, name: string, updatedAt: number): Promise<void>;
}

export interface SessionPatch {
  status?: SessionStatus;
  lastError?: string;
  restartCount?: number;
  restoreCount?: number;
  closedAt?: number | null;
  lastActivityAt?: number;
}

export interface SessionStore {
  /** Stores a new session with the template as it was when the session started. */
  insert(session: Session, template: TemplateSnapshot): Promise<void>;
  get(id: string): Promise<Session | undefined>;
  /** Newest first, strictly after `after`, optionally of one status. */
  list(limit: number, after: Cursor | undefined, status: SessionStatus | undefined): Promise<Session[]>;
  update(id: string, patch: SessionPatch): Promise<void>;
  /**
   * Marks every STARTING/READY row CLOSED (their process is gone); returns how
   * many. Their last_activity_at becomes that of their latest execution (a live
   * session keeps it in memory, so the row may be behind).
   */
  closeOrphans(lastError: string, now: number, statuses?: SessionStatus[]): Promise<number>;
  /** Ids of sessions whose rows say they are live (READY or RESTORING): to be restored, their process being gone. */
  listRestorable(): Promise<string[]>;
  /** The template as it was when the session started. */
  template(id: string): Promise<TemplateSnapshot | undefined>;
}

export interface ExecutionFinish {
  status: ExecutionStatus;
  endedAt: number;
  result: ValueDescription | null;
  error: ExecutionError | null;
  metrics: ExecutionMetrics;
  /** What the execution received from outside its isolate, serialized (core/recordings.ts); null: not replayable. */
  recording?: Uint8Array | null;
  /** Files it ran or imported, by SHA-256 of their text: stored once per distinct content. */
  sources?: RecordedSource[];
}

export interface RecordedSource {
  hash: string;
  text: string;
}

/** A finished execution as a restore replays it. */
export interface RecordedExecution {
  number: number;
  kind: Execution["kind"];
  input: string;
  path: string;
  args: string[];
  env: Record<string, string>;
  status: ExecutionStatus;
  result: ValueDescription | null;
  error: ExecutionError | null;
  recording: Uint8Array | null;
}

/**
 * The bytes the transport sends events as, in which the store keeps each
 * page of events: written once for the live readers and the store, and a
 * replay hands the stored bytes on instead of parsing and encoding every
 * event again. Opaque to core and store: they keep what `pack` made and
 * give it back to `attach`.
 */
export interface EventEncoding {
  /** One blob for a run of consecutive events of one execution. */
  pack(events: ExecutionEvent[]): Uint8Array;
  /**
   * Gives each of `events` its bytes from a blob `pack` made of a run whose
   * entry `from` is events[0]. False when the blob does not hold them
   * (nothing is attached; the caller reads them from elsewhere).
   */
  attach(events: ExecutionEvent[], packed: Uint8Array, from: number): boolean;
  /** The ts and payload of an event `attach` gave its bytes, read from them. */
  read(event: ExecutionEvent): Pick<ExecutionEvent, "ts" | "payload">;
}

export interface ExecutionStore {
  get(id: string): Promise<Execution | undefined>;
  findByRequestId(sessionId: string, requestId: string): Promise<Execution | undefined>;
  /** Newest first by number, strictly below `beforeNumber`. */
  listBySession(sessionId: string, limit: number, beforeNumber?: number): Promise<Execution[]>;
  /**
   * Stores the execution's remaining events and its final state in one
   * transaction: every event is stored before (and with) the final status.
   * The session's row is not written (a live session keeps its last
   * activity in memory). `insert`: the row was never written.
   */
  finish(execution: Execution, finish: ExecutionFinish, remaining: ExecutionEvent[], insert: boolean): Promise<void>;
  /** Appends a batch of events in one transaction, after inserting the RUNNING row when given. */
  appendEvents(events: ExecutionEvent[], insertFirst?: Execution): Promise<void>;
  /** Events with seq > afterSeq, ascending, at most `limit`. */
  listEvents(executionId: string, afterSeq: number, limit: number): Promise<ExecutionEvent[]>;
  /** The session's executions numbered up to `upTo` (all without it), ascending, with their recordings. */
  listRecorded(sessionId: string, upTo?: number): Promise<RecordedExecution[]>;
  /** Texts of recorded sources by hash (a hash that is not stored is absent). */
  loadSources(hashes: string[]): Promise<Map<string, string>>;
  /** Marks RUNNING executions CANCELLED (their process is gone); returns how many. */
  cancelOrphans(message: string, now: number): Promise<number>;
}

/**
 * A session's isolate, wherever it runs (in this process today: see
 * runtime/local-runtimes.ts). The pipeline knows runtimes only through this.
 */
export interface SessionRuntimePort {
  readonly disposed: boolean;
  runRepl(code: string, limits: RunLimits, hooks: RunHooks): Promise<RunResult>;
  /** `file`: a worktree-relative path, or the file as already checked and read. */
  runFile(file: string | WorktreeFile, limits: RunLimits, hooks: RunHooks, options?: RunFileOptions): Promise<RunResult>;
  /** Runs recorded executions again, in order, served their recordings (a restore or a fork); stops at the first that differs. */
  replay(steps: ReplayStep[], signal?: AbortSignal): Promise<ReplayResult>;
  /** As of the latest refresh; never waits for running code. */
  heapUsedBytes(): number;
  dispose(): void;
}

/** Makes sessions' runtimes; the server owns one, as it owns the store. */
export interface Runtimes {
  create(options: RuntimeOptions): Promise<SessionRuntimePort>;
  /** Has a runtime's isolate made ahead for the next create with this memory limit, once the current call has answered. */
  keepSpare(memMb: number): void;
  /** Frees what is held for future creates. */
  close(): Promise<void>;
}
