import type { ExecutionEvent } from "./model";

/** What live subscribers receive about a session. */
export type BusMessage =
  | { kind: "event"; event: ExecutionEvent }
  /** The execution ended; its events 1..lastSeq are all stored. */
  | { kind: "end"; executionId: string; lastSeq: number }
  /** The session closed or crashed, or the server is stopping: streams end. */
  | { kind: "closed" };

export type BusListener = (message: BusMessage) => void;

/**
 * Live events, published as they are recorded (before they are persisted).
 * Subscribers that need the past replay it and deduplicate by seq.
 * Listeners must not throw and must not block.
 */
export class EventBus {
  private readonly bySession = new Map<string, Set<BusListener>>();

  subscribe(sessionId: string, listener: BusListener): () => void {
    let set = this.bySession.get(sessionId);
    if (!set) this.bySession.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.bySession.get(sessionId) === set) this.bySession.delete(sessionId);
    };
  }

  subscriberCount(sessionId: string): number {
    return this.bySession.get(sessionId)?.size ?? 0;
  }

  publish(sessionId: string, message: BusMessage): void {
    const set = this.bySession.get(sessionId);
    if (set) for (const listener of set) listener(message);
  }

  /** publish() of one event, allocating its message only when someone listens (100k lines are 100k calls). */
  publishEvent(sessionId: string, event: ExecutionEvent): void {
    if (this.bySession.has(sessionId)) this.publish(sessionId, { kind: "event", event });
  }

  /** Ends every stream of every session (server shutdown). */
  closeAll(): void {
    for (const sessionId of [...this.bySession.keys()]) this.publish(sessionId, { kind: "closed" });
  }
}
