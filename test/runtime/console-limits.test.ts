/**
 * The console call that crosses an output limit throws itself (SPEC: "the
 * line that would cross it is dropped", "the console call that crosses an
 * output limit itself throws"), while lines that certainly fit stay
 * fire-and-forget. limitedConsole() keeps lines the way the service's event
 * recorder does and publishes the matching budget.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { RING_HEADER, RING_UNITS } from "../../src/runtime/sandbox/constants";
import { exceptionOf, limitedConsole, options, repl, runWith, valueOf, runtimes } from "./helpers";

describe("the console call that crosses an output limit", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options());
  });
  afterAll(() => rt.dispose());

  const value = async (code: string) => valueOf((await repl(rt, code)).outcome).json;
  const texts = (lines: Array<{ text: string }>) => lines.map((l) => l.text);

  it("max_output_kb: the crossing line is dropped and its own call throws", async () => {
    const c = limitedConsole(1000, 1024);
    const r = await runWith(
      rt,
      "globalThis.crossed = 'no'; console.log('small'); try { console.log('y'.repeat(2000)) } catch (err) { globalThis.crossed = err.message }; 'end'",
      c.hooks,
    );
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(texts(c.lines)).toEqual(["small"]);
    expect(await value("crossed")).toMatch(/output limit/);
    // later calls throw too, and the next run starts afresh
    const again = limitedConsole(1000, 1024);
    await runWith(rt, "console.log('fresh')", again.hooks);
    expect(texts(again.lines)).toEqual(["fresh"]);
  });

  it("max_events: the call that would exceed the line budget throws itself", async () => {
    const c = limitedConsole(3, 1 << 20);
    const r = await runWith(
      rt,
      "globalThis.n = 0; globalThis.threw = null; try { for (;;) { console.log('line', n); n++ } } catch (e) { threw = e.message }",
      c.hooks,
    );
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(texts(c.lines)).toEqual(["line 0", "line 1", "line 2"]);
    expect(await value("[n, /output limit/.test(threw)]")).toEqual([3, true]);
  });

  it("without a budget from the host, every call waits for onConsole, with the same result", async () => {
    const r = await repl(rt, "globalThis.m = 0; try { for (;;) { console.log(m); m++ } } catch (e) {}", {}, { accept: (n) => n < 3 });
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(texts(r.lines)).toEqual(["0", "1", "2"]);
    expect(await value("m")).toBe(3);
  });

  it("keeps order when fire-and-forget lines are followed by synchronous ones", async () => {
    // 1-byte lines, 40 bytes: the shim's bound (3 bytes a unit) runs out first,
    // then exact sizes, then synchronous calls that the host accepts (and that
    // publish a fresh budget), until the 41st line is refused.
    const c = limitedConsole(1000, 40);
    const r = await runWith(rt, "globalThis.k = 0; try { for (; k < 100; k++) console[k % 2 ? 'log' : 'warn'](String(k % 10)) } catch (e) {}", c.hooks);
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(c.lines).toEqual(Array.from({ length: 40 }, (_, i) => ({ level: i % 2 ? "log" : "warn", text: String(i % 10) })));
    expect(await value("k")).toBe(40);
    expect(c.state.budgetReads).toBeGreaterThan(2); // accepted synchronous deliveries happened

    // thousands of fire-and-forget lines, then synchronous ones (objects near the limit)
    const many = limitedConsole(100_000, 60_000);
    const code = "let i = 0; try { for (; i < 20000; i++) { if (i % 1000 === 999) console.log({ i }); else console.log(i) } } catch (e) {} i";
    const m = await runWith(rt, code, many.hooks);
    const expected: string[] = [];
    let bytes = 0;
    for (let i = 0; i < 20000; i++) {
      const text = i % 1000 === 999 ? `{ i: ${i} }` : String(i);
      if (bytes + Buffer.byteLength(text) > 60_000) break;
      bytes += Buffer.byteLength(text);
      expected.push(text);
    }
    expect(m.outcome).toEqual({ kind: "output-limit" });
    expect(texts(many.lines)).toEqual(expected);
    expect(await value("i")).toBe(expected.length);
  });

  it("throws at exactly the first line that does not fit, for every kind of line and limit", async () => {
    // Each call emits one line except groupEnd/countReset. The run stops at the first call that throws.
    const calls = [
      ["console.countReset('c')", false],
      ["console.log('a')", true],
      ["console.log('héllo wörld ✓ 😀', '\\ud800x')", true],
      ["console.info({ x: 1, y: 'zz', nested: { deep: [1, 2, { d: 3 }] } })", true],
      ["console.group('grp')", true],
      ["console.log('in\\ngroup\\nlines')", true],
      ["console.warn([1, 'two', null, undefined, -0, 10n])", true],
      ["console.group()", false],
      ["console.error('%s-%d-%j', 'fmt', 7, { j: ['x'] })", true],
      ["console.log('émoji 😀 in a nested group', { z: 'ü' })", true],
      ["console.groupEnd()", false],
      ["console.dir({ d: new Map([[1, new Set(['s'])]]) })", true],
      ["console.groupEnd()", false],
      ["console.count('c')", true],
      ["console.log('x'.repeat(300))", true],
      ["console.trace('tr')", true],
      ["console.debug(12345, true, Symbol('s'))", true],
      ["console.log('%o', [1, { a: 1 }])", true],
      ["console.log('tail')", true],
    ] as const;
    const code = `globalThis.threwAt = -1;
      {
        const calls = [${calls.map(([c]) => `() => ${c}`).join(",\n")}];
        for (let i = 0; i < calls.length; i++) { try { calls[i]() } catch (e) { threwAt = i; break } }
      }
      threwAt`;
    const emitting = calls.flatMap(([, emits], i) => (emits ? [i] : []));
    const full = limitedConsole(1e6, 1e9);
    await runWith(rt, code, full.hooks);
    const all = full.lines.map((l) => l.text);
    expect(all).toHaveLength(emitting.length);
    const sizes = all.map((t) => Buffer.byteLength(t));
    const total = sizes.reduce((a, b) => a + b, 0);

    const check = async (maxLines: number, maxBytes: number) => {
      const c = limitedConsole(maxLines, maxBytes);
      const r = await runWith(rt, code, c.hooks);
      let kept = 0;
      let bytes = 0;
      while (kept < all.length && kept < maxLines && bytes + sizes[kept] <= maxBytes) bytes += sizes[kept++];
      const where = `maxLines ${maxLines}, maxBytes ${maxBytes}`;
      expect(texts(c.lines), where).toEqual(all.slice(0, kept));
      if (kept === all.length) {
        expect(valueOf(r.outcome).json, where).toBe(-1);
      } else {
        expect(r.outcome, where).toEqual({ kind: "output-limit" });
        expect(await value("threwAt"), where).toBe(emitting[kept]);
      }
    };
    const byteLimits = new Set([0, 1, 2, 3, 4, 5, 10, 30, 31, 32, 33, total - 1, total, total + 1]);
    let cumulative = 0;
    for (const size of sizes) {
      byteLimits.add(cumulative + size - 1);
      byteLimits.add(cumulative + size);
      cumulative += size;
    }
    for (const bytes of byteLimits) if (bytes >= 0) await check(1e6, bytes);
    for (let lines = 0; lines <= all.length; lines++) await check(lines, 1e9);
  });

  it("lines of every size arrive whole and in order through the console ring: wrapping, full, longer than half of it", async () => {
    // Around half of the ring: the longest line it takes, and one it leaves to the synchronous way.
    const half = RING_UNITS / 2 - RING_HEADER;
    const sizes = [1, 7, 100, 5000, half - 20, half + 20, 0, 3];
    const text = (n: number, size: number) => `${n}:${"é😀\ud800x".repeat(Math.ceil(size / 5)).slice(0, size)}`;
    const expected: string[] = [];
    for (let round = 0; round < 12; round++) for (const size of sizes) expected.push(text(expected.length, size));
    // A tight loop of short lines outruns the host: the ring fills up and lines take the synchronous way.
    for (let i = 0; i < 50_000; i++) expected.push(String(expected.length));
    const c = limitedConsole(1e6, 1e9);
    const r = await runWith(
      rt,
      `
      const text = ${text.toString()};
      let n = 0;
      for (let round = 0; round < 12; round++) for (const size of ${JSON.stringify(sizes)}) console.log(text(n++, size));
      for (let i = 0; i < 50000; i++) console.log(String(n++));
      n`,
      c.hooks,
    );
    expect(valueOf(r.outcome).json).toBe(expected.length);
    expect(c.lines.length).toBe(expected.length);
    const firstWrong = texts(c.lines).findIndex((t, i) => t !== expected[i]);
    expect(firstWrong).toBe(-1);
  });

  it("an onConsole that throws keeps output going; a budget hook that throws means synchronous delivery", async () => {
    const seen: string[] = [];
    const r = await runWith(rt, "console.log('one'); console.log('two'); 3", {
      onConsole(_level, text) {
        seen.push(text);
        if (text === "one") throw new Error("hook failed");
        return true;
      },
      consoleBudget() {
        throw new Error("no budget today");
      },
    });
    expect(valueOf(r.outcome).json).toBe(3);
    expect(seen).toEqual(["one", "two"]);
  });

  it("output after the limit still ends the run as output-limit when uncaught", async () => {
    const c = limitedConsole(2, 1 << 20);
    const r = await runWith(rt, "for (let i = 0; i < 10; i++) console.log(i)", c.hooks);
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(texts(c.lines)).toEqual(["0", "1"]);
    const e = await repl(rt, "throw new Error('fine again')");
    expect(exceptionOf(e.outcome).message).toBe("fine again");
  });
});
