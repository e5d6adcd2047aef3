/**
 * Backpressure between a session host and the main process: when the main
 * process handles console lines slower than a sandbox writes them, the
 * sandbox waits for it (its console calls take longer) instead of its lines
 * piling up in either process. Runs a real host process through
 * RemoteRuntimes (compiled, from dist/), with an onConsole that is slow on
 * purpose, beside the same run with a quick one.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteRuntimes } from "../../src/hosts/remote-runtimes";
import type { RemoteSessionRuntime } from "../../src/hosts/host-process";
import { options } from "./helpers";

const LINES = 8000;
/** Each line about 300 characters: 2.4 M characters in all, more than twice what a host leaves unacknowledged (MAX_UNACKED). */
const PAD = "x".repeat(290);
/** The sandbox's own clock around its console loop, and how many lines were handed to onConsole before it ended. */
const LOOP = `var t0 = Date.now(); for (let i = 0; i < ${LINES}; i++) console.log(i + " " + ${JSON.stringify(PAD)}); Date.now() - t0`;
const LIMITS = { cpuMs: 60_000, wallMs: 60_000 };

function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("console backpressure from a session host", () => {
  let runtimes: RemoteRuntimes;
  let rt: RemoteSessionRuntime;
  beforeAll(async () => {
    runtimes = new RemoteRuntimes({ hosts: 1, log: pino({ level: "silent" }), serverPaths: [] });
    await runtimes.warmUp();
    rt = await runtimes.create(options());
  });
  afterAll(async () => {
    rt?.dispose();
    await runtimes?.close();
  });

  async function loop(perLineMs: number): Promise<{ loopMs: number; lines: number[] }> {
    const lines: number[] = [];
    const result = await rt.runRepl(LOOP, LIMITS, {
      onConsole: (_level, text) => {
        lines.push(Number(text.split(" ")[0]));
        if (perLineMs > 0) busyFor(perLineMs);
        return true;
      },
      consoleBudget: () => ({ events: 1e9, bytes: 1e12 }),
    });
    expect(result.outcome.kind, JSON.stringify(result.outcome)).toBe("value");
    const loopMs = Number(result.outcome.kind === "value" ? result.outcome.value.json : NaN);
    return { loopMs, lines };
  }

  it("a slow reader makes the sandbox's console calls wait; every line arrives once, in order", async () => {
    const quick = await loop(0);
    const slow = await loop(0.25);
    for (const { lines } of [quick, slow]) expect(lines).toEqual(Array.from({ length: LINES }, (_, i) => i));
    console.log(`sandbox loop: quick reader ${quick.loopMs} ms, slow reader ${slow.loopMs} ms`);
    // 8000 lines at 0.25 ms each take the reader 2 s: the sandbox, held back,
    // cannot have finished its loop much sooner than the reader finished most of them.
    expect(slow.loopMs).toBeGreaterThan(1000);
    expect(quick.loopMs).toBeLessThan(500);
  });
});
