/**
 * An execution's RUNNING row is written late (with its first batch of
 * events, or when it ends, whichever is first: most executions are written
 * once, finished). A client never sees the difference: reading a running
 * execution (GetExecution, ListEvents, ListExecutions) stores what it has
 * so far first, so what a client read of it is there after a crash.
 */
import { describe, expect, it } from "vitest";
import { EventType, ExecutionStatus, type WatchSessionResponse } from "../gen/vmsystem/v1/execution";
import { testDatabase } from "./support/database";
import { eventTypes, makeWorktree, removeDir } from "./support/fixtures";
import { spawnServer } from "./support/process";
import { connect, useTestServer, type Clients } from "./support/server";
import { collect, until, type Collected } from "./support/streams";

const limits = { wallMs: 60_000, cpuMs: 60_000 };

/**
 * A WatchSession known to be subscribed (it has seen a warm-up execution),
 * and the ids of the executions the test runs from then on, in order of
 * their first event.
 */
async function watching(c: Pick<Clients, "executions" | "api">, sessionId: string) {
  const watch = collect<WatchSessionResponse>(c.executions.watchSession({ sessionId, maxBatch: 0 }));
  const warmUps = new Set<string>();
  await until(async () => {
    warmUps.add((await c.api.repl(sessionId, "'warm-up'")).id);
    return watch.messages.length > 0;
  }, 20_000);
  const ids = () => [...new Set(watch.messages.map((m) => m.event?.executionId ?? ""))].filter((id) => id && !warmUps.has(id));
  const eventsOf = (id: string) => watch.messages.flatMap((m) => (m.event?.executionId === id ? [m.event] : []));
  return { watch: watch as Collected<WatchSessionResponse>, warmUps: warmUps.size, ids, eventsOf };
}

describe("a running execution read before its row was written", () => {
  const s = useTestServer();
  const api = s.api;

  it("is answered at once by GetExecution, ListEvents and ListExecutions, RUNNING with its events so far", async () => {
    const session = await api.ready({ settings: { limits } });
    const { watch, warmUps, ids, eventsOf } = await watching(s, session.id);
    try {
      const call = api.repl(session.id, "console.log('first'); await new Promise((r) => setTimeout(r, 400)); 'end'");
      await until(() => ids().length > 0 && eventsOf(ids()[0]).some((e) => e.type === EventType.EVENT_TYPE_CONSOLE), 20_000);
      const id = ids()[0];
      // Each read right away, in no particular order: none may miss it.
      const [got, events, listed] = await Promise.all([api.getExecution(id), api.listEvents(id), api.allExecutions(session.id)]);
      expect(got).toMatchObject({ id, status: ExecutionStatus.EXECUTION_STATUS_RUNNING, input: expect.stringContaining("first") });
      expect(eventTypes(got)).toEqual(["INPUT_ECHO", "CONSOLE"]);
      expect(events.map((e) => e.seq)).toEqual([1, 2]);
      expect(listed.map((e) => [e.id, e.status])[0]).toEqual([id, ExecutionStatus.EXECUTION_STATUS_RUNNING]);
      expect(listed).toHaveLength(warmUps + 1);
      const ended = await call;
      expect(ended).toMatchObject({ id, status: ExecutionStatus.EXECUTION_STATUS_OK, result: { json: "end" } });
      expect(eventTypes(await api.getExecution(id))).toEqual(["INPUT_ECHO", "CONSOLE", "VALUE"]);
    } finally {
      watch.call.cancel();
    }
  });

  it("is stored once however its reads and its end interleave: every execution ends OK, with all its events", async () => {
    const session = await api.ready({ settings: { limits } });
    const { watch, warmUps, ids } = await watching(s, session.id);
    const reads: Promise<unknown>[] = [];
    const seen = new Set<string>();
    const runs = 24;
    try {
      const readEach = () => {
        for (const id of ids()) {
          if (seen.has(id)) continue;
          seen.add(id);
          // Fired while the execution runs, or finalizes, or has just ended: each must find it.
          reads.push(api.getExecution(id), api.listEvents(id), api.allExecutions(session.id));
        }
      };
      for (let i = 0; i < runs; i++) {
        // Some end at once, some around the first batch's write (~100 ms), so reads meet every stage.
        const call = api.repl(session.id, `await new Promise((r) => setTimeout(r, ${[0, 95, 100, 105][i % 4]})); ${i}`);
        await until(() => (readEach(), seen.size > i), 20_000);
        expect((await call).status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
      }
      await Promise.all(reads);
      const stored = await api.allExecutions(session.id);
      expect(stored).toHaveLength(warmUps + runs);
      for (const e of stored) {
        expect(e.status, `execution ${e.number}`).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
        expect(eventTypes(await api.getExecution(e.id))).toEqual(["INPUT_ECHO", "VALUE"]);
      }
    } finally {
      watch.call.cancel();
    }
  });
});

describe("a running execution a client has read", { timeout: 90_000 }, () => {
  it("is still there after a kill -9, CANCELLED, however young it was", async () => {
    const db = testDatabase();
    const worktree = makeWorktree();
    try {
      const first = await spawnServer(db);
      const c1 = connect(first.address);
      const session = await c1.api.ready({ settings: { limits } }, worktree);
      const { watch, ids } = await watching(c1, session.id);
      c1.executions.executeRepl({ sessionId: session.id, input: "await new Promise(() => {})", requestId: "" }, () => undefined);
      await until(() => ids().length > 0, 20_000);
      const id = ids()[0];
      expect((await c1.api.getExecution(id)).status).toBe(ExecutionStatus.EXECUTION_STATUS_RUNNING);
      expect(await first.stop("SIGKILL")).toBe(null);
      watch.call.cancel();

      const second = await spawnServer(db);
      const c2 = connect(second.address);
      const after = await c2.api.getExecution(id);
      expect(after).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_CANCELLED, error: { code: "CANCELLED" } });
      expect(eventTypes(after)).toContain("INPUT_ECHO");
      expect(await second.stop("SIGTERM")).toBe(0);
    } finally {
      removeDir(worktree);
      await db.cleanup();
    }
  });
});
