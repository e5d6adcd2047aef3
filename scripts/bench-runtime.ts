/**
 * Sandbox runtime throughput, no gRPC and no persistence: console lines per
 * second end to end (from the start of the run until onConsole has seen every
 * line and the outcome is decided), and the latency of a trivial REPL run.
 * Prints figures; asserts nothing.
 *
 *   npm run build && node --no-node-snapshot dist/scripts/bench-runtime.js
 */
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionRuntime, type RuntimeOptions } from "../src/runtime";

const LINES = 100_000;
const ROUNDS = 5;
const LIMITS = { cpuMs: 60_000, wallMs: 60_000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function linesPerSecond(rt: SessionRuntime, code: string): Promise<number[]> {
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let seen = 0;
    const t0 = performance.now();
    const { outcome } = await rt.runRepl(code, LIMITS, { onConsole: () => (seen++, true) });
    const ms = performance.now() - t0;
    if (outcome.kind !== "value" || seen !== LINES) throw new Error(`bad run: ${outcome.kind}, ${seen} lines`);
    rates.push(LINES / (ms / 1000));
  }
  return rates;
}

async function main(): Promise<void> {
  const worktree = realpathSync(mkdtempSync(join(tmpdir(), "bench-runtime-")));
  const t0 = performance.now();
  const options: RuntimeOptions = {
    memMb: 128,
    worktreePath: worktree,
    runtime: { esm: false, strict: false, console: true },
    resolver: { roots: [], extensions: [".js"], allowAbsoluteRepoImports: false },
    modules: [],
    libraries: [],
    allowExec: false,
  };
  const rt = await SessionRuntime.create(options);
  const createMs = performance.now() - t0;
  try {
    const plain = await linesPerSecond(rt, `for (let i = 0; i < ${LINES}; i++) console.log(i)`);
    const objects = await linesPerSecond(rt, `for (let i = 0; i < ${LINES}; i++) console.log('row', { i, sq: i * i })`);
    const latencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const s = performance.now();
      await rt.runRepl("1 + 1", LIMITS, { onConsole: () => true });
      latencies.push(performance.now() - s);
    }
    const withLibraries: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const lib = await SessionRuntime.create({ ...options, libraries: ["lodash", "dayjs", "ramda", "moment"] });
      withLibraries.push(performance.now() - s);
      lib.dispose();
    }
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    console.log(`runtime create (no libraries):          ${createMs.toFixed(1)} ms`);
    console.log(`runtime create (all four libraries):    median ${median(withLibraries).toFixed(1)} ms`);
    console.log(`console.log(i) x${LINES}:              median ${fmt(median(plain))} lines/s (runs: ${plain.map(fmt).join(", ")})`);
    console.log(`console.log('row', {i, sq}) x${LINES}: median ${fmt(median(objects))} lines/s`);
    console.log(`runRepl('1 + 1') latency:              median ${median(latencies).toFixed(3)} ms`);
  } finally {
    rt.dispose();
    rmSync(worktree, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
