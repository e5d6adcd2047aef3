import type { EventBus, BusMessage } from "./event-bus";
import { EventFeed } from "./event-feed";
import { ExecutionCursor, type EventSource, type Send } from "./execution-cursor";
import { notFound } from "./errors";
import type { ExecuteOptions, ExecutionPipeline, ExecutionSpec } from "./execution-pipeline";
import type { Execution, ExecutionEvent } from "./model";
import type { ExecutionStore, SessionStore } from "./ports";
import type { SessionRegistry } from "./session-registry";
import { clampSeq, requireId } from "./validate";

export interface StreamSink {
  started(execution: Execution): Promise<void>;
  event: Send;
  finished(execution: Execution): Promise<void>;
}

/**
 * Live readers of the event stream: TailEvents, WatchSession and
 * StreamExecution. Each subscribes to the bus first, then replays what is
 * already recorded, and delivers through an ExecutionCursor, so there are no
 * gaps and no duplicates whenever it starts and however slowly it reads.
 */
export class LiveEvents implements EventSource {
  constructor(
    private readonly bus: EventBus,
    private readonly registry: SessionRegistry,
    private readonly executions: ExecutionStore,
    private readonly sessions: SessionStore,
    private readonly pipeline: ExecutionPipeline,
  ) {}

  /** Running executions are read from memory (newest events may not be stored yet), others from the store. */
  async read(executionId: string, afterSeq: number, limit: number): Promise<ExecutionEvent[]> {
    const running = this.registry.running(executionId);
    if (running) return running.events.slice(afterSeq, afterSeq + limit);
    return this.executions.listEvents(executionId, afterSeq, limit);
  }

  async ended(executionId: string): Promise<boolean> {
    if (this.registry.running(executionId)) return false;
    const execution = await this.executions.get(executionId);
    return !execution || execution.status !== "RUNNING";
  }

  async tail(req: { executionId?: string; afterSeq?: number; follow?: boolean }, signal: AbortSignal, send: Send): Promise<void> {
    const executionId = requireId("execution_id", req.executionId);
    const running = this.registry.running(executionId);
    const execution = running ? undefined : await this.executions.get(executionId);
    if (!running && !execution) throw notFound("EXECUTION_NOT_FOUND", executionId);
    const sessionId = execution?.sessionId ?? running?.sessionId;
    const feed = new EventFeed(signal);
    const unsubscribe = req.follow && sessionId ? this.bus.subscribe(sessionId, feed.push) : undefined;
    try {
      const cursor = new ExecutionCursor(executionId, clampSeq(req.afterSeq), this, send);
      // Subscribed first: whatever ends from here on is seen on the feed.
      if (!unsubscribe || (await this.ended(executionId))) return await cursor.catchUp();
      await cursor.catchUp(this.registry.running(executionId)?.events.length ?? 0);
      for (;;) {
        const message = feed.take() ?? (await feed.next());
        if (!message) return;
        if (message.kind === "event" && message.event.executionId === executionId) {
          const wait = cursor.deliver(message.event);
          if (wait) await wait;
        } else if (message.kind === "end" && message.executionId === executionId) return await cursor.catchUp(message.lastSeq);
        else if (message.kind === "closed") return await cursor.catchUp();
      }
    } finally {
      unsubscribe?.();
    }
  }

  /** Every event of every execution of the session from now on, until it closes. */
  async watch(req: { sessionId?: string }, signal: AbortSignal, send: Send): Promise<void> {
    const sessionId = requireId("session_id", req.sessionId);
    if (!(await this.sessions.get(sessionId))) throw notFound("SESSION_NOT_FOUND", sessionId);
    const feed = new EventFeed(signal);
    const unsubscribe = this.bus.subscribe(sessionId, feed.push);
    try {
      // A session a previous process left live comes back on its first watch (--session-restore lazy).
      const live = this.registry.get(sessionId) ?? (await this.pipeline.restorer.adopt(sessionId).catch(() => undefined));
      if (!live) return; // closed or crashed: nothing will ever happen here
      const cursors = new Map<string, ExecutionCursor>();
      // What the running execution recorded before we subscribed is not "from now on".
      if (live.current) cursors.set(live.current.executionId, new ExecutionCursor(live.current.executionId, live.current.events.length, this, send));
      const cursorOf = (id: string) => {
        let cursor = cursors.get(id);
        if (!cursor) cursors.set(id, (cursor = new ExecutionCursor(id, 0, this, send)));
        return cursor;
      };
      for (;;) {
        const message: BusMessage | undefined = feed.take() ?? (await feed.next());
        if (!message || message.kind === "closed") return;
        if (message.kind === "event") {
          // Awaited only when it must be: `await undefined` costs a turn, and a flood is 100k events.
          const wait = cursorOf(message.event.executionId).deliver(message.event);
          if (wait) await wait;
        } else {
          await cursorOf(message.executionId).catchUp(message.lastSeq);
          cursors.delete(message.executionId);
        }
      }
    } finally {
      unsubscribe();
    }
  }

  /** Runs code and streams started → events → finished (same pipeline as the unary calls). */
  async stream(sessionId: string, spec: ExecutionSpec, signal: AbortSignal, sink: StreamSink): Promise<void> {
    const feed = new EventFeed(signal);
    const unsubscribe = this.bus.subscribe(sessionId, feed.push);
    let cursor: ExecutionCursor | undefined;
    let started: Promise<void> = Promise.resolve();
    const options: ExecuteOptions = {
      signal,
      onStarted: (execution) => {
        cursor = new ExecutionCursor(execution.id, 0, this, sink.event);
        started = sink.started(execution);
      },
    };
    try {
      const run = this.pipeline.execute(sessionId, spec, options);
      // Deliver live events until the execution's end message (or the run fails before starting).
      const pump = (async () => {
        for (;;) {
          const message = feed.take() ?? (await feed.next());
          if (!message || message.kind === "closed") return;
          if (!cursor) continue;
          await started;
          if (message.kind === "event" && message.event.executionId === cursor.executionId) {
            const wait = cursor.deliver(message.event);
            if (wait) await wait;
          } else if (message.kind === "end" && message.executionId === cursor.executionId) return cursor.catchUp(message.lastSeq);
        }
      })();
      const { execution, events } = await run.catch(async (err: unknown) => {
        feed.push({ kind: "closed" });
        await pump;
        throw err;
      });
      if (!cursor) {
        // A retried request_id: nothing ran, so no end message will stop the pump.
        feed.push({ kind: "closed" });
        await pump;
        cursor = new ExecutionCursor(execution.id, 0, this, sink.event);
        started = sink.started(execution);
      }
      await pump;
      await started;
      // Anything the feed dropped and the pump had not caught up on.
      for (const event of events) if (cursor && event.seq > cursor.last) await cursor.deliver(event);
      await sink.finished(execution);
    } finally {
      unsubscribe();
    }
  }
}
