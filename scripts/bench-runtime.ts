/**
 * Sandbox runtime throughput, no gRPC and no persistence: console lines per
 * second end to end (from the start of the run until onConsole has seen every
 * line and the outcome is decided), the latency of a trivial REPL run and of
 * runtime creation, each beside the raw isolated-vm figure measured in the
 * same process. Prints figures; asserts nothing.
 *
 *   npm run build && node --no-node-snapshot dist/scripts/bench-runtime.js
 */
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ivm from "isolated-vm";
import { LocalRuntimes, type RunHooks, type SessionRuntime } from "../src/runtime";
import { benchRuntimeOptions } from "./bench-floors";
import { stats, timeEach, timeOnce, underLoad } from "./timing";

const LINES = 100_000;
const ROUNDS = 5;
const LIMITS = { cpuMs: 60_000, wallMs: 60_000 };

const median = (xs: number[]) => stats(xs).median;

/** onConsole with a budget, as the service's event recorder gives it (here: room for every line). */
const budgeted = (count: () => void): RunHooks => ({
  onConsole: () => (count(), true),
  consoleBudget: () => ({ events: 1e9, bytes: 1e12 }),
});
/** onConsole alone: the runtime cannot know what fits, so every line waits for the host. */
const unbudgeted = (count: () => void): RunHooks => ({ onConsole: () => (count(), true) });

async function linesPerSecond(rt: SessionRuntime, code: string, hooks: (count: () => void) => RunHooks, lines = LINES): Promise<number[]> {
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let seen = 0;
    const t0 = performance.now();
    const { outcome } = await rt.runRepl(
      code,
      LIMITS,
      hooks(() => seen++),
    );
    const ms = performance.now() - t0;
    if (outcome.kind !== "value" || seen !== lines) throw new Error(`bad run: ${outcome.kind}, ${seen} lines`);
    rates.push(lines / (ms / 1000));
  }
  return rates;
}

/** Sessions running at once in one process (a session host holds many). */
const AT_ONCE = 16;

/** `run(i)` back to back in AT_ONCE loops for a while: runs per second, and the process's CPU per run. */
async function atOnce(run: (i: number) => Promise<unknown>): Promise<{ perSec: number; cpuUs: number }> {
  const { calls, seconds, before, after } = await underLoad(AT_ONCE, run, 500, 2000, () => process.cpuUsage());
  return { perSec: calls / seconds, cpuUs: (after.user - before.user + after.system - before.system) / calls };
}

async function main(): Promise<void> {
  const runtimes = new LocalRuntimes();
  const worktree = realpathSync(mkdtempSync(join(tmpdir(), "bench-runtime-")));
  const options = benchRuntimeOptions(worktree);
  const t0 = performance.now();
  const rt = await runtimes.create(options);
  const firstCreateMs = performance.now() - t0;
  try {
    const rawCreate = await timeEach(60, async () => {
      const isolate = new ivm.Isolate({ memoryLimit: 128 });
      await isolate.createContext();
      isolate.dispose();
    });
    const create = await timeEach(60, async () => (await runtimes.create(options)).dispose());
    // A session's first execution: what V8 compiles lazily and the prelude's code cache lacks shows here.
    const firstRepl: number[] = [];
    const secondRepl: number[] = [];
    for (let i = 0; i < 30; i++) {
      const fresh = await runtimes.create(options);
      const snippet = () =>
        fresh.runRepl(
          "console.log('x', { a: 1 }); ({ n: 1 })",
          LIMITS,
          budgeted(() => undefined),
        );
      firstRepl.push(await timeOnce(snippet));
      secondRepl.push(await timeOnce(snippet));
      fresh.dispose();
    }
    const withLibraries = await timeEach(6, async () => (await runtimes.create({ ...options, libraries: ["lodash", "dayjs", "ramda", "moment"] })).dispose());
    const plain = await linesPerSecond(rt, `for (let i = 0; i < ${LINES}; i++) console.log(i)`, budgeted);
    const objects = await linesPerSecond(rt, `for (let i = 0; i < ${LINES}; i++) console.log('row', { i, sq: i * i })`, budgeted);
    const SYNC_LINES = 20_000;
    const sync = await linesPerSecond(rt, `for (let i = 0; i < ${SYNC_LINES}; i++) console.log(i)`, unbudgeted, SYNC_LINES);
    const hooks: RunHooks = { onConsole: () => true };
    await timeEach(500, () => rt.runRepl("1 + 1", LIMITS, hooks));
    const latencies = await timeEach(3000, () => rt.runRepl("1 + 1", LIMITS, hooks));
    const isolate = new ivm.Isolate({ memoryLimit: 128 });
    const context = await isolate.createContext();
    await timeEach(500, () => context.eval("1 + 1"));
    const rawEval = await timeEach(3000, () => context.eval("1 + 1"));
    isolate.dispose();
    // Many sessions at once: the runtime's calls pass the process's isolate
    // gate (isolate-gate.ts); raw evals go to isolated-vm's pool ungated.
    const many = await Promise.all(Array.from({ length: AT_ONCE }, () => runtimes.create(options)));
    const manyRuns = await atOnce((i) => many[i].runRepl("1 + 1", LIMITS, hooks));
    many.forEach((r) => r.dispose());
    const rawIsolates = Array.from({ length: AT_ONCE }, () => new ivm.Isolate({ memoryLimit: 128 }));
    const rawContexts = await Promise.all(rawIsolates.map((i) => i.createContext()));
    const manyRaw = await atOnce((i) => rawContexts[i].eval("1 + 1"));
    rawIsolates.forEach((i) => i.dispose());

    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    const ms = (n: number) => `${n.toFixed(3)} ms`;
    console.log(
      `runtime create (no libraries):          median ${ms(median(create))} (raw isolate+context ${ms(median(rawCreate))}; first in process ${ms(firstCreateMs)})`,
    );
    console.log(`runtime create (all four libraries):    median ${ms(median(withLibraries))}`);
    console.log(`console.log(i) x${LINES}:              median ${fmt(median(plain))} lines/s (runs: ${plain.map(fmt).join(", ")})`);
    console.log(`console.log('row', {i, sq}) x${LINES}: median ${fmt(median(objects))} lines/s`);
    console.log(`console.log(i), no budget (all sync):   median ${fmt(median(sync))} lines/s`);
    console.log(`runRepl('1 + 1') latency:              median ${ms(median(latencies))} (raw context.eval ${ms(median(rawEval))})`);
    console.log(
      `${AT_ONCE} sessions' runRepl('1 + 1') at once: ${fmt(manyRuns.perSec)} runs/s, ${manyRuns.cpuUs.toFixed(0)} µs CPU a run → ${(manyRuns.perSec / manyRaw.perSec).toFixed(2)}× raw context.eval the same way (${fmt(manyRaw.perSec)}/s, ${manyRaw.cpuUs.toFixed(0)} µs)`,
    );
    console.log(`a new runtime's first runRepl:          median ${ms(median(firstRepl))} (its second: ${ms(median(secondRepl))})`);
  } finally {
    rt.dispose();
    await runtimes.close();
    rmSync(worktree, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
