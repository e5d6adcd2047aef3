import { afterEach, describe, expect, it } from "vitest";
import { RuntimeError, SessionRuntime } from "../../src/runtime";
import { exceptionOf, options, repl, valueOf, runtimes as local } from "./helpers";

const made: SessionRuntime[] = [];
async function fresh(memMb = 64): Promise<SessionRuntime> {
  const rt = await local.create(options({ memMb }));
  made.push(rt);
  await repl(rt, "var kept = 'state'");
  return rt;
}
afterEach(() => {
  while (made.length) made.pop()!.dispose();
});

async function expectStateKept(rt: SessionRuntime) {
  expect(rt.disposed).toBe(false);
  expect(valueOf((await repl(rt, "kept")).outcome).json).toBe("state");
}

function abortAfter(ms: number): AbortSignal {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), ms);
  return ac.signal;
}

describe("wall and cpu limits", () => {
  it("stops a synchronous loop with isolated-vm's timeout and keeps the isolate", async () => {
    const rt = await fresh();
    const t0 = Date.now();
    const r = await repl(rt, "for (;;) {}", { wallMs: 300 });
    expect(r.outcome).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.cpuMs).toBeGreaterThan(100);
    await expectStateKept(rt);
  });

  it("ends a run waiting on a promise that never settles and keeps the isolate", async () => {
    const rt = await fresh();
    for (const code of ["new Promise(() => {})", "await new Promise(() => {}); 1"]) {
      const r = await repl(rt, code, { wallMs: 300 });
      expect(r.outcome).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
    }
    await expectStateKept(rt);
  });

  it("enforces the cpu limit, in synchronous code and after an await", async () => {
    const rt = await fresh();
    const sync = await repl(rt, "for (;;) {}", { cpuMs: 200, wallMs: 10_000 });
    expect(sync.outcome).toEqual({ kind: "timeout", limit: "cpu", isolateDisposed: false });
    const later = await repl(rt, "await new Promise(r => setTimeout(r, 5)); for (;;) {}", { cpuMs: 200, wallMs: 10_000 });
    expect(later.outcome).toMatchObject({ kind: "timeout", limit: "cpu" });
    expect(later.cpuMs).toBeGreaterThan(150);
    await expectStateKept(rt);
  });

  it("stops loops that run after an await (microtask or timer continuation) without disposing", async () => {
    // Every call into the isolate carries the remaining budget as its timeout,
    // so continuations are stopped in place; disposal is the fallback (see cancel).
    const rt = await fresh();
    for (const code of [
      "await null; for (;;) {}",
      "await new Promise(r => setTimeout(r, 5)); while (true) {}",
      "await new Promise(r => setTimeout(() => { for (;;) {} }, 5))",
    ]) {
      const r = await repl(rt, code, { wallMs: 300 });
      expect(r.outcome, code).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
    }
    await expectStateKept(rt);
  });
});

describe("cancellation", () => {
  it("cancels a run that is awaiting and keeps the isolate", async () => {
    const rt = await fresh();
    const r = await repl(rt, "await new Promise(() => {})", {}, { signal: abortAfter(100) });
    expect(r.outcome).toEqual({ kind: "cancelled", isolateDisposed: false });
    await expectStateKept(rt);
  });

  it("cancels running code by disposing the isolate (also when it runs after an await)", async () => {
    for (const code of ["for (;;) {}", "await new Promise(r => setTimeout(r, 5)); for (;;) {}"]) {
      const rt = await fresh();
      const t0 = Date.now();
      const r = await repl(rt, code, { wallMs: 30_000 }, { signal: abortAfter(100) });
      expect(r.outcome, code).toEqual({ kind: "cancelled", isolateDisposed: true });
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(rt.disposed).toBe(true);
      expect(rt.heapUsedBytes()).toBe(0);
      await expect(repl(rt, "1")).rejects.toMatchObject({ code: "DISPOSED" });
    }
  });

  it("an already aborted signal runs nothing", async () => {
    const rt = await fresh();
    const ac = new AbortController();
    ac.abort();
    const r = await repl(rt, "globalThis.ran = true", {}, { signal: ac.signal });
    expect(r.outcome).toEqual({ kind: "cancelled", isolateDisposed: false });
    expect(valueOf((await repl(rt, "typeof ran")).outcome).json).toBe("undefined");
  });

  it("rejects a second concurrent run", async () => {
    const rt = await fresh();
    const first = repl(rt, "await new Promise(r => setTimeout(r, 50)); 1");
    await expect(repl(rt, "2")).rejects.toBeInstanceOf(RuntimeError);
    expect(valueOf((await first).outcome).json).toBe(1);
  });
});

describe("observing a busy runtime", () => {
  it("heapUsedBytes never waits for running code", async () => {
    const rt = await fresh();
    const running = repl(rt, "for (;;) {}", { wallMs: 500 });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    expect(rt.heapUsedBytes()).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(20);
    expect((await running).outcome).toMatchObject({ kind: "timeout" });
    rt.dispose();
    rt.dispose(); // idempotent
    expect(rt.disposed).toBe(true);
    expect(rt.heapUsedBytes()).toBe(0);
  });
});

describe("memory limit", () => {
  it("reports memory, loses the isolate, and the host survives", async () => {
    const rt = await fresh(16);
    const r = await repl(rt, "const hog = []; for (;;) hog.push(new Array(10000).fill({ x: 1 }))", { wallMs: 20_000 });
    expect(r.outcome).toEqual({ kind: "memory" });
    expect(rt.disposed).toBe(true);
    expect(rt.heapUsedBytes()).toBe(0);
    const other = await fresh();
    expect(valueOf((await repl(other, "6 * 7")).outcome).json).toBe(42);
    expect(other.heapUsedBytes()).toBeGreaterThan(0);
  });
});

describe("timers", () => {
  it("exist, and a run does not wait for pending ones", async () => {
    const rt = await fresh();
    const t0 = Date.now();
    const r = await repl(rt, "setTimeout(() => console.log('late'), 300); setInterval(() => console.log('tick'), 300); 'now'");
    expect(valueOf(r.outcome).json).toBe("now");
    expect(Date.now() - t0).toBeLessThan(250);
    expect(r.lines).toEqual([]);
  });

  it("clears timers still pending when a run ends", async () => {
    const rt = await fresh();
    await repl(rt, "setTimeout(() => console.log('stale'), 20); globalThis.n = 0; setInterval(() => n++, 5)");
    const r = await repl(rt, "await new Promise(r => setTimeout(r, 100)); n");
    expect(r.lines).toEqual([]);
    expect(valueOf(r.outcome).json).toBe(0);
  });

  it("runs timers while the run awaits, with clearTimeout/clearInterval", async () => {
    const rt = await fresh();
    const r = await repl(
      rt,
      `
      const ticks = [];
      const id = setInterval(() => ticks.push(ticks.length), 5);
      const never = setTimeout(() => ticks.push('cancelled'), 10);
      clearTimeout(never);
      // at least 60 ms and 4 ticks (a loaded machine may fire fewer in 60 ms)
      await new Promise(r => setTimeout(r, 60));
      await new Promise(r => { const w = setInterval(() => { if (ticks.length > 3) { clearInterval(w); r() } }, 5) });
      clearInterval(id);
      await new Promise(r => setTimeout(r, 20));
      ticks.length > 3 && !ticks.includes('cancelled') && ticks.length === ticks.filter(Number.isInteger).length`,
    );
    expect(valueOf(r.outcome).json).toBe(true);
  });

  it("an exception in a timer callback ends the run as an exception", async () => {
    const rt = await fresh();
    const r = await repl(rt, "await new Promise(() => setTimeout(() => { throw new Error('in timer') }, 5))");
    expect(exceptionOf(r.outcome)).toMatchObject({ name: "Error", message: "in timer" });
    await expectStateKept(rt);
  });
});
