import { availableParallelism } from "node:os";

/**
 * How long a call keeps its place at most. A run that computes or awaits for
 * longer stops counting then (it keeps its thread), so no session waits
 * behind others' long runs for more than this.
 */
const LEASE_MS = 2;

/**
 * How many calls into isolates this process starts at once. isolated-vm runs
 * calls on a pool of hardware_concurrency + 1 threads and, when every one is
 * busy, on a thread made for that one call: with the runs of 16 sessions
 * started together, most calls paid a thread's creation and their isolate's
 * move onto it. Measured in one process on 2 cores (16 sessions, `1+1` runs
 * back to back, scripts/bench-runtime.ts): 176 µs of CPU a run ungated,
 * 83 µs through this gate, and about twice the runs per second. A call holds
 * its place until it settles or for LEASE_MS, whichever is first.
 */
export class IsolateGate {
  /** Places held, oldest first (a Set keeps insertion order). */
  private readonly held = new Set<{ at: number }>();
  private readonly waiting: ((release: () => void) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly size = Math.max(1, availableParallelism()),
    private readonly leaseMs = LEASE_MS,
  ) {}

  /** A place now, if one is free: the function that gives it back (once the call has settled); else undefined. */
  tryEnter(): (() => void) | undefined {
    return this.held.size < this.size && this.waiting.length === 0 ? this.grant() : undefined;
  }

  /** A place when one frees up (a call settles, or the oldest lease ends), in order of asking. */
  enter(): Promise<() => void> {
    const now = this.tryEnter();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.arm();
    });
  }

  private grant(): () => void {
    const place = { at: performance.now() };
    this.held.add(place);
    return () => {
      if (this.held.delete(place)) this.admit();
    };
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.held.size < this.size) this.waiting.shift()!(this.grant());
    if (this.waiting.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** While calls wait: wakes when the oldest lease ends, and lets waiting calls in for the places that frees. */
  private arm(): void {
    if (this.timer) return;
    const oldest = this.held.values().next().value;
    const wait = oldest ? Math.max(0, oldest.at + this.leaseMs - performance.now()) : 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      for (const place of this.held) {
        if (now - place.at < this.leaseMs) break;
        this.held.delete(place);
      }
      this.admit();
      if (this.waiting.length > 0) this.arm();
    }, wait);
  }
}

/** One per process, as isolated-vm's thread pool is. */
export const isolateGate = new IsolateGate();
