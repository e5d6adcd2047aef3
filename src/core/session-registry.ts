import type { SessionRuntimePort } from "./ports";
import { DomainError } from "./errors";
import type { ExecutionEvent, Session, SessionStatus, TemplateSnapshot } from "./model";

export interface RunningExecution {
  executionId: string;
  sessionId: string;
  requestId: string | null;
  abort: AbortController;
  /** Settles once the execution is finalized (and any restart it caused is over). */
  done: Promise<unknown>;
  /** Every event recorded so far, in seq order (seq = index + 1). */
  events: ExecutionEvent[];
  /**
   * Stores its RUNNING row and its events so far, if not yet (EventRecorder
   * writes them late): a read RPC calls it first, so that what a client has
   * read of an execution is stored, and so survives a crash as CANCELLED.
   */
  store(): Promise<void>;
}

/**
 * Before a read of the store: a running execution's row and events so far
 * are written, if not yet. A failed write is the execution's own to report
 * (it ends ERROR); the read goes on with what is stored.
 */
export async function storeIfRunning(running: RunningExecution | undefined): Promise<void> {
  await running?.store().catch(() => undefined);
}

/** A session that lives in this process: its runtime, lock and counters. */
export class LiveSession {
  runtime: SessionRuntimePort | undefined;
  status: SessionStatus = "STARTING";
  restartCount = 0;
  restoreCount = 0;
  /** Settles when a restore in progress has ended (READY, CRASHED or CLOSED): calls wait for it. */
  restoring: Promise<void> | undefined;
  /** A SYSTEM note for the next execution (the session was restored). */
  notice: string | undefined;
  /** The next execution number (1, 2, 3… per session). */
  nextNumber = 1;
  executionsRun = 0;
  /** When the last execution ended (or the session started): for the idle timeout. */
  lastActivityAt = Date.now();
  /**
   * The session's row when it has not been written yet: a session without
   * startup files is stored once, with the status its start ended in.
   */
  unsavedRow: Session | undefined;
  /**
   * Set by CloseSession until its CLOSED row is written: a cancelled
   * execution must not trigger a restart, and a start it interrupted
   * answers with the closed session.
   */
  closing: Promise<void> | undefined;
  /** The running execution, for cancellation, request_id retries and live readers. */
  current: RunningExecution | undefined;
  private locked = false;

  constructor(
    readonly id: string,
    /** Real path of the worktree. */
    readonly worktree: string,
    readonly template: TemplateSnapshot,
  ) {}

  /** A getter, so checks after an await see the current status. */
  get crashed(): boolean {
    return this.status === "CRASHED";
  }

  get busy(): boolean {
    return this.locked;
  }

  /** Takes the session's lock without waiting: one execution at a time, no queue. */
  lock(): void {
    if (this.locked) throw new DomainError("SESSION_BUSY", `session ${this.id} is running another execution`, { session_id: this.id });
    this.locked = true;
  }

  unlock(): void {
    this.locked = false;
  }
}

/** The one registry of live sessions (and so of live isolates) in this process. */
export class SessionRegistry {
  private readonly sessions = new Map<string, LiveSession>();

  add(session: LiveSession): void {
    this.sessions.set(session.id, session);
  }

  get(id: string): LiveSession | undefined {
    return this.sessions.get(id);
  }

  /** Drops the session and disposes its isolate. */
  remove(id: string): void {
    const session = this.sessions.get(id);
    session?.runtime?.dispose();
    this.sessions.delete(id);
  }

  /** The live session whose current execution is `executionId`. */
  running(executionId: string): RunningExecution | undefined {
    for (const s of this.sessions.values()) if (s.current?.executionId === executionId) return s.current;
    return undefined;
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): LiveSession[] {
    return [...this.sessions.values()];
  }
}
