/**
 * One sandbox: an isolate with one context that lives across executions.
 * The rest of the service creates it, runs REPL input and files in it, and
 * disposes it; limits, console and timers of a run are handled by RunDriver.
 *
 * Speed notes (see scripts/bench-runtime.ts):
 *  - setup runs on the calling thread with isolated-vm's synchronous calls: a
 *    fresh isolate has nothing else to wait for, and each thread hop costs
 *    more than the work. Every context compiles the prelude from one V8
 *    code cache, made once after a warm-up run (LocalRuntimes).
 *  - after a create has answered, the next one's isolate, context and
 *    compiled prelude are made ahead (IsolateSpares), one per memory limit.
 *  - a REPL run (or an eval-mode file) is one call into the isolate: the
 *    sandbox's control function starts the run, compiles and runs the code
 *    and describes the result in one go.
 *  - heap statistics are refreshed when asked for, and after a run at most
 *    once a second; never per run.
 */
import { randomBytes, randomInt } from "node:crypto";
import { join } from "node:path";
import ivm from "isolated-vm";
import { ConsoleRing } from "./console-ring";
import { loadLibraries } from "./libraries";
import { ImportError, ModuleGraph, ModuleResolver, type ImportResolver } from "./module-loader";
import { HostModules } from "./modules";
import { SandboxError } from "./modules/errors";
import type { Envelope } from "./modules/errors";
import { fetchAnswer, hostFetch, NetPolicy, parseFetchRequest, type FetchResult } from "./net";
import { readWorktreeFile, toRelative, type WorktreeFile } from "./paths";
import { prepareReplSource } from "./repl-source";
import { CTL_CONSOLE_PAUSED, CTL_GEN, CTL_SLOTS, CTL_STOP, RunDriver, SandboxException, type DriverHost } from "./run-driver";
import { MIN_MEMORY_MB, preludeSetup, type PreludeCode } from "./prelude-code";
import { OP_BEGIN, OP_FIRE_TIMER, OP_REPLAY, OP_RUN, OP_SETTLE_FETCH, OP_SETTLE_MODULE, OP_TAKE_RECORDING, type PreludeConfig } from "./sandbox/prelude";
import { CLOCK_OFFSET, CLOCK_SHARED, CTL_CLOCK_LENGTH, CTL_DIVERGED, CTL_RECORDED, CTL_SEED, RECORDED_CLOCK, RECORDED_SEED } from "./sandbox/constants";
import { replaySteps } from "./replay";
import { RunTape } from "./run-tape";
import { holdingThread } from "./thread-holder";
import {
  RuntimeError,
  type ReplayResult,
  type ReplayStep,
  type RunFileOptions,
  type RunHooks,
  type RunLimits,
  type RunResult,
  type RuntimeOptions,
} from "./types";

/**
 * Unless Node runs with --disable-wasm-trap-handler (bin/vmsystem does), V8
 * gives every wasm memory ~10 GB of address space for guard regions, and a
 * few thousand memories exhaust the process's: then a session may make only
 * this many (see sandbox/src/wasm.js).
 */
const WASM_GUARDED_MAX_MEMORIES = 16;
function wasmGuardRegions(): boolean {
  const flag = "--disable-wasm-trap-handler";
  return !process.execArgv.includes(flag) && !(process.env.NODE_OPTIONS ?? "").split(/\s+/).includes(flag);
}
const MAX_GEN = 0x7fffffff;
const PROMISE_RESULT = Object.freeze({ promise: true });

/**
 * Makes an isolated-vm async call with none of our frames on the stack. Each
 * async call captures its caller's stack (10 frames), and describing an
 * optimized frame with what was inlined into it costs V8 a partial
 * deoptimization: ~17 µs of the main thread per ExecuteRepl from the
 * pipeline's stack. A bound native function run as a promise reaction leaves
 * only node's tick loop below it: ~10 µs.
 */
function withoutCallerStack<T>(reference: ivm.Reference, args: unknown[], options: object): Promise<T> {
  return RESOLVED.then(reference.apply.bind(reference, undefined, args, options)) as Promise<T>;
}
const RESOLVED = Promise.resolve();
/** Heap statistics are refreshed after a run only when the figure is older than this. */
const HEAP_REFRESH_MS = 1000;

function stringRecord(value: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value ?? {})) out[k] = String(v);
  return out;
}

export class SessionRuntime {
  private context!: ivm.Context;
  /** The sandbox's control function: control(op, a, b, c), see sandbox/prelude.ts. */
  private control!: ivm.Reference;
  /** Control slots and console lines shared with the sandbox: see console-ring.ts and run-driver.ts. */
  private readonly consoleRing = new ConsoleRing(CTL_SLOTS);
  private readonly ctl = this.consoleRing.ctl;
  private readonly modules: HostModules;
  /** Names this runtime to a session host's watchdog while its synchronous module calls hold the thread (runtime/thread-holder.ts). */
  threadTag = 0;
  private readonly resolver: ModuleResolver;
  private readonly baseEnv: Record<string, string>;
  /** The `net` allow list; undefined: no fetch in the sandbox. */
  private readonly net?: NetPolicy;
  /** Requests of the active run still waiting for the network (aborted when the run ends). */
  private readonly fetches = new Set<AbortController>();
  private readonly hostRefs: ivm.Reference[] = [];
  private driverHost!: DriverHost;
  private active?: RunDriver;
  /** The active run's tape, when it records or replays (run-tape.ts). */
  private tape?: RunTape;
  /** A replayed run's timers (id → repeats) and fetches waiting for their recorded callbacks. */
  private readonly replayTimers = new Map<number, boolean>();
  private readonly replayFetches = new Set<number>();
  private replayWake?: () => void;
  private gen = 0;
  private closed = false;
  private disposedByHost = false;
  private moduleHook = "";
  /**
   * Calls into the isolate on the host's initiative (timer callbacks, fetch
   * answers) not answered yet: they may still be running in the isolate.
   */
  private callbacks = 0;
  private callbacksDone: Array<() => void> = [];
  /** See heapUsedBytes(). */
  private heapUsed = 0;
  private heapAt = 0;
  private heapRefreshing = false;

  private constructor(
    private readonly opts: RuntimeOptions,
    private readonly isolate: ivm.Isolate,
    private readonly prelude: PreludeCode,
    spareContext?: ivm.Context,
  ) {
    if (spareContext) this.context = spareContext;
    this.modules = new HostModules({
      root: opts.worktreePath,
      granted: opts.modules,
      allowExec: opts.allowExec,
      fsWritable: opts.fsWritable !== false,
    });
    this.resolver = new ModuleResolver(opts.worktreePath, opts.resolver);
    this.baseEnv = stringRecord(opts.env);
    if (opts.net) this.net = new NetPolicy(opts.net.allowHosts);
  }

  /**
   * A runtime on `isolate` (made by LocalRuntimes, which owns the prelude's
   * code and the spares; a spare brings its context and compiled setup).
   * Disposed again if its start fails.
   */
  static async open(
    opts: RuntimeOptions,
    isolate: ivm.Isolate,
    code: PreludeCode,
    spare?: { context: ivm.Context; setup?: ivm.Reference },
  ): Promise<SessionRuntime> {
    const runtime = new SessionRuntime(opts, isolate, code, spare?.context);
    try {
      await runtime.init(spare?.setup);
      return runtime;
    } catch (e) {
      runtime.dispose();
      throw e;
    }
  }

  /** spareSetup: the prelude's setup function, when the spare this runtime started from had it ready. */
  private async init(spareSetup?: ivm.Reference): Promise<void> {
    const { isolate } = this;
    // Libraries first (as before the prelude existed in this form): big
    // sources, loaded asynchronously so the event loop keeps going.
    if (this.opts.libraries.length > 0) {
      this.context ??= await isolate.createContext();
      await loadLibraries(isolate, this.context, this.opts.libraries);
    } else {
      this.context ??= isolate.createContextSync();
    }
    const ref = (fn: (...args: never[]) => unknown) => {
      const r = new ivm.Reference(fn);
      this.hostRefs.push(r);
      return r;
    };
    const config: PreludeConfig = {
      console: this.opts.runtime.console,
      modules: this.opts.modules,
      allowExec: this.opts.allowExec,
      globals: this.opts.globals ?? {},
      moduleHook: `__vmsystem_module_done_${randomBytes(8).toString("hex")}`,
      env: this.baseEnv,
      net: this.net !== undefined,
      wasm: this.opts.runtime.wasm === true,
      memMb: Math.max(MIN_MEMORY_MB, this.opts.memMb),
      wasmMaxMemories: this.opts.runtime.wasm === true && wasmGuardRegions() ? WASM_GUARDED_MAX_MEMORIES : 0,
    };
    this.moduleHook = config.moduleHook;
    const setup = spareSetup ?? preludeSetup(isolate, this.context, this.prelude);
    try {
      this.control = setup.applySync(
        undefined,
        [
          ref(() => this.drainConsole()),
          ref((gen: number, meta: number, payload: string) => this.onConsoleSync(gen, meta, payload)),
          ref((gen: number, id: number, delayMs: number, repeat: number) => this.onTimer(gen, id, delayMs, repeat)),
          ref((mod: string, method: string, args: unknown[]) => holdingThread(this.threadTag, () => this.hostCall(mod, method, args))),
          ref(async (argv: unknown, options: unknown) => {
            const live = () => this.modules.exec(argv, options);
            return JSON.stringify(await (this.tape ? this.tape.callAsync("exec.run", live) : live()));
          }),
          ref((gen: number, id: number, url: unknown, method: unknown, headers: unknown, body: unknown, redirect: unknown) =>
            this.onFetch(gen, id, url, method, headers, body, redirect),
          ),
          new ivm.ExternalCopy(this.consoleRing.buffer).copyInto(),
          new ivm.ExternalCopy(config).copyInto(),
          this.context,
          isolate,
        ],
        { result: { reference: true } },
      ) as ivm.Reference;
      this.hostRefs.push(this.control);
    } finally {
      setup.release();
    }
    this.driverHost = {
      isolate,
      context: this.context,
      ctl: this.ctl,
      drainConsole: () => this.drainConsole(),
      fireTimer: (gen, id, timeoutMs) => {
        this.tape?.callback(["t", id]);
        return this.callSandbox([OP_FIRE_TIMER, id, gen], timeoutMs);
      },
      disposedByHost: () => this.disposedByHost,
      disposeIsolate: () => {
        this.disposedByHost = true;
        this.isolate.dispose();
      },
      onStop: () => {
        this.modules.killChildren();
        this.abortFetches();
      },
    };
    this.heapUsed = isolate.getHeapStatisticsSync().used_heap_size;
    this.heapAt = performance.now();
  }

  get disposed(): boolean {
    return this.closed || this.isolate.isDisposed;
  }

  /** Whether this runtime's code runs in `isolate` (which session a catastrophic error came from). */
  runsIn(isolate: ivm.Isolate): boolean {
    return this.isolate === isolate;
  }

  /**
   * Heap used as of the latest refresh: creation, the end of a run at most
   * once a second, or an earlier call. Never waits: each call made while no
   * run is active asks the isolate for fresh statistics in the background,
   * for the next caller. (getHeapStatisticsSync() would wait for running code
   * to finish and freeze the whole server meanwhile.)
   */
  heapUsedBytes(): number {
    if (this.disposed) return 0;
    if (!this.active) void this.refreshHeap();
    return this.heapUsed;
  }

  /**
   * The figure heapUsedBytes() returns, without asking for a fresher one: a
   * session host reports it with every run's answer, and a refresh per run
   * would cost the isolate's thread a task and the host a wake-up each time
   * (execute() already refreshes it at most once a second).
   */
  knownHeapUsedBytes(): number {
    return this.disposed ? 0 : this.heapUsed;
  }

  private async refreshHeap(): Promise<void> {
    if (this.heapRefreshing || this.disposed) return;
    this.heapRefreshing = true;
    try {
      this.heapUsed = (await this.isolate.getHeapStatistics()).used_heap_size;
      this.heapAt = performance.now();
    } catch {
      // the isolate went away meanwhile
    } finally {
      this.heapRefreshing = false;
    }
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.disposedByHost = true;
    this.active?.stop({ kind: "cancelled" });
    this.abortFetches();
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // already gone
    }
    this.modules.close();
    for (const r of this.hostRefs) r.release();
  }

  async runRepl(code: string, limits: RunLimits, hooks: RunHooks): Promise<RunResult> {
    this.assertUsable();
    const { source, wrapped, columnOffset } = prepareReplSource(code, this.opts.runtime.strict);
    return this.execute(this.baseEnv, limits, hooks, (d) => this.runSource(d, source, wrapped, columnOffset, "repl", ""));
  }

  /** `file`: a worktree-relative path, or the file as the caller already read it through readWorktreeFile. */
  async runFile(file: string | WorktreeFile, limits: RunLimits, hooks: RunHooks, options: RunFileOptions = {}): Promise<RunResult> {
    this.assertUsable();
    const target = typeof file === "string" ? await readWorktreeFile(this.opts.worktreePath, file) : file;
    const mode = options.mode ?? (this.opts.runtime.esm ? "module" : "eval");
    const argv = (options.args ?? []).map(String);
    const env = { ...this.baseEnv, ...stringRecord(options.env) };
    const spec = JSON.stringify([argv, env]);
    if (mode === "module") return this.execute(env, limits, hooks, (d) => this.runModule(d, target, spec));
    const { source, wrapped, columnOffset } = prepareReplSource(target.source, this.opts.runtime.strict);
    return this.execute(env, limits, hooks, (d) => this.runSource(d, source, wrapped, columnOffset, target.rel, spec));
  }

  /** Recorded executions, run again in order (a restore or a fork): see replay.ts. */
  replay(steps: ReplayStep[], signal?: AbortSignal): Promise<ReplayResult> {
    return replaySteps(this, steps, signal);
  }

  private assertUsable(): void {
    if (this.disposed) throw new RuntimeError("DISPOSED", "the runtime's isolate is gone");
    if (this.active) throw new RuntimeError("BUSY", "a run is already in progress");
  }

  private async execute(env: Record<string, string>, limits: RunLimits, hooks: RunHooks, body: (d: RunDriver) => Promise<string>): Promise<RunResult> {
    this.assertUsable();
    this.gen = this.gen >= MAX_GEN ? 1 : this.gen + 1;
    const driver = new RunDriver(this.gen, this.driverHost, limits, hooks);
    this.active = driver;
    const tape = hooks.record || hooks.replay ? new RunTape(hooks.replay) : undefined;
    this.tape = tape;
    const seed = hooks.replay?.seed ?? randomInt(0x7fffffff);
    this.modules.runEnv = env;
    this.modules.remainingWallMs = () => driver.remainingWallMs();
    const { ctl } = this;
    Atomics.store(ctl, CTL_STOP, 0);
    Atomics.store(ctl, CTL_CONSOLE_PAUSED, 0);
    Atomics.store(ctl, CTL_SEED, seed);
    Atomics.store(ctl, CTL_RECORDED, 0);
    Atomics.store(ctl, CTL_DIVERGED, 0);
    Atomics.store(ctl, CTL_CLOCK_LENGTH, 0);
    this.consoleRing.reset();
    driver.start();
    let settled: string | undefined;
    let failure: { error: unknown } | undefined;
    try {
      // A timer callback (or fetch answer) the previous run asked for just
      // before it ended may still be running: let it end before this run's
      // output is accepted, so it cannot print into this run (it is limited
      // by its own timeout, and this run's limits apply to the wait).
      if (this.callbacks > 0) await driver.guard(() => this.callbacksSettled());
      driver.publishBudget();
      if (tape?.replay?.clock) await driver.guard((t) => this.control.apply(undefined, [OP_REPLAY, JSON.stringify(tape.replay!.clock)], { timeout: t }));
      Atomics.store(ctl, CTL_GEN, driver.gen);
      const running = body(driver);
      if (tape?.replay?.callbacks || hooks.replayStop) void this.replayCallbacks(driver, tape!, running, hooks.replayStop);
      settled = await running;
    } catch (error) {
      failure = { error };
    }
    try {
      const result = await driver.finish(settled, failure);
      if (tape) await this.closeTape(tape, driver, result, seed);
      return result;
    } finally {
      Atomics.store(ctl, CTL_GEN, 0);
      this.active = undefined;
      this.tape = undefined;
      this.replayTimers.clear();
      this.replayFetches.clear();
      this.replayWake = undefined;
      this.modules.killChildren();
      this.abortFetches();
      if (this.isolate.isDisposed && !this.closed) this.dispose();
      else if (performance.now() - this.heapAt >= HEAP_REFRESH_MS) void this.refreshHeap();
    }
  }

  /** spec: "" for the REPL's argv/env, else JSON [argv, env] (see beginRun in sandbox/prelude.ts). */
  private runSource(d: RunDriver, source: string, wrapped: boolean, columnOffset: number, filename: string, spec: string): Promise<string> {
    // Compiled inside the isolate (see run in sandbox/prelude.ts).
    return d.guard((t) =>
      withoutCallerStack<string>(this.control, [OP_RUN, source, wrapped, spec, filename, columnOffset], { timeout: t, result: PROMISE_RESULT }),
    );
  }

  private callbacksSettled(): Promise<void> {
    return this.callbacks === 0 ? Promise.resolve() : new Promise((resolve) => this.callbacksDone.push(resolve));
  }

  /** control(...args) on the host's initiative, counted in `callbacks` until it answers. */
  private callSandbox(args: unknown[], timeoutMs: number): Promise<string> {
    this.callbacks++;
    const call = this.control.apply(undefined, args, { timeout: timeoutMs }) as Promise<string>;
    const done = () => {
      if (--this.callbacks === 0) for (const resolve of this.callbacksDone.splice(0)) resolve();
    };
    call.then(done, done);
    return call;
  }

  private async runModule(d: RunDriver, entry: WorktreeFile, spec: string): Promise<string> {
    await d.guard((t) => this.control.apply(undefined, [OP_BEGIN, spec], { timeout: t }) as Promise<string>);
    const graph = new ModuleGraph(this.isolate, this.opts.worktreePath, this.tape ? this.tapedResolver(this.tape) : this.resolver);
    try {
      const wrapper = await d.guard(() => graph.loadEntry(entry, this.moduleHook));
      try {
        await d.guard(() => graph.instantiate(wrapper, this.context));
      } catch (e) {
        if (graph.importFailure && !d.stopped) throw new SandboxException(graph.importFailure);
        throw e;
      }
      // Armed first; answers once the wrapper's body has run (after any top-level await).
      const settled = d.guard((t) => this.control.apply(undefined, [OP_SETTLE_MODULE], { timeout: t, result: PROMISE_RESULT }) as Promise<string>);
      settled.catch(() => {});
      await d.guard((t) => wrapper.evaluate({ timeout: t }));
      return await settled;
    } finally {
      graph.release();
    }
  }

  // ---- recording and replay (see run-tape.ts and sandbox/src/record.js) ----

  /** The sandbox's host calls: modules, and crypto's bytes. */
  private hostCall(mod: string, method: string, args: unknown[]): Envelope {
    const live = () => (mod === "crypto" ? cryptoBytes(args[0]) : this.modules.call(mod, method, args));
    const tape = this.tape;
    if (!tape) return live();
    // What lived only in the host's memory (an in-memory database) is rebuilt by running its calls again.
    return tape.call(`${mod}.${method}`, live, mod === "database" && this.modules.databaseRunsAgain(method));
  }

  /** Imports through the tape: recorded as resolved, or served from the recording (the recorded source wins over the worktree). */
  private tapedResolver(tape: RunTape): ImportResolver {
    const root = this.opts.worktreePath;
    if (!tape.replay) {
      return {
        resolve: async (specifier, importer) => {
          const from = toRelative(root, importer);
          try {
            const file = await this.resolver.resolve(specifier, importer);
            tape.import([from, specifier, file.rel, file.source]);
            return file;
          } catch (e) {
            tape.import([from, specifier, "", e instanceof Error ? e.message : String(e)]);
            throw e;
          }
        },
      };
    }
    const imports = tape.replay.imports ?? [];
    return {
      resolve: async (specifier, importer) => {
        const from = toRelative(root, importer);
        const found = imports.find(([f, s]) => f === from && s === specifier);
        if (!found) {
          tape.diverge(`it imported '${specifier}' from '${from}', which it did not import the first time`);
          throw new ImportError(`Cannot find module '${specifier}' imported from '${from}' (not in the session's recording)`);
        }
        if (found[2] === "") throw new ImportError(found[3]);
        return { abs: join(root, found[2]), rel: found[2], source: found[3] };
      },
    };
  }

  /**
   * A replayed run's timer and fetch callbacks, in their recorded order, each
   * as soon as the run has asked for it (no waiting for clocks). A callback
   * the run never asks for is a divergence; so is one still due when the run
   * has ended.
   */
  private async replayCallbacks(driver: RunDriver, tape: RunTape, running: Promise<unknown>, stop?: "timeout" | "cancelled"): Promise<void> {
    let ended = false;
    const end = () => {
      ended = true;
      this.replayWake?.();
    };
    running.then(end, end);
    // The run's own call into the isolate goes first: an idle check queued before it would prove nothing.
    await new Promise((r) => setImmediate(r));
    const idle = () => this.context.eval("0").then(() => new Promise<string>((r) => setImmediate(() => setImmediate(() => r("idle")))));
    for (let next = tape.nextCallback(); next; next = tape.nextCallback()) {
      const [kind, id] = next;
      const ready = () => (kind === "t" ? this.replayTimers.has(id) : this.replayFetches.has(id));
      while (!ready() && !ended && !driver.stopped) {
        const woken = new Promise<void>((resolve) => (this.replayWake = resolve));
        // Idle: what the isolate was running has finished, and what it sent us meanwhile has arrived.
        if ((await Promise.race([woken.then(() => "woken"), idle().catch(() => "idle")])) === "idle" && !ready()) break;
      }
      if (!ready() || driver.stopped) {
        if (!driver.stopped) {
          tape.diverge(`it never asked for the ${kind === "t" ? `timer ${id}` : `fetch ${id}`} answered the first time`);
          // Whatever it waits for now will not come: no need to wait for its wall time to say so.
          if (!ended) driver.stop({ kind: "cancelled" });
        }
        return;
      }
      tape.consumeCallback();
      if (kind === "t") {
        if (!this.replayTimers.get(id)) this.replayTimers.delete(id);
        await driver.callback((t) => this.callSandbox([OP_FIRE_TIMER, id, driver.gen], t));
      } else {
        this.replayFetches.delete(id);
        await driver.callback((t) => this.callSandbox([OP_SETTLE_FETCH, id, driver.gen, next[2] ?? "", next[3] ?? ""], t));
      }
    }
    // Stopped partway the first time (waiting for what never came): stopped again once it waits.
    if (stop && !ended && !driver.stopped) {
      await idle().catch(() => undefined);
      if (!ended) driver.stop(stop === "timeout" ? { kind: "timeout", limit: "wall" } : { kind: "cancelled" });
    }
  }

  /** After a run: the clock and seed it used, and whether a replay went as recorded. */
  private async closeTape(tape: RunTape, driver: RunDriver, result: RunResult, seed: number): Promise<void> {
    const { ctl } = this;
    const bits = Atomics.exchange(ctl, CTL_RECORDED, 0);
    const disposed = this.isolate.isDisposed;
    // Served no readings, it read the clock itself (sandbox/src/record.js records them then).
    const clockLength = Atomics.load(ctl, CTL_CLOCK_LENGTH);
    if (tape.replay && !tape.replay.clock && bits & RECORDED_CLOCK) tape.diverge("it read the clock, which it did not the first time");
    else if (!tape.replay && bits & RECORDED_CLOCK && clockLength <= CLOCK_SHARED) {
      // A few readings: in shared memory (sandbox/src/record.js), no call into the isolate.
      tape.clock(Array.from(new Float64Array(this.consoleRing.buffer, CLOCK_OFFSET, clockLength)));
    } else if ((bits & RECORDED_CLOCK || tape.replay?.clock) && !disposed) {
      try {
        const answer = (await this.control.apply(undefined, [OP_TAKE_RECORDING], { timeout: 1000 })) as string;
        const [runs, unserved] = JSON.parse(answer) as [number[], number];
        tape.clock(runs);
        if (unserved > 0 && tape.replaying) tape.diverge(`it read the clock ${unserved} times fewer than the first time`);
      } catch {
        tape.diverge("its clock readings could not be read back");
      }
    }
    if (Atomics.exchange(ctl, CTL_DIVERGED, 0) !== 0) tape.diverge("it read the clock more often than the first time");
    if (bits & RECORDED_SEED) {
      if (tape.replaying && tape.replay?.seed === undefined) tape.diverge("it drew a random number, which it did not the first time");
      else if (tape.recording.overflow === undefined) tape.recording.seed = seed;
    }
    if (result.outcome.kind === "output-limit" && tape.recording.overflow === undefined) tape.recording.consoleLines = driver.acceptedLines;
    if (tape.replaying) {
      if (!disposed) tape.checkConsumed();
      if (tape.diverged) result.diverged = tape.diverged;
    } else if (Object.keys(tape.recording).length > 0) result.recording = tape.recording;
  }

  // Messages from the sandbox. Anything not from the active run is dropped.

  /** The sandbox's notification that the console ring has lines (also called by the run's driver). */
  private drainConsole(): void {
    this.consoleRing.drain(this.deliverLine);
    this.active?.pauseIfBehind();
  }

  private readonly deliverLine = (gen: number, meta: number, payload: string): void => {
    const run = this.active;
    if (run && run.gen === gen) run.deliverConsole(meta, payload);
  };

  /**
   * 1 = kept or dropped quietly, 0 = refused (the console call throws).
   * Never throws: a host error would reach the sandbox with host frames.
   */
  private onConsoleSync(gen: number, meta: number, payload: string): number | Promise<number> {
    const run = this.active;
    if (!run || run.gen !== gen) return 1;
    try {
      const answer = run.deliverConsoleSync(meta, payload);
      return typeof answer === "number" ? answer : answer.catch(() => 1);
    } catch {
      return 1;
    }
  }

  private onTimer(gen: number, id: number, delayMs: number, repeat: number): void {
    const run = this.active;
    if (!run || run.gen !== gen) return;
    if (!this.tape?.replaying) return run.scheduleTimer(id, delayMs, repeat === 1);
    // A replay fires timers in their recorded order, without waiting for them.
    if (delayMs < 0) this.replayTimers.delete(id);
    else this.replayTimers.set(id, repeat === 1);
    this.replayWake?.();
  }

  /**
   * fetch() request `id` of run `gen` (see sandbox/src/net.js). Never throws into
   * the isolate: the answer, good or bad, goes back through settleFetch() as
   * a callback of the run, unless the run is over (its promise then never settles).
   * The request is aborted when the run ends or is stopped, and after what is
   * left of its wall time at the latest.
   */
  private onFetch(gen: number, id: number, url: unknown, method: unknown, headers: unknown, body: unknown, redirect: unknown): void {
    const run = this.active;
    if (!run || run.gen !== gen || run.stopped) return;
    const tape = this.tape;
    if (tape?.replaying) {
      // Not sent again: its recorded answer comes in its turn (replayCallbacks).
      this.replayFetches.add(id);
      this.replayWake?.();
      return;
    }
    const controller = new AbortController();
    this.fetches.add(controller);
    const wallLeft = Math.max(1, Math.ceil(run.remainingWallMs()));
    const timer = setTimeout(
      () => controller.abort(new SandboxError(`fetch: no answer within the execution's remaining wall time (${wallLeft} ms)`, "ETIMEDOUT")),
      wallLeft,
    );
    const answer = (async (): Promise<{ ok: true; value: FetchResult } | { ok: false; error: unknown }> => {
      try {
        if (!this.net) throw new SandboxError("fetch is not enabled in this session");
        const request = parseFetchRequest(url, method, headers, body, redirect);
        return { ok: true, value: await hostFetch(this.net, request, controller.signal) };
      } catch (error) {
        return { ok: false, error };
      }
    })();
    void answer.then((outcome) => {
      clearTimeout(timer);
      this.fetches.delete(controller);
      if (this.active !== run || run.stopped || this.closed) return;
      let payload: [string, string];
      try {
        payload = fetchAnswer(outcome);
      } catch {
        payload = fetchAnswer({ ok: false, error: new SandboxError("fetch failed") });
      }
      void run.callback((t) => {
        tape?.callback(["f", id, payload[0], payload[1]]);
        return this.callSandbox([OP_SETTLE_FETCH, id, gen, payload[0], payload[1]], t);
      });
    });
  }

  private abortFetches(): void {
    for (const controller of this.fetches) controller.abort(new SandboxError("fetch: aborted (the execution ended)"));
    this.fetches.clear();
  }
}

/** crypto.getRandomValues' bytes (sandbox/src/record.js checks the length first). */
function cryptoBytes(length: unknown): Envelope {
  if (typeof length !== "number" || !Number.isInteger(length) || length < 0 || length > 65536) {
    return { ok: false, error: { name: "RangeError", message: "crypto: byte count out of range" } };
  }
  return { ok: true, value: new Uint8Array(randomBytes(length)) };
}
