/**
 * One run's supervision: limits, cancellation, console and timers.
 *
 * How running code is stopped, in order of preference:
 *  1. every call into the isolate carries isolated-vm's `timeout`, set to what
 *     is left of the wall or cpu budget (whichever is smaller); it stops
 *     synchronous code and microtask chains and keeps the isolate;
 *  2. a host watchdog (wall and cpu clock, AbortSignal) rejects the promise
 *     the run is waiting on, which ends runs that merely await;
 *  3. if the isolate still does not answer a ping shortly after (code is
 *     running and no timeout will stop it, e.g. cancellation of a busy loop),
 *     the isolate is disposed.
 *
 * Console lines arrive two ways (see sandbox/src/console.js): through the console
 * ring (shared memory, drained by the host) while a line certainly fits the
 * budget the driver published, and synchronously (the sandbox waits for the
 * answer) near a limit. Both go through deliver(), in the order the sandbox
 * sent them: the ring is drained before a synchronous line is taken.
 */
import type ivm from "isolated-vm";
import { decodeConsole, hostException, parseThrown, parseValue } from "./format";
import { isolateGate } from "./isolate-gate";
import type { ExceptionDescription, RunHooks, RunLimits, RunOutcome, RunResult } from "./types";

const TIMED_OUT = "Script execution timed out.";
const CPU_POLL_MS = 10;
const PING_GRACE_MS = 250;
const MAX_BUDGET = 0x7fffffff;

/** Slots of the control memory shared with the sandbox (Int32Array; 5 to 7: the console ring's). */
import { CTL_BYTES_LEFT, CTL_CONSOLE_PAUSED, CTL_GEN, CTL_LINES_LEFT, CTL_SLOTS, CTL_STOP } from "./sandbox/constants";
export { CTL_CONSOLE_PAUSED, CTL_GEN, CTL_SLOTS, CTL_STOP };

export type Stop =
  { kind: "timeout"; limit: "wall" | "cpu" } | { kind: "cancelled" } | { kind: "exception"; exception: ExceptionDescription } | { kind: "memory" };

/** Rejection value meaning "the run was stopped"; the reason is in driver.stopped. */
export class StopSignal extends Error {
  constructor(readonly stop: Stop) {
    super(`run stopped: ${stop.kind}`);
  }
}

/** A sandbox exception detected on the host (e.g. an import that cannot be resolved). */
export class SandboxException extends Error {
  constructor(readonly exception: ExceptionDescription) {
    super(exception.message);
  }
}

/** What the driver needs from the runtime that owns the isolate. */
export interface DriverHost {
  isolate: ivm.Isolate;
  context: ivm.Context;
  /** Calls the sandbox's fireTimer(id) for run gen; answers "" or a thrown description. */
  fireTimer(gen: number, id: number, timeoutMs: number): Promise<string>;
  ctl: Int32Array;
  /** Hands every console line waiting in the ring to deliverConsole, now. */
  drainConsole(): void;
  /** True once the runtime itself disposed the isolate (vs. the memory limit). */
  disposedByHost(): boolean;
  disposeIsolate(): void;
  /** Runs when the run is stopped: e.g. kill exec children the sandbox waits for. */
  onStop(): void;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function budgetValue(n: unknown): number {
  if (typeof n !== "number" || !(n > 0)) return 0;
  return n >= MAX_BUDGET ? MAX_BUDGET : Math.floor(n);
}

export class RunDriver {
  stopped?: Stop;
  /** Console lines onConsole accepted (a recording keeps it when the output limit ended the run). */
  acceptedLines = 0;
  private finished = false;
  private outputLimited = false;
  private consolePaused = false;
  private rejectStop?: (e: StopSignal) => void;
  private stopPromise?: Promise<never>;
  private readonly startedAt = performance.now();
  private readonly cpuStart: bigint;
  private cpuNow: bigint;
  private clocks?: Map<number, NodeJS.Timeout>;
  private watchdog?: NodeJS.Timeout;
  private readonly onAbort = () => this.stop({ kind: "cancelled" });
  /** Calls into the isolate asked for and not yet settled, and the place at the isolate gate they share (or its promise). */
  private gateCalls = 0;
  private place: (() => void) | Promise<() => void> | undefined;

  constructor(
    readonly gen: number,
    private readonly host: DriverHost,
    private readonly limits: RunLimits,
    private readonly hooks: RunHooks,
  ) {
    this.cpuStart = this.cpuNow = host.isolate.cpuTime;
  }

  start(): void {
    this.armWatchdog();
    const { signal } = this.hooks;
    if (signal?.aborted) this.stop({ kind: "cancelled" });
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** One clock for both limits: wakes at the wall deadline or the next cpu poll, whichever is first. */
  private armWatchdog(): void {
    const wallLeft = this.remainingWallMs();
    this.watchdog = setTimeout(
      () => {
        this.watchdog = undefined;
        if (this.finished || this.stopped) return;
        if (this.remainingWallMs() <= 0) this.stop({ kind: "timeout", limit: "wall" });
        else if (this.readCpu() - this.cpuStart >= BigInt(Math.round(this.limits.cpuMs * 1e6))) this.stop({ kind: "timeout", limit: "cpu" });
        else this.armWatchdog();
      },
      Math.max(0, Math.min(CPU_POLL_MS, Math.ceil(wallLeft))),
    );
  }

  remainingWallMs(): number {
    return this.limits.wallMs - (performance.now() - this.startedAt);
  }

  private readCpu(): bigint {
    try {
      if (!this.host.isolate.isDisposed) this.cpuNow = this.host.isolate.cpuTime;
    } catch {
      // disposed between the check and the read
    }
    return this.cpuNow;
  }

  private stopSignal(): Promise<never> {
    if (!this.stopPromise) {
      this.stopPromise = new Promise<never>((_, reject) => {
        this.rejectStop = reject;
      });
      this.stopPromise.catch(() => {});
      if (this.stopped) this.rejectStop!(new StopSignal(this.stopped));
    }
    return this.stopPromise;
  }

  /** Ends the run's wait. The first reason wins. */
  stop(reason: Stop): StopSignal {
    if (!this.stopped && !this.finished) {
      this.stopped = reason;
      this.host.onStop();
    }
    const signal = new StopSignal(this.stopped ?? reason);
    this.rejectStop?.(signal);
    return signal;
  }

  /**
   * The timeout for the next call into the isolate (what is left of the
   * smaller budget) and which limit that is; a StopSignal when nothing is left.
   */
  callTimeout(): { ms: number; limit: "wall" | "cpu" } {
    if (this.stopped) throw new StopSignal(this.stopped);
    const wallLeft = this.remainingWallMs();
    const cpuLeft = this.limits.cpuMs - Number(this.readCpu() - this.cpuStart) / 1e6;
    const limit = cpuLeft < wallLeft ? "cpu" : "wall";
    const left = limit === "cpu" ? cpuLeft : wallLeft;
    if (left <= 0) throw this.stop({ kind: "timeout", limit });
    return { ms: Math.max(1, Math.ceil(left)), limit };
  }

  /**
   * Runs one call into the isolate under the run's limits. The first of the
   * run's calls in flight takes a place at the process's isolate gate; the
   * others join it (same isolate: isolated-vm queues them on its thread), so
   * a storm of timer callbacks neither waits at the gate nor fills it.
   */
  async guard<T>(call: (timeoutMs: number) => Promise<T>): Promise<T> {
    let limit: "wall" | "cpu" = "wall";
    let started = false;
    this.gateCalls++;
    try {
      this.place ??= isolateGate.tryEnter() ?? isolateGate.enter();
      if (typeof this.place !== "function") await Promise.race([this.place, this.stopSignal()]);
      const timeout = this.callTimeout();
      limit = timeout.limit;
      const pending = call(timeout.ms);
      started = true;
      pending.then(this.leaveGate, this.leaveGate); // also observes a rejection we may stop waiting for
      return await Promise.race([pending, this.stopSignal()]);
    } catch (e) {
      if (!started) this.leaveGate();
      throw this.translate(e, limit);
    }
  }

  /** One of the run's calls settled (or never started): with none left, its place at the gate is given back. */
  private readonly leaveGate = () => {
    if (--this.gateCalls > 0) return;
    const place = this.place;
    this.place = undefined;
    if (typeof place === "function") place();
    else void place?.then((release) => release());
  };

  /** What a failed call into the isolate means for the run. */
  translate(e: unknown, limit: "wall" | "cpu"): unknown {
    if (e instanceof StopSignal) return e;
    const { isolate } = this.host;
    if (isolate.isDisposed) {
      return this.stop(this.host.disposedByHost() ? { kind: "cancelled" } : { kind: "memory" });
    }
    if (e instanceof Error && e.message === TIMED_OUT) return this.stop({ kind: "timeout", limit });
    return e;
  }

  // ---- console -------------------------------------------------------------

  /** Tells the sandbox what onConsole still accepts (slots read by sandbox/src/console.js). */
  publishBudget(): void {
    const { ctl } = this.host;
    let lines = 0;
    let bytes = 0;
    if (!this.outputLimited && this.hooks.consoleBudget) {
      try {
        const b = this.hooks.consoleBudget();
        lines = budgetValue(b?.events);
        bytes = budgetValue(b?.bytes);
      } catch {
        // no budget: every line goes the synchronous way
      }
    }
    Atomics.store(ctl, CTL_LINES_LEFT, lines);
    Atomics.store(ctl, CTL_BYTES_LEFT, bytes);
  }

  /** A line from the ring. */
  deliverConsole(meta: number, payload: string): void {
    if (this.outputLimited || this.finished) return;
    this.deliver(meta, payload);
  }

  /**
   * A line the sandbox waits for: 1 = kept (a fresh budget is published),
   * 0 = refused (the console call throws). Lines written to the ring before
   * it are handled first.
   */
  deliverConsoleSync(meta: number, payload: string): number | Promise<number> {
    if (!this.finished) this.host.drainConsole();
    const behind = this.finished ? undefined : this.hooks.consoleWait?.();
    if (behind) return behind.then(() => this.deliverConsoleSync(meta, payload));
    return this.acceptSync(meta, payload);
  }

  /**
   * After lines were handed on: while their reader is behind
   * (RunHooks.consoleWait), the sandbox writes none to the ring, so each
   * console call waits in deliverConsoleSync.
   */
  pauseIfBehind(): void {
    if (this.consolePaused || this.finished) return;
    const behind = this.hooks.consoleWait?.();
    if (!behind) return;
    this.consolePaused = true;
    Atomics.store(this.host.ctl, CTL_CONSOLE_PAUSED, 1);
    void behind.finally(() => {
      this.consolePaused = false;
      // Not a later run's pause (each run starts unpaused: see SessionRuntime.execute).
      if (Atomics.load(this.host.ctl, CTL_GEN) === this.gen) Atomics.store(this.host.ctl, CTL_CONSOLE_PAUSED, 0);
    });
  }

  private acceptSync(meta: number, payload: string): number {
    if (this.outputLimited) return 0;
    if (this.finished) return 1; // output after the run ended is dropped
    if (!this.deliver(meta, payload)) return 0;
    this.publishBudget();
    return 1;
  }

  private deliver(meta: number, payload: string): boolean {
    let accepted: boolean;
    try {
      const line = decodeConsole(meta, payload);
      accepted = this.hooks.onConsole(line.level, line.text) !== false;
    } catch {
      accepted = true; // an unprintable line is dropped, output goes on
    }
    if (!accepted) {
      this.outputLimited = true;
      Atomics.store(this.host.ctl, CTL_STOP, 1);
    } else this.acceptedLines++;
    return accepted;
  }

  // ---- timers ---------------------------------------------------------------

  /** delay < 0 clears. */
  scheduleTimer(id: number, delayMs: number, repeat: boolean): void {
    if (this.finished) return;
    const clocks = (this.clocks ??= new Map());
    const existing = clocks.get(id);
    if (existing) clearTimeout(existing);
    clocks.delete(id);
    if (delayMs < 0) return;
    const fire = () => void this.fireTimer(id, repeat);
    clocks.set(id, repeat ? setInterval(fire, delayMs) : setTimeout(fire, delayMs));
  }

  private async fireTimer(id: number, repeat: boolean): Promise<void> {
    if (!repeat) this.clocks?.delete(id);
    await this.callback((t) => this.host.fireTimer(this.gen, id, t));
  }

  /**
   * A call into the isolate on the host's initiative (a due timer, a fetch
   * that has its answer), under the run's limits. It answers "" or a
   * describeThrown() string; a throw ends the run as an exception.
   */
  async callback(call: (timeoutMs: number) => Promise<string>): Promise<void> {
    if (this.stopped || this.finished) return;
    try {
      const thrown = await this.guard(call);
      if (thrown) this.stop({ kind: "exception", exception: parseThrown(thrown) });
    } catch (e) {
      if (!(e instanceof StopSignal)) this.stop({ kind: "exception", exception: hostException(e) });
    }
  }

  // ---- the end ---------------------------------------------------------------

  /** settled: the sandbox's "V…"/"E…" answer; failure: what the run threw instead (boxed: anything can be thrown). */
  async finish(settled: string | undefined, failure?: { error: unknown }): Promise<RunResult> {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.hooks.signal?.removeEventListener("abort", this.onAbort);
    if (failure?.error instanceof StopSignal && !this.stopped) this.stopped = failure.error.stop;
    const stop = this.stopped;

    let isolateDisposed = this.host.isolate.isDisposed;
    if (!isolateDisposed && stop && (stop.kind === "timeout" || stop.kind === "cancelled")) {
      isolateDisposed = await this.quiesce();
    }
    this.readCpu();
    // What the run wrote is in the ring by now (even if the isolate is gone).
    this.host.drainConsole();
    this.finished = true;
    if (this.clocks) {
      for (const clock of this.clocks.values()) clearTimeout(clock);
      this.clocks.clear();
    }

    const cpuMs = Number(this.cpuNow - this.cpuStart) / 1e6;
    return { outcome: this.outcome(stop, isolateDisposed, settled, failure), cpuMs };
  }

  /** After a stop: is code still running in the isolate? If so, dispose it. */
  private async quiesce(): Promise<boolean> {
    const { isolate, context } = this.host;
    const ping = context.eval("0").then(
      () => true,
      () => false,
    );
    const idle = await Promise.race([ping, delay(PING_GRACE_MS).then(() => false)]);
    if (idle) return false;
    if (!isolate.isDisposed) this.host.disposeIsolate();
    return true;
  }

  private outcome(stop: Stop | undefined, isolateDisposed: boolean, settled: string | undefined, failure: { error: unknown } | undefined): RunOutcome {
    const memory = stop?.kind === "memory" || (isolateDisposed && !this.host.disposedByHost());
    if (memory) return { kind: "memory" };
    if (stop?.kind === "timeout" && isolateDisposed) return { kind: "timeout", limit: stop.limit, isolateDisposed: true };
    if (stop?.kind === "cancelled" && isolateDisposed) return { kind: "cancelled", isolateDisposed: true };
    if (this.outputLimited) return { kind: "output-limit" };
    if (stop?.kind === "timeout") return { kind: "timeout", limit: stop.limit, isolateDisposed: false };
    if (stop?.kind === "cancelled") return { kind: "cancelled", isolateDisposed: false };
    if (stop?.kind === "exception") return { kind: "exception", exception: stop.exception };
    if (failure?.error instanceof SandboxException) return { kind: "exception", exception: failure.error.exception };
    if (failure !== undefined) return { kind: "exception", exception: hostException(failure.error) };
    if (settled?.startsWith("V")) return { kind: "value", value: parseValue(settled) };
    if (settled?.startsWith("E")) return { kind: "exception", exception: parseThrown(settled) };
    return { kind: "exception", exception: hostException(new Error("the run produced no result")) };
  }
}
