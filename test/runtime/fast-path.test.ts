/**
 * What the speed work must not change: small inputs compile synchronously and
 * large ones asynchronously with the same results; runs are isolated from
 * each other's leftovers (timers, env); setup is the same for every context
 * of the process (the prelude's code cache, the built-in names).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { exceptionOf, LIMITS, options, repl, valueOf, runtimes } from "./helpers";

describe("runs on the fast path", () => {
  let rt: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options({ env: { BASE: "b" } }));
  });
  afterAll(() => rt.dispose());

  it("large inputs (compiled asynchronously) behave like small ones", async () => {
    const filler = `/* ${"x".repeat(70_000)} */\n`;
    for (const prefix of ["", filler]) {
      expect(valueOf((await repl(rt, `${prefix}let big${prefix.length} = 20; big${prefix.length} + 1`)).outcome).json).toBe(21);
      const syntax = exceptionOf((await repl(rt, `${prefix}let = ;`)).outcome);
      expect(syntax.name).toBe("SyntaxError");
      expect(syntax.message).toMatch(/^Unexpected token ';' \[repl:\d+:\d+\]$/);
      expect(syntax.stack).toBe(`SyntaxError: ${syntax.message}`);
      const thrown = exceptionOf((await repl(rt, `${prefix}null.x`)).outcome);
      expect(thrown.name).toBe("TypeError");
      expect(thrown.stack).toMatch(/at repl:/);
    }
  });

  it("argv and env are fresh in every run", async () => {
    expect(valueOf((await repl(rt, "env.BASE += '!'; argv.push('x'); [env.BASE, argv.length]")).outcome).json).toEqual(["b!", 1]);
    expect(valueOf((await repl(rt, "[env.BASE, argv.length, Object.getPrototypeOf(env) === Object.prototype]")).outcome).json).toEqual(["b", 0, true]);
  });

  it("a setter on Object.prototype does not run when env is rebuilt", async () => {
    const r = await repl(rt, "Object.defineProperty(Object.prototype, 'BASE', { set(v) { globalThis.hijacked = v }, configurable: true }); 1");
    expect(valueOf(r.outcome).json).toBe(1);
    try {
      expect(valueOf((await repl(rt, "[env.BASE, typeof hijacked]")).outcome).json).toEqual(["b", "undefined"]);
    } finally {
      await repl(rt, "delete Object.prototype.BASE");
    }
  });

  it("timer callbacks of a finished run never run in (or print into) the next one", async () => {
    // Intervals still due while the first run ends: a call to fire one may
    // already be on its way to the isolate when the next run starts.
    for (let i = 0; i < 60; i++) {
      const lines: string[] = [];
      // No console budget: every line is a synchronous call into the host.
      const hooks = { onConsole: (_l: string, text: string) => (lines.push(text), true) };
      const first = await rt.runRepl(
        "setInterval(() => console.log('stale'), 1); setInterval(() => console.log('stale'), 0); await new Promise(r => setTimeout(r, 3)); 'a'",
        LIMITS,
        hooks,
      );
      expect(valueOf(first.outcome).json).toBe("a");
      lines.length = 0;
      const second = await rt.runRepl("console.log('fresh'); 'b'", LIMITS, hooks);
      expect(valueOf(second.outcome).json).toBe("b");
      expect(lines).toEqual(["fresh"]);
    }
  });

  it("every context gets the same shim (code cache and built-in names reused)", async () => {
    const probe = "[typeof console.log, String(Object.getOwnPropertyNames(globalThis).includes('setTimeout'))]";
    const fresh = await Promise.all([1, 2, 3].map(() => runtimes.create(options())));
    try {
      for (const other of fresh) {
        expect(valueOf((await repl(other, probe)).outcome).json).toEqual(["function", "true"]);
        // "%s" inspects objects whose toString is a built-in one, and calls a custom one
        const out = await repl(other, "class P { toString() { return 'custom' } }; console.log('%s|%s|%s', new P(), new Map([[1, 2]]), [1, 2])");
        expect(out.lines.map((l) => l.text)).toEqual(["custom|Map(1) { 1 => 2 }|[ 1, 2 ]"]);
      }
    } finally {
      for (const other of fresh) other.dispose();
    }
  });

  it("heapUsedBytes answers at once from the latest figure and refreshes in the background", async () => {
    const other = await runtimes.create(options());
    try {
      const before = other.heapUsedBytes();
      expect(before).toBeGreaterThan(0);
      await repl(other, "globalThis.hold = Array.from({ length: 200000 }, (_, i) => ({ i }))");
      other.heapUsedBytes(); // asks for a refresh
      await new Promise((r) => setTimeout(r, 50));
      expect(other.heapUsedBytes()).toBeGreaterThan(before + 1_000_000);
    } finally {
      other.dispose();
    }
  });
});
