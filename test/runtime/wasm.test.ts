/**
 * runtime.wasm (SPEC, "Runtime inside the sandbox"): no WebAssembly unless the
 * template turns it on, and then its memory counts against mem_mb, however it
 * is made: new WebAssembly.Memory, a module's own memory section, or
 * memory.grow from inside wasm code.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { ADD, BIG_MEMORY, growable, NEEDS_IMPORT } from "../support/wasm-bytes";
import { exceptionOf, options, repl, valueOf, runtimes } from "./helpers";

const rss = () => process.memoryUsage().rss;
/** The process's address space (virtual memory), Linux. */
const vmSize = () => Number(/VmSize:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;

describe("runtime.wasm off (the default)", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options());
  });
  afterAll(() => rt.dispose());
  const value = async (code: string) => valueOf((await repl(rt, code)).outcome).json;

  it("has no WebAssembly global", async () => {
    expect(await value("[typeof WebAssembly, 'WebAssembly' in globalThis, Reflect.ownKeys(globalThis).includes('WebAssembly')]")).toEqual([
      "undefined",
      false,
      false,
    ]);
    expect(exceptionOf((await repl(rt, "WebAssembly.Module")).outcome).name).toBe("ReferenceError");
    expect(await value("[Function('return typeof WebAssembly')(), typeof (0, eval)('this').WebAssembly]")).toEqual(["undefined", "undefined"]);
  });

  it("leaves nothing reachable from the global object that is part of the WebAssembly API", async () => {
    // Every object reachable through own properties (getters and setters as
    // functions, never called) and prototypes.
    const found = await value(`(() => {
      const seen = new Set(), queue = [globalThis], hits = [];
      while (queue.length) {
        const o = queue.pop();
        if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
        seen.add(o);
        const tag = Object.prototype.toString.call(o);
        if (/WebAssembly/.test(tag)) hits.push(tag);
        if (typeof o === 'function' && /^(Module|Instance|Memory|Table|Global|instantiate|validate)$/.test(o.name)) hits.push(o.name);
        queue.push(Object.getPrototypeOf(o));
        for (const k of Reflect.ownKeys(o)) {
          const d = Object.getOwnPropertyDescriptor(o, k);
          queue.push(d.value, d.get, d.set);
        }
      }
      return [seen.size > 100, hits];
    })()`);
    expect(found).toEqual([true, []]);
  });
});

describe("runtime.wasm on", () => {
  let rt: SessionRuntime;
  let other: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
    other = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
  });
  afterAll(() => {
    rt.dispose();
    other.dispose();
  });
  const value = async (r: SessionRuntime, code: string) => valueOf((await repl(r, code)).outcome).json;
  const thrown = async (r: SessionRuntime, code: string) => exceptionOf((await repl(r, code)).outcome);

  it("runs a small module, through the sync and the async API", async () => {
    expect(await value(rt, `new WebAssembly.Instance(new WebAssembly.Module(${ADD})).exports.add(2, 3)`)).toBe(5);
    expect(await value(rt, `(await WebAssembly.instantiate(${ADD})).instance.exports.add(20, 22)`)).toBe(42);
    expect(await value(rt, `(await WebAssembly.instantiate(await WebAssembly.compile(${ADD}))).exports.add(1, 1)`)).toBe(2);
    expect(await value(rt, `WebAssembly.validate(${ADD})`)).toBe(true);
    // The wrappers stand where the originals stood.
    expect(
      await value(
        rt,
        `const m = new WebAssembly.Module(${ADD}); [m instanceof WebAssembly.Module,
      Object.getPrototypeOf(m).constructor === WebAssembly.Module, WebAssembly.Module.exports(m)[0].name,
      new WebAssembly.Instance(m).constructor === WebAssembly.Instance, typeof WebAssembly.compileStreaming, Object.keys(WebAssembly)]`,
      ),
    ).toEqual([true, true, "add", true, "undefined", ["compile", "validate", "instantiate"]]);
  });

  it("refuses 64 MB of memory in a 16 MB session, however it is asked for, and the server's RSS stays low", async () => {
    const before = rss();
    const memory = await thrown(rt, "new WebAssembly.Memory({ initial: 1024 })");
    expect(memory.name).toBe("RangeError");
    // The modules compiled so far took a little of the 16 MB.
    expect(memory.message).toMatch(
      /^WebAssembly\.Memory\(\): 64 MB of WebAssembly memory requested, but only 15\.\d+ MB of this session's budget is left .*limits\.mem_mb = 16 MB/,
    );
    const declared = await thrown(rt, `new WebAssembly.Instance(new WebAssembly.Module(${BIG_MEMORY}))`);
    expect(declared).toMatchObject({ name: "RangeError", message: expect.stringMatching(/64 MB of WebAssembly memory requested/) });
    expect((await thrown(rt, `await WebAssembly.instantiate(${BIG_MEMORY})`)).name).toBe("RangeError");
    // Many small memories: the total is what counts.
    const [made, why] = (await value(
      rt,
      `const small = []; let why = ''; try { for (let i = 0; i < 1000; i++) small.push(new WebAssembly.Memory({ initial: 1, maximum: 1 })) } catch (e) { why = e.name } [small.length, why]`,
    )) as [number, string];
    expect([made > 250 && made < 256, why]).toEqual([true, "RangeError"]);
    expect(rss() - before).toBeLessThan(64 << 20);
    // Another session is untouched by this one's spending.
    expect(
      await value(
        other,
        `[1 + 1, new WebAssembly.Instance(new WebAssembly.Module(${ADD})).exports.add(3, 4), new WebAssembly.Memory({ initial: 16 }).buffer.byteLength]`,
      ),
    ).toEqual([2, 7, 1 << 20]);
  });

  it("reserves address space for the maxima only (tests run with --disable-wasm-trap-handler, as the server does)", async () => {
    // With V8's trap handler, each memory would take ~10 GB for guard regions.
    const fresh = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
    try {
      const before = vmSize();
      expect(await value(fresh, "const ms = []; for (let i = 0; i < 256; i++) ms.push(new WebAssembly.Memory({ initial: 1, maximum: 1 })); ms.length")).toBe(
        256,
      );
      expect(vmSize() - before).toBeLessThan(1 << 30);
    } finally {
      fresh.dispose();
    }
  });

  it("caps how many memories a session makes when the server runs without --disable-wasm-trap-handler", async () => {
    const flag = "--disable-wasm-trap-handler";
    const at = process.execArgv.indexOf(flag);
    expect(at).toBeGreaterThan(-1);
    // The host reads its launch flags when a session starts.
    process.execArgv.splice(at, 1);
    let fresh: SessionRuntime;
    try {
      fresh = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
    } finally {
      process.execArgv.splice(at, 0, flag);
    }
    try {
      expect(
        await value(
          fresh,
          `const ms = []; let why = ''; try { for (let i = 0; i < 100; i++) ms.push(new WebAssembly.Memory({ initial: 1, maximum: 1 })) } catch (e) { why = e.message } [ms.length, why]`,
        ),
      ).toEqual([16, expect.stringMatching(/at most 16 WebAssembly memories/)]);
      expect((await thrown(fresh, `new WebAssembly.Instance(new WebAssembly.Module(${growable(1)}))`)).message).toMatch(/at most 16/);
    } finally {
      fresh.dispose();
    }
  });

  it("bounds memory.grow inside wasm code by the maximum it imposes or clamps", async () => {
    // Own runtimes: each starts with the whole 16 MB (256 pages) free.
    for (const max of [undefined, 2048]) {
      const fresh = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
      try {
        expect(
          await value(
            fresh,
            `const { exports: e } = new WebAssembly.Instance(new WebAssembly.Module(${growable(max)}));
          [e.grow(1023), e.grow(254), e.mem.buffer.byteLength, e.grow(1)]`,
          ),
        ).toEqual([-1, 1, 255 * 65536, -1]); // the module's code took the 256th page
        expect(exceptionOf((await repl(fresh, "e.mem.grow(1)")).outcome).name).toBe("RangeError");
        // The budget is spent: nothing more, by any route.
        expect((await thrown(fresh, "new WebAssembly.Memory({ initial: 1 })")).message).toMatch(/0\.06 MB of WebAssembly memory requested, but only 0\.0\d MB/);
        expect((await thrown(fresh, `new WebAssembly.Instance(new WebAssembly.Module(${growable(4)}))`)).name).toBe("RangeError");
      } finally {
        fresh.dispose();
      }
    }
  });

  it("gives back what a failed link reserved: retrying with the imports fixed works", async () => {
    const fresh = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
    try {
      // Its memory has no maximum, so each attempt reserves all that is left.
      expect(
        await value(
          fresh,
          `const needs = new WebAssembly.Module(${NEEDS_IMPORT}); const names = [];
        for (let i = 0; i < 20; i++) try { new WebAssembly.Instance(needs, { env: {} }) } catch (e) { names.push(e.name) }
        [...new Set(names), new WebAssembly.Instance(needs, { env: { f() {} } }) instanceof WebAssembly.Instance]`,
        ),
      ).toEqual(["LinkError", true]);
    } finally {
      fresh.dispose();
    }
  });

  it("counts compiled modules too: their code lives outside the heap", async () => {
    const fresh = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
    try {
      const before = rss();
      // Distinct tiny modules (a custom section holds a counter), all kept: ~16 KB of native memory each.
      const [compiled, why] = (await value(
        fresh,
        `const kept = []; let why = '';
        try { for (let i = 0; i < 5000; i++) kept.push(new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 0, 6, 1, 120, i & 255, i >> 8, 0, 0]))) }
        catch (e) { why = e.message } [kept.length, why]`,
      )) as [number, string];
      expect(compiled).toBeGreaterThan(900);
      expect(compiled).toBeLessThan(1024);
      expect(why).toMatch(/^WebAssembly\.Module\(\): 0\.02 MB of compiled WebAssembly code .* requested, but only 0(\.0\d)? MB/);
      expect(rss() - before).toBeLessThan(64 << 20);
    } finally {
      fresh.dispose();
    }
  });

  it("cannot be talked past the count: getters, subclasses and the prototypes' constructors", async () => {
    const fresh = await runtimes.create(options({ memMb: 16, runtime: { esm: false, strict: false, console: true, wasm: true } }));
    try {
      // A getter answering small to the check and big to V8 gets one read.
      expect(
        await value(
          fresh,
          `let reads = 0; const m = new WebAssembly.Memory({ get initial() { return reads++ ? 1024 : 1 }, maximum: 1 });
        [reads, m.buffer.byteLength]`,
        ),
      ).toEqual([1, 65536]);
      expect((await thrown(fresh, "new (Object.getPrototypeOf(m).constructor)({ initial: 1024 })")).name).toBe("RangeError");
      expect((await thrown(fresh, "Reflect.construct(WebAssembly.Memory, [{ initial: 1024 }], class {})")).name).toBe("RangeError");
      expect((await thrown(fresh, "class Big extends WebAssembly.Memory {}; new Big({ initial: 1024 })")).name).toBe("RangeError");
      expect(await value(fresh, "class Small extends WebAssembly.Memory {}; new Small({ initial: 1, maximum: 1 }) instanceof Small")).toBe(true);
      // A module object the wrapper did not make is refused.
      expect((await thrown(fresh, "new WebAssembly.Instance(Object.create(WebAssembly.Module.prototype))")).name).toBe("TypeError");
      // A memory section the parser cannot read never reaches V8.
      expect((await thrown(fresh, `new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 4, 1]))`)).name).toBe("CompileError");
    } finally {
      fresh.dispose();
    }
  });
});
