import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  EventType,
  ExecutionStatus,
  type ExecutionEvent,
  type StreamExecutionResponse,
  type TailEventsResponse,
  type WatchSessionResponse,
} from "../gen/vmsystem/v1/execution";
import { SessionStatus } from "../gen/vmsystem/v1/session";
import { errorInfoOf } from "../src/transport/errors";
import { rpcError, unary, useTestServer } from "./support/server";
import { collect, contiguous, until } from "./support/streams";

const s = useTestServer();
const api = s.api;

const limits = { maxEvents: 200_000, maxOutputKb: 64 * 1024, wallMs: 60_000, cpuMs: 60_000 };
const stream = (sessionId: string, input: string, requestId = "") =>
  collect<StreamExecutionResponse>(s.executions.streamExecution({ sessionId, repl: { input }, requestId, maxBatch: 0 }));
const tail = (executionId: string, afterSeq = 0, follow = true) =>
  collect<TailEventsResponse>(s.executions.tailEvents({ executionId, afterSeq, follow, maxBatch: 0 }));
const watch = (sessionId: string) => collect<WatchSessionResponse>(s.executions.watchSession({ sessionId, maxBatch: 0 }));
const seqs = (events: (ExecutionEvent | undefined)[]) => events.map((e) => e!.seq);

describe("StreamExecution", () => {
  it("sends started (RUNNING, with the id), each event as it happens, then finished", async () => {
    const session = await api.ready({ settings: { limits } });
    const live: number[] = [];
    const c = collect<StreamExecutionResponse>(
      s.executions.streamExecution({
        sessionId: session.id,
        repl: { input: "for (let i = 0; i < 3; i++) { console.log('tick', i); await new Promise((r) => setTimeout(r, 50)); } 'done'" },
        requestId: "",
        maxBatch: 0,
      }),
      (m) => m.event && live.push(Date.now()),
    );
    expect(await c.done).toEqual({ ok: true });
    const [first, ...rest] = c.messages;
    const last = rest.pop()!;
    expect(first.started).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_RUNNING, sessionId: session.id });
    expect(last.finished).toMatchObject({ id: first.started!.id, status: ExecutionStatus.EXECUTION_STATUS_OK, result: { json: "done" } });
    const events = rest.map((m) => m.event!);
    expect(events.map((e) => e.type)).toEqual([
      EventType.EVENT_TYPE_INPUT_ECHO,
      EventType.EVENT_TYPE_CONSOLE,
      EventType.EVENT_TYPE_CONSOLE,
      EventType.EVENT_TYPE_CONSOLE,
      EventType.EVENT_TYPE_VALUE,
    ]);
    expect(contiguous(seqs(events))).toBe(true);
    // Console lines arrived while the code was still running, not all at the end.
    expect(live[3] - live[1]).toBeGreaterThanOrEqual(80);
    const stored = await api.getExecution(first.started!.id);
    expect(stored.events).toEqual(events);
  });

  it("runs files too and reports errors on the stream with ErrorInfo", async () => {
    const session = await api.ready();
    const missing = collect<StreamExecutionResponse>(
      s.executions.streamExecution({ sessionId: session.id, runFile: { path: "nope.js", args: [], env: {} }, requestId: "", maxBatch: 0 }),
    );
    const r = await missing.done;
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(status.NOT_FOUND);
      expect(errorInfoOf(r.error)?.reason).toBe("FILE_NOT_FOUND");
    }
    const neither = await collect<StreamExecutionResponse>(s.executions.streamExecution({ sessionId: session.id, requestId: "", maxBatch: 0 })).done;
    expect(!neither.ok && errorInfoOf(neither.error)?.reason).toBe("VALIDATION_ERROR");
    const unknown = await stream("00000000-0000-0000-0000-000000000000", "1").done;
    expect(!unknown.ok && errorInfoOf(unknown.error)?.reason).toBe("SESSION_NOT_FOUND");
  });

  it("a client that cancels its stream cancels the execution; the session stays usable", async () => {
    const session = await api.ready();
    await api.repl(session.id, "var kept = 'yes'");
    const c = stream(session.id, "await new Promise(() => {})");
    await until(() => c.messages.length >= 2);
    const id = c.messages[0].started!.id;
    c.call.cancel();
    await until(async () => (await api.getExecution(id)).status !== ExecutionStatus.EXECUTION_STATUS_RUNNING);
    expect(await api.getExecution(id)).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_CANCELLED, error: { code: "CANCELLED" } });
    await until(async () => (await api.getSession(session.id)).status === SessionStatus.SESSION_STATUS_READY);
    expect((await api.repl(session.id, "kept")).result?.json).toBe("yes");
  });
});

describe("StreamExecution request_id", () => {
  // A deadline, so that a retry the server never answers fails here instead of hanging the file.
  const keyed = (
    sessionId: string,
    request: { repl?: { input: string }; runFile?: { path: string; args: string[]; env: Record<string, string> } },
    requestId: string,
  ) =>
    collect<StreamExecutionResponse>(
      s.executions.streamExecution({ sessionId, ...request, requestId, maxBatch: 0 }, new Metadata(), { deadline: Date.now() + 15_000 }),
    );
  const parts = (c: ReturnType<typeof keyed>) => ({
    started: c.messages[0]?.started,
    events: c.messages.flatMap((m) => (m.event ? [m.event] : [])),
    finished: c.messages[c.messages.length - 1]?.finished,
  });
  // A side effect each run leaves behind: a retry that ran again would count 2.
  const counting = (name: string, wait = "") => `${wait}globalThis.${name} = (globalThis.${name} ?? 0) + 1; console.log('run', ${name}); ${name}`;

  it("a retry returns the first execution with its events and runs nothing", async () => {
    const session = await api.ready();
    const input = counting("streamRuns");
    const first = keyed(session.id, { repl: { input } }, "stream-key");
    expect(await first.done).toEqual({ ok: true });
    const retry = keyed(session.id, { repl: { input } }, "stream-key");
    expect(await retry.done).toEqual({ ok: true });
    const a = parts(first);
    const b = parts(retry);
    expect(a.finished).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_OK, requestId: "stream-key", result: { json: 1 } });
    expect(b.started?.id).toBe(a.started!.id);
    expect(b.finished).toEqual(a.finished);
    expect(b.events).toEqual(a.events);
    // The unary call honours the same key.
    expect((await api.repl(session.id, input, "stream-key")).id).toBe(a.started!.id);
    expect((await api.repl(session.id, "streamRuns")).result?.json).toBe(1);
    expect(await api.allExecutions(session.id)).toHaveLength(2);
  });

  it("the same request_id with a different request is VALIDATION_ERROR, and nothing runs", async () => {
    const session = await api.ready();
    const first = keyed(session.id, { repl: { input: counting("differentRuns") } }, "taken");
    expect(await first.done).toEqual({ ok: true });
    for (const request of [{ repl: { input: `${counting("differentRuns")} + 1` } }, { runFile: { path: "a.js", args: [], env: {} } }]) {
      const other = keyed(session.id, request, "taken");
      const end = await other.done;
      expect(end.ok, JSON.stringify(request)).toBe(false);
      if (!end.ok)
        expect({ code: end.error.code, reason: errorInfoOf(end.error)?.reason }).toEqual({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR" });
      expect(other.messages).toEqual([]);
    }
    expect((await api.repl(session.id, "differentRuns")).result?.json).toBe(1);
    expect(await api.allExecutions(session.id)).toHaveLength(2);
  });

  it("a retry while the first still runs waits for it and returns it", async () => {
    const session = await api.ready();
    // Long enough for the retry to reach the server while this still runs.
    const input = counting("slowRuns", "await new Promise((r) => setTimeout(r, 1500)); ");
    const first = keyed(session.id, { repl: { input } }, "slow-key");
    await until(() => first.messages.some((m) => m.event));
    const retry = keyed(session.id, { repl: { input } }, "slow-key");
    expect(await retry.done).toEqual({ ok: true });
    expect(await first.done).toEqual({ ok: true });
    const a = parts(first);
    const b = parts(retry);
    expect(b.finished).toMatchObject({ id: a.started!.id, status: ExecutionStatus.EXECUTION_STATUS_OK, result: { json: 1 } });
    expect(b.finished).toEqual(a.finished);
    expect(b.events).toEqual(a.events);
    expect(b.events.map((e) => e.type)).toEqual([EventType.EVENT_TYPE_INPUT_ECHO, EventType.EVENT_TYPE_CONSOLE, EventType.EVENT_TYPE_VALUE]);
    expect((await api.repl(session.id, "slowRuns")).result?.json).toBe(1);
  });
});

describe("TailEvents", () => {
  it("replays a finished execution after after_seq and completes", async () => {
    const session = await api.ready();
    const e = await api.repl(session.id, "console.log(1); console.log(2); 3");
    const all = tail(e.id, 0, false);
    expect(await all.done).toEqual({ ok: true });
    expect(seqs(all.messages.map((m) => m.event))).toEqual([1, 2, 3, 4]);
    const rest = tail(e.id, 2, true);
    expect(await rest.done).toEqual({ ok: true });
    expect(seqs(rest.messages.map((m) => m.event))).toEqual([3, 4]);
    const unknown = await tail("00000000-0000-0000-0000-000000000000").done;
    expect(!unknown.ok && errorInfoOf(unknown.error)?.reason).toBe("EXECUTION_NOT_FOUND");
  });

  it("started at the start, during, and after a running execution: no gaps, no duplicates", async () => {
    const session = await api.ready({ settings: { limits } });
    const code = "for (let i = 0; i < 40; i++) { for (let j = 0; j < 50; j++) console.log(i, j); await new Promise((r) => setTimeout(r, 5)); } 'end'";
    const tails: ReturnType<typeof tail>[] = [];
    const c = collect<StreamExecutionResponse>(
      s.executions.streamExecution({ sessionId: session.id, repl: { input: code }, requestId: "", maxBatch: 0 }),
      (m) => {
        if (m.started) tails.push(tail(m.started.id));
      },
    );
    await until(() => c.messages.length > 500);
    const id = c.messages[0].started!.id;
    const during = tail(id);
    const resumed = tail(id, 700);
    expect(await c.done).toEqual({ ok: true });
    const after = tail(id);
    const total = 1 + 40 * 50 + 1;
    for (const [t, from] of [
      [tails[0], 1],
      [during, 1],
      [resumed, 701],
      [after, 1],
    ] as const) {
      expect(await t.done).toEqual({ ok: true });
      const got = seqs(t.messages.map((m) => m.event));
      expect(got.length).toBe(total - from + 1);
      expect(contiguous(got, from)).toBe(true);
    }
  });
});

describe("WatchSession", () => {
  it("shows console lines while the code runs, and ends when the session closes", async () => {
    const session = await api.ready();
    const w = watch(session.id);
    await new Promise((r) => setTimeout(r, 100));
    const seenWhileRunning: string[] = [];
    const run = api.repl(session.id, "console.log('early'); await new Promise((r) => setTimeout(r, 300)); console.log('late'); 1");
    await until(() => w.messages.some((m) => m.event?.console?.text === "early"));
    seenWhileRunning.push(...w.messages.map((m) => m.event!.console?.text ?? ""));
    expect(seenWhileRunning).not.toContain("late");
    const e = await run;
    await api.repl(session.id, "console.log('second')");
    await unary((cb) => s.sessions.closeSession({ sessionId: session.id }, cb));
    expect(await w.done).toEqual({ ok: true });
    const texts = w.messages.map((m) => m.event!.console?.text).filter(Boolean);
    expect(texts).toEqual(["early", "late", "second"]);
    expect(w.messages.filter((m) => m.event!.executionId === e.id).map((m) => m.event!.seq)).toEqual([1, 2, 3, 4]);
  });

  it("100 concurrent watchers all see every event", { timeout: 90_000 }, async () => {
    const session = await api.ready({ settings: { limits } });
    const watchers = Array.from({ length: 100 }, () => watch(session.id));
    // A watch sees events "from now on": run snippets until every watcher has seen one whole.
    const subscribed = (w: (typeof watchers)[number]) => w.messages.some((m) => m.event?.seq === 1);
    await until(async () => {
      await api.repl(session.id, "'warm-up'");
      return watchers.every(subscribed);
    }, 60_000);
    for (const w of watchers) w.messages.length = 0;
    const e = await api.repl(session.id, "for (let i = 0; i < 500; i++) console.log(i); 'ok'");
    await until(() => watchers.every((w) => w.messages.length >= 502), 60_000);
    for (const w of watchers) {
      expect(seqs(w.messages.map((m) => m.event))).toEqual(e.events.map((x) => x.seq));
      w.call.cancel();
    }
  });

  it("a deliberately slow subscriber catches up without gaps or duplicates", async () => {
    const session = await api.ready({ settings: { limits } });
    const w = watch(session.id);
    await new Promise((r) => setTimeout(r, 100));
    w.call.pause();
    // 120k events while it reads nothing: more than a subscriber's live feed holds (100k), so it drops and reads back.
    const runs = [];
    for (let n = 0; n < 3; n++) runs.push(await api.repl(session.id, "for (let i = 0; i < 40000; i++) console.log(i); 'ok'"));
    for (const e of runs) expect(e.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    w.call.resume();
    await until(() => w.messages.length >= 3 * 40_002, 60_000);
    for (const e of runs) {
      const got = seqs(w.messages.map((m) => m.event).filter((ev) => ev!.executionId === e.id));
      expect(got.length).toBe(40_002);
      expect(contiguous(got)).toBe(true);
    }
    expect(w.messages.length).toBe(3 * 40_002);
    w.call.cancel();
  });

  it("answers SESSION_NOT_FOUND for unknown sessions and completes at once for closed ones", async () => {
    const unknown = await watch("00000000-0000-0000-0000-000000000000").done;
    expect(!unknown.ok && errorInfoOf(unknown.error)?.reason).toBe("SESSION_NOT_FOUND");
    const session = await api.ready();
    await api.closeSession(session.id);
    expect(await watch(session.id).done).toEqual({ ok: true });
  });
});

describe("cancellation", () => {
  it("CancelExecution ends an awaiting execution CANCELLED and keeps the session's state", async () => {
    const session = await api.ready();
    await api.repl(session.id, "var state = 7");
    const c = stream(session.id, "await new Promise(() => {})");
    await until(() => c.messages.length >= 1);
    const id = c.messages[0].started!.id;
    const cancelled = await unary<{ status: ExecutionStatus; error?: { code: string } }>((cb) => s.executions.cancelExecution({ executionId: id }, cb));
    expect(cancelled).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_CANCELLED, error: { code: "CANCELLED" } });
    await c.done;
    expect(c.messages[c.messages.length - 1].finished?.status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    expect((await api.getSession(session.id)).restartCount).toBe(0);
    expect((await api.repl(session.id, "state")).result?.json).toBe(7);
    // Cancelling a finished execution returns it unchanged.
    const again = await unary<{ status: ExecutionStatus }>((cb) => s.executions.cancelExecution({ executionId: id }, cb));
    expect(again.status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
  });

  it("CancelExecution of running code restarts the session and returns once it is READY", async () => {
    const session = await api.ready();
    await api.repl(session.id, "var lost = 1");
    const c = stream(session.id, "console.log('spinning'); while (true) {}");
    // Cancel once the loop runs (a cancel that lands before the code starts needs no restart).
    await until(() => c.messages.some((m) => m.event?.console?.text === "spinning"));
    const id = c.messages[0].started!.id;
    const cancelled = await unary<{ status: ExecutionStatus; events: ExecutionEvent[] }>((cb) => s.executions.cancelExecution({ executionId: id }, cb));
    expect(cancelled.status).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    expect(cancelled.events[cancelled.events.length - 1].system?.message).toMatch(/state is lost/);
    const after = await api.getSession(session.id);
    expect(after).toMatchObject({ status: SessionStatus.SESSION_STATUS_READY, restartCount: 1 });
    expect((await api.repl(session.id, "typeof lost")).result?.json).toBe("undefined");
  });

  it("a client that cancels its ExecuteRepl, or whose deadline passes, cancels the execution", async () => {
    const session = await api.ready();
    const call = s.executions.executeRepl({ sessionId: session.id, input: "await new Promise(() => {})", requestId: "" }, () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    call.cancel();
    await until(async () => (await api.listExecutions(session.id)).executions[0]?.status === ExecutionStatus.EXECUTION_STATUS_CANCELLED);
    await whenFree(session.id);

    const err = await rpcError(
      new Promise((resolve, reject) =>
        s.executions.executeRepl({ sessionId: session.id, input: "while (true) {}", requestId: "" }, new Metadata(), { deadline: Date.now() + 300 }, (e, r) =>
          e ? reject(e) : resolve(r),
        ),
      ),
    );
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    await until(
      async () =>
        (await api.getSession(session.id)).status === SessionStatus.SESSION_STATUS_READY &&
        (await api.listExecutions(session.id)).executions.some((x) => x.input === "while (true) {}" && x.status === ExecutionStatus.EXECUTION_STATUS_CANCELLED),
    );
    await whenFree(session.id);
    expect((await api.repl(session.id, "1 + 1")).result?.json).toBe(2);
  });
});

/** The status is stored a moment before the session's lock is released: wait until a call gets through. */
async function whenFree(sessionId: string): Promise<void> {
  await until(async () => {
    try {
      await api.repl(sessionId, "0");
      return true;
    } catch (err) {
      if (errorInfoOf(err as never)?.reason === "SESSION_BUSY") return false;
      throw err;
    }
  });
}
