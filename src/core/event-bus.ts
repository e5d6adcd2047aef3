import type { ExecutionEvent } from "./model";

export type EventListener = (event: ExecutionEvent) => void;

/**
 * Live events, published as they are recorded (before they are persisted).
 * Subscribers that need the past replay it from the store and deduplicate
 * by seq. Listeners must not throw and must not block.
 */
export class EventBus {
  private readonly bySession = new Map<string, Set<EventListener>>();

  subscribeSession(sessionId: string, listener: EventListener): () => void {
    let set = this.bySession.get(sessionId);
    if (!set) this.bySession.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.bySession.delete(sessionId);
    };
  }

  hasSubscribers(sessionId: string): boolean {
    return this.bySession.has(sessionId);
  }

  publish(sessionId: string, event: ExecutionEvent): void {
    const set = this.bySession.get(sessionId);
    if (set) for (const listener of set) listener(event);
  }
}
