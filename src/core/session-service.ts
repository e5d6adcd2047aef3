import { randomUUID } from "node:crypto";
import { formatDuration } from "../config";
import type { Logger } from "../log";
import type { EventBus } from "./event-bus";
import { checkWithinCeilings, type Ceilings } from "./ceilings";
import { DomainError, invalidField, notFound } from "./errors";
import type { ExecutionPipeline } from "./execution-pipeline";
import type { Page, Session, SessionStatus } from "./model";
import { decodeCursor, encodeCursor, pageSize, type PageRequest } from "./pagination";
import type { ExecutionStore, SessionStore } from "./ports";
import { LiveSession, type SessionRegistry } from "./session-registry";
import type { TemplateService } from "./template-service";
import { requireId, requireText } from "./validate";
import { checkWorktree } from "./worktree";

export interface CreateSessionInput {
  templateId?: string;
  workspaceId?: string;
  baseCommitOid?: string;
  worktreePath?: string;
}

export interface ForkSessionInput {
  sessionId?: string;
  /** 0 or absent: the source's latest finished execution. */
  atExecutionNumber?: number;
  /** Absent: the source's worktree. */
  worktreePath?: string;
}

export interface RuntimeSummary {
  liveSessionCount: number;
  sessions: { sessionId: string; status: SessionStatus; heapUsedBytes: number; executionsRun: number; restartCount: number }[];
}

export interface SessionServiceDeps {
  templates: TemplateService;
  sessions: SessionStore;
  executions: ExecutionStore;
  registry: SessionRegistry;
  pipeline: ExecutionPipeline;
  bus: EventBus;
  worktreeRoots: string[];
  ceilings: Ceilings;
  log: Logger;
  now?: () => number;
}

/** SessionService: live runtimes started from templates. */
export class SessionService {
  private readonly now: () => number;
  /** Creates past the --max-sessions check that are not in the registry yet. */
  private creating = 0;

  constructor(private readonly deps: SessionServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Rows a previous process left STARTING/READY, or executions it left
   * RUNNING, cannot be live any more: close and cancel them, saying why.
   */
  async recoverFromRestart(): Promise<void> {
    const now = this.now();
    const restoring = this.deps.pipeline.restorer.enabled;
    // Sessions first: their last activity is read from executions as the previous process left them.
    // READY ones come back by replay (restorer.adopt) unless restore is off; one that was still starting cannot.
    const closed = restoring
      ? await this.deps.sessions.closeOrphans("the server restarted while the session was starting: the session's runtime was lost", now, ["STARTING"])
      : await this.deps.sessions.closeOrphans("the server restarted: the session's runtime was lost", now);
    const cancelled = await this.deps.executions.cancelOrphans("the server restarted while the execution was running", now);
    if (closed || cancelled) this.deps.log.info({ closedSessions: closed, cancelledExecutions: cancelled }, "recovered from a previous run");
  }

  /** --session-restore eager: restores, in the background, every session a previous process left live. */
  restoreAll(): Promise<void> {
    return this.deps.pipeline.restorer.adoptAll();
  }

  async create(input: CreateSessionInput): Promise<Session> {
    const templateId = requireId("template_id", input.templateId);
    const workspaceId = requireText("workspace_id", input.workspaceId);
    const baseCommitOid = requireText("base_commit_oid", input.baseCommitOid);
    const worktreePath = requireText("worktree_path", input.worktreePath, 4096);
    const template = await this.deps.templates.get(templateId);
    const worktree = await checkWorktree(worktreePath, this.deps.worktreeRoots);
    const { createdAt: _c, updatedAt: _u, ...snapshot } = template;
    // Templates outlive server flags: one written under higher ceilings does not start.
    checkWithinCeilings(snapshot.settings.limits, this.deps.ceilings.limits, "the template's settings.limits");
    this.reserveSlot();
    const session = this.newRow({ templateId, workspaceId, baseCommitOid, worktreePath, status: "STARTING" });
    const live = new LiveSession(session.id, worktree, snapshot);
    // Startup executions reference the session row, so it must exist first;
    // without them the row is written once, READY or CRASHED.
    try {
      if (snapshot.startupFiles.length > 0) await this.deps.sessions.insert(session, snapshot);
      else live.unsavedRow = session;
      this.deps.registry.add(live);
    } finally {
      this.creating--;
    }
    live.lock();
    try {
      await this.deps.pipeline.boot(live);
    } catch (err) {
      this.deps.log.error({ err, sessionId: session.id }, "session start failed");
      await this.deps.pipeline.crash(live, "the session could not start (see the server log)");
    } finally {
      live.unlock();
    }
    this.deps.pipeline.keepSpare(snapshot.settings.limits.memMb);
    if (live.closing) await live.closing;
    if (live.status === "READY" && !live.closing) return { ...session, status: "READY", lastActivityAt: live.lastActivityAt };
    return this.get(session.id);
  }

  /**
   * A new READY session holding the state `input.sessionId` had right after
   * execution `atExecutionNumber`, built by replay; the source is untouched.
   */
  async fork(input: ForkSessionInput): Promise<Session> {
    const sourceId = requireId("session_id", input.sessionId);
    const source = await this.deps.sessions.get(sourceId);
    if (!source) throw notFound("SESSION_NOT_FOUND", sourceId);
    const worktreePath = input.worktreePath === undefined ? source.worktreePath : requireText("worktree_path", input.worktreePath, 4096);
    const worktree = await checkWorktree(worktreePath, this.deps.worktreeRoots);
    const at = await this.forkPoint(sourceId, input.atExecutionNumber ?? 0);
    // A fork is a use of its source (SPEC): one its previous process left live starts coming back now (--session-restore lazy).
    if (!this.deps.registry.get(sourceId)) void this.deps.pipeline.restorer.adopt(sourceId).catch(() => undefined);
    const snapshot = await this.deps.sessions.template(sourceId);
    if (!snapshot) throw new DomainError("INTERNAL", `session ${sourceId} has no template snapshot`);
    checkWithinCeilings(snapshot.settings.limits, this.deps.ceilings.limits, "the source session's settings.limits");
    this.reserveSlot();
    const { templateId, workspaceId, baseCommitOid } = source;
    const session = this.newRow({
      templateId,
      workspaceId,
      baseCommitOid,
      worktreePath,
      status: "RESTORING",
      forkedFromSessionId: sourceId,
      forkedFromExecutionNumber: at,
    });
    const live = new LiveSession(session.id, worktree, snapshot);
    live.status = "RESTORING";
    try {
      await this.deps.sessions.insert(session, snapshot);
      this.deps.registry.add(live);
    } finally {
      this.creating--;
    }
    live.lock();
    try {
      await this.deps.pipeline.restorer.restore(live, `forked from session ${sourceId} at execution ${at}`, true);
    } finally {
      live.unlock();
    }
    return this.get(session.id);
  }

  /** The source's execution a fork starts after: the one named (finished in its process), or the latest such (0). */
  private async forkPoint(sourceId: string, requested: number): Promise<number> {
    const rows = await this.deps.executions.listRecorded(sourceId, requested > 0 ? requested : undefined);
    // 0: the latest finished one; none yet: the state its template starts with.
    if (requested === 0) return [...rows].reverse().find((r) => r.recording !== null)?.number ?? 0;
    const row = rows.find((r) => r.number === requested);
    if (!row) throw invalidField("at_execution_number", `session ${sourceId} has no execution ${requested}`);
    if (row.recording === null) {
      throw invalidField(
        "at_execution_number",
        `execution ${requested} of session ${sourceId} has no recording to fork from (it is running, never ran code, or was cut short)`,
      );
    }
    return requested;
  }

  /** A new session's row: a fresh id, no restarts or restores yet, created now. */
  private newRow(
    fields: Pick<Session, "templateId" | "workspaceId" | "baseCommitOid" | "worktreePath" | "status"> &
      Partial<Pick<Session, "forkedFromSessionId" | "forkedFromExecutionNumber">>,
  ): Session {
    const now = this.now();
    return {
      id: randomUUID(),
      lastError: "",
      restartCount: 0,
      restoreCount: 0,
      forkedFromSessionId: "",
      forkedFromExecutionNumber: 0,
      createdAt: now,
      closedAt: null,
      lastActivityAt: now,
      ...fields,
    };
  }

  /** Counts a create against --max-sessions until its session is in the registry (checked and taken in one turn). */
  private reserveSlot(): void {
    const { maxSessions } = this.deps.ceilings;
    if (this.deps.registry.size + this.creating >= maxSessions) {
      throw new DomainError("SESSION_LIMIT", `this server already holds its maximum of ${maxSessions} live sessions (--max-sessions): close one first`, {
        limit: String(maxSessions),
      });
    }
    this.creating++;
  }

  async get(sessionId: string | undefined): Promise<Session> {
    const id = requireId("session_id", sessionId);
    const session = await this.deps.sessions.get(id);
    if (!session) throw notFound("SESSION_NOT_FOUND", id);
    return this.withLiveActivity(session);
  }

  /** A live session's last activity is kept in memory (executions do not write it to the row). */
  private withLiveActivity(session: Session): Session {
    const live = this.deps.registry.get(session.id);
    return live && live.lastActivityAt > session.lastActivityAt ? { ...session, lastActivityAt: live.lastActivityAt } : session;
  }

  async list(request: PageRequest & { status?: SessionStatus }): Promise<Page<Session>> {
    const size = pageSize(request.pageSize);
    const rows = await this.deps.sessions.list(size + 1, decodeCursor(request.pageToken), request.status);
    const items = rows.slice(0, size).map((s) => this.withLiveActivity(s));
    const last = items[items.length - 1];
    return { items, nextPageToken: rows.length > size && last ? encodeCursor({ key: last.createdAt, id: last.id }) : "" };
  }

  /**
   * Closes sessions idle for `timeoutMs`: no execution running or ended
   * within it, and no open stream watching them. Returns a stop function.
   */
  startIdleSweeper(timeoutMs: number): () => void {
    const sweep = async () => {
      const now = this.now();
      for (const live of this.deps.registry.all()) {
        if (live.busy || live.current || live.status !== "READY") continue;
        if (now - live.lastActivityAt < timeoutMs || this.deps.bus.subscriberCount(live.id) > 0) continue;
        this.deps.log.info({ sessionId: live.id, idleMs: now - live.lastActivityAt }, "closing idle session");
        await this.close(live.id, `closed by the server after ${formatDuration(timeoutMs)} without activity (--session-idle-timeout)`).catch((err: unknown) =>
          this.deps.log.error({ err, sessionId: live.id }, "closing an idle session failed"),
        );
      }
    };
    const timer = setInterval(() => void sweep(), Math.max(50, Math.min(timeoutMs / 4, 10_000)));
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Disposes the runtime and marks the session CLOSED; closing a closed session returns it. */
  async close(sessionId: string | undefined, reason?: string): Promise<Session> {
    const session = await this.get(sessionId);
    if (session.status === "CLOSED") return session;
    const live = this.deps.registry.get(session.id);
    // Set before the running execution is cancelled, so that nothing it
    // ends can restart the session; settled once CLOSED is stored (or failed to be).
    let settle = () => {};
    if (live) live.closing = new Promise<void>((resolve) => (settle = resolve));
    try {
      await this.markClosed(session.id, live, reason);
    } finally {
      settle();
    }
    return this.get(session.id);
  }

  private async markClosed(sessionId: string, live: LiveSession | undefined, reason: string | undefined): Promise<void> {
    if (live) {
      const running = live.current;
      if (running) {
        running.abort.abort();
        await running.done;
      }
      this.deps.registry.remove(sessionId);
    }
    const now = this.now();
    try {
      await this.deps.sessions.update(sessionId, { status: "CLOSED", closedAt: now, lastActivityAt: now, ...(reason ? { lastError: reason } : {}) });
    } finally {
      this.deps.bus.publish(sessionId, { kind: "closed" });
    }
  }

  runtimeSummary(): RuntimeSummary {
    const sessions = this.deps.registry.all().map((s) => ({
      sessionId: s.id,
      status: s.status,
      heapUsedBytes: s.runtime?.heapUsedBytes() ?? 0,
      executionsRun: s.executionsRun,
      restartCount: s.restartCount,
    }));
    return { liveSessionCount: sessions.length, sessions };
  }

  /** Disposes every live isolate (server shutdown). */
  disposeAll(): void {
    for (const s of this.deps.registry.all()) this.deps.registry.remove(s.id);
  }
}
