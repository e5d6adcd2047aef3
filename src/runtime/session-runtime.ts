/**
 * One sandbox: an isolate with one context that lives across executions.
 * The rest of the service creates it, runs REPL input and files in it, and
 * disposes it; limits, console and timers of a run are handled by RunDriver.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import ivm from "isolated-vm";
import { isKnownLibrary, loadLibraries } from "./libraries";
import { ModuleGraph, ModuleResolver } from "./module-loader";
import { HostModules, MODULE_NAMES } from "./modules";
import { resolveRunFile } from "./paths";
import { prepareReplSource } from "./repl-source";
import { RunDriver, SandboxException, type DriverHost } from "./run-driver";
import { PRELUDE_SOURCE, type PreludeConfig } from "./sandbox/prelude";
import { PRELUDE_FILENAME } from "./stack";
import {
  RuntimeError, type RunFileOptions, type RunHooks, type RunLimits, type RunResult, type RuntimeOptions,
} from "./types";

const MIN_MEMORY_MB = 8; // isolated-vm refuses less
const SETUP_TIMEOUT_MS = 10_000;
const MAX_GEN = 0x7fffffff;

interface Control {
  beginRun: ivm.Reference;
  runScript: ivm.Reference;
  settleModule: ivm.Reference;
  fireTimer: ivm.Reference;
}

function stringRecord(value: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value ?? {})) out[k] = String(v);
  return out;
}

export class SessionRuntime {
  private context!: ivm.Context;
  private control!: Control;
  /** Shared with the sandbox's console shim: see sandbox/console.ts. */
  private readonly ctl = new Int32Array(new SharedArrayBuffer(16));
  private readonly modules: HostModules;
  private readonly resolver: ModuleResolver;
  private readonly hostRefs: ivm.Reference[] = [];
  private active?: RunDriver;
  private gen = 0;
  private closed = false;
  private disposedByHost = false;
  private moduleHook = "";
  /** See heapUsedBytes(): refreshed asynchronously whenever the isolate is idle. */
  private heapUsed = 0;
  private heapRefreshing = false;

  private constructor(
    private readonly opts: RuntimeOptions,
    private readonly isolate: ivm.Isolate,
  ) {
    this.modules = new HostModules({
      root: opts.worktreePath,
      granted: opts.modules,
      allowExec: opts.allowExec,
      fsWritable: opts.fsWritable !== false,
    });
    this.resolver = new ModuleResolver(opts.worktreePath, opts.resolver);
  }

  static async create(opts: RuntimeOptions): Promise<SessionRuntime> {
    const unknownModule = opts.modules.find((m) => !(MODULE_NAMES as readonly string[]).includes(m));
    if (unknownModule !== undefined) throw new RuntimeError("INVALID_OPTIONS", `unknown module '${unknownModule}'`);
    const unknownLibrary = opts.libraries.find((l) => !isKnownLibrary(l));
    if (unknownLibrary !== undefined) throw new RuntimeError("INVALID_OPTIONS", `unknown library '${unknownLibrary}'`);

    const isolate = new ivm.Isolate({
      memoryLimit: Math.max(MIN_MEMORY_MB, opts.memMb),
      ...(opts.onCatastrophicError ? { onCatastrophicError: opts.onCatastrophicError } : {}),
    });
    const runtime = new SessionRuntime(opts, isolate);
    try {
      await runtime.init();
      return runtime;
    } catch (e) {
      runtime.dispose();
      throw e;
    }
  }

  private async init(): Promise<void> {
    this.context = await this.isolate.createContext();
    await loadLibraries(this.isolate, this.context, this.opts.libraries);
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
    };
    this.moduleHook = config.moduleHook;
    const control = (await this.context.evalClosure(
      PRELUDE_SOURCE,
      [
        ref((gen: number, meta: number, payload: string) => this.onConsole(gen, meta, payload)),
        ref((gen: number, id: number, delayMs: number, repeat: number) => this.onTimer(gen, id, delayMs, repeat)),
        ref((mod: string, method: string, args: unknown[]) => this.modules.call(mod, method, args)),
        ref(async (argv: unknown, options: unknown) => JSON.stringify(await this.modules.exec(argv, options))),
        new ivm.ExternalCopy(this.ctl.buffer).copyInto(),
        new ivm.ExternalCopy(config).copyInto(),
      ],
      { result: { reference: true }, filename: PRELUDE_FILENAME, timeout: SETUP_TIMEOUT_MS },
    )) as ivm.Reference;
    const get = (name: keyof Control) => control.get(name, { reference: true }) as Promise<ivm.Reference>;
    this.control = {
      beginRun: await get("beginRun"),
      runScript: await get("runScript"),
      settleModule: await get("settleModule"),
      fireTimer: await get("fireTimer"),
    };
    control.release();
    await this.refreshHeap();
  }

  get disposed(): boolean {
    return this.closed || this.isolate.isDisposed;
  }

  /**
   * Heap used as of the last idle moment (creation, end of the latest run).
   * Never asks the isolate synchronously: getHeapStatisticsSync() waits for
   * running code to finish and would freeze the whole server meanwhile.
   */
  heapUsedBytes(): number {
    if (this.disposed) return 0;
    if (!this.active) void this.refreshHeap();
    return this.heapUsed;
  }

  private async refreshHeap(): Promise<void> {
    if (this.heapRefreshing || this.disposed) return;
    this.heapRefreshing = true;
    try {
      this.heapUsed = (await this.isolate.getHeapStatistics()).used_heap_size;
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
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      // already gone
    }
    this.modules.close();
    for (const r of this.hostRefs) r.release();
  }

  runRepl(code: string, limits: RunLimits, hooks: RunHooks): Promise<RunResult> {
    return this.execute([], stringRecord(this.opts.env), limits, hooks, (d) => this.runSource(d, code, "repl"));
  }

  async runFile(relPath: string, limits: RunLimits, hooks: RunHooks, options: RunFileOptions = {}): Promise<RunResult> {
    this.assertUsable();
    const { abs, rel } = resolveRunFile(this.opts.worktreePath, relPath);
    const mode = options.mode ?? (this.opts.runtime.esm ? "module" : "eval");
    const argv = (options.args ?? []).map(String);
    const env = { ...stringRecord(this.opts.env), ...stringRecord(options.env) };
    if (mode === "module") return this.execute(argv, env, limits, hooks, (d) => this.runModule(d, abs));
    let code: string;
    try {
      code = readFileSync(abs, "utf8");
    } catch {
      throw new RuntimeError("FILE_NOT_FOUND", `file '${relPath}' cannot be read`);
    }
    return this.execute(argv, env, limits, hooks, (d) => this.runSource(d, code, rel));
  }

  private assertUsable(): void {
    if (this.disposed) throw new RuntimeError("DISPOSED", "the runtime's isolate is gone");
    if (this.active) throw new RuntimeError("BUSY", "a run is already in progress");
  }

  private async execute(
    argv: string[],
    env: Record<string, string>,
    limits: RunLimits,
    hooks: RunHooks,
    body: (d: RunDriver) => Promise<string>,
  ): Promise<RunResult> {
    this.assertUsable();
    this.gen = this.gen >= MAX_GEN ? 1 : this.gen + 1;
    const driver = new RunDriver(this.gen, this.driverHost(), limits, hooks);
    this.active = driver;
    this.modules.runEnv = env;
    this.modules.remainingWallMs = () => driver.remainingWallMs();
    Atomics.store(this.ctl, 1, 0);
    Atomics.store(this.ctl, 2, 0);
    Atomics.store(this.ctl, 0, this.gen);
    driver.start();
    let settled: string | undefined;
    let failure: { error: unknown } | undefined;
    try {
      await driver.guard((t) =>
        this.control.beginRun.apply(undefined, [argv, env], { arguments: { copy: true }, timeout: t }),
      );
      settled = await body(driver);
    } catch (error) {
      failure = { error };
    }
    try {
      return await driver.finish(settled, failure);
    } finally {
      Atomics.store(this.ctl, 0, 0);
      this.active = undefined;
      this.modules.killChildren();
      if (this.isolate.isDisposed && !this.closed) this.dispose();
      else void this.refreshHeap();
    }
  }

  private driverHost(): DriverHost {
    return {
      isolate: this.isolate,
      context: this.context,
      fireTimer: this.control.fireTimer,
      ctl: this.ctl,
      disposedByHost: () => this.disposedByHost,
      disposeIsolate: () => {
        this.disposedByHost = true;
        this.isolate.dispose();
      },
      onStop: () => this.modules.killChildren(),
    };
  }

  private async runSource(d: RunDriver, code: string, filename: string): Promise<string> {
    const { source, wrapped, columnOffset } = prepareReplSource(code, this.opts.runtime.strict);
    const script = await d.guard(() => this.isolate.compileScript(source, { filename, columnOffset }));
    try {
      return await d.guard((t) =>
        this.control.runScript.apply(undefined, [script, this.context, wrapped], {
          timeout: t,
          result: { promise: true },
        }) as Promise<string>,
      );
    } finally {
      try {
        script.release();
      } catch {
        // the isolate is gone
      }
    }
  }

  private async runModule(d: RunDriver, abs: string): Promise<string> {
    const graph = new ModuleGraph(this.isolate, this.opts.worktreePath, this.resolver);
    try {
      const wrapper = await d.guard(() => graph.loadEntry(abs, this.moduleHook));
      try {
        await d.guard(() => graph.instantiate(wrapper, this.context));
      } catch (e) {
        if (graph.importFailure && !d.stopped) throw new SandboxException(graph.importFailure);
        throw e;
      }
      // Armed first; answers once the wrapper's body has run (after any top-level await).
      const settled = d.guard((t) =>
        this.control.settleModule.apply(undefined, [], { timeout: t, result: { promise: true } }) as Promise<string>,
      );
      settled.catch(() => {});
      await d.guard((t) => wrapper.evaluate({ timeout: t }));
      return await settled;
    } finally {
      graph.release();
    }
  }

  // Messages from the sandbox. Anything not from the active run is dropped.

  private onConsole(gen: number, meta: number, payload: string): void {
    const run = this.active;
    if (run && run.gen === gen) run.deliverConsole(meta, payload);
  }

  private onTimer(gen: number, id: number, delayMs: number, repeat: number): void {
    const run = this.active;
    if (run && run.gen === gen) run.scheduleTimer(id, delayMs, repeat === 1);
  }
}
