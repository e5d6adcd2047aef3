/**
 * One session host as the main process sees it: the forked child, the
 * runtimes placed on it, their runs in flight. When the child ends, for any
 * reason, every run in flight resolves (never hangs, never a raw error) and
 * every runtime on it reads disposed; RemoteRuntimes then replaces it.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Logger } from "../log";
import type { SessionRuntimePort } from "../core/ports";
import type { WorktreeFile } from "../runtime/paths";
import {
  RuntimeError,
  type ReplayResult,
  type ReplayStep,
  type RunFileOptions,
  type RunHooks,
  type RunLimits,
  type RunOutcome,
  type RunResult,
  type RuntimeOptions,
} from "../runtime/types";
import {
  CATASTROPHE,
  eachConsoleLine,
  HEARTBEAT_MS,
  HEARTBEAT_TIMEOUT_MS,
  THREAD_HELD,
  THREAD_RELEASED,
  type RunRequest,
  type ToHost,
  type ToMain,
  type WireError,
} from "./protocol";

/** A run still going this long after its wall time means the host's thread is stuck: the host is killed. */
const STUCK_GRACE_MS = 3000;
/** How long a host gets to end after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 2000;
/** How long the end of stderr is awaited after an exit, to read why the host died. */
const STDERR_WAIT_MS = 500;
const STDERR_TAIL = 16 * 1024;
/** What V8 and isolated-vm print when memory ran out (see isolated-vm's README). */
const OUT_OF_MEMORY = /out of memory|out-of-memory|invalid size|Fatal JavaScript/i;
/** host-main.ts's line for isolated-vm's catastrophic errors: whose isolate (when a session's), and the message. */
const CATASTROPHE_LINE = new RegExp(`${CATASTROPHE}(?: in runtime (\\d+))?: (.*)`);
/** The host's watchdog's lines (hosts/thread-watch.ts): the last one says who holds its thread, if anybody. */
const THREAD_LINES = new RegExp(`(${THREAD_HELD}|${THREAD_RELEASED}) (\\d+)`, "g");
/** How often a host with work has its RSS read against --host-memory-mb (an idle one is not read). */
const RSS_SAMPLE_MS = 250;

function hostEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  if (process.env.NODE_OPTIONS) env.NODE_OPTIONS = process.env.NODE_OPTIONS;
  return env;
}

export interface HostOptions {
  serverPaths: string[];
  log: Logger;
  /** --host-memory-mb: RSS above this kills the host (0: not watched). */
  memoryMb: number;
  /** A host of one session's own (runtime.dedicated_host): it ends once it holds no runtime. */
  dedicated?: boolean;
  /** --host-user: the host runs as this uid/gid. */
  user?: { uid: number; gid: number };
}

interface PendingRun {
  runtime: RemoteSessionRuntime;
  hooks: RunHooks;
  refused: boolean;
  /** A replay's answer is a ReplayResult, and a lost host fails it (there is no outcome to give). */
  replay?: boolean;
  resolve(result: RunResult | ReplayResult): void;
  reject(err: Error): void;
  stuckTimer: NodeJS.Timeout;
  onAbort(): void;
}

/** Why a host ended, as detected, and whose code ended it when that is known. */
interface Loss {
  cause: string;
  kind: "memory" | "stuck" | "silent" | "other";
  /** The runtime whose code ended the host. */
  culprit?: number;
}

export interface HostEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What was detected, as users read it: "out of memory", "signal SIGKILL", "exit 1", … */
  cause: string;
  beforeReady: boolean;
  /** Ended by terminate() (a dedicated host's session ended, or the server stops). */
  terminated: boolean;
}

export class HostProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly ended: Promise<HostEnd>;
  exited = false;
  private isReady = false;
  private nextId = 1;
  private readonly runtimes = new Map<number, RemoteSessionRuntime>();
  private readonly creates = new Map<number, { resolve(r: RemoteSessionRuntime): void; reject(err: Error): void }>();
  private readonly runs = new Map<number, PendingRun>();
  private stderrTail = "";
  private stuckRun?: number;
  /** Set once the host missed its heartbeats and was killed for it. */
  private silent = false;
  private lastHeard = performance.now();
  private lastCheck = performance.now();
  private readonly heartbeat: NodeJS.Timeout;
  private acks = 0;
  private readonly onReady: () => void;
  private sampling = false;
  /** Set when the host was killed for its RSS: the cause, as users read it. */
  private overBudget?: string;
  private terminating = false;

  constructor(
    entry: string,
    private readonly options: HostOptions,
  ) {
    const { serverPaths, log } = options;
    this.child = fork(entry, [JSON.stringify(serverPaths)], {
      execArgv: ["--no-node-snapshot", "--disable-wasm-trap-handler"],
      serialization: "advanced",
      // stdout is the server's log stream: nothing from a host goes there.
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      // libuv also calls setgroups(0) when given a uid or gid, so the host
      // keeps none of root's supplementary groups (checked in
      // test/session-hosts-3.test.ts). The host's own user can read its
      // /proc/<pid>/environ: it gets none of the server's variables (the
      // database URL, the auth token), only what node needs; `env`
      // capabilities are copied in the main process.
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid, env: hostEnv() } : {}),
    });
    const stderrEnded = new Promise<void>((resolve) => this.child.stderr!.once("close", resolve));
    this.child.stderr!.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
    });
    // A send to a host that just died: its exit handles what was pending.
    this.child.on("error", (err) => log.warn({ err, pid: this.child.pid }, "session host channel error"));
    this.child.on("message", (message: ToMain) => this.receive(message));
    this.heartbeat = setInterval(() => this.checkHeartbeat(), HEARTBEAT_MS).unref();
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => ((readyResolve = resolve), (readyReject = reject)));
    this.ready.catch(() => undefined);
    this.onReady = () => {
      this.isReady = true;
      readyResolve();
    };
    this.ended = new Promise<HostEnd>((resolve) =>
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        clearInterval(this.heartbeat);
        const beforeReady = !this.isReady;
        readyReject(new Error("the session host exited while starting"));
        // stderr carries the reason (V8's fatal message): read it to its end, briefly.
        void Promise.race([stderrEnded, new Promise((r) => setTimeout(r, STDERR_WAIT_MS))]).then(() => {
          const loss = this.lossOf(code, signal);
          this.lose(loss);
          resolve({ code, signal, cause: loss.cause, beforeReady, terminated: this.terminating });
        });
      }),
    );
  }

  /** Runtimes placed here, including those being created. */
  get load(): number {
    return this.runtimes.size + this.creates.size;
  }

  create(options: RuntimeOptions): Promise<RemoteSessionRuntime> {
    if (this.exited) return Promise.reject(new Error("the session host ended"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.creates.set(id, { resolve, reject });
      this.send({ t: "create", id, options });
      this.watchMemory();
    });
  }

  keepSpare(memMb: number): void {
    this.send({ t: "keepSpare", memMb });
  }

  run(runtime: RemoteSessionRuntime, request: RunRequest, limits: RunLimits, hooks: RunHooks): Promise<RunResult> {
    // Without a budget hook every line is taken here and refused by hooks.onConsole on arrival.
    const budget = hooks.consoleBudget?.() ?? { events: Number.MAX_SAFE_INTEGER, bytes: Number.MAX_SAFE_INTEGER };
    return this.start(runtime, hooks, limits.wallMs, false, (run) => ({ t: "run", id: runtime.id, run, request, limits, budget, record: hooks.record }));
  }

  /** Replays recorded executions in the runtime (one message for them all). */
  replay(runtime: RemoteSessionRuntime, steps: ReplayStep[], signal?: AbortSignal): Promise<ReplayResult> {
    const wallMs = steps.reduce((sum, step) => sum + step.limits.wallMs, 0);
    return this.start(runtime, { onConsole: () => true, signal }, wallMs, true, (run) => ({ t: "replay", id: runtime.id, run, steps }));
  }

  /** Sends a run (or a replay) and answers with its "done": cancelled with the hooks' signal, killed past its wall time by the grace. */
  private start<T extends RunResult | ReplayResult>(
    runtime: RemoteSessionRuntime,
    hooks: RunHooks,
    wallMs: number,
    replay: boolean,
    message: (run: number) => ToHost,
  ): Promise<T> {
    const run = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.send({ t: "cancel", run });
      const stuckTimer = setTimeout(() => this.kill(run), wallMs + STUCK_GRACE_MS);
      this.runs.set(run, { runtime, hooks, refused: false, replay, resolve: resolve as PendingRun["resolve"], reject, stuckTimer, onAbort });
      this.send(message(run));
      this.watchMemory();
      if (hooks.signal?.aborted) onAbort();
      else hooks.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  askHeap(runtime: RemoteSessionRuntime): void {
    this.send({ t: "heap", id: runtime.id });
  }

  dispose(runtime: RemoteSessionRuntime): void {
    if (this.runtimes.delete(runtime.id)) this.send({ t: "dispose", id: runtime.id });
    this.retireIfEmpty();
  }

  /** SIGTERM, then SIGKILL after a grace; resolves once the process is gone. */
  async terminate(): Promise<void> {
    if (!this.exited) {
      this.terminating = true;
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), TERM_GRACE_MS);
      await this.ended;
      clearTimeout(timer);
    }
    await this.ended;
  }

  /** A dedicated host whose session's runtime is gone (closed, crashed, lost, never made) has no more use. */
  private retireIfEmpty(): void {
    if (this.options.dedicated && this.load === 0 && !this.terminating) void this.terminate();
  }

  /**
   * Reads the host's RSS every RSS_SAMPLE_MS while it has runs or creates,
   * and kills it past the budget (memory V8 does not count included). One
   * read at a time, asynchronous: the main thread never waits on /proc.
   */
  private watchMemory(): void {
    const budget = this.options.memoryMb;
    if (budget <= 0 || this.sampling || this.exited) return;
    this.sampling = true;
    setTimeout(() => {
      void rssMb(this.child.pid!).then((rss) => {
        this.sampling = false;
        if (this.exited) return;
        if (rss !== undefined && rss > budget) {
          this.overBudget = `the session host passed --host-memory-mb ${budget} (RSS ${Math.round(rss)} MB)`;
          this.options.log.warn({ pid: this.child.pid, rssMb: Math.round(rss), budgetMb: budget }, "session host over its memory budget: killing it");
          this.child.kill("SIGKILL");
        } else if (this.runs.size > 0 || this.creates.size > 0) this.watchMemory();
      });
    }, RSS_SAMPLE_MS).unref();
  }

  private send(message: ToHost): void {
    if (this.exited || !this.child.connected) return;
    this.child.send(message);
  }

  /** A run outlived its wall time by the grace: the host's thread is stuck in it (a synchronous module call). */
  private kill(run: number): void {
    if (this.exited || !this.runs.has(run)) return;
    this.stuckRun = run;
    this.child.kill("SIGKILL");
  }

  /**
   * Kills a host not heard from for HEARTBEAT_TIMEOUT_MS: its thread is held,
   * and with it every session placed there. When this process's own loop was
   * held instead (what the host sent meanwhile is still unread), it waits again.
   */
  private checkHeartbeat(): void {
    const now = performance.now();
    if (now - this.lastCheck > 2 * HEARTBEAT_MS) this.lastHeard = now;
    this.lastCheck = now;
    if (this.exited || this.silent || now - this.lastHeard < HEARTBEAT_TIMEOUT_MS) return;
    this.silent = true;
    this.options.log.warn({ pid: this.child.pid, silentMs: Math.round(now - this.lastHeard) }, "session host stopped answering: killing it");
    this.child.kill("SIGKILL");
  }

  private receive(message: ToMain): void {
    this.lastHeard = performance.now();
    switch (message.t) {
      case "ready":
        return this.onReady();
      case "beat":
        return;
      case "created": {
        const pending = this.creates.get(message.id);
        this.creates.delete(message.id);
        if (!pending) return;
        if (message.error) {
          pending.reject(fromWire(message.error));
          return this.retireIfEmpty();
        }
        const runtime = new RemoteSessionRuntime(this, message.id, message.heap ?? 0);
        this.runtimes.set(message.id, runtime);
        return pending.resolve(runtime);
      }
      case "console": {
        const pending = this.runs.get(message.run);
        if (pending && !pending.refused) {
          // In order, each to the real recorder; it refuses the line that crosses a limit, as in-process.
          pending.refused = !eachConsoleLine(message.lines, (level, text) => pending.hooks.onConsole(level, text) !== false);
        }
        return this.ack();
      }
      case "done": {
        const pending = this.settle(message.run);
        if (!pending) return;
        pending.runtime.update(message.heap, message.disposed);
        if (message.disposed) this.runtimes.delete(pending.runtime.id);
        if (message.error) pending.reject(fromWire(message.error));
        else pending.resolve(pending.replay ? message.replayed! : message.result!);
        return this.retireIfEmpty();
      }
      case "heap":
        return this.runtimes.get(message.id)?.update(message.bytes, message.disposed);
    }
  }

  /** Acknowledges console batches once per tick (the host's backpressure counts them). */
  private ack(): void {
    if (this.acks++ > 0) return;
    setImmediate(() => {
      const batches = this.acks;
      this.acks = 0;
      this.send({ t: "ack", batches });
    });
  }

  private settle(run: number): PendingRun | undefined {
    const pending = this.runs.get(run);
    if (!pending) return undefined;
    this.runs.delete(run);
    clearTimeout(pending.stuckTimer);
    pending.hooks.signal?.removeEventListener("abort", pending.onAbort);
    return pending;
  }

  private lossOf(code: number | null, signal: NodeJS.Signals | null): Loss {
    if (this.overBudget) return { cause: this.overBudget, kind: "memory" };
    const catastrophe = CATASTROPHE_LINE.exec(this.stderrTail);
    if (catastrophe) {
      const culprit = catastrophe[1] === undefined ? undefined : Number(catastrophe[1]);
      // isolated-vm's other catastrophe is "Script failed to terminate": a run its timeout could not stop.
      return OUT_OF_MEMORY.test(catastrophe[2]) ? { cause: "out of memory", kind: "memory", culprit } : { cause: catastrophe[2], kind: "stuck", culprit };
    }
    if (OUT_OF_MEMORY.test(this.stderrTail)) return { cause: "out of memory", kind: "memory" };
    if (this.stuckRun !== undefined)
      return {
        cause: `an execution held its thread ${STUCK_GRACE_MS / 1000} s past its wall time`,
        kind: "stuck",
        culprit: this.runs.get(this.stuckRun)?.runtime.id,
      };
    if (this.silent) {
      const last = [...this.stderrTail.matchAll(THREAD_LINES)].pop();
      const culprit = last?.[1] === THREAD_HELD ? Number(last[2]) : undefined;
      return { cause: `it stopped answering (no heartbeat for ${HEARTBEAT_TIMEOUT_MS / 1000} s: its thread was held)`, kind: "silent", culprit };
    }
    return { cause: signal ? `signal ${signal}` : `exit ${code}`, kind: "other" };
  }

  /**
   * The host is gone: its runtimes read disposed, creates fail, runs end.
   * The run whose code ended the host ends with the cause's code, and its
   * session CRASHED (SPEC, Session hosts): TIMEOUT for the run it was
   * killed for (past its wall time, or holding the host's thread),
   * MEMORY_LIMIT_EXCEEDED for memory (V8's own, or past --host-memory-mb).
   * That run is known when the host named its isolate, or
   * when it was the only run there. Every other run was cancelled with its
   * isolate, told why (the pipeline restarts those sessions), and so are
   * the idle sessions there (a session's code runs only within its runs).
   */
  private lose(loss: Loss): void {
    const runs = [...this.runs.values()];
    const culprit = loss.culprit ?? (loss.kind !== "other" && runs.length === 1 ? runs[0].runtime.id : undefined);
    for (const runtime of this.runtimes.values()) runtime.update(0, true);
    this.runtimes.clear();
    for (const pending of this.creates.values()) pending.reject(new Error(`the session host ended (${loss.cause})`));
    this.creates.clear();
    const others = culprit === undefined ? loss.cause : `${loss.cause}, caused by another session's code`;
    for (const run of [...this.runs.keys()]) {
      const pending = this.settle(run)!;
      if (pending.replay) {
        pending.reject(new Error(`its session host was lost during the restore: ${pending.runtime.id === culprit ? loss.cause : others}`));
        continue;
      }
      let outcome: RunOutcome = { kind: "cancelled", isolateDisposed: true, cause: `its session host was lost: ${others}` };
      if (pending.runtime.id === culprit) outcome = culpritOutcome(loss) ?? outcome;
      pending.resolve({ outcome, cpuMs: 0 });
    }
  }
}

/** How the run whose code ended its host ends. */
function culpritOutcome(loss: Loss): RunOutcome | undefined {
  switch (loss.kind) {
    case "memory":
      return { kind: "memory", cause: loss.cause === "out of memory" ? undefined : loss.cause };
    case "stuck":
      return { kind: "timeout", limit: "wall", isolateDisposed: true, hostLost: true };
    case "silent":
      return {
        kind: "timeout",
        limit: "wall",
        isolateDisposed: true,
        hostLost: true,
        cause: `the execution held its session host's thread for ${HEARTBEAT_TIMEOUT_MS / 1000} s`,
      };
    case "other":
      return undefined;
  }
}

/** VmRSS of a process in MB (Linux), or undefined when it cannot be read (gone, another system). */
async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

function fromWire(error: WireError): Error {
  return error.code ? new RuntimeError(error.code, error.message) : new Error(error.message);
}

/** A session's runtime in a host: what the pipeline holds instead of a SessionRuntime. */
export class RemoteSessionRuntime implements SessionRuntimePort {
  private closed = false;
  private gone = false;
  private running = false;

  constructor(
    private readonly host: HostProcess,
    readonly id: number,
    private heap: number,
  ) {}

  get disposed(): boolean {
    return this.closed || this.gone;
  }

  /** From the host: the heap figure after a run or a refresh, and whether the isolate is gone. */
  update(heap: number, disposed: boolean): void {
    this.heap = heap;
    if (disposed) this.gone = true;
  }

  runRepl(code: string, limits: RunLimits, hooks: RunHooks): Promise<RunResult> {
    return this.run({ kind: "repl", code }, limits, hooks);
  }

  runFile(file: string | WorktreeFile, limits: RunLimits, hooks: RunHooks, options?: RunFileOptions): Promise<RunResult> {
    return this.run({ kind: "file", file, options }, limits, hooks);
  }

  replay(steps: ReplayStep[], signal?: AbortSignal): Promise<ReplayResult> {
    return this.exclusive(() => this.host.replay(this, steps, signal));
  }

  private run(request: RunRequest, limits: RunLimits, hooks: RunHooks): Promise<RunResult> {
    return this.exclusive(() => this.host.run(this, request, limits, hooks));
  }

  private async exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new RuntimeError("DISPOSED", "the runtime's isolate is gone");
    if (this.running) throw new RuntimeError("BUSY", "a run is already in progress");
    this.running = true;
    try {
      return await work();
    } finally {
      this.running = false;
    }
  }

  /** As of the latest answer from the host; asks for a fresh figure for the next caller. */
  heapUsedBytes(): number {
    if (this.disposed) return 0;
    if (!this.running) this.host.askHeap(this);
    return this.heap;
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.dispose(this);
  }
}
