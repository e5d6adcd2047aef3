import { format } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { exceptionOf, options, repl, valueOf, runtimes } from "./helpers";

describe("console", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options());
  });
  afterAll(() => rt.dispose());

  const texts = async (code: string) => (await repl(rt, code)).lines.map((l) => l.text);

  it("delivers each level in order", async () => {
    const { lines, outcome } = await repl(rt, "console.log('l'); console.info('i'); console.warn('w'); console.error('e'); console.debug('d'); 5");
    expect(lines).toEqual([
      { level: "log", text: "l" },
      { level: "info", text: "i" },
      { level: "warn", text: "w" },
      { level: "error", text: "e" },
      { level: "debug", text: "d" },
    ]);
    expect(valueOf(outcome).json).toBe(5);
  });

  it("formats arguments exactly as Node's console does", async () => {
    // Each entry is evaluated both here and in the sandbox; the texts must match.
    const calls = [
      "'a', 1, { b: 2 }",
      "'%s is %d years', 'Bob', 42",
      "'%s', { x: [1, 2] }",
      "'%s', { toString() { return 'custom' } }",
      "'%d %i %f', '42.5', '42.5', '1.5e1'",
      "'%j', { a: [1, 'x'] }",
      "'%o', [1, { a: 1 }]",
      "'%O', { deep: { er: { est: { x: 1 } } } }",
      "'100%% sure %c', 'color: red'",
      "'%s %s', 'only-one'",
      "{ a: 1 }, 'tail'",
      "[1, 'two', [3]], null, undefined, -0, 1n, Symbol('s')",
      "new Map([['k', new Set([1])]])",
      "'%s', -0",
      "new Error('in console').message",
      "[undefined, null, NaN, Infinity]",
      "{ f() {}, g: class G {}, h: async function* hh() {} }",
      "'x'.repeat(20000).length",
    ];
    for (const args of calls) {
      const expected = format(...(new Function(`return [${args}]`)() as unknown[]));
      expect(await texts(`console.log(${args})`), args).toEqual([expected]);
    }
    expect(await texts("console.log()")).toEqual([""]);
    expect(await texts("const cyc = {}; cyc.me = cyc; console.log('%j', cyc)")).toEqual(["[Circular]"]);
  });

  it("prints errors with their stack, without host frames", async () => {
    const [text] = await texts("console.log(new RangeError('r'))");
    expect(text.split("\n")[0]).toBe("RangeError: r");
    expect(text).toContain("at repl:1:");
    expect(text).not.toMatch(/boundary|vmsystem:runtime|\/work\//);
  });

  it("supports group, count, assert, dir, time and trace", async () => {
    const out = await texts(`
      console.group('g'); console.log('inner\\nline'); console.groupEnd(); console.log('outer');
      console.count(); console.count(); console.count('x');
      console.assert(1 === 2, 'math'); console.assert(true, 'silent');
      console.dir('s'); console.time('t'); console.timeEnd('t');
      console.trace('here');`);
    expect(out.slice(0, 9)).toEqual([
      "g",
      "  inner\n  line",
      "outer",
      "default: 1",
      "default: 2",
      "x: 1",
      "Assertion failed: math",
      "'s'",
      expect.stringMatching(/^t: \d+(\.\d+)?ms$/),
    ]);
    expect(out[9]).toMatch(/^Trace: here\n\s+at repl:/);
  });

  it("keeps order across thousands of lines and delivers them before the outcome", async () => {
    const { lines, outcome } = await repl(rt, "for (let i = 0; i < 5000; i++) console[i % 2 ? 'log' : 'error'](i); throw new Error('end')");
    expect(lines).toHaveLength(5000);
    expect(lines.every((l, i) => l.text === String(i) && l.level === (i % 2 ? "log" : "error"))).toBe(true);
    expect(exceptionOf(outcome).message).toBe("end");
  });

  it("stops output when onConsole refuses a line: console throws, outcome output-limit", async () => {
    const limited = await repl(
      rt,
      `
      globalThis.sent = 0;
      try { for (;;) { console.log(sent); sent++; if (sent > 5e6) break; } } catch (e) { globalThis.caught = e.message }
      'done'`,
      {},
      { accept: (n) => n < 3 },
    );
    expect(limited.outcome).toEqual({ kind: "output-limit" });
    expect(limited.lines.map((l) => l.text)).toEqual(["0", "1", "2"]);
    expect(valueOf((await repl(rt, "caught")).outcome).preview).toMatch(/output limit/);
    // the next run starts with a fresh budget
    expect((await repl(rt, "console.log('again')")).lines).toEqual([{ level: "log", text: "again" }]);
  });

  it("an uncaught throw after the limit is still output-limit", async () => {
    const r = await repl(rt, "for (let i = 0; i < 1e6; i++) console.log(i)", {}, { accept: (n) => n < 1 });
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(r.lines).toHaveLength(1);
  });

  it("console: false installs a silent console", async () => {
    const quiet = await runtimes.create(options({ runtime: { esm: false, strict: false, console: false } }));
    try {
      const r = await repl(quiet, "console.log('x'); console.error('y'); typeof console.log");
      expect(r.lines).toEqual([]);
      expect(valueOf(r.outcome).json).toBe("function");
    } finally {
      quiet.dispose();
    }
  });
});
