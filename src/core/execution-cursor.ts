import type { ExecutionEvent } from "./model";

/** Where a cursor reads events it did not receive live. */
export interface EventSource {
  /** Events of the execution with seq > afterSeq, ascending, at most `limit`. */
  read(executionId: string, afterSeq: number, limit: number): Promise<ExecutionEvent[]>;
  /** Whether the execution has ended (so missing events will never come). */
  ended(executionId: string): Promise<boolean>;
}

/** Hands an event on; a promise when the reader must wait before the next (backpressure). */
export type Send = (event: ExecutionEvent) => Promise<void> | void;

/**
 * Events a read asks for. Pages are stored up to 2,000 events: a read of
 * 1,000 fetched every page twice, which PostgreSQL sent twice.
 */
const PAGE = 4000;
const RETRY_MS = 5;

/**
 * Ordered delivery of one execution's events: each seq exactly once,
 * ascending. Live events that arrive after a gap (dropped by a full feed)
 * are preceded by the missing ones, read back from the source.
 */
export class ExecutionCursor {
  constructor(
    readonly executionId: string,
    /** The last seq delivered (or skipped as "before now"). */
    public last: number,
    private readonly source: EventSource,
    private readonly send: Send,
  ) {}

  /** A promise only when the caller must wait (a gap to read back, or the reader's backpressure). */
  deliver(event: ExecutionEvent): Promise<void> | void {
    if (event.seq <= this.last) return;
    if (event.seq > this.last + 1) return this.deliverAfterGap(event);
    this.last = event.seq;
    return this.send(event);
  }

  private async deliverAfterGap(event: ExecutionEvent): Promise<void> {
    await this.catchUp(event.seq - 1);
    if (event.seq !== this.last + 1) return;
    this.last = event.seq;
    await this.send(event);
  }

  /** Delivers every event up to `seq` (Infinity: all there are). */
  async catchUp(seq = Infinity): Promise<void> {
    // The next page is asked for while this one is sent: a read from
    // PostgreSQL is a round trip, which the reader would otherwise wait out
    // for every page.
    let ahead: { after: number; page: Promise<ExecutionEvent[]> } | undefined;
    while (this.last < seq) {
      const page = await (ahead?.after === this.last ? ahead.page : this.source.read(this.executionId, this.last, PAGE));
      ahead = undefined;
      if (page.length === PAGE && page[PAGE - 1].seq < seq) {
        const after = page[PAGE - 1].seq;
        ahead = { after, page: this.source.read(this.executionId, after, PAGE) };
        // Not awaited if this page ends the catch-up early; its failure is then nobody's.
        ahead.page.catch(() => undefined);
      }
      for (const event of page) {
        if (event.seq > seq) return;
        if (event.seq !== this.last + 1) break;
        this.last = event.seq;
        // Awaited only when the reader must wait: a replay is 100k events, and `await undefined` costs a turn each.
        const wait = this.send(event);
        if (wait) await wait;
      }
      if (page.length === PAGE) continue;
      if (
        seq === Infinity ||
        (page.length === 0 && (await this.source.ended(this.executionId)) && (await this.source.read(this.executionId, this.last, 1)).length === 0)
      )
        return;
      // Recorded but not yet readable (written in a batch a few ms from now).
      if (page.length === 0) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }
}
