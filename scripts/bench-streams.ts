/**
 * `npm run bench`'s event figures: 100k console lines persisted, delivered
 * to WatchSession subscribers, replayed by TailEvents, and console.log →
 * subscriber latency; batched (max_batch 1000) and unbatched.
 */
import type { ClientReadableStream } from "@grpc/grpc-js";
import { Execution, type ExecutionEvent } from "../gen/vmsystem/v1/execution";
import type { FloorServer } from "./bench-floors";
import { countingStream, LINES, LINES_EVENTS, okOrThrow, type Served } from "./bench-served";
import { alternate, sleep } from "./timing";

export const BATCH = 1000;
const DELIVERY_TIMEOUT_MS = 120_000;

/** ExecuteRepl of 100k lines on the server's session: the client's round trip, until the response (every event and the final row stored) has arrived. */
export async function persistOnce(s: Served): Promise<{ ms: number; serverMs: number; executionId: string }> {
  const t0 = performance.now();
  const raw = await s.replRaw(s.session, linesInput(LINES));
  const ms = performance.now() - t0;
  const execution = checkLines(s, raw, LINES);
  return { ms, serverMs: execution.metrics!.durationMs, executionId: execution.id };
}

const linesInput = (lines: number) => `for (let i = 0; i < ${lines}; i++) console.log(i)`;

/** The response decoded (after the clock has stopped), with every event (input echo, lines, value) both stored and in it. */
function checkLines(s: Served, raw: Buffer, lines: number): Execution {
  const execution = okOrThrow(s.label, linesInput(lines), Execution.decode(raw));
  if (execution.metrics?.eventCount !== lines + 2 || execution.events.length !== lines + 2)
    throw new Error(`${s.label}: expected ${lines + 2} events, got ${execution.metrics?.eventCount} stored, ${execution.events.length} in the response`);
  return execution;
}

/**
 * `subscribers` WatchSession calls on the server's session, each counting the
 * events it receives. `until(n)` resolves once each has received n events
 * since it was asked, with when each got there.
 */
function subscribe(s: Served, subscribers: number, maxBatch: number) {
  const counts = new Array<number>(subscribers).fill(0);
  const doneAt = new Array<number>(subscribers).fill(0);
  let want = Infinity;
  let remaining = 0;
  let lastEventAt = performance.now();
  let settle = () => {};
  let timer: NodeJS.Timeout | undefined;
  let failed: Error | undefined;
  let closing = false;
  const streams: ClientReadableStream<Buffer>[] = counts.map((_, k) => {
    const stream = countingStream(s.executions, "watchSession", { sessionId: s.session, maxBatch }, (n) => {
      lastEventAt = performance.now();
      counts[k] += n;
      if (doneAt[k] === 0 && counts[k] >= want) {
        doneAt[k] = lastEventAt;
        if (--remaining === 0) settle();
      }
    });
    stream.on("error", (err) => {
      if (closing) return;
      failed = err;
      settle();
    });
    return stream;
  });
  return {
    until(n: number): Promise<number[]> {
      counts.fill(0);
      doneAt.fill(0);
      want = n;
      remaining = subscribers;
      return new Promise<number[]>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${s.label}: subscribers have ${counts.join(", ")} of ${n} events after ${DELIVERY_TIMEOUT_MS / 1000} s`)),
          DELIVERY_TIMEOUT_MS,
        );
        settle = () => {
          clearTimeout(timer);
          if (failed) reject(new Error(`${s.label}: a WatchSession call failed: ${failed.message}`));
          else resolve([...doneAt]);
        };
      });
    },
    /** Until no event has arrived for `ms`. */
    async quiet(ms: number): Promise<void> {
      while (performance.now() - lastEventAt < ms) await sleep(ms / 4);
    },
    close() {
      clearTimeout(timer);
      closing = true;
      for (const stream of streams) stream.cancel();
    },
  };
}

/** One execution of `lines` lines watched by `subscribers`: each one's events/s, from the ExecuteRepl call until it has them all. */
export async function deliverOnce(s: Served, subscribers: number, maxBatch: number, lines: number): Promise<{ perSubscriber: number[]; returnedMs: number }> {
  const watchers = subscribe(s, subscribers, maxBatch);
  try {
    // Subscribed once each has seen a probe's events (input echo and value); then the probes' last events are let through.
    const probed = watchers.until(2);
    let ready = false;
    let probeFailed: unknown;
    probed.then(
      () => (ready = true),
      (err: unknown) => (probeFailed = err),
    );
    while (!ready) {
      if (probeFailed) throw probeFailed;
      await s.repl(s.session, "0");
      await Promise.race([probed.catch(() => undefined), sleep(50)]);
    }
    await watchers.quiet(100);
    const delivered = watchers.until(lines + 2);
    const t0 = performance.now();
    // Decoded only once every subscriber is done: decoding 7 MB here would hold up their counting.
    const returned = s.replRaw(s.session, linesInput(lines)).then((raw) => ({ raw, ms: performance.now() - t0 }));
    const [{ raw, ms: returnedMs }, doneAt] = await Promise.all([returned, delivered]);
    checkLines(s, raw, lines);
    return { perSubscriber: doneAt.map((at) => lines / ((at - t0) / 1000)), returnedMs };
  } finally {
    watchers.close();
  }
}

/** A TailEvents replay (follow off) from seq 0: events/s from the call until the stream has ended. */
export async function replayOnce(executions: Served["executions"], executionId: string, maxBatch: number): Promise<number> {
  let received = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const stream = countingStream(executions, "tailEvents", { executionId, afterSeq: 0, follow: false, maxBatch }, (n) => (received += n));
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const ms = performance.now() - t0;
  if (received !== LINES_EVENTS) throw new Error(`TailEvents (max_batch ${maxBatch}) of ${executionId}: ${received} of ${LINES_EVENTS} events`);
  return LINES_EVENTS / (ms / 1000);
}

/** Replay of a stored 100k-line execution beside the floor server streaming as many events from memory, batched and unbatched, alternately. */
export async function replay(s: Served, floor: FloorServer, executionId: string, rounds: number) {
  const kinds = [
    { maxBatch: BATCH, rounds },
    { maxBatch: 0, rounds: 1 },
  ];
  const out = [];
  for (const kind of kinds) {
    const service: number[] = [];
    const floorRates: number[] = [];
    const targets = [() => replayOnce(floor.executions, "floor", kind.maxBatch), () => replayOnce(s.executions, executionId, kind.maxBatch)];
    await alternate(targets, kind.rounds, async (run, i) => void (i === 0 ? floorRates : service).push(await run()));
    out.push({ maxBatch: kind.maxBatch, service, floor: floorRates });
  }
  return out;
}

/**
 * console.log → WatchSession: the sandbox logs Date.now() every ~2 ms, the
 * subscriber subtracts it from its own Date.now() on receipt (both in whole
 * ms, one clock). Blocks of lines alternate between the servers and batched
 * or unbatched subscribers.
 */
export async function liveLatency(servers: Served[], linesEach: number, blocks: number): Promise<Map<string, number[]>> {
  const combos = servers.flatMap((s) => [BATCH, 0].map((maxBatch) => ({ s, maxBatch, key: `${s.label}/${maxBatch}` })));
  const out = new Map(combos.map((c) => [c.key, [] as number[]]));
  const block = Math.ceil(linesEach / blocks);
  await alternate(combos, blocks, async ({ s, maxBatch, key }) => {
    const latencies = out.get(key)!;
    let probed = () => {};
    let closing = false;
    let failed: Error | undefined;
    const watch = s.executions.watchSession({ sessionId: s.session, maxBatch });
    watch.on("data", (m: { event?: ExecutionEvent; events: ExecutionEvent[] }) => {
      const at = Date.now();
      for (const e of m.event ? [m.event] : m.events) {
        if (e.value?.preview === "'probe'") probed();
        else if (e.console) latencies.push(at - Number(e.console.text));
      }
    });
    watch.on("error", (err) => void (closing || (failed = err)));
    try {
      let ready = false;
      const subscribed = new Promise<void>((resolve) => (probed = resolve)).then(() => (ready = true));
      const deadline = performance.now() + DELIVERY_TIMEOUT_MS;
      while (!ready) {
        if (failed || performance.now() > deadline) throw new Error(`${s.label}: WatchSession never saw a probe: ${failed?.message ?? "timed out"}`);
        await s.repl(s.session, "'probe'");
        await Promise.race([subscribed, sleep(50)]);
      }
      await s.repl(s.session, `for (let i = 0; i < ${block}; i++) { console.log(String(Date.now())); await new Promise((r) => setTimeout(r, 2)); }`);
      await sleep(200);
      if (failed) throw new Error(`${s.label}: WatchSession failed: ${failed.message}`);
    } finally {
      closing = true;
      watch.cancel();
    }
  });
  return out;
}
