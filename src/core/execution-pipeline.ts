import type { SessionRestoreMode } from "../config";
import { RuntimeError, type RunResult } from "../runtime/types";
import type { Logger } from "../log";
import { DomainError, invalidField, notFound } from "./errors";
import type { EventBus } from "./event-bus";
import { endingOf, type Failure } from "./execution-ending";
import { EventRecorder } from "./event-recorder";
import { timeOrderedUuid } from "./ids";
import type { Execution, ExecutionEvent, ExecutionKind, ExecutionWithEvents, StartupMode } from "./model";
import type { ExecutionFinish, ExecutionStore, RecordedSource, Runtimes, SessionPatch, SessionRuntimePort, SessionStore } from "./ports";
import { RecordingWriter } from "./recordings";
import { runtimeOptionsFor, type HostGrants } from "./runtime-options";
import { storeIfRunning, type LiveSession, type SessionRegistry } from "./session-registry";
import { SessionRestorer } from "./session-restorer";
import { checkRelativePath, readRunFile, type WorktreeFile } from "./worktree";

/** What to run; kinds differ only in these fields. */
export interface ExecutionSpec {
  kind: ExecutionKind;
  input?: string;
  path?: string;
  args?: string[];
  env?: Record<string, string>;
  mode?: StartupMode;
  requestId?: string;
  /** A run-file's target as checked and read under the session's lock: what runs is what was checked. */
  file?: WorktreeFile;
}

export interface ExecuteOptions {
  /** Aborting cancels the execution (client cancel, deadline, CancelExecution). */
  signal?: AbortSignal;
  /** Called once the RUNNING record exists (StreamExecution's `started`). */
  onStarted?: (execution: Execution) => void;
}

export interface PipelineDeps {
  registry: SessionRegistry;
  sessions: SessionStore;
  executions: ExecutionStore;
  bus: EventBus;
  grants: HostGrants;
  runtimes: Runtimes;
  log: Logger;
  /** --session-restore (default lazy); off also records nothing. */
  restore?: SessionRestoreMode;
  now?: () => number;
}

const EVENT_PAGE = 10_000;

/**
 * The one execution pipeline, shared by REPL, run-file and startup
 * executions: prepare the session (lookup, ready check, lock), construct the
 * record, record events, finalize success and failure alike.
 */
export class ExecutionPipeline {
  private readonly now: () => number;
  /** Set once the server stops: its cancels are not the code's failures. */
  private shuttingDown = false;
  /** Executions whose finishing write failed, with a function that retries it. */
  private readonly unfinished = new Map<string, () => Promise<boolean>>();
  readonly restorer: SessionRestorer;
  private readonly recordings = new RecordingWriter();

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
    this.restorer = new SessionRestorer({ ...deps, mode: deps.restore ?? "lazy", end: (live, status, message) => this.end(live, status, message) });
  }

  /** Runs a client's REPL snippet or file. */
  async execute(sessionId: string, spec: ExecutionSpec, options: ExecuteOptions = {}): Promise<ExecutionWithEvents> {
    const retried = await this.replay(sessionId, spec, options.signal);
    if (retried) return retried;
    // A malformed path is bad input whatever the session is doing: checked first.
    const worktree = this.deps.registry.get(sessionId)?.worktree;
    if (spec.kind === "RUN_FILE" && worktree) checkRelativePath(worktree, spec.path ?? "");
    const live = await this.prepare(sessionId, options.signal);
    try {
      const notice = (await this.reviveIfLost(live)) ?? live.notice;
      live.notice = undefined;
      // The file system is the session's state: checked under its lock, before any record exists.
      const file = spec.kind === "RUN_FILE" ? await readRunFile(live.worktree, spec.path ?? "") : undefined;
      return await this.run(live, { ...spec, file }, options, notice);
    } finally {
      live.unlock();
    }
  }

  /** The server is stopping: what it cancels from now on ends no session. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  /**
   * (Re)creates the session's isolate and runs its startup files; the caller
   * holds the lock. Ends READY, or CRASHED with last_error.
   */
  async boot(live: LiveSession): Promise<void> {
    live.status = "STARTING";
    let runtime: SessionRuntimePort;
    try {
      runtime = live.runtime = await this.deps.runtimes.create(runtimeOptionsFor(live.template, live.worktree, this.deps.grants));
    } catch (err) {
      return this.crash(live, `the runtime could not start: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const file of live.template.startupFiles) {
      // Closed while starting (CloseSession cancelled the file running and writes CLOSED), or crashed by a file.
      if (live.closing || live.crashed) break;
      const { execution } = await this.run(live, { kind: "STARTUP", path: file.path, mode: file.mode }, {});
      // Cancelled by the server's own shutdown: the file did not fail. The
      // session stays STARTING, which the next start closes as restarted.
      if (execution.status !== "OK" && this.shuttingDown) return;
      if (execution.status !== "OK" && !live.closing && !live.crashed)
        return this.crash(live, `startup file ${file.path} failed: ${execution.error?.message ?? execution.status}`);
    }
    if (live.closing) return runtime.dispose();
    if (live.crashed) return;
    live.status = "READY";
    live.lastActivityAt = this.now();
    await this.saveSession(live, { status: "READY", restartCount: live.restartCount, lastActivityAt: live.lastActivityAt });
  }

  /**
   * Has an isolate made for the next session with this memory limit, once
   * the current call has answered (Runtimes.keepSpare).
   */
  keepSpare(memMb: number): void {
    this.deps.runtimes.keepSpare(memMb);
  }

  /** Writes a session status change (inserting the row on its first write). */
  private async saveSession(live: LiveSession, patch: SessionPatch): Promise<void> {
    const row = live.unsavedRow;
    if (!row) return this.deps.sessions.update(live.id, patch);
    live.unsavedRow = undefined;
    await this.deps.sessions.insert({ ...row, ...patch }, live.template);
  }

  /** Marks a live session CRASHED and frees its isolate. */
  crash(live: LiveSession, message: string): Promise<void> {
    return this.end(live, "CRASHED", message);
  }

  /** Ends a live session (CRASHED, or CLOSED by the server) saying why, frees its isolate and ends its streams. */
  async end(live: LiveSession, status: "CRASHED" | "CLOSED", message: string): Promise<void> {
    live.status = status;
    this.deps.registry.remove(live.id);
    const now = this.now();
    try {
      await this.saveSession(live, { status, lastError: message, lastActivityAt: now, ...(status === "CLOSED" ? { closedAt: now } : {}) });
    } finally {
      this.deps.bus.publish(live.id, { kind: "closed" });
    }
  }

  /** Session preparation: lookup (SESSION_NOT_FOUND), ready check (SESSION_NOT_READY), lock (SESSION_BUSY). */
  private async prepare(sessionId: string, signal?: AbortSignal): Promise<LiveSession> {
    if (!sessionId) throw invalidField("session_id", "is required");
    let live = this.deps.registry.get(sessionId) ?? (await this.restorer.adopt(sessionId));
    // Restoring: wait for READY within the caller's deadline, then take the lock as usual.
    if (live.restoring) {
      await untilAborted(live.restoring, signal);
      live = this.deps.registry.get(sessionId) ?? (await this.restorer.adopt(sessionId));
    }
    // A restart holds the lock while STARTING: callers see BUSY until READY.
    if (!live.busy && live.status !== "READY") throw new DomainError("SESSION_NOT_READY", `session ${sessionId} is ${live.status}`, { status: live.status });
    live.lock();
    return live;
  }

  /** A retried request_id returns the first execution (waiting for it if it still runs) and runs nothing. */
  private async replay(sessionId: string, spec: ExecutionSpec, signal?: AbortSignal): Promise<ExecutionWithEvents | undefined> {
    if (!spec.requestId) return undefined;
    const running = this.deps.registry.get(sessionId)?.current;
    if (running?.requestId === spec.requestId) await untilAborted(running.done, signal);
    const first = await this.deps.executions.findByRequestId(sessionId, spec.requestId);
    if (!first) return undefined;
    if (!sameRequest(first, spec)) throw invalidField("request_id", "was already used on this session for a different request");
    return this.load(first.id);
  }

  /** An execution with all its events, as stored (a running one is stored first). */
  async load(executionId: string): Promise<ExecutionWithEvents> {
    await storeIfRunning(this.deps.registry.running(executionId));
    return this.loadStored(executionId);
  }

  private async loadStored(executionId: string): Promise<ExecutionWithEvents> {
    const execution = await this.deps.executions.get(executionId);
    if (!execution) throw notFound("EXECUTION_NOT_FOUND", executionId);
    const events: ExecutionEvent[] = [];
    for (;;) {
      const page = await this.deps.executions.listEvents(executionId, events.length ? events[events.length - 1].seq : 0, EVENT_PAGE);
      events.push(...page);
      if (page.length < EVENT_PAGE) return { execution, events };
    }
  }

  /**
   * A runtime lost while its session was idle (its session host ended) is
   * restarted before the next execution, as after a run that lost it; that
   * execution's events say the state was lost. The caller holds the lock.
   */
  private async reviveIfLost(live: LiveSession): Promise<string | undefined> {
    if (!live.runtime?.disposed) return undefined;
    if (this.restorer.enabled) {
      await this.restorer.restore(live, "its session host was lost while the session was idle");
      if (live.status !== "READY") throw new DomainError("SESSION_NOT_READY", `session ${live.id} is ${live.status}`, { status: live.status });
      return live.notice;
    }
    await this.restart(live);
    if (live.status !== "READY") throw new DomainError("SESSION_NOT_READY", `session ${live.id} is ${live.status}`, { status: live.status });
    return "the session's isolate was lost while the session was idle: the session restarted and its in-memory state is lost";
  }

  /** Record, run, finalize: the lifecycle every kind shares. The caller holds the lock. */
  private async run(live: LiveSession, spec: ExecutionSpec, options: ExecuteOptions, notice?: string): Promise<ExecutionWithEvents> {
    const execution = this.newRecord(live, spec);
    const abort = new AbortController();
    const onCallerAbort = () => abort.abort();
    options.signal?.addEventListener("abort", onCallerAbort, { once: true });
    let settle!: () => void;
    const limits = live.template.settings.limits;
    const recorder = new EventRecorder(execution, limits, this.deps.executions, this.deps.bus);
    live.current = {
      executionId: execution.id,
      sessionId: live.id,
      requestId: execution.requestId,
      abort,
      done: new Promise<void>((r) => (settle = r)),
      events: recorder.events,
      store: () => recorder.storeRecord(),
    };
    try {
      if (options.onStarted) {
        // The client learns the id now, so the row must exist now.
        await recorder.storeRecord();
        options.onStarted(execution);
      }
      recorder.record({ type: "INPUT_ECHO", text: spec.kind === "REPL" ? (spec.input ?? "") : (spec.path ?? "") });
      if (notice) recorder.record({ type: "SYSTEM", level: "warn", message: notice });
      if (options.signal?.aborted) abort.abort();
      const [result, file] = await this.runCode(live, spec, recorder, abort.signal);
      return await this.finalize(live, execution, recorder, result, spec, file);
    } finally {
      options.signal?.removeEventListener("abort", onCallerAbort);
      live.current = undefined;
      settle();
    }
  }

  private newRecord(live: LiveSession, spec: ExecutionSpec): Execution {
    return {
      id: timeOrderedUuid(),
      number: live.nextNumber++,
      sessionId: live.id,
      kind: spec.kind,
      input: spec.input ?? "",
      path: spec.path ?? "",
      args: spec.args ?? [],
      env: spec.env ?? {},
      status: "RUNNING",
      requestId: spec.requestId || null,
      startedAt: this.now(),
      endedAt: null,
      result: null,
      error: null,
      metrics: { durationMs: 0, cpuMs: 0, eventCount: 0, outputBytes: 0 },
    };
  }

  private async runCode(
    live: LiveSession,
    spec: ExecutionSpec,
    recorder: EventRecorder,
    signal: AbortSignal,
  ): Promise<[RunResult | (Failure & { cpuMs?: number }), WorktreeFile | undefined]> {
    const runtime = live.runtime;
    if (!runtime || runtime.disposed) return [{ kind: "failure", code: "INTERNAL", message: "the session has no live isolate" }, undefined];
    const { cpuMs, wallMs } = live.template.settings.limits;
    const record = this.restorer.enabled;
    const hooks = { onConsole: (level: string, text: string) => recorder.console(level, text), consoleBudget: () => recorder.consoleBudget(), signal, record };
    let file: WorktreeFile | undefined;
    try {
      if (spec.kind === "REPL") return [await runtime.runRepl(spec.input ?? "", { cpuMs, wallMs }, hooks), undefined];
      // Read here (a startup file too), so that what ran is what the recording keeps.
      file = spec.file ?? (await readRunFile(live.worktree, spec.path ?? ""));
      return [await runtime.runFile(file, { cpuMs, wallMs }, hooks, { args: spec.args, env: spec.env, mode: spec.mode }), file];
    } catch (err) {
      if (err instanceof DomainError || err instanceof RuntimeError) {
        const code = err instanceof DomainError ? err.reason : err.code;
        return [{ kind: "failure", code, message: err.message }, undefined];
      }
      this.deps.log.error({ err, sessionId: live.id }, "execution failed inside the host");
      return [{ kind: "failure", code: "INTERNAL", message: "internal error while running the code (see the server log)" }, undefined];
    }
  }

  /**
   * What the session does once the execution is stored. A run that disposed
   * its isolate is followed by a restart (a startup file's: by its failure),
   * by a restore when its session host was lost under it, and by nothing
   * while the session closes or the server stops (its state is simply gone).
   */
  private followUp(
    live: LiveSession,
    kind: ExecutionKind,
    ending: { then: string },
    result: RunResult | Failure,
  ): "nothing" | "crash" | "restart" | "restore" | "gone" {
    if (ending.then === "crash") return "crash";
    if (ending.then !== "restart" || kind === "STARTUP") return "nothing";
    if (live.closing || this.shuttingDown) return "gone";
    return hostLoss(result) && this.restorer.enabled ? "restore" : "restart";
  }

  /**
   * The execution's recording as its row keeps it, or null when a restore
   * must not replay it: it never ran code, ended its session, was cut short
   * by its session host's loss, or took its isolate with it when no restart
   * followed (a restore starts from what came before it). One followed by a
   * restart marks it: a restore starts after it.
   */
  private recordingOf(
    result: RunResult | Failure,
    follow: ReturnType<ExecutionPipeline["followUp"]>,
    spec: ExecutionSpec,
    file: WorktreeFile | undefined,
  ): { recording: Uint8Array | null; sources: RecordedSource[] } {
    if (!this.restorer.enabled || !("outcome" in result) || hostLoss(result) || follow === "crash" || follow === "gone") {
      return { recording: null, sources: [] };
    }
    const { bytes, sources } = this.recordings.encode(result.recording, file, spec.kind === "STARTUP" ? spec.mode : undefined, follow === "restart");
    return { recording: bytes, sources };
  }

  /** The one finalizer, for success and failure alike. Every write is checked. */
  private async finalize(
    live: LiveSession,
    execution: Execution,
    recorder: EventRecorder,
    result: RunResult | (Failure & { cpuMs?: number }),
    spec: ExecutionSpec,
    file: WorktreeFile | undefined,
  ): Promise<ExecutionWithEvents> {
    const outcome = "outcome" in result ? result.outcome : result;
    const limits = live.template.settings.limits;
    const limitEvent = recorder.events[recorder.events.length - 1]?.payload;
    const ending = endingOf(outcome, limits, limitEvent?.type === "SYSTEM" ? limitEvent.message : undefined);
    for (const payload of ending.events) recorder.record(payload);
    const follow = this.followUp(live, execution.kind, ending, result);
    const { recording, sources } = this.recordingOf(result, follow, spec, file);
    const overflow = "outcome" in result ? result.recording?.overflow : undefined;
    if (overflow) {
      recorder.record({
        type: "SYSTEM",
        level: "warn",
        message: `this execution's recording passed its cap (${overflow}): the session can no longer be restored after a restart of the server, and one would close it`,
      });
    }
    let { status, error } = ending;
    let remaining: ExecutionEvent[] = [];
    try {
      remaining = await recorder.settle();
    } catch (err) {
      this.deps.log.error({ err, executionId: execution.id }, "events could not be stored");
      status = "ERROR";
      error = { code: "INTERNAL", message: "the execution's events could not be stored" };
    }
    const endedAt = this.now();
    const finish: ExecutionFinish = {
      status,
      endedAt,
      recording,
      sources,
      result: status === "OK" ? ending.result : null,
      error,
      metrics: {
        durationMs: endedAt - execution.startedAt,
        cpuMs: Math.round(result.cpuMs ?? 0),
        eventCount: recorder.events.length,
        outputBytes: recorder.outputBytes,
      },
    };
    let stored: ExecutionWithEvents = { execution: { ...execution, ...finish }, events: recorder.events };
    try {
      await this.deps.executions.finish(execution, finish, remaining, !recorder.recordStored);
      if (sources.length) this.recordings.stored(sources);
    } catch (err) {
      this.deps.log.error({ err, executionId: execution.id }, "the end of an execution could not be stored");
      // Its side effects happened: the execution must be stored, as ERROR/INTERNAL
      // at least. Tried at once (a write refused for what it holds), else later.
      const repaired = await this.storeFallback(
        execution,
        { ...finish, status: "ERROR", result: null, error: { code: "INTERNAL", message: "the execution's end could not be stored" } },
        remaining,
      );
      if (!repaired) throw err;
      stored = repaired;
    } finally {
      recorder.finished();
      this.deps.bus.publish(live.id, { kind: "end", executionId: execution.id, lastSeq: recorder.events.length });
    }
    live.executionsRun += 1;
    live.lastActivityAt = endedAt;
    if (follow === "crash") await this.crash(live, error?.message ?? "crashed");
    // Not when the session closed or the server began stopping during the write.
    else if (!live.closing && !this.shuttingDown) {
      // Its session host was lost (not its own code): the session comes back by replay, as it was before this execution.
      if (follow === "restore") await this.restorer.restore(live, "its session host was lost");
      else if (follow === "restart") await this.restart(live);
    }
    return stored;
  }

  /**
   * Stores an execution whose finishing write failed as ERROR/INTERNAL: with
   * its events if they can be stored, else with each unstored event replaced
   * by a SYSTEM note (same seq), so no content can keep it from being stored.
   * Returns what was stored, or undefined (then retried in the background).
   */
  private async storeFallback(execution: Execution, finish: ExecutionFinish, remaining: ExecutionEvent[]): Promise<ExecutionWithEvents | undefined> {
    // Made afresh, not spread: a copy would carry what the transport attached to the original (its encoded bytes).
    const placeholders = remaining.map((e): ExecutionEvent => ({
      executionId: e.executionId,
      seq: e.seq,
      ts: e.ts,
      payload: { type: "SYSTEM", level: "error", message: "this event could not be stored" },
    }));
    const attempt = async (): Promise<ExecutionEvent[] | undefined> => {
      for (const events of [remaining, placeholders]) {
        for (const insert of [false, true]) {
          try {
            await this.deps.executions.finish(execution, finish, events, insert);
            this.unfinished.delete(execution.id);
            return events;
          } catch {
            // the row may never have been written (insert), or these events cannot be: try the next form
          }
        }
      }
      return undefined;
    };
    const stored = await attempt();
    if (stored) {
      this.deps.log.warn({ executionId: execution.id }, "stored the execution as ERROR/INTERNAL after its finishing write failed");
      return this.loadStored(execution.id).catch(() => ({ execution: { ...execution, ...finish }, events: stored }));
    }
    this.repairLater(execution, attempt);
    return undefined;
  }

  /**
   * The finishing write failed and so did the fallback (database gone): keep
   * trying so the execution does not stay RUNNING once the database is back.
   * Tries every few seconds for ten minutes (and at once when the execution
   * is asked for by `storeUnfinished`); the next server start cancels
   * whatever is still RUNNING.
   */
  private repairLater(execution: Execution, attempt: () => Promise<unknown>): void {
    const deadline = this.now() + 10 * 60_000;
    const tryOnce = async () => Boolean(await attempt());
    const retry = async () => {
      if (!this.unfinished.has(execution.id)) return;
      if (await tryOnce()) {
        this.deps.log.info({ executionId: execution.id }, "stored the end of an execution after a database failure");
        return;
      }
      if (this.now() < deadline) setTimeout(() => void retry(), 3000).unref();
      else {
        this.unfinished.delete(execution.id);
        this.deps.log.error({ executionId: execution.id }, "gave up storing the end of an execution");
      }
    };
    this.unfinished.set(execution.id, tryOnce);
    setTimeout(() => void retry(), 1000).unref();
  }

  /** Tries now to store the end of an execution whose finishing write failed, if it is one. */
  async storeUnfinished(executionId: string): Promise<void> {
    await this.unfinished.get(executionId)?.();
  }

  /** Replaces a disposed isolate: libraries, modules and startup files again. */
  private async restart(live: LiveSession): Promise<void> {
    live.runtime?.dispose();
    live.restartCount += 1;
    await this.deps.sessions.update(live.id, { status: "STARTING", restartCount: live.restartCount });
    this.deps.log.warn({ sessionId: live.id, restartCount: live.restartCount }, "restarting session");
    await this.boot(live);
  }
}

/** Cancelled with a cause: its session host was lost under it (hosts/host-process.ts). */
function hostLoss(result: RunResult | Failure): boolean {
  return "outcome" in result && result.outcome.kind === "cancelled" && result.outcome.cause !== undefined;
}

function sameRequest(first: Execution, spec: ExecutionSpec): boolean {
  return (
    first.kind === spec.kind &&
    first.input === (spec.input ?? "") &&
    first.path === (spec.path ?? "") &&
    JSON.stringify(first.args) === JSON.stringify(spec.args ?? []) &&
    JSON.stringify(sortedEntries(first.env)) === JSON.stringify(sortedEntries(spec.env ?? {}))
  );
}

const sortedEntries = (env: Record<string, string>) => Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Waits for `promise` unless the caller gives up first. */
function untilAborted(promise: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise.then(() => undefined);
  if (signal.aborted) return Promise.reject(callCancelled());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(callCancelled());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, reject);
  });
}

/** The caller's own cancel or deadline ended a wait: CANCELLED, which clients do not retry (UNAVAILABLE they would). */
const callCancelled = () => new DomainError("CANCELLED", "the call was cancelled by its caller (a cancel or a deadline)");
