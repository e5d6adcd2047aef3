/**
 * Describing values and exceptions is bounded in work, memory and size, and
 * never throws on hostile values (see test/hostile.test.ts for the same rows
 * through a real server process).
 */
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { SessionRuntime } from "../../src/runtime";
import { capText } from "../../src/runtime/format";
import { exceptionOf, limitedConsole, options, repl, runWith, valueOf } from "./helpers";

const runtimes: SessionRuntime[] = [];
async function fresh(memMb = 128): Promise<SessionRuntime> {
  const rt = await SessionRuntime.create(options({ memMb }));
  runtimes.push(rt);
  return rt;
}
afterEach(() => { while (runtimes.length) runtimes.pop()!.dispose(); });

const MB = 1024 * 1024;
const DEFAULT_LIMITS = { wallMs: 30_000, cpuMs: 5_000 };

async function stillUsable(rt: SessionRuntime) {
  expect(rt.disposed).toBe(false);
  expect(valueOf((await repl(rt, "[1, 2].map((n) => n * 21)")).outcome).json).toEqual([21, 42]);
}

describe("big values are described in bounded work and memory", () => {
  it("new Array(1e7).fill(0): OK, Node's preview, no json (mem 128 MB)", async () => {
    const rt = await fresh(128);
    const t0 = Date.now();
    const r = await repl(rt, "new Array(1e7).fill(0)", DEFAULT_LIMITS);
    const v = valueOf(r.outcome);
    expect(v.type).toBe("array");
    expect(v.preview).toBe(inspect(new Array(1e7).fill(0)));
    expect(v.preview).toMatch(/^\[\n  0, 0, 0,.* 9999900 more items\n\]$/s);
    expect(v.json).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(5_000);
    await stillUsable(rt);
  });

  it("Array.from({length: 3e6}): OK, no json, the session survives (mem 128 MB)", async () => {
    const rt = await fresh(128);
    const r = await repl(rt, "Array.from({ length: 3e6 }, (_, i) => i)", DEFAULT_LIMITS);
    const v = valueOf(r.outcome);
    expect(v.type).toBe("array");
    expect(v.preview).toContain("2999900 more items");
    expect(v.json).toBeUndefined();
    await stillUsable(rt);
  });

  it("a 1e7-element array within a 1500 ms wall limit is OK, not a memory error", async () => {
    const rt = await fresh(128);
    const r = await repl(rt, "new Array(1e7).fill(0)", { wallMs: 1500, cpuMs: 1500 });
    expect(["value", "timeout"]).toContain(r.outcome.kind);
    if (r.outcome.kind === "value") expect(r.outcome.value.json).toBeUndefined();
  });

  it("a big plain object and a big Map keep a bounded preview and no json", async () => {
    const rt = await fresh(128);
    const obj = valueOf((await repl(rt, "const o = {}; for (let i = 0; i < 3e5; i++) o['k' + i] = i; o", DEFAULT_LIMITS)).outcome);
    expect(obj.json).toBeUndefined();
    expect(Buffer.byteLength(obj.preview)).toBeLessThanOrEqual(4096);
    const map = valueOf((await repl(rt, "new Map(Array.from({ length: 2e5 }, (_, i) => [i, i]))", DEFAULT_LIMITS)).outcome);
    expect(map.preview).toContain("Map(200000)");
    expect(map.preview).toContain("... 199900 more items");
    expect(map.json).toBeUndefined();
  });

  it("many long strings nested in many objects: the preview is bounded and still starts like Node's", async () => {
    const rt = await fresh(128);
    const code = "const s = 'q'.repeat(9000); Array.from({ length: 100 }, () => Object.fromEntries(Array.from({ length: 1000 }, (_, i) => ['k' + i, s])))";
    const t0 = Date.now();
    const v = valueOf((await repl(rt, code, DEFAULT_LIMITS)).outcome);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(v.json).toBeUndefined();
    const s = "q".repeat(9000);
    const local = Array.from({ length: 100 }, () => Object.fromEntries(Array.from({ length: 1000 }, (_, i) => ["k" + i, s])));
    expect(v.preview.slice(0, 4000)).toBe(inspect(local).slice(0, 4000));
  });

  it("json is kept for values up to 1 MB of text and dropped above", async () => {
    const rt = await fresh(128);
    const small = valueOf((await repl(rt, "Array.from({ length: 1000 }, (_, i) => ({ i, s: 'x' + i }))")).outcome);
    expect((small.json as unknown[]).length).toBe(1000);
    const justUnder = valueOf((await repl(rt, "'a'.repeat(1024 * 1024 - 2)")).outcome);
    expect(justUnder.json).toBe("a".repeat(MB - 2));
    const over = valueOf((await repl(rt, "'a'.repeat(1024 * 1024)")).outcome);
    expect(over.json).toBeUndefined();
    expect(over.type).toBe("string");
    const overInArray = valueOf((await repl(rt, "['b'.repeat(600 * 1024), 'c'.repeat(600 * 1024)]")).outcome);
    expect(overInArray.json).toBeUndefined();
    expect(Buffer.byteLength(overInArray.preview)).toBeLessThanOrEqual(4096);
  });

  it("a 50 MB string as the value: OK, 4 KB preview, no json", async () => {
    const rt = await fresh(128);
    const v = valueOf((await repl(rt, "'x'.repeat(50 * 1024 * 1024)", DEFAULT_LIMITS)).outcome);
    expect(v.type).toBe("string");
    expect(v.json).toBeUndefined();
    expect(Buffer.byteLength(v.preview)).toBeLessThanOrEqual(4096);
    expect(v.preview.startsWith("'xxxx")).toBe(true);
    await stillUsable(rt);
  });

  it("a long boxed string is cut like a long string", async () => {
    const rt = await fresh(128);
    const v = valueOf((await repl(rt, "new String('s'.repeat(2e6))", DEFAULT_LIMITS)).outcome);
    expect(v.preview.startsWith("[String: 'sss")).toBe(true);
    expect(Buffer.byteLength(v.preview)).toBeLessThanOrEqual(4096);
    expect(valueOf((await repl(rt, "new String('ab')")).outcome).preview).toBe("[String: 'ab']");
  });
});

describe("exception sizes are capped", () => {
  it("a 50 MB Error.prepareStackTrace result: stack cut to 64 KB with a marker", async () => {
    const rt = await fresh(128);
    const r = await repl(rt, "Error.prepareStackTrace = () => 'z'.repeat(50 * 1024 * 1024); throw new Error('big stack')", DEFAULT_LIMITS);
    const e = exceptionOf(r.outcome);
    expect(e.message).toBe("big stack");
    expect(Buffer.byteLength(e.stack)).toBeLessThanOrEqual(64 * 1024);
    expect(e.stack).toMatch(/^z+… \(\d+ more characters\)$/);
    const more = Number(/\((\d+) more/.exec(e.stack)![1]);
    expect(e.stack.indexOf("…") + more).toBe(50 * MB);
  });

  it("a huge message and name are cut (64 KB and 1 KB)", async () => {
    const rt = await fresh(128);
    const r = await repl(rt, "const e = new Error('m'.repeat(5e6)); e.name = 'N'.repeat(1e5); throw e", DEFAULT_LIMITS);
    const e = exceptionOf(r.outcome);
    expect(Buffer.byteLength(e.message)).toBeLessThanOrEqual(64 * 1024);
    expect(e.message).toMatch(/^m+… \(\d+ more characters\)$/);
    expect(Buffer.byteLength(e.name)).toBeLessThanOrEqual(1024);
    expect(e.name).toMatch(/^N+… \(\d+ more characters\)$/);
    expect(Buffer.byteLength(e.stack)).toBeLessThanOrEqual(64 * 1024);
  });

  it("a thrown huge non-Error string is capped too", async () => {
    const rt = await fresh(128);
    const e = exceptionOf((await repl(rt, "throw 'w'.repeat(1e7)", DEFAULT_LIMITS)).outcome);
    expect(Buffer.byteLength(e.message)).toBeLessThanOrEqual(64 * 1024);
    expect(Buffer.byteLength(e.stack)).toBeLessThanOrEqual(64 * 1024);
  });

  it("capText cuts on character boundaries and counts what was left out", () => {
    expect(capText("short", 1024)).toBe("short");
    const cut = capText("é".repeat(10_000), 1024);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024);
    expect(cut).not.toContain("\uFFFD");
    const kept = cut.indexOf("…");
    expect(kept + Number(/\((\d+) more/.exec(cut)![1])).toBe(10_000);
    const emoji = capText("😀".repeat(1000), 200);
    expect(emoji).not.toContain("\uFFFD");
    expect(Buffer.byteLength(emoji)).toBeLessThanOrEqual(200);
  });
});

describe("hostile values never make describing throw", () => {
  it("a revoked proxy as the value shows <Revoked Proxy>", async () => {
    const rt = await fresh(64);
    const v = valueOf((await repl(rt, "const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); proxy")).outcome);
    expect(v.preview).toBe("<Revoked Proxy>");
    expect(v.json).toBeUndefined();
    const nested = valueOf((await repl(rt, "const p2 = Proxy.revocable(function () {}, {}); p2.revoke(); ({ a: p2.proxy, b: [proxy] })")).outcome);
    expect(nested.preview).toBe("{ a: <Revoked Proxy>, b: [ <Revoked Proxy> ] }");
    const awaited = valueOf((await repl(rt, "await Promise.resolve(1); proxy")).outcome);
    expect(awaited.preview).toBe("<Revoked Proxy>");
  });

  it("a thrown revoked proxy is an exception, not a describer failure", async () => {
    const rt = await fresh(64);
    const e = exceptionOf((await repl(rt, "const r = Proxy.revocable({}, {}); r.revoke(); throw r.proxy")).outcome);
    expect(e.stack).toBe("Uncaught <Revoked Proxy>");
  });

  it("proxies whose traps throw, and throwing getters, are described without running into the throw", async () => {
    const rt = await fresh(64);
    const trap = () => "{ throw new Error('trap') }";
    const v = valueOf((await repl(rt, `new Proxy({}, { getPrototypeOf() ${trap()}, ownKeys() ${trap()}, getOwnPropertyDescriptor() ${trap()}, get() ${trap()} })`)).outcome);
    expect(typeof v.preview).toBe("string");
    expect(v.json).toBeUndefined();
    const g = valueOf((await repl(rt, "({ get x() { throw new Error('getter') }, y: 1 })")).outcome);
    expect(g.preview).toBe("{ x: [Getter], y: 1 }");
    expect(g.json).toBeUndefined();
    const inArray = valueOf((await repl(rt, `[1, new Proxy([], { ownKeys() ${trap()} }), 3]`)).outcome);
    expect(inArray.preview.startsWith("[ 1, ")).toBe(true);
    expect(inArray.json).toBeUndefined();
  });
});

describe("console '%s' with a custom toString prints it whole, as Node does", () => {
  it("prints a long toString() result unquoted and uncut", async () => {
    const rt = await fresh(64);
    const r = await repl(rt, "console.log('%s!', { toString() { return 'x'.repeat(20000) } }); class A { toString() { return 'a'.repeat(12000) } }; console.log('%s', new A())");
    expect(r.lines.map((l) => l.text)).toEqual(["x".repeat(20000) + "!", "a".repeat(12000)]);
    expect(r.lines[0].text).toBe(`${"%s!".replace("%s", { toString: () => "x".repeat(20000) } as unknown as string)}`);
  });

  it("a 50 MB toString() result trips the output limit", async () => {
    const rt = await fresh(128);
    const { lines, hooks } = limitedConsole(1000, 512 * 1024);
    const r = await runWith(rt, "console.log('%s', { toString() { return 'y'.repeat(50 * 1024 * 1024) } })", hooks, DEFAULT_LIMITS);
    expect(r.outcome).toEqual({ kind: "output-limit" });
    expect(lines).toEqual([]);
  });
});
