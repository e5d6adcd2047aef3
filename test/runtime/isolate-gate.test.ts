/**
 * The isolate gate (src/runtime/isolate-gate.ts) lets a few calls into
 * isolates start at once, so that isolated-vm's thread pool is not
 * outgrown. It must never make one session wait for another's long run:
 * a place is held until the call settles or for a short lease.
 */
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { IsolateGate } from "../../src/runtime/isolate-gate";
import { options, repl, runtimes, valueOf } from "./helpers";

describe("IsolateGate", () => {
  it("lets `size` calls in at once and the next ones in the order they asked, as places are given back", async () => {
    const gate = new IsolateGate(2, 60_000);
    const a = gate.tryEnter()!;
    const b = gate.tryEnter()!;
    expect(gate.tryEnter()).toBeUndefined();
    const order: string[] = [];
    const c = gate.enter().then((release) => (order.push("c"), release));
    const d = gate.enter().then((release) => (order.push("d"), release));
    await Promise.resolve();
    expect(order).toEqual([]);
    a();
    a(); // twice: frees one place, not two
    await c;
    expect(order).toEqual(["c"]);
    b();
    (await d)();
    (await c)();
    expect(gate.tryEnter()).toBeDefined();
  });

  it("lets a waiting call in once the oldest place's lease has ended, though nobody gave it back", async () => {
    const gate = new IsolateGate(1, 20);
    gate.tryEnter();
    const t0 = performance.now();
    const release = await gate.enter();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    release();
  });
});

describe("sessions behind others' long runs", () => {
  const busy = availableParallelism() + 2;
  let rts: SessionRuntime[] = [];
  beforeAll(async () => {
    rts = await Promise.all(Array.from({ length: busy + 1 }, () => runtimes.create(options())));
  });
  afterAll(() => rts.forEach((rt) => rt.dispose()));

  it("do not wait for them: more long runs than the gate has places, and a short one ends while they all still run", async () => {
    let longEnded = 0;
    const long = rts.slice(1).map((rt) =>
      repl(rt, "const until = Date.now() + 1500; while (Date.now() < until) {} 'long'").then((r) => {
        longEnded++;
        return r;
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const short = await repl(rts[0], "1 + 1");
    expect(valueOf(short.outcome).json).toBe(2);
    expect(longEnded).toBe(0);
    for (const r of await Promise.all(long)) expect(valueOf(r.outcome).json).toBe("long");
  });
});
