import type { Send } from "../core/execution-cursor";
import type { ExecutionEvent } from "../core/model";

/** The largest max_batch a stream gets (SPEC, Batched streams: at least 1,000). */
export const MAX_BATCH = 1000;

/**
 * A batched stream's events (max_batch N > 0): a batch is whatever is
 * already waiting when the stream can take a message, up to N. The first
 * event goes out at once; while two batches are being flushed to the
 * connection, the events that come meanwhile wait for the next one (one
 * batch at a time left the connection idle between them). Nothing is held back
 * to fill a batch. Past N waiting events the producer waits too, so a slow
 * client holds no more than three batches here (two being written, one
 * waiting).
 */
export class EventBatches {
  private waiting: ExecutionEvent[] = [];
  private writing?: Promise<void>;
  private room?: { promise: Promise<void>; resolve(): void };
  private readonly size: number;

  constructor(
    maxBatch: number,
    /** Resolves once the batch has been flushed to the connection (or the call is gone). */
    private readonly write: (events: ExecutionEvent[]) => Promise<void>,
  ) {
    this.size = Math.min(maxBatch, MAX_BATCH);
  }

  readonly send: Send = (event: ExecutionEvent) => {
    this.waiting.push(event);
    this.writing ??= this.pump();
    if (this.waiting.length < this.size) return;
    this.room ??= withResolve();
    return this.room.promise;
  };

  /** Resolves once every event sent so far is written (before a stream's last message, or its end). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async pump(): Promise<void> {
    let previous: Promise<void> | undefined;
    for (;;) {
      if (this.waiting.length === 0) {
        if (!previous) break;
        await previous;
        previous = undefined;
        continue;
      }
      const batch = this.waiting.splice(0, this.size);
      this.room?.resolve();
      this.room = undefined;
      const written = this.write(batch);
      if (previous) await previous;
      previous = written;
    }
    this.writing = undefined;
  }
}

function withResolve(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
