import type ivm from "isolated-vm";
import type { CatastrophicHandler } from "./prelude-code";

/** An isolate made ahead of need, with whatever its maker prepared in it (no user code ever ran there). */
export interface Spare {
  isolate: ivm.Isolate;
}

type Held<T extends Spare> = T & { onCatastrophicError?: CatastrophicHandler };

/** Spares kept at most, one per memory limit (the most recently wanted). */
const MAX_SPARES = 2;

/**
 * Isolates made ahead of the next session start. A new isolate and its
 * context are most of CreateSession, and isolated-vm makes them
 * synchronously on the server's thread: a create that finds a spare skips
 * that, and the replacement is made once the create has answered, while the
 * server has nothing else to do. A create that finds none (the first, or
 * several at once) makes its own, as it would without spares.
 */
export class IsolateSpares<T extends Spare> {
  private readonly held = new Map<number, Held<T>>();
  private readonly wanted = new Map<number, CatastrophicHandler | undefined>();
  private scheduled = false;

  constructor(private readonly make: (memMb: number, onCatastrophicError?: CatastrophicHandler) => T) {}

  /** A spare for this memory limit and handler, if one is held (it is the caller's from now on). */
  take(memMb: number, onCatastrophicError?: CatastrophicHandler): T | undefined {
    const spare = this.held.get(memMb);
    if (!spare) return undefined;
    this.held.delete(memMb);
    if (spare.onCatastrophicError === onCatastrophicError && !spare.isolate.isDisposed) return spare;
    release(spare);
    return undefined;
  }

  /** Asks for a spare for this limit to be made once the current work has answered. */
  replenish(memMb: number, onCatastrophicError?: CatastrophicHandler): void {
    this.wanted.delete(memMb); // re-inserted last: the most recently wanted limits are kept
    this.wanted.set(memMb, onCatastrophicError);
    if (this.scheduled) return;
    this.scheduled = true;
    // Two loop turns: a unary answer's message goes out in the first (a native
    // immediate, run before these), its trailers in the next, and the client
    // waits for those. Made any sooner, the spare delayed the answer by all
    // its own making (CreateSession measured 2.6 ms with one turn, 1.5 with two).
    setImmediate(() => setImmediate(() => this.fill()));
  }

  /** Frees every spare and forgets what was asked for (at shutdown). */
  close(): void {
    for (const spare of this.held.values()) release(spare);
    this.held.clear();
    this.wanted.clear();
  }

  private fill(): void {
    this.scheduled = false;
    for (const [memMb, onCatastrophicError] of this.wanted) {
      this.wanted.delete(memMb);
      const old = this.held.get(memMb);
      this.held.delete(memMb);
      if (old && old.onCatastrophicError === onCatastrophicError) {
        this.held.set(memMb, old); // now the most recently wanted
        continue;
      }
      if (old) release(old);
      while (this.held.size >= MAX_SPARES) {
        const [oldest, spare] = this.held.entries().next().value as [number, Held<T>];
        this.held.delete(oldest);
        release(spare);
      }
      try {
        this.held.set(memMb, { ...this.make(memMb, onCatastrophicError), onCatastrophicError });
      } catch {
        // out of memory or similar: the next create makes its own and reports it
      }
    }
  }
}

function release(spare: Spare): void {
  try {
    if (!spare.isolate.isDisposed) spare.isolate.dispose();
  } catch {
    // already gone
  }
}
