/**
 * The database goes away mid-run (SPEC "Service behaviour": every persistence
 * write is checked; a failed write fails the execution or RPC explicitly,
 * never silently). While it is gone, the RPCs that must write fail with a
 * clear gRPC error carrying an ErrorInfo (never a hang, never OK); no
 * execution is ever reported OK with events missing; once it is back the
 * service recovers without a restart.
 *
 * PostgreSQL: a dedicated database per run, cut with ALLOW_CONNECTIONS false
 * plus pg_terminate_backend (the PostgreSQL server itself keeps running for
 * the other suites). SQLite: the test holds `BEGIN EXCLUSIVE` on the
 * service's own file, so every write of the service waits out its busy
 * timeout and fails with SQLITE_BUSY while reads keep working (WAL) — nothing
 * is stopped and nothing depends on file permissions (the service's handle is
 * already open, so chmod would not affect it, and root ignores modes anyway).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { status, type ServiceError } from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, type HealthCheckResponse } from "../gen/grpc/health/v1/health";
import type { StreamExecutionResponse } from "../gen/vmsystem/v1/execution";
import type { Template } from "../gen/vmsystem/v1/template";
import { errorInfoOf } from "../src/transport/errors";
import { PG_URL, TEST_DB, type TestDatabase } from "./support/database";
import {
  Api,
  consoleLines,
  describeExecution,
  EventType,
  eventTypes,
  ExecutionStatus,
  okValue,
  SessionStatus,
  sleep,
  type Execution,
} from "./support/fixtures";
import { Metadata, startTestServer, unary, type TestServer } from "./support/server";
import { collect, contiguous } from "./support/streams";

/** Far longer than any busy timeout the service waits out; a hang would pass it and fail the assertion. */
const CALL_DEADLINE_MS = 25_000;

/** A call that must fail explicitly: INTERNAL or UNAVAILABLE, with an ErrorInfo of our domain. */
async function expectExplicitFailure(call: Promise<unknown>, what: string): Promise<ServiceError> {
  let outcome: unknown;
  try {
    outcome = await call;
  } catch (err) {
    const e = err as ServiceError;
    const info = errorInfoOf(e);
    expect([status.INTERNAL, status.UNAVAILABLE], `${what}: code ${status[e.code]} (${e.details})`).toContain(e.code);
    expect(info, `${what}: no ErrorInfo on ${status[e.code]} ${e.details}`).toBeDefined();
    expect(info!.domain).toBe("vmsystem.v1");
    expect(info!.reason).toBe(e.code === status.INTERNAL ? "INTERNAL" : "UNAVAILABLE");
    expect(e.details, what).not.toBe("");
    return e;
  }
  const shown = (outcome as Execution | undefined)?.events ? describeExecution(outcome as Execution) : JSON.stringify(outcome)?.slice(0, 500);
  throw new Error(`${what}: expected an explicit gRPC error while the database is gone, got a success: ${shown}`);
}

function repl(s: TestServer, sessionId: string, input: string): Promise<Execution> {
  return unary<Execution>((cb) =>
    s.executions.executeRepl({ sessionId, input, requestId: "" }, new Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, cb),
  );
}

/** Every OK execution of the session has every event stored: 1..event_count, INPUT_ECHO first, VALUE last. */
async function expectNoOkExecutionWithMissingEvents(api: Api, sessionId: string): Promise<Execution[]> {
  const all = await api.allExecutions(sessionId);
  for (const listed of all) {
    if (listed.status !== ExecutionStatus.EXECUTION_STATUS_OK) continue;
    const events = await api.listEvents(listed.id, 0, 10_000);
    const what = `execution #${listed.number} ${JSON.stringify(listed.input)}`;
    expect(events.length, what).toBe(listed.metrics?.eventCount);
    expect(contiguous(events.map((e) => e.seq)), what).toBe(true);
    expect(eventTypes(events)[0], what).toBe("INPUT_ECHO");
    expect(events[events.length - 1].type, what).toBe(EventType.EVENT_TYPE_VALUE);
    const got = await api.getExecution(listed.id);
    expect(got.events, what).toEqual(events);
  }
  return all;
}

/**
 * The shared scenario. `cut` makes every write fail (and returns once it
 * does); `restore` brings the database back.
 */
function faultScenario(setup: {
  start(): Promise<TestServer>;
  cut(s: TestServer): Promise<void>;
  restore(s: TestServer): Promise<void>;
  /** Reads still work while writes fail (SQLite WAL), or not at all (PostgreSQL). */
  readsWhileCut: boolean;
}) {
  let s: TestServer;
  let api: Api;
  let cut = false;
  let inflightId: string | undefined;
  let sessionId: string;

  beforeAll(async () => {
    s = await setup.start();
    api = new Api(s);
  });
  afterAll(async () => {
    if (cut) await setup.restore(s).catch(() => undefined);
    await api?.closeAll();
    await s?.close();
  });

  it("fails writes explicitly while the database is gone, reports nothing OK with events missing, and recovers", { timeout: 90_000 }, async () => {
    const session = await api.ready({ name: "faults", settings: { limits: { wallMs: 30_000, cpuMs: 10_000 } } });
    sessionId = session.id;
    const before = await repl(s, session.id, "var kept = 'state'; console.log('before the cut'); 1");
    expect(okValue(before).json).toBe(1);

    // An execution that is mid-run when the database goes: its RUNNING row and first events are stored.
    const inflightInput = "console.log('started'); await new Promise((r) => setTimeout(r, 1500)); console.log('finishing'); 'late'";
    const inflight = repl(s, session.id, inflightInput).then(
      (e) => ({ ok: true as const, e }),
      (err: ServiceError) => ({ ok: false as const, err }),
    );
    let stored: Execution | undefined;
    for (let i = 0; i < 500 && !stored; i++) {
      stored = (await api.listExecutions(session.id, 1)).executions.find(
        (x) => x.input === inflightInput && x.status === ExecutionStatus.EXECUTION_STATUS_RUNNING,
      );
      if (!stored) await sleep(5);
    }
    expect(stored, "the running execution's row never showed up").toBeDefined();
    inflightId = stored!.id;

    await setup.cut(s);
    cut = true;

    // The mid-run execution cannot store its end: its call fails explicitly.
    const ended = await inflight;
    if (ended.ok) throw new Error(`the execution that ran across the cut was reported as a success: ${describeExecution(ended.e)}`);
    await expectExplicitFailure(Promise.reject(ended.err), "ExecuteRepl across the cut");

    // A new execution with console output while the database is gone.
    await expectExplicitFailure(repl(s, session.id, "console.log('while the database is gone'); 2"), "ExecuteRepl while cut");

    // The streaming variant fails explicitly too, and never sends `finished` with status OK.
    const stream = collect<StreamExecutionResponse>(
      s.executions.streamExecution(
        { sessionId: session.id, repl: { input: "console.log('streamed while gone'); 3" }, requestId: "", maxBatch: 0 },
        new Metadata(),
        {
          deadline: Date.now() + CALL_DEADLINE_MS,
        },
      ),
    );
    const streamEnd = await stream.done;
    expect(
      stream.messages.some((m) => m.finished?.status === ExecutionStatus.EXECUTION_STATUS_OK),
      "StreamExecution reported OK while cut",
    ).toBe(false);
    if (streamEnd.ok) throw new Error(`StreamExecution ended OK while the database is gone: ${JSON.stringify(stream.messages).slice(0, 800)}`);
    await expectExplicitFailure(Promise.reject(streamEnd.error), "StreamExecution while cut");

    // Other writes fail explicitly as well.
    await expectExplicitFailure(
      unary<Template>((cb) => s.templates.createTemplate({ name: "while-cut", engine: "" }, new Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, cb)),
      "CreateTemplate while cut",
    );

    if (setup.readsWhileCut) {
      expect((await api.getExecution(before.id)).events).toEqual(before.events);
    } else {
      await expectExplicitFailure(
        unary((cb) => s.executions.getExecution({ executionId: before.id }, new Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, cb)),
        "GetExecution while cut",
      );
    }

    await setup.restore(s);
    cut = false;

    // The service recovers without a restart: the same session runs code, state kept.
    const health = await unary<HealthCheckResponse>((cb) => s.health.check({ service: "" }, cb));
    expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await api.getSession(session.id)).status).toBe(SessionStatus.SESSION_STATUS_READY);
    const after = await repl(s, session.id, "console.log('after the cut'); kept");
    expect(okValue(after).json, describeExecution(after)).toBe("state");
    expect(consoleLines(after)).toEqual(["log: after the cut"]);
    expect(after.number).toBeGreaterThan(before.number);
    const got = await api.getExecution(after.id);
    expect(got.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(got.events).toEqual(after.events);
    expect(await api.listEvents(after.id)).toEqual(after.events);
    const again = await api.ready({ name: "after-the-cut" });
    expect(okValue(await repl(s, again.id, "console.log('fresh'); 6 * 7")).json).toBe(42);

    // Nothing is reported OK with events missing, the mid-run execution included.
    const all = await expectNoOkExecutionWithMissingEvents(api, session.id);
    expect(all.map((e) => e.input)).toEqual(expect.arrayContaining([before.input, after.input]));
    const leftover = all.find((e) => e.id === inflightId);
    if (leftover) expect(leftover.status, describeExecution(leftover)).not.toBe(ExecutionStatus.EXECUTION_STATUS_OK);
  });

  it("does not leave the execution whose end could not be stored RUNNING once the database is back", async () => {
    // SPEC: CancelExecution returns once the execution has ended ("Execution ending CANCELLED");
    // an execution that no longer runs anywhere must not be reported RUNNING forever.
    expect(inflightId, "the previous test did not get this far").toBeDefined();
    const cancelled = await unary<Execution>((cb) =>
      s.executions.cancelExecution({ executionId: inflightId! }, new Metadata(), { deadline: Date.now() + 10_000 }, cb),
    );
    expect(cancelled.status, describeExecution(cancelled)).not.toBe(ExecutionStatus.EXECUTION_STATUS_RUNNING);
    expect(cancelled.status).not.toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(cancelled.error?.code).toBeTruthy();
    expect(await expectNoOkExecutionWithMissingEvents(api, sessionId)).not.toHaveLength(0);
  });
}

describe.runIf(TEST_DB === "postgres")("PostgreSQL goes away mid-run", () => {
  const name = `vmsys_fault_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: PG_URL });
  const terminate = () => admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
  let dataDir: string;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
  });
  afterAll(async () => {
    try {
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`).catch(() => undefined);
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`).catch(() => undefined);
      await terminate();
      await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
    } finally {
      await admin.end();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });

  faultScenario({
    readsWhileCut: false,
    start: () => {
      dataDir = mkdtempSync(join(tmpdir(), "vmsystem-fault-"));
      const url = new URL(PG_URL);
      url.pathname = `/${name}`;
      // The database itself is dropped in afterAll, after the server has stopped.
      const db: TestDatabase = { dataDir, databaseUrl: url.toString(), cleanup: async () => undefined };
      return startTestServer({}, db);
    },
    cut: async () => {
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      await terminate();
    },
    restore: async () => {
      await admin.query(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    },
  });
});

describe.runIf(TEST_DB === "sqlite")("SQLite refuses writes mid-run", () => {
  let lock: Database.Database | undefined;
  faultScenario({
    readsWhileCut: true,
    start: () => startTestServer(),
    cut: async (s) => {
      lock = new Database(join(s.db.dataDir, "vmsystem.db"), { timeout: 10_000 });
      expect(lock.pragma("journal_mode", { simple: true })).toBe("wal");
      lock.exec("BEGIN EXCLUSIVE");
    },
    restore: async () => {
      lock?.exec("COMMIT");
      lock?.close();
      lock = undefined;
    },
  });
});
