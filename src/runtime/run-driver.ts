/**
 * One run's supervision: limits, cancellation, console and timers.
 *
 * How running code is stopped, in order of preference:
 *  1. every call into the isolate carries isolated-vm's `timeout`, set to what
 *     is left of the wall or cpu budget (whichever is smaller); it stops
 *     synchronous code and microtask chains and keeps the isolate;
 *  2. a host watchdog (wall timer, cpu polling, AbortSignal) rejects the
 *     promise the run is waiting on, which ends runs that merely await;
 *  3. if the isolate still does not answer a ping shortly after (code is
 *     running and no timeout will stop it, e.g. cancellation of a busy loop),
 *     the isolate is disposed.
 */
import type ivm from "isolated-vm";
import { decodeConsole, hostException, parseThrown, parseValue } from "./format";
import type { ExceptionDescription, RunHooks, RunLimits, RunOutcome, RunResult } from "./types";

const TIMED_OUT = "Script execution timed out.";
const CPU_POLL_MS = 10;
const PING_GRACE_MS = 250;
const DRAIN_MS = 2000;
const DRAIN_AFTER_DISPOSE_MS = 50;

export type Stop =
  | { kind: "timeout"; limit: "wall" | "cpu" }
  | { kind: "cancelled" }
  | { kind: "exception"; exception: ExceptionDescription }
  | { kind: "memory" };

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
  fireTimer: ivm.Reference;
  ctl: Int32Array;
  /** True once the runtime itself disposed the isolate (vs. the memory limit). */
  disposedByHost(): boolean;
  disposeIsolate(): void;
  /** Runs when the run is stopped: e.g. kill exec children the sandbox waits for. */
  onStop(): void;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RunDriver {
  stopped?: Stop;
  private finished = false;
  private outputLimited = false;
  private consoleReceived = 0;
  private rejectStop!: (e: StopSignal) => void;
  private readonly stopPromise = new Promise<never>((_, reject) => { this.rejectStop = reject; });
  private readonly startedAt = performance.now();
  private readonly cpuStart: bigint;
  private cpuNow: bigint;
  private readonly clocks = new Map<number, NodeJS.Timeout>();
  private wallTimer?: NodeJS.Timeout;
  private cpuTimer?: NodeJS.Timeout;
  private readonly onAbort = () => this.stop({ kind: "cancelled" });

  constructor(
    readonly gen: number,
    private readonly host: DriverHost,
    private readonly limits: RunLimits,
    private readonly hooks: RunHooks,
  ) {
    this.stopPromise.catch(() => {});
    this.cpuStart = this.cpuNow = host.isolate.cpuTime;
  }

  start(): void {
    this.wallTimer = setTimeout(() => this.stop({ kind: "timeout", limit: "wall" }), Math.max(0, this.limits.wallMs));
    this.cpuTimer = setInterval(() => {
      if (this.readCpu() - this.cpuStart >= BigInt(Math.round(this.limits.cpuMs * 1e6))) {
        this.stop({ kind: "timeout", limit: "cpu" });
      }
    }, CPU_POLL_MS);
    if (this.hooks.signal?.aborted) this.stop({ kind: "cancelled" });
    else this.hooks.signal?.addEventListener("abort", this.onAbort, { once: true });
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

  /** Ends the run's wait. The first reason wins. */
  stop(reason: Stop): StopSignal {
    if (!this.stopped && !this.finished) {
      this.stopped = reason;
      this.host.onStop();
    }
    const signal = new StopSignal(this.stopped ?? reason);
    this.rejectStop(signal);
    return signal;
  }

  /** Runs one call into the isolate under the run's limits. */
  async guard<T>(call: (timeoutMs: number) => Promise<T>): Promise<T> {
    if (this.stopped) throw new StopSignal(this.stopped);
    const wallLeft = this.remainingWallMs();
    const cpuLeft = this.limits.cpuMs - Number(this.readCpu() - this.cpuStart) / 1e6;
    const limit = cpuLeft < wallLeft ? "cpu" : "wall";
    const left = Math.min(wallLeft, cpuLeft);
    if (left <= 0) throw this.stop({ kind: "timeout", limit });
    try {
      const pending = call(Math.max(1, Math.ceil(left)));
      pending.catch(() => {}); // we may stop waiting for it; it must not reject unobserved
      return await Promise.race([pending, this.stopPromise]);
    } catch (e) {
      throw this.translate(e, limit);
    }
  }

  private translate(e: unknown, limit: "wall" | "cpu"): unknown {
    if (e instanceof StopSignal) return e;
    const { isolate } = this.host;
    if (isolate.isDisposed) {
      return this.stop(this.host.disposedByHost() ? { kind: "cancelled" } : { kind: "memory" });
    }
    if (e instanceof Error && e.message === TIMED_OUT) return this.stop({ kind: "timeout", limit });
    return e;
  }

  // ---- console -------------------------------------------------------------

  deliverConsole(meta: number, payload: string): void {
    this.consoleReceived++;
    if (this.outputLimited || this.finished) return;
    let accepted: boolean;
    try {
      const line = decodeConsole(meta, payload);
      accepted = this.hooks.onConsole(line.level, line.text) !== false;
    } catch {
      accepted = true; // an unprintable line is dropped, output goes on
    }
    if (!accepted) {
      this.outputLimited = true;
      Atomics.store(this.host.ctl, 1, 1);
    }
  }

  /** Waits until every console message the sandbox sent in this run has arrived. */
  private async drainConsole(maxMs: number): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (this.consoleReceived < Atomics.load(this.host.ctl, 2) && performance.now() < deadline) {
      await new Promise((r) => setImmediate(r));
    }
  }

  // ---- timers ---------------------------------------------------------------

  /** delay < 0 clears. */
  scheduleTimer(id: number, delayMs: number, repeat: boolean): void {
    if (this.finished) return;
    const existing = this.clocks.get(id);
    if (existing) clearTimeout(existing);
    this.clocks.delete(id);
    if (delayMs < 0) return;
    const fire = () => void this.fireTimer(id, repeat);
    this.clocks.set(id, repeat ? setInterval(fire, delayMs) : setTimeout(fire, delayMs));
  }

  private async fireTimer(id: number, repeat: boolean): Promise<void> {
    if (!repeat) this.clocks.delete(id);
    if (this.stopped || this.finished) return;
    try {
      const thrown = await this.guard((t) => this.host.fireTimer.apply(undefined, [id], { timeout: t }) as Promise<string>);
      if (thrown) this.stop({ kind: "exception", exception: parseThrown(thrown) });
    } catch (e) {
      if (!(e instanceof StopSignal)) this.stop({ kind: "exception", exception: hostException(e) });
    }
  }

  // ---- the end ---------------------------------------------------------------

  /** settled: the sandbox's "V…"/"E…" answer; failure: what the run threw instead (boxed: anything can be thrown). */
  async finish(settled: string | undefined, failure?: { error: unknown }): Promise<RunResult> {
    clearTimeout(this.wallTimer);
    clearInterval(this.cpuTimer);
    this.hooks.signal?.removeEventListener("abort", this.onAbort);
    if (failure?.error instanceof StopSignal && !this.stopped) this.stopped = failure.error.stop;
    const stop = this.stopped;

    let isolateDisposed = this.host.isolate.isDisposed;
    if (!isolateDisposed && stop && (stop.kind === "timeout" || stop.kind === "cancelled")) {
      isolateDisposed = await this.quiesce();
    }
    this.readCpu();
    this.finished = true;
    for (const clock of this.clocks.values()) clearTimeout(clock);
    this.clocks.clear();
    await this.drainConsole(isolateDisposed ? DRAIN_AFTER_DISPOSE_MS : DRAIN_MS);

    const cpuMs = Number(this.cpuNow - this.cpuStart) / 1e6;
    return { outcome: this.outcome(stop, isolateDisposed, settled, failure), cpuMs };
  }

  /** After a stop: is code still running in the isolate? If so, dispose it. */
  private async quiesce(): Promise<boolean> {
    const { isolate, context } = this.host;
    const ping = context.eval("0").then(() => true, () => false);
    const idle = await Promise.race([ping, delay(PING_GRACE_MS).then(() => false)]);
    if (idle) return false;
    if (!isolate.isDisposed) this.host.disposeIsolate();
    return true;
  }

  private outcome(
    stop: Stop | undefined,
    isolateDisposed: boolean,
    settled: string | undefined,
    failure: { error: unknown } | undefined,
  ): RunOutcome {
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
