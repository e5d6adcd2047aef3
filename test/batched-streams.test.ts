/**
 * Batched streams (SPEC, Batched streams; issue #17): with max_batch N > 0,
 * TailEvents, WatchSession and StreamExecution carry 1..N events a response
 * in `events`, in order, with no gaps and no duplicates, never held back to
 * fill a batch; max_batch 0 keeps one event a response in `event`.
 */
import { describe, expect, it } from "vitest";
import type { ExecutionEvent, StreamExecutionResponse, TailEventsResponse, WatchSessionResponse } from "../gen/vmsystem/v1/execution";
import { MAX_BATCH } from "../src/transport/event-batches";
import { useTestServer } from "./support/server";
import { collect, contiguous, until } from "./support/streams";

const s = useTestServer();
const api = s.api;

const limits = { maxEvents: 200_000, maxOutputKb: 64 * 1024, wallMs: 60_000, cpuMs: 60_000 };
const LINES = 20_000;
const FLOOD = `for (let i = 0; i < ${LINES}; i++) console.log(i)`;

/** The events of a batched stream's responses, in the order they came, and each response's size. */
function unbatch(messages: Array<{ event?: ExecutionEvent; events: ExecutionEvent[] }>) {
  for (const m of messages) expect(m.event, "a batched stream's response used `event`").toBeUndefined();
  return { events: messages.flatMap((m) => m.events), sizes: messages.map((m) => m.events.length) };
}

describe("batched streams (max_batch > 0)", () => {
  it("WatchSession: every event once, in order, in batches of at most max_batch; beside it an unbatched watcher gets the same events one a response", async () => {
    const session = await api.ready({ settings: { limits } });
    const batched = collect<WatchSessionResponse>(s.executions.watchSession({ sessionId: session.id, maxBatch: 100 }));
    const single = collect<WatchSessionResponse>(s.executions.watchSession({ sessionId: session.id, maxBatch: 0 }));
    await new Promise((r) => setTimeout(r, 100));
    const run = await api.repl(session.id, FLOOD);
    const total = run.metrics!.eventCount;
    await until(() => batched.messages.reduce((n, m) => n + m.events.length, 0) >= total && single.messages.length >= total, 30_000);
    const { events, sizes } = unbatch(batched.messages);
    expect(events.map((e) => e.executionId).every((id) => id === run.id)).toBe(true);
    expect(contiguous(events.map((e) => e.seq))).toBe(true);
    expect(events.length).toBe(total);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(100);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    // A flood reaches a batched watcher in far fewer responses than events.
    expect(batched.messages.length).toBeLessThan(total / 2);
    for (const m of single.messages) expect(m.events).toEqual([]);
    expect(single.messages.map((m) => m.event!.seq)).toEqual(events.map((e) => e.seq));
    expect(single.messages.map((m) => m.event!.console?.text)).toEqual(events.map((e) => e.console?.text));
    batched.call.cancel();
    single.call.cancel();
  });

  it("the server caps max_batch at MAX_BATCH (1,000)", async () => {
    const session = await api.ready({ settings: { limits } });
    const run = await api.repl(session.id, FLOOD);
    const c = collect<TailEventsResponse>(s.executions.tailEvents({ executionId: run.id, afterSeq: 0, follow: false, maxBatch: 4_000_000_000 }));
    expect(await c.done).toEqual({ ok: true });
    const { events, sizes } = unbatch(c.messages);
    expect(contiguous(events.map((e) => e.seq))).toBe(true);
    expect(events.length).toBe(run.metrics!.eventCount);
    expect(Math.max(...sizes)).toBe(MAX_BATCH);
  });

  it("an event is not held back to fill a batch: a line printed before a long wait arrives during the wait", async () => {
    const session = await api.ready({ settings: { limits } });
    const watcher = collect<WatchSessionResponse>(s.executions.watchSession({ sessionId: session.id, maxBatch: 1000 }));
    await new Promise((r) => setTimeout(r, 100));
    const running = api.repl(session.id, "console.log('early'); await new Promise((r) => setTimeout(r, 3000)); 'late'");
    let finished = false;
    void running.then(() => (finished = true));
    await until(() => unbatch(watcher.messages).events.some((e) => e.console?.text === "early"), 2_500);
    expect(finished).toBe(false);
    await running;
    watcher.call.cancel();
  });

  it("TailEvents from the middle of a running execution: replay then follow, across batch boundaries, no gap, no duplicate", async () => {
    const session = await api.ready({ settings: { limits } });
    const running = api.repl(session.id, `for (let i = 0; i < 3000; i++) { console.log(i); if (i % 500 === 0) await new Promise((r) => setTimeout(r, 20)); }`);
    let executionId = "";
    await until(async () => {
      const listed = await api.allExecutions(session.id);
      executionId = listed[0]?.id ?? "";
      return executionId !== "" && (await api.listEvents(executionId)).length > 10;
    });
    const c = collect<TailEventsResponse>(s.executions.tailEvents({ executionId, afterSeq: 7, follow: true, maxBatch: 64 }));
    const done = await running;
    expect(await c.done).toEqual({ ok: true });
    const { events, sizes } = unbatch(c.messages);
    expect(
      contiguous(
        events.map((e) => e.seq),
        8,
      ),
    ).toBe(true);
    expect(events[events.length - 1].seq).toBe(done.metrics!.eventCount);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64);
  });

  it("a slow batched reader catches up: every event, in order, after it resumes", async () => {
    const session = await api.ready({ settings: { limits } });
    const watcher = collect<WatchSessionResponse>(s.executions.watchSession({ sessionId: session.id, maxBatch: 500 }));
    await new Promise((r) => setTimeout(r, 100));
    watcher.call.pause();
    // 5,000 lines of ~210 bytes: more than the connection's buffers hold while the reader waits.
    const run = await api.repl(session.id, "for (let i = 0; i < 5000; i++) console.log('line ' + i + ' ' + 'x'.repeat(200))");
    await new Promise((r) => setTimeout(r, 300));
    watcher.call.resume();
    await until(() => unbatch(watcher.messages).events.length >= run.metrics!.eventCount, 30_000);
    const { events } = unbatch(watcher.messages);
    expect(contiguous(events.map((e) => e.seq))).toBe(true);
    expect(events.filter((e) => e.console).map((e) => e.console!.text)).toEqual(Array.from({ length: 5000 }, (_, i) => `line ${i} ${"x".repeat(200)}`));
    watcher.call.cancel();
  });

  it("StreamExecution: started, the events in EventBatch updates only, then finished", async () => {
    const session = await api.ready({ settings: { limits } });
    const c = collect<StreamExecutionResponse>(
      s.executions.streamExecution({ sessionId: session.id, repl: { input: `${FLOOD}; 'done'` }, requestId: "", maxBatch: 250 }),
    );
    expect(await c.done).toEqual({ ok: true });
    const [first, ...rest] = c.messages;
    const last = rest.pop()!;
    expect(first.started?.id).toBeTruthy();
    expect(last.finished?.id).toBe(first.started!.id);
    for (const m of rest) {
      expect(m.event).toBeUndefined();
      expect(m.events?.events.length).toBeGreaterThanOrEqual(1);
      expect(m.events!.events.length).toBeLessThanOrEqual(250);
    }
    const events = rest.flatMap((m) => m.events!.events);
    expect(contiguous(events.map((e) => e.seq))).toBe(true);
    expect(events.length).toBe(last.finished!.metrics!.eventCount);
    expect(events[events.length - 1].value?.preview).toBe("'done'");
  });
  it("many batched readers of one session, alike and not (same and other max_batch, WatchSession and StreamExecution): each gets every event in order within its own cap", async () => {
    const session = await api.ready({ settings: { limits } });
    const watchers = [1000, 1000, 1000, 7].map((maxBatch) => ({
      maxBatch,
      c: collect<WatchSessionResponse>(s.executions.watchSession({ sessionId: session.id, maxBatch })),
    }));
    await new Promise((r) => setTimeout(r, 100));
    const stream = collect<StreamExecutionResponse>(
      s.executions.streamExecution({ sessionId: session.id, repl: { input: `${FLOOD}; 'done'` }, requestId: "", maxBatch: 1000 }),
    );
    expect(await stream.done).toEqual({ ok: true });
    const run = stream.messages[stream.messages.length - 1].finished!;
    const total = run.metrics!.eventCount;
    const streamed = stream.messages.flatMap((m) => m.events?.events ?? []);
    await until(() => watchers.every((w) => w.c.messages.reduce((n, m) => n + m.events.length, 0) >= total), 30_000);
    for (const w of watchers) {
      const { events, sizes } = unbatch(w.c.messages);
      expect(events.map((e) => e.seq)).toEqual(streamed.map((e) => e.seq));
      expect(events.map((e) => e.console?.text ?? e.value?.preview)).toEqual(streamed.map((e) => e.console?.text ?? e.value?.preview));
      expect(Math.max(...sizes)).toBeLessThanOrEqual(w.maxBatch);
      w.c.call.cancel();
    }
    expect(contiguous(streamed.map((e) => e.seq))).toBe(true);
    expect(streamed.length).toBe(total);
  });
});
