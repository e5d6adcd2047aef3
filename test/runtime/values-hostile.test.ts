/**
 * Describing values and exceptions is bounded in work, memory and size, and
 * never throws on hostile values (see test/hostile.test.ts for the same rows
 * through a real server process).
 */
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { capText, decodeConsole, parseThrown, parseValue } from "../../src/runtime/format";
import { exceptionOf, limitedConsole, options, repl, runWith, valueOf, runtimes as local } from "./helpers";

const made: SessionRuntime[] = [];
async function fresh(memMb = 128): Promise<SessionRuntime> {
  const rt = await local.create(options({ memMb }));
  made.push(rt);
  return rt;
}
afterEach(() => {
  while (made.length) made.pop()!.dispose();
});

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
    expect(v.preview).toMatch(/^\[\n {2}0, 0, 0,.* 9999900 more items\n\]$/s);
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
    const v = valueOf(
      (await repl(rt, `new Proxy({}, { getPrototypeOf() ${trap()}, ownKeys() ${trap()}, getOwnPropertyDescriptor() ${trap()}, get() ${trap()} })`)).outcome,
    );
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
    const r = await repl(
      rt,
      "console.log('%s!', { toString() { return 'x'.repeat(20000) } }); class A { toString() { return 'a'.repeat(12000) } }; console.log('%s', new A())",
    );
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

/**
 * User code that overrides built-ins the sandbox uses (toJSON on a prototype,
 * index accessors, Symbol.hasInstance, RegExp#exec) changes nothing the host
 * receives: the VALUE, the EXCEPTION and console lines are the true ones.
 */
describe("overridden built-ins never reach the sandbox's messages", () => {
  /** 100,000 nested arrays as JSON text. */
  const DEEP_JSON = "const DEEP = '['.repeat(1e5) + ']'.repeat(1e5);";

  it("Array.prototype.toJSON: values, exceptions, console lines and syntax errors stay true", async () => {
    const rt = await fresh(64);
    await repl(rt, "Array.prototype.toJSON = () => 'forged'");
    const v = valueOf((await repl(rt, "[1, { a: [2] }]")).outcome);
    expect(v).toEqual({ type: "array", preview: "[ 1, { a: [ 2 ] } ]", json: [1, { a: [2] }] });
    expect(valueOf((await repl(rt, "42")).outcome)).toEqual({ type: "number", preview: "42", json: 42 });
    const e = exceptionOf((await repl(rt, "throw new TypeError('real')")).outcome);
    expect(e.name).toBe("TypeError");
    expect(e.message).toBe("real");
    expect(exceptionOf((await repl(rt, "throw [1, 2]")).outcome).stack).toBe("Uncaught [ 1, 2 ]");
    const syntax = exceptionOf((await repl(rt, "(")).outcome);
    expect(syntax.name).toBe("SyntaxError");
    expect(syntax.message).toMatch(/^Unexpected end of input/);
    const r = await repl(rt, "console.log([1, 2], { b: 'c' }); console.log('%o', [3]); console.dir([4]); console.trace([5]); 0");
    expect(r.lines.map((l) => l.text.split("\n")[0])).toEqual(["[ 1, 2 ] { b: 'c' }", "[ 3, [length]: 1 ]", "[ 4 ]", "Trace: [ 5 ]"]);
  });

  it("Object.prototype.toJSON and String.prototype.toJSON", async () => {
    const rt = await fresh(64);
    await repl(rt, "Object.prototype.toJSON = () => ({ forged: true }); String.prototype.toJSON = () => 'forged'");
    expect(valueOf((await repl(rt, "({ s: 'text', n: [1] })")).outcome)).toEqual({
      type: "object",
      preview: "{ s: 'text', n: [ 1 ] }",
      json: { s: "text", n: [1] },
    });
    expect(valueOf((await repl(rt, "'text'")).outcome)).toEqual({ type: "string", preview: "'text'", json: "text" });
    const e = exceptionOf((await repl(rt, "throw new RangeError('real')")).outcome);
    expect([e.name, e.message]).toEqual(["RangeError", "real"]);
    expect((await repl(rt, "console.log({ x: 1 }); 0")).lines.map((l) => l.text)).toEqual(["{ x: 1 }"]);
  });

  it("a toJSON found through a proxy spliced between Array.prototype and Object.prototype", async () => {
    const rt = await fresh(64);
    await repl(
      rt,
      "Object.setPrototypeOf(Array.prototype, new Proxy(Object.prototype, { get: (t, k, r) => k === 'toJSON' ? () => 'forged' : Reflect.get(t, k, r) }))",
    );
    expect(valueOf((await repl(rt, "[1, [2]]")).outcome)).toEqual({ type: "array", preview: "[ 1, [ 2 ] ]", json: [1, [2]] });
    expect((await repl(rt, "console.log([3], { a: 4 }); 0")).lines.map((l) => l.text)).toEqual(["[ 3 ] { a: 4 }"]);
  });

  it("a toJSON that throws", async () => {
    const rt = await fresh(64);
    await repl(rt, "Array.prototype.toJSON = Object.prototype.toJSON = () => { throw new Error('toJSON ran') }");
    expect(valueOf((await repl(rt, "[1, 2]")).outcome)).toEqual({ type: "array", preview: "[ 1, 2 ]", json: [1, 2] });
    const e = exceptionOf((await repl(rt, "throw new Error('real')")).outcome);
    expect(e.message).toBe("real");
    expect((await repl(rt, "console.log([7]); 0")).lines.map((l) => l.text)).toEqual(["[ 7 ]"]);
  });

  it("a toJSON that answers with a 100,000-deep JSON text where the VALUE's json goes", async () => {
    const rt = await fresh(64);
    // Replaces the sandbox's own [type, tree, json] array, if JSON.stringify meets it.
    await repl(
      rt,
      `${DEEP_JSON} Array.prototype.toJSON = function () { return this.length === 3 && this[0] === 'array' ? ['array', ['t', 'forged'], DEEP] : this }`,
    );
    const v = valueOf((await repl(rt, "[1, 2, 3]")).outcome);
    expect(v).toEqual({ type: "array", preview: "[ 1, 2, 3 ]", json: [1, 2, 3] });
    await stillUsable(rt);
  });

  it("a deep real value: json only up to 32 levels, the preview always", async () => {
    const rt = await fresh(64);
    const nested = (n: number) => `{ let v = 0; for (let i = 0; i < ${n}; i++) v = [v]; v }`;
    const deepest = valueOf((await repl(rt, nested(100_000))).outcome);
    expect(deepest).toEqual({ type: "array", preview: "[ [ [ [Array] ] ] ]" });
    const over = valueOf((await repl(rt, nested(33))).outcome);
    expect(over.json).toBeUndefined();
    expect(over.preview).toBe("[ [ [ [Array] ] ] ]");
    let expected: unknown = 0;
    for (let i = 0; i < 32; i++) expected = [expected];
    expect(valueOf((await repl(rt, nested(32))).outcome).json).toEqual(expected);
    const objects = valueOf((await repl(rt, "{ let o = {}; for (let i = 0; i < 40; i++) o = { o }; o }")).outcome);
    expect(objects.json).toBeUndefined();
    expect(objects.preview).toBe("{ o: { o: { o: [Object] } } }");
  });

  it("patched JSON.stringify, Array.prototype.push/join, index accessors, RegExp#exec, Symbol.hasInstance", async () => {
    const rt = await fresh(64);
    await repl(
      rt,
      [
        "JSON.stringify = () => 'forged'",
        "Array.prototype.push = Array.prototype.join = function () { return 'forged' }",
        "Object.defineProperty(Array.prototype, '0', { get() { return 'forged' }, set(v) {}, configurable: true })",
        "Object.defineProperty(Object.prototype, 'value', { get() { return 'forged' }, configurable: true })",
        "RegExp.prototype.exec = function () { return null }",
        "Object.defineProperty(Error, Symbol.hasInstance, { value: () => true })",
        "Number.prototype.toFixed = () => 'forged'",
      ].join(";\n"),
    );
    const v = valueOf((await repl(rt, "const k = class Klass { get x() { return 1 } }; ({ a: [1, 2], m: new Map([[1, 2]]), k })")).outcome);
    expect(v).toMatchObject({ type: "object", preview: "{ a: [ 1, 2 ], m: Map(1) { 1 => 2 }, k: [class Klass] }" });
    expect(valueOf((await repl(rt, "[1, 2]")).outcome)).toEqual({ type: "array", preview: "[ 1, 2 ]", json: [1, 2] });
    const thrown = exceptionOf((await repl(rt, "throw { name: 'NotAnError' }")).outcome);
    expect(thrown.stack).toBe("Uncaught { name: 'NotAnError' }");
    const e = exceptionOf((await repl(rt, "throw new Error('real')")).outcome);
    expect([e.name, e.message]).toEqual(["Error", "real"]);
    const r = await repl(rt, "console.log([1, 2], 'a', 3); console.time('t'); console.timeEnd('t'); 0");
    expect(r.lines[0].text).toBe("[ 1, 2 ] a 3");
    expect(r.lines[1].text).toMatch(/^t: \d+(\.\d+)?ms$/);
  });
});

/** The host does not trust what it parses either: the same bounds apply to messages however they were made. */
describe("the host bounds every message it parses", () => {
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

  it("a VALUE whose json is 100,000 levels deep keeps its preview and loses the json", () => {
    const v = parseValue(`V${JSON.stringify(["array", 1, deep(100_000)])}`);
    expect(v).toEqual({ type: "array", preview: "1" });
    expect(parseValue(`V${JSON.stringify(["array", 1, deep(33)])}`).json).toBeUndefined();
    expect(parseValue(`V${JSON.stringify(["array", 1, deep(32)])}`).json).toBeDefined();
    // Brackets inside strings are not levels.
    expect(parseValue(`V${JSON.stringify(["string", "x", JSON.stringify(deep(100))])}`).json).toBe(deep(100));
  });

  it("a tree 100,000 levels deep is cut, not recursed into", () => {
    // ["a", id, class, props, length, items]: an array holding an array, 100,000 times.
    const tree = `${'["a",1,null,[],1,['.repeat(100_000)}1${"]]".repeat(100_000)}`;
    const v = parseValue(`V["array",${tree},null]`);
    expect(v.type).toBe("array");
    expect(v.preview).toBe("[ [ [ [Array] ] ] ]");
    expect(parseThrown(`E[0,${tree}]`).stack).toBe("Uncaught [ [ [ [Array] ] ] ]");
    expect(decodeConsole(1 << 3, `[${tree}]`).text).toBe("[ [ [ [Array] ] ] ]");
  });

  it("messages of the wrong shape become a plain description, never a throw", () => {
    for (const bad of ["V", 'V"forged"', "V{}", "V[1,2,3]", "Vnot json", `V["${"t".repeat(100)}",1,null]`]) {
      expect(parseValue(bad).preview).toBe("[the value could not be described]");
    }
    expect(parseValue('V["number",1,"not json"]')).toEqual({ type: "number", preview: "1" });
    for (const bad of ["E", 'E"forged"', "E[1,{},2,3]", "Enot json"]) {
      expect(parseThrown(bad)).toEqual({ name: "Error", message: "an exception could not be described", stack: "Error" });
    }
    expect(() => decodeConsole(1 << 3, '"forged"')).toThrow();
  });
});
