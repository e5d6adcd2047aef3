/**
 * Recording and replay in one real isolate (runtime/run-tape.ts,
 * sandbox/src/record.js, runtime/replay.ts): what a recorded run received
 * from outside is served again to a fresh runtime, which then holds the
 * same state; asking for something else is reported as a divergence.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ReplayStep, RunResult, RuntimeOptions } from "../../src/runtime";
import { LIMITS, options, runtimes } from "./helpers";

async function record(opts: RuntimeOptions, snippets: string[]): Promise<{ steps: ReplayStep[]; results: RunResult[] }> {
  const rt = await runtimes.create(opts);
  const steps: ReplayStep[] = [];
  const results: RunResult[] = [];
  try {
    for (const [i, code] of snippets.entries()) {
      const result = await rt.runRepl(code, LIMITS, { onConsole: () => true, record: true });
      results.push(result);
      const o = result.outcome;
      steps.push({
        number: i + 1,
        request: { kind: "repl", code },
        limits: LIMITS,
        recording: result.recording ?? {},
        expect:
          o.kind === "value"
            ? { kind: "value", type: o.value.type, preview: o.value.preview }
            : o.kind === "exception"
              ? { kind: "exception", message: `${o.exception.name}: ${o.exception.message}` }
              : { kind: o.kind === "memory" ? "other" : o.kind },
      });
    }
  } finally {
    rt.dispose();
  }
  return { steps, results };
}

const value = (r: RunResult) => (r.outcome.kind === "value" ? r.outcome.value.preview : JSON.stringify(r.outcome));

describe("replay", () => {
  it("serves a fresh runtime the clock and random values the recorded one read, and rebuilds its state", async () => {
    const opts = options();
    const { steps, results } = await record(opts, [
      "var t0 = Date.now(); var d = new Date(); var r = Math.random(); class P { constructor(x) { this.x = x } }; var p = new P(r); const f = ((k) => () => k)(t0);",
      "let spin = Date.now(); while (Date.now() - spin < 30) {} var u = crypto.randomUUID(); [t0, d.getTime(), r, p.x, f(), u, performance.now() >= 0]",
      "[Math.random(), Math.random()]",
    ]);
    expect(steps[0].recording.seed).toBeTypeOf("number");
    expect(steps[0].recording.clock?.length).toBeGreaterThan(0);
    // A busy-wait of 30 ms is a few dozen runs of equal readings, not thousands of readings.
    expect(steps[1].recording.clock!.length).toBeLessThan(200);
    expect(steps[1].recording.calls?.[0]?.[0]).toBe("crypto.randomBytes");
    const fresh = await runtimes.create(opts);
    try {
      expect(await fresh.replay(steps)).toEqual({ replayed: 3 });
      const probe = await fresh.runRepl("[t0, d.getTime(), r, p.x, f(), u, p instanceof P]", LIMITS, { onConsole: () => true });
      const before = JSON.parse(JSON.stringify((results[1].outcome as { value: { json: unknown[] } }).value.json)) as unknown[];
      expect((probe.outcome as { value: { json: unknown[] } }).value.json).toEqual([...before.slice(0, 6), true]);
    } finally {
      fresh.dispose();
    }
  });

  it("a long busy-wait's readings (more than shared memory holds) are taken from the isolate and replayed exactly", async () => {
    const opts = options();
    const { steps, results } = await record(opts, ["var s = Date.now(), reads = 0; while (Date.now() - s < 400) reads++; [s, reads]"]);
    const runs = steps[0].recording.clock!;
    expect(runs.length).toBeGreaterThan(512);
    // Millions of readings in a few hundred runs of equal values.
    expect(runs.filter((_, i) => i % 2 === 1).reduce((a, b) => a + b, 0)).toBeGreaterThan(runs.length);
    const fresh = await runtimes.create(opts);
    try {
      expect(await fresh.replay(steps)).toEqual({ replayed: 1 });
      expect(value(await fresh.runRepl("[s, reads]", LIMITS, { onConsole: () => true }))).toBe(value(results[0]));
    } finally {
      fresh.dispose();
    }
  });

  it("an ES module run replays its imports from the recorded sources, whatever the worktree holds now", async () => {
    const dir = options().worktreePath;
    const opts = options({ worktreePath: dir, runtime: { esm: true, strict: false, console: true } });
    writeFileSync(join(dir, "main.mjs"), "import { v } from './lib.mjs'; globalThis.seen = v; export const out = v;");
    writeFileSync(join(dir, "lib.mjs"), "export const v = 'first';");
    const rt = await runtimes.create(opts);
    const file = { abs: join(dir, "main.mjs"), rel: "main.mjs", source: "import { v } from './lib.mjs'; globalThis.seen = v; export const out = v;" };
    let recorded: RunResult;
    try {
      recorded = await rt.runFile(file, LIMITS, { onConsole: () => true, record: true });
    } finally {
      rt.dispose();
    }
    expect(recorded.recording?.imports).toEqual([["main.mjs", "./lib.mjs", "lib.mjs", "export const v = 'first';"]]);
    writeFileSync(join(dir, "lib.mjs"), "export const v = 'edited';");
    const fresh = await runtimes.create(opts);
    try {
      const step: ReplayStep = {
        number: 1,
        request: { kind: "file", file },
        limits: LIMITS,
        recording: recorded.recording!,
        expect: { kind: "value", type: "object", preview: (recorded.outcome as { value: { preview: string } }).value.preview },
      };
      expect(await fresh.replay([step])).toEqual({ replayed: 1 });
      expect(value(await fresh.runRepl("seen", LIMITS, { onConsole: () => true }))).toBe("'first'");
    } finally {
      fresh.dispose();
    }
  });

  it("a snippet that reads nothing from outside records nothing", async () => {
    const { results } = await record(options(), ["var a = 1; function g() { return a + 1 }; g()"]);
    expect(results[0].recording).toBeUndefined();
  });

  it("serves recorded module answers instead of asking again, and reruns in-memory database calls for real", async () => {
    const dir = options().worktreePath;
    const opts = options({ worktreePath: dir, modules: ["fs", "database"] });
    writeFileSync(join(dir, "data.txt"), "first");
    const { steps } = await record(opts, [
      "const fs = require('fs'); const db = require('database'); db.exec('create table t (x)'); db.exec('insert into t values (?)', [7]); var text = fs.readFileSync ? 0 : fs.readFile('data.txt'); fs.appendFile('log.txt', 'once\\n'); text",
    ]);
    writeFileSync(join(dir, "data.txt"), "changed since");
    const fresh = await runtimes.create(opts);
    try {
      expect(await fresh.replay(steps)).toEqual({ replayed: 1 });
      const probe = await fresh.runRepl("[text, db.query('select x from t')[0].x, fs.readFile('log.txt')]", LIMITS, { onConsole: () => true });
      expect(value(probe)).toBe("[ 'first', 7, 'once\\n' ]");
    } finally {
      fresh.dispose();
    }
  });

  it("fires recorded timers in their order without waiting for them", async () => {
    const opts = options();
    const { steps } = await record(opts, [
      "var order = []; await new Promise((done) => { setTimeout(() => order.push('slow'), 300); setTimeout(() => { order.push('fast'); }, 10); setTimeout(done, 400); }); order.join()",
    ]);
    expect(steps[0].recording.callbacks?.map((c) => c[0])).toEqual(["t", "t", "t"]);
    const fresh = await runtimes.create(opts);
    try {
      const started = performance.now();
      expect(await fresh.replay(steps)).toEqual({ replayed: 1 });
      expect(performance.now() - started).toBeLessThan(300);
      expect(value(await fresh.runRepl("order.join()", LIMITS, { onConsole: () => true }))).toBe("'fast,slow'");
    } finally {
      fresh.dispose();
    }
  });

  it("a replayed run waiting for a timer it no longer asks for is reported at once, not at its wall time", async () => {
    const opts = options();
    const { steps } = await record(opts, ["await new Promise((r) => setTimeout(r, 50)); 1"]);
    const altered: ReplayStep[] = [{ ...steps[0], request: { kind: "repl", code: "await new Promise(() => {}); 1" } }];
    const fresh = await runtimes.create(opts);
    try {
      const started = performance.now();
      const result = await fresh.replay(altered);
      expect(result.divergence?.reason).toMatch(/never asked for the timer 1/);
      expect(performance.now() - started).toBeLessThan(LIMITS.wallMs / 2);
    } finally {
      fresh.dispose();
    }
  });

  it("a replayed host call the recording does not hold fails in the sandbox and never reaches the world", async () => {
    const dir = options().worktreePath;
    const opts = options({ worktreePath: dir, modules: ["fs"] });
    const { steps } = await record(opts, ["require('fs').appendFile('a.txt', 'x'); 1"]);
    const altered: ReplayStep[] = [{ ...steps[0], request: { kind: "repl", code: "require('fs').writeFile('b.txt', 'y'); 1" } }];
    const fresh = await runtimes.create(opts);
    try {
      const result = await fresh.replay(altered);
      expect(result.divergence?.reason).toMatch(/it called fs.writeFile where the recording has fs.appendFile/);
      expect(existsSync(join(dir, "b.txt"))).toBe(false);
      expect(readFileSync(join(dir, "a.txt"), "utf8")).toBe("x");
    } finally {
      fresh.dispose();
    }
  });

  it("reports a run that asks for more than its recording holds", async () => {
    const opts = options();
    const { steps } = await record(opts, ["var x = 1; x"]);
    const altered: ReplayStep[] = [{ ...steps[0], request: { kind: "repl", code: "var x = Date.now(); 1" } }];
    const fresh = await runtimes.create(opts);
    try {
      const result = await fresh.replay(altered);
      expect(result.replayed).toBe(0);
      expect(result.divergence?.number).toBe(1);
      expect(result.divergence?.reason).toMatch(/clock/);
    } finally {
      fresh.dispose();
    }
  });
});
