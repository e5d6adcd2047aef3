import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { rewriteTopLevelAwait } from "../../src/runtime/repl-source";
import { exceptionOf, options, repl, valueOf, runtimes } from "./helpers";

describe("REPL state and values", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options());
  });
  afterAll(() => rt.dispose());

  const value = async (code: string) => valueOf((await repl(rt, code)).outcome);

  it("starts clean: nothing the prelude's warm-up ran (another context) is visible", async () => {
    const fresh = await runtimes.create(options());
    try {
      const v = valueOf((await repl(fresh, "[typeof a, typeof b, typeof K, typeof p]")).outcome);
      expect(v.json).toEqual(["undefined", "undefined", "undefined", "undefined"]);
    } finally {
      fresh.dispose();
    }
  });

  it("keeps var, let, const, class and function across runs", async () => {
    await value("var v = 41; let l = 1; const c = 2; class K { get k() { return 3 } } function f() { return 4 }");
    expect((await value("v + 1")).json).toBe(42);
    expect((await value("l + c + new K().k + f()")).json).toBe(10);
    expect((await value("l = 5; l")).json).toBe(5);
    // like Node's REPL: a second `let` of the same name is an error
    expect(exceptionOf((await repl(rt, "let l = 9")).outcome).name).toBe("SyntaxError");
  });

  it("a declaration's value is undefined, without json", async () => {
    for (const code of ["var d1 = 1", "let d2 = 2", "const d3 = 3", "function d4() {}", "class D5 {}"]) {
      const v = await value(code);
      expect(v).toEqual({ type: "undefined", preview: "undefined" });
    }
  });

  it("supports top-level await, and its declarations persist", async () => {
    const v = await value("const t = await Promise.resolve(20); let u = await 1; var w = 1; function g() { return 1 } t + u + w + g()");
    expect(v.json).toBe(23);
    expect((await value("t + u + w + g()")).json).toBe(23);
    expect((await value("class TA { x = 1 }; await null; new TA().x")).json).toBe(1);
    expect((await value("const { a1, b1: [b2] } = await { a1: 1, b1: [2] }; a1 + b2")).json).toBe(3);
    expect((await value("a1 + b2")).json).toBe(3);
    expect((await value("for await (const x of [Promise.resolve(7)]) { globalThis.fa = x }; fa")).json).toBe(7);
    expect((await value("await 1; let declOnly = 1")).type).toBe("undefined");
    // The last expression in parentheses, with and without `;`, with a comment before it.
    expect((await value("await null; ({ p: 1 })")).json).toEqual({ p: 1 });
    expect((await value("await null; ({ p: 2 }) /* c */ ;")).json).toEqual({ p: 2 });
    expect((await value("await null; (1, 2)\n")).json).toBe(2);
    expect((await value("await null; ((x) => x * 2)(21) // done")).json).toBe(42);
  });

  it("awaits a returned promise and reports its rejection", async () => {
    expect((await value("Promise.resolve(42)")).json).toBe(42);
    expect((await value("new Promise(r => setTimeout(() => r('later'), 10))")).json).toBe("later");
    const e = exceptionOf((await repl(rt, "Promise.reject(new RangeError('no'))")).outcome);
    expect(e).toMatchObject({ name: "RangeError", message: "no" });
    const e2 = exceptionOf((await repl(rt, "await Promise.reject(new Error('tla'))")).outcome);
    expect(e2.message).toBe("tla");
  });

  it("describes values like util.inspect, with json only when lossless", async () => {
    const cases: Array<[string, string, string, unknown?]> = [
      ["42", "number", "42", 42],
      ["-0", "number", "-0"],
      ["NaN", "number", "NaN"],
      ["'hi'", "string", "'hi'", "hi"],
      ["true", "boolean", "true", true],
      ["null", "null", "null", null],
      ["undefined", "undefined", "undefined"],
      ["10n", "bigint", "10n"],
      ["Symbol('s')", "symbol", "Symbol(s)"],
      ["({ a: 1, b: [1, 'x', null], c: { d: true } })", "object", "{ a: 1, b: [ 1, 'x', null ], c: { d: true } }", { a: 1, b: [1, "x", null], c: { d: true } }],
      ["[1, 2, 3]", "array", "[ 1, 2, 3 ]", [1, 2, 3]],
      ["[1, , 3]", "array", "[ 1, <1 empty item>, 3 ]"],
      ["({ u: undefined })", "object", "{ u: undefined }"],
      ["new Map([[1, { a: 1 }]])", "map", "Map(1) { 1 => { a: 1 } }"],
      ["new Set(['a'])", "set", "Set(1) { 'a' }"],
      ["new Date(0)", "date", "1970-01-01T00:00:00.000Z"],
      ["/x+/gi", "regexp", "/x+/gi"],
      ["(function foo() {})", "function", "[Function: foo]"],
      ["(class Foo {})", "function", "[class Foo]"],
      ["(async () => {})", "function", "[AsyncFunction (anonymous)]"],
      ["new (class Point { constructor() { this.x = 1 } })()", "object", "Point { x: 1 }"],
      ["Object.create(null)", "object", "[Object: null prototype] {}", {}],
      ["({ get g() { return 1 } })", "object", "{ g: [Getter] }"],
      ["({ a: { b: { c: { d: 1 } } } })", "object", "{ a: { b: { c: [Object] } } }", { a: { b: { c: { d: 1 } } } }],
      ["new Uint8Array([1, 2])", "object", "Uint8Array(2) [ 1, 2 ]"],
      ["new Number(3)", "object", "[Number: 3]"],
      ["({ [Symbol('k')]: 1 })", "object", "{ [Symbol(k)]: 1 }"],
      ["new WeakMap()", "object", "WeakMap { <items unknown> }"],
    ];
    for (const [code, type, preview, json] of cases) {
      const v = await value(code);
      expect({ code, type: v.type, preview: v.preview }).toEqual({ code, type, preview });
      if (json === undefined) expect(v, code).not.toHaveProperty("json");
      else expect(v.json, code).toEqual(json);
    }
  });

  it("shows cycles, errors and big collections as Node does", async () => {
    expect((await value("const cyc = { name: 'c' }; cyc.self = cyc; cyc")).preview).toBe("<ref *1> { name: 'c', self: [Circular *1] }");
    const err = await value("new TypeError('bad')");
    expect(err.type).toBe("error");
    expect(err.preview.split("\n")[0]).toBe("TypeError: bad");
    expect(err.preview).not.toContain("vmsystem:runtime");
    expect((await value("Array.from({ length: 150 }, (_, i) => i)")).preview).toContain("... 50 more items");
    expect((await value("new Set(Array.from({ length: 150 }, (_, i) => i))")).preview).toMatch(/^Set\(150\) \{[\s\S]*\.\.\. 50 more items\n?\s*\}$/);
    const long = await value("'x'.repeat(10005)");
    expect(long.json).toBe("x".repeat(10005));
    expect(long.preview.startsWith("'xxx")).toBe(true);
    const big = await value("'y'.repeat(9000) + 'é'.repeat(2000)");
    expect(Buffer.byteLength(big.preview)).toBeLessThanOrEqual(4096);
    expect(big.preview.endsWith("…")).toBe(true);
  });

  it("reports exceptions with name, message and a stack cut at the sandbox", async () => {
    const e = exceptionOf((await repl(rt, "function thrower() { throw new TypeError('boom') }\nthrower()")).outcome);
    expect(e.name).toBe("TypeError");
    expect(e.message).toBe("boom");
    expect(e.stack.split("\n")[0]).toBe("TypeError: boom");
    expect(e.stack).toContain("at thrower (repl:1:");
    expect(e.stack).not.toMatch(/isolated-vm boundary|vmsystem:runtime|node_modules|\/work\//);

    const custom = exceptionOf(
      (await repl(rt, "class ValidationError extends Error { constructor(m) { super(m); this.name = 'ValidationError' } }; throw new ValidationError('v')"))
        .outcome,
    );
    expect(custom).toMatchObject({ name: "ValidationError", message: "v" });

    expect(exceptionOf((await repl(rt, "throw 'plain'")).outcome)).toEqual({ name: "Uncaught", message: "plain", stack: "Uncaught 'plain'" });
    expect(exceptionOf((await repl(rt, "throw { code: 7 }")).outcome)).toMatchObject({ name: "Uncaught", message: "{ code: 7 }" });
    expect(exceptionOf((await repl(rt, "throw null")).outcome).message).toBe("null");
    const syntax = exceptionOf((await repl(rt, "let = ;")).outcome);
    expect(syntax.name).toBe("SyntaxError");
    expect(syntax.stack).not.toMatch(/boundary|\/work\//);
    expect(exceptionOf((await repl(rt, "missingName")).outcome)).toMatchObject({ name: "ReferenceError", message: "missingName is not defined" });
  });

  it("evaluates in strict mode when asked", async () => {
    const strict = await runtimes.create(options({ runtime: { esm: false, strict: true, console: true } }));
    try {
      expect(exceptionOf((await repl(strict, "undeclared = 1")).outcome).name).toBe("ReferenceError");
      expect(valueOf((await repl(strict, "var s = 1")).outcome).type).toBe("undefined");
      expect(valueOf((await repl(strict, "(function () { return this })()")).outcome).type).toBe("undefined");
      expect(exceptionOf((await repl(strict, "await null; undeclared2 = 1")).outcome).name).toBe("ReferenceError");
      // the strict prefix does not shift reported columns
      expect(exceptionOf((await repl(strict, "function f() { throw new Error('col') }\nf()")).outcome).stack).toContain("at f (repl:1:22)");
      expect(valueOf((await repl(rt, "sloppy = 1")).outcome).json).toBe(1);
    } finally {
      strict.dispose();
    }
  });

  it("globals and env are defined per options", async () => {
    const g = await runtimes.create(options({ globals: { CONFIG: { region: "eu", n: [1] } }, env: { MODE: "test" } }));
    try {
      expect(valueOf((await repl(g, "CONFIG.region + env.MODE + argv.length")).outcome).json).toBe("eutest0");
      expect(valueOf((await repl(g, "CONFIG = 1; delete CONFIG.region; [CONFIG.region, Object.isFrozen(CONFIG.n)]")).outcome).json).toEqual(["eu", true]);
    } finally {
      g.dispose();
    }
  });
});

describe("top-level await rewrite", () => {
  it("leaves input without top-level await alone", () => {
    expect(rewriteTopLevelAwait("async function f() { await 1 }")).toBeNull();
    expect(rewriteTopLevelAwait("const s = 'await'")).toBeNull();
    expect(rewriteTopLevelAwait("await 1; return 2")).toBeNull();
  });

  it("hoists declarations and returns the last expression", () => {
    const out = rewriteTopLevelAwait("const a = await 1, b = 2; a + b // trailing comment")!.source;
    expect(out.startsWith("let a, b; (async () => { ")).toBe(true);
    expect(out).toMatch(/void \( ?\(a = await 1\), \(b = 2\)\)/);
    expect(out).toContain("return { value: (a + b) }");
  });
});
