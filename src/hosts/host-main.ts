/**
 * A session host: the child process RemoteRuntimes forks (compiled, from
 * dist/). It holds a LocalRuntimes and the session runtimes placed on it,
 * and answers the main process over IPC (protocol.ts). Whatever user code
 * does to this process (V8's fatal out-of-memory, a crash in isolated-vm, a
 * frozen main thread) ends this host only; the main process replaces it.
 */
import { writeSync } from "node:fs";
import { LocalRuntimes } from "../runtime/local-runtimes";
import { protectServerPaths } from "../runtime/paths";
import type { SessionRuntime } from "../runtime/session-runtime";
import { RuntimeError, type ConsoleLevel, type ReplayResult, type RunHooks, type RunResult } from "../runtime/types";
import { watchThread } from "./thread-watch";
import { CATASTROPHE, CATCH_UP_MAX_MS, ConsoleBatch, HEARTBEAT_MS, MAX_UNACKED, type Budget, type ToHost, type ToMain, type WireError } from "./protocol";

const send = (message: ToMain) => process.send?.(message);

// V8's state is undefined after a catastrophic error: say so, and whose
// isolate it was, where the main process looks (stderr, written
// synchronously; see CATASTROPHE in protocol.ts) and end at once.
const runtimes = new LocalRuntimes({
  onCatastrophicError: (message, isolate) => {
    const id = [...live].find(([, runtime]) => runtime.runsIn(isolate))?.[0];
    writeSync(2, `${CATASTROPHE}${id === undefined ? "" : ` in runtime ${id}`}: ${message}\n`);
    process.kill(process.pid, "SIGKILL");
  },
});
/**
 * The server's own files (argv[2], JSON), refused to every session as in
 * the main process. Protected at each create: the data directory may not
 * exist yet when the host starts.
 */
const serverPaths = JSON.parse(process.argv[2] ?? "[]") as string[];
const live = new Map<number, SessionRuntime>();
const runs = new Map<number, HostRun>();
/** The weight (ConsoleBatch.weight) of each console batch sent and not yet acknowledged, oldest first, over all runs; and their sum. */
const unackedBatches: number[] = [];
let unacked = 0;
/** Resolves when the main process has caught up (see behind()); shared by every run waiting for it. */
let caughtUp: { promise: Promise<void>; resolve(): void } | undefined;

/**
 * While the main process is MAX_UNACKED behind: a promise for when
 * it is back to half that (RunHooks.consoleWait), so sandboxes wait instead
 * of this process queueing their lines. Settles after CATCH_UP_MAX_MS at the
 * latest: a waiting sandbox always moves on (and meets its own limits).
 */
function behind(): Promise<void> | undefined {
  if (unacked <= MAX_UNACKED) return undefined;
  if (!caughtUp) {
    let resolve!: () => void;
    caughtUp = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    setTimeout(release, CATCH_UP_MAX_MS).unref();
  }
  return caughtUp.promise;
}

function release(): void {
  caughtUp?.resolve();
  caughtUp = undefined;
}

/**
 * One run's console, answered here with the main process's accounting (the
 * budget its EventRecorder gave at the start: same counts, same limits), so
 * the sandbox's fire-and-forget lines stay fire-and-forget. The line that
 * crosses a limit is sent too: the main recorder then records its SYSTEM
 * event and refuses it, as it does in-process. Lines go in one message per
 * tick. While the main process is MAX_UNACKED behind, the
 * sandbox's console calls wait until it has caught up (see behind()).
 */
class HostRun {
  readonly abort = new AbortController();
  private readonly lines = new ConsoleBatch();
  private scheduled = false;
  private events = 0;
  private bytes = 0;
  private limited = false;

  constructor(
    readonly run: number,
    private readonly budget: Budget,
    record = false,
  ) {
    this.hooks.record = record;
  }

  readonly hooks: RunHooks = {
    onConsole: (level, text) => {
      if (this.limited) return false;
      this.push(level, text);
      const size = Buffer.byteLength(text, "utf8");
      if (this.events >= this.budget.events || this.bytes + size > this.budget.bytes) {
        this.limited = true;
        return false;
      }
      this.events += 1;
      this.bytes += size;
      return true;
    },
    consoleBudget: () => (this.limited ? { events: 0, bytes: 0 } : { events: this.budget.events - this.events, bytes: this.budget.bytes - this.bytes }),
    consoleWait: behind,
    signal: this.abort.signal,
  };

  private push(level: ConsoleLevel, text: string): void {
    this.lines.push(level, text);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what is collected (also before the run's answer, which must come after its lines). */
  flush(): void {
    this.scheduled = false;
    if (this.lines.size === 0) return;
    const weight = this.lines.weight;
    unackedBatches.push(weight);
    unacked += weight;
    send({ t: "console", run: this.run, lines: this.lines.take() });
  }
}

function wireError(err: unknown): WireError {
  if (err instanceof RuntimeError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}

async function create(id: number, message: Extract<ToHost, { t: "create" }>): Promise<void> {
  try {
    protectServerPaths(serverPaths);
    const runtime = await runtimes.create(message.options);
    runtime.threadTag = id;
    live.set(id, runtime);
    send({ t: "created", id, heap: runtime.knownHeapUsedBytes() });
  } catch (err) {
    send({ t: "created", id, error: wireError(err) });
  }
}

async function run(message: Extract<ToHost, { t: "run" }>): Promise<void> {
  const hostRun = new HostRun(message.run, message.budget, message.record);
  const { request, limits } = message;
  await answer(message.id, hostRun, async (runtime) => ({
    result:
      request.kind === "repl"
        ? await runtime.runRepl(request.code, limits, hostRun.hooks)
        : await runtime.runFile(request.file, limits, hostRun.hooks, request.options),
  }));
}

/** Recorded executions run again in one runtime (runtime/replay.ts): nothing goes to the main process but the answer. */
async function replay(message: Extract<ToHost, { t: "replay" }>): Promise<void> {
  const hostRun = new HostRun(message.run, { events: 0, bytes: 0 });
  await answer(message.id, hostRun, async (runtime) => ({ replayed: await runtime.replay(message.steps, hostRun.abort.signal) }));
}

/** Does a run's work in runtime `id` (cancellable through `hostRun`) and sends its "done": after its console lines, with the runtime's state. */
async function answer(
  id: number,
  hostRun: HostRun,
  work: (runtime: SessionRuntime) => Promise<{ result?: RunResult; replayed?: ReplayResult }>,
): Promise<void> {
  const runtime = live.get(id);
  runs.set(hostRun.run, hostRun);
  let done: { result?: RunResult; replayed?: ReplayResult } = {};
  let error: WireError | undefined;
  try {
    if (!runtime) throw new RuntimeError("DISPOSED", "the runtime's isolate is gone");
    done = await work(runtime);
  } catch (err) {
    error = wireError(err);
  }
  runs.delete(hostRun.run);
  hostRun.flush();
  const disposed = !runtime || runtime.disposed;
  if (runtime && disposed) live.delete(id);
  send({ t: "done", run: hostRun.run, ...done, error, disposed, heap: disposed ? 0 : runtime.knownHeapUsedBytes() });
}

process.on("message", (message: ToHost) => {
  switch (message.t) {
    case "create":
      return void create(message.id, message);
    case "run":
      return void run(message);
    case "replay":
      return void replay(message);
    case "cancel":
      return runs.get(message.run)?.abort.abort();
    case "dispose":
      live.get(message.id)?.dispose();
      live.delete(message.id);
      return;
    case "heap": {
      const runtime = live.get(message.id);
      send({ t: "heap", id: message.id, bytes: runtime?.heapUsedBytes() ?? 0, disposed: !runtime || runtime.disposed });
      return;
    }
    case "keepSpare":
      return runtimes.keepSpare(message.memMb);
    case "ack":
      for (const weight of unackedBatches.splice(0, message.batches)) unacked -= weight;
      if (unacked <= MAX_UNACKED / 2) release();
      return;
  }
});

// The main process ends hosts itself (SIGTERM, then SIGKILL). A terminal's
// Ctrl-C reaches the whole process group: the main process's graceful stop
// decides, not the signal. Without the main process (it died), end at once.
process.on("SIGINT", () => undefined);
process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));

watchThread();
// From the start (warm-up included): a thread held by anything stops them.
setInterval(() => send({ t: "beat" }), HEARTBEAT_MS);
void runtimes.warmUp().then(() => send({ t: "ready" }));
