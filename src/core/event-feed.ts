import type { BusMessage } from "./event-bus";

/**
 * Live events a subscriber may hold before it must catch up from the
 * store. A 100k-line flood fits: with 10k, batched subscribers that lagged
 * behind one each re-read and re-parsed most of it from the store, on the
 * thread the execution needs (10 subscribers: 120k events/s in all, 254k
 * with this). The feed holds references to events that exist anyway.
 */
const FEED_CAPACITY = 100_000;

/**
 * One subscriber's bounded queue. When the consumer falls behind and the
 * queue is full, further events are dropped (control messages never are);
 * the consumer notices the gap in seq and reads the missing events back, so
 * a slow subscriber neither slows the execution nor grows memory unbounded.
 */
export class EventFeed {
  private items: BusMessage[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  /** The signal's state, kept here: reading `signal.aborted` for each of a flood's events cost more than taking it. */
  private aborted: boolean;

  constructor(
    signal: AbortSignal,
    private readonly capacity = FEED_CAPACITY,
  ) {
    this.aborted = signal.aborted;
    signal.addEventListener(
      "abort",
      () => {
        this.aborted = true;
        this.wake?.();
      },
      { once: true },
    );
  }

  readonly push = (message: BusMessage): void => {
    if (message.kind === "event" && this.items.length - this.head >= this.capacity) return;
    this.items.push(message);
    this.wake?.();
  };

  /**
   * The next message already queued, without waiting (undefined: none, or
   * the signal aborted). A flood's 100k events are taken this way: an await
   * per event cost the server's thread more than handing the event on.
   */
  take(): BusMessage | undefined {
    if (this.head >= this.items.length || this.aborted) return undefined;
    const message = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return message;
  }

  /** The next message, waiting for one; undefined once the signal aborts. */
  async next(): Promise<BusMessage | undefined> {
    while (this.head >= this.items.length) {
      if (this.aborted) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    return this.take();
  }
}
