import type { EventBus } from "./event-bus";
import type { EventPayload, Execution, ExecutionEvent, Limits } from "./model";
import type { ExecutionStore } from "./ports";

/** Events written per batch, and how long a partial batch may wait. */
const BATCH_SIZE = 2000;
const FLUSH_DELAY_MS = 10;
/**
 * How long the first batch (and with it the RUNNING row) may wait. Readers
 * of this process see a running execution from memory meanwhile (GetExecution,
 * ListExecutions, ListEvents, TailEvents); the row is for other processes and
 * for a crash. Most executions end sooner and are written once, finished:
 * with 32 calls in flight each takes ~20 ms, and at 10 ms every one of them
 * paid a second transaction (measured at that load on SQLite, 4 alternated
 * runs: 1,337 → 1,410 calls/s, server and hosts CPU a call −7%).
 */
const FIRST_FLUSH_DELAY_MS = 100;

/**
 * The one event recorder: contiguous seq from 1, the execution's event and
 * output limits, batched persistence, live publication. A failed write is
 * kept and surfaces in `settle()`, so the execution cannot end OK with events
 * missing.
 *
 * The execution's RUNNING row goes out with the first batch (within
 * FIRST_FLUSH_DELAY_MS of the start) or when `storeRecord()` asks for it:
 * an execution that ends sooner is written once, finished, in one transaction.
 */
export class EventRecorder {
  readonly events: ExecutionEvent[] = [];
  outputBytes = 0;
  /** Set once a limit was hit: the SYSTEM event saying so is the last kept event. */
  limitHit: "max_events" | "max_output_kb" | undefined;
  private pending: ExecutionEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private writeError: unknown;
  /** Set by settle(): from then on the finalizer writes the row and the rest. */
  private final: { promise: Promise<void>; resolve(): void } | undefined;

  /** Whether the execution's row is (being) written. */
  recordStored = false;

  constructor(
    private readonly execution: Execution,
    private readonly limits: Pick<Limits, "maxEvents" | "maxOutputKb">,
    private readonly store: ExecutionStore,
    private readonly bus: EventBus,
  ) {}

  /** Records a console line; false when it would cross a limit (the line is dropped). */
  console(level: string, text: string): boolean {
    if (this.limitHit) return false;
    // One slot stays free for the SYSTEM event that reports a limit.
    if (this.events.length >= this.limits.maxEvents - 1) {
      this.hitLimit("max_events", `event limit of ${this.limits.maxEvents} events reached; further output is dropped`);
      return false;
    }
    const bytes = Buffer.byteLength(text, "utf8");
    if (this.outputBytes + bytes > this.limits.maxOutputKb * 1024) {
      this.hitLimit("max_output_kb", `output limit of ${this.limits.maxOutputKb} KB reached; further output is dropped`);
      return false;
    }
    this.outputBytes += bytes;
    this.add({ type: "CONSOLE", level, text });
    return true;
  }

  /**
   * What console() still accepts, so the sandbox can send lines that
   * certainly fit without waiting for an answer (RunHooks.consoleBudget).
   */
  consoleBudget(): { events: number; bytes: number } {
    if (this.limitHit) return { events: 0, bytes: 0 };
    return {
      events: Math.max(0, this.limits.maxEvents - 1 - this.events.length),
      bytes: Math.max(0, this.limits.maxOutputKb * 1024 - this.outputBytes),
    };
  }

  /**
   * Records a lifecycle event (INPUT_ECHO, VALUE, EXCEPTION, SYSTEM). These
   * fit as long as the limit allows; past it they are dropped, so an
   * execution never stores more than max_events.
   */
  record(payload: EventPayload): void {
    if (this.events.length >= this.limits.maxEvents) return;
    this.add(payload);
  }

  /**
   * Writes the RUNNING row and the events so far now (before a client learns
   * the execution's id, or reads it). Once the finalizer has the rest, waits
   * for its write instead.
   */
  async storeRecord(): Promise<void> {
    if (this.final) return this.final.promise;
    this.startWrite(true);
    await this.writing;
    if (this.writeError) throw this.writeError;
  }

  /** The finalizer's write is over (stored or not): storeRecord() callers go on. */
  finished(): void {
    this.final?.resolve();
  }

  /**
   * Waits for batches already being written and hands back the events not
   * yet written, for the finalizer to store with the final status. Throws
   * the first write error, if any.
   */
  async settle(): Promise<ExecutionEvent[]> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let resolve!: () => void;
    this.final = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    await this.writing;
    if (this.writeError) throw this.writeError;
    const rest = this.pending;
    this.pending = [];
    return rest;
  }

  private hitLimit(limit: "max_events" | "max_output_kb", message: string): void {
    this.limitHit = limit;
    this.add({ type: "SYSTEM", level: "warn", message });
  }

  private add(payload: EventPayload): void {
    const event: ExecutionEvent = { executionId: this.execution.id, seq: this.events.length + 1, ts: Date.now(), payload };
    this.events.push(event);
    this.pending.push(event);
    this.bus.publishEvent(this.execution.sessionId, event);
    if (this.pending.length >= BATCH_SIZE) this.startWrite();
    else this.timer ??= setTimeout(() => this.startWrite(), this.recordStored ? FLUSH_DELAY_MS : FIRST_FLUSH_DELAY_MS);
  }

  /** Chains the pending batch (and the row, first time) behind earlier writes, keeping seq order. */
  private startWrite(withRecord = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 && (this.recordStored || !withRecord)) return;
    const batch = this.pending;
    const record = this.recordStored ? undefined : this.execution;
    this.pending = [];
    this.recordStored = true;
    this.writing = this.writing.then(async () => {
      if (this.writeError) return;
      try {
        await this.store.appendEvents(batch, record);
      } catch (err) {
        this.writeError = err;
      }
    });
  }
}
