/**
 * Sessions brought back by replay (SPEC, Durable sessions and forks): a
 * session whose holder is gone (a restart of the server, a lost session
 * host) gets a fresh runtime from its template, then runs its recorded
 * history again (recordings.ts plans it, runtime/replay.ts runs it), served
 * what it received the first time. A fork is a new session restored the
 * same way up to the source's execution it names.
 */
import { realpath } from "node:fs/promises";
import type { SessionRestoreMode } from "../config";
import type { Logger } from "../log";
import { DomainError, notFound } from "./errors";
import type { Session } from "./model";
import type { ExecutionStore, Runtimes, SessionStore } from "./ports";
import { planReplay } from "./recordings";
import { runtimeOptionsFor, type HostGrants } from "./runtime-options";
import { LiveSession, type SessionRegistry } from "./session-registry";

export interface RestorerDeps {
  registry: SessionRegistry;
  sessions: SessionStore;
  executions: ExecutionStore;
  runtimes: Runtimes;
  grants: HostGrants;
  log: Logger;
  mode: SessionRestoreMode;
  /** The pipeline's: marks the session CRASHED or CLOSED saying why, frees its isolate, ends its streams. */
  end(live: LiveSession, status: "CRASHED" | "CLOSED", message: string): Promise<void>;
}

export class SessionRestorer {
  constructor(private readonly deps: RestorerDeps) {}

  get enabled(): boolean {
    return this.deps.mode !== "off";
  }

  /**
   * The live session for `sessionId`, restoring it when its row says it is
   * live but no process holds it (the restore runs in the background, the
   * session is in the registry RESTORING at once: callers wait on
   * `live.restoring`). Errors as the pipeline's preparation: not found, not ready.
   */
  async adopt(sessionId: string): Promise<LiveSession> {
    const row = await this.deps.sessions.get(sessionId);
    if (!row) throw notFound("SESSION_NOT_FOUND", sessionId);
    const held = this.deps.registry.get(sessionId);
    if (held) return held;
    const restorable = this.enabled && (row.status === "READY" || row.status === "RESTORING");
    if (!restorable) throw notReady(row);
    const template = await this.deps.sessions.template(sessionId);
    const worktree = await realpath(row.worktreePath).catch(() => undefined);
    const again = this.deps.registry.get(sessionId);
    if (again) return again;
    const live = new LiveSession(sessionId, worktree ?? row.worktreePath, template!);
    live.restartCount = row.restartCount;
    live.restoreCount = row.restoreCount;
    live.lastActivityAt = row.lastActivityAt;
    live.status = "RESTORING";
    this.deps.registry.add(live);
    live.lock();
    const why = !template ? "its template snapshot is missing" : worktree === undefined ? `its worktree ${row.worktreePath} is gone` : undefined;
    live.restoring = (why ? this.giveUp(live, why) : this.restore(live, "the server restarted")).finally(() => {
      live.restoring = undefined;
      live.unlock();
    });
    return live;
  }

  /** Restores every session the store says is live and nothing holds (--session-restore eager), one at a time. */
  async adoptAll(): Promise<void> {
    for (const id of await this.deps.sessions.listRestorable()) {
      if (this.deps.registry.get(id)) continue;
      try {
        await (
          await this.adopt(id)
        ).restoring;
      } catch (err) {
        this.deps.log.error({ err, sessionId: id }, "restoring a session failed");
      }
    }
  }

  /**
   * Replays the session's history into a fresh runtime; the caller holds its
   * lock. Ends READY (a fork: READY; a restore: restore_count + 1 and a
   * notice for the next execution), CRASHED when the replay diverges or
   * cannot run, or CLOSED when the history cannot be replayed.
   */
  async restore(live: LiveSession, reason: string, fork = false): Promise<void> {
    try {
      await this.replay(live, reason, fork);
    } catch (err) {
      await this.failed(live, err);
    }
  }

  private async replay(live: LiveSession, reason: string, fork: boolean): Promise<void> {
    const { sessions, executions, runtimes, grants, log } = this.deps;
    live.status = "RESTORING";
    live.runtime?.dispose();
    live.runtime = undefined;
    await sessions.update(live.id, { status: "RESTORING" });
    const started = performance.now();
    const plan = await planReplay({ sessions, executions }, live.id, live.worktree, live.template.settings.limits);
    live.nextNumber = Math.max(live.nextNumber, plan.lastNumber + 1);
    if (plan.notRestorable) return this.giveUp(live, plan.notRestorable);
    const runtime = await runtimes.create(runtimeOptionsFor(live.template, live.worktree, grants));
    if (this.deps.registry.get(live.id) !== live) return runtime.dispose(); // closed meanwhile
    live.runtime = runtime;
    const result = await runtime.replay(plan.steps);
    if (this.deps.registry.get(live.id) !== live) return;
    if (result.divergence) {
      return this.deps.end(
        live,
        "CRASHED",
        `the session could not be restored: ${plan.labels[result.replayed]} did not run as recorded (${result.divergence.reason})`,
      );
    }
    live.status = "READY";
    live.executionsRun = 0;
    if (!fork) {
      live.restoreCount += 1;
      const partial = plan.partial ? "; some of them had been stopped partway (a limit, a timeout or a cancel), so what they left may differ" : "";
      live.notice = `the session was restored from ${plan.steps.length} executions (${reason})${partial}`;
    }
    await sessions.update(live.id, { status: "READY", restoreCount: live.restoreCount });
    log.info(
      { sessionId: live.id, executions: plan.steps.length, ms: Math.round(performance.now() - started), reason, fork },
      fork ? "forked session" : "restored session",
    );
  }

  /** A history that cannot be replayed: the session is closed, saying why. */
  private giveUp(live: LiveSession, why: string): Promise<void> {
    return this.deps.end(live, "CLOSED", `the session could not be restored: ${why}`);
  }

  private async failed(live: LiveSession, err: unknown): Promise<void> {
    this.deps.log.error({ err, sessionId: live.id }, "restoring a session failed");
    if (this.deps.registry.get(live.id) !== live) return;
    await this.deps.end(live, "CRASHED", `the session could not be restored: ${err instanceof Error ? err.message : String(err)}`).catch(() => undefined);
  }
}

function notReady(row: Session): DomainError {
  return new DomainError("SESSION_NOT_READY", `session ${row.id} is ${row.status}${row.lastError ? `: ${row.lastError}` : ""}`, { status: row.status });
}
