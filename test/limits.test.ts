/**
 * Limits end an execution, never the server: wall and CPU time (TIMEOUT, with
 * a restart when the isolate had to be disposed), event and output limits
 * (ERROR/OUTPUT_LIMIT_EXCEEDED), and the memory limit (session CRASHED).
 */
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ExecutionKind } from "../gen/vmsystem/v1/execution";
import {
  consoleLines,
  describeExecution,
  EventType,
  eventTypes,
  ExecutionStatus,
  makeWorktree,
  okValue,
  removeDir,
  SessionStatus,
  sleep,
  type Execution,
} from "./support/fixtures";
import { Metadata, rpcError, unary, useTestServer } from "./support/server";

const s = useTestServer();
const api = s.api;

const value = async (sessionId: string, input: string) => okValue(await api.repl(sessionId, input));
const lastEvent = (e: Execution) => e.events[e.events.length - 1];
const systemMessages = (e: Execution) => e.events.filter((ev) => ev.type === EventType.EVENT_TYPE_SYSTEM).map((ev) => ev.system!.message);

function expectTimeout(e: Execution, limit: RegExp) {
  expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_TIMEOUT);
  expect(e.error?.code).toBe("TIMEOUT");
  expect(e.error?.message).toMatch(limit);
  expect(e.result).toBeUndefined();
  expect(eventTypes(e)[0]).toBe("INPUT_ECHO");
  expect(lastEvent(e).type).toBe(EventType.EVENT_TYPE_SYSTEM);
  expect(e.events.some((ev) => ev.type === EventType.EVENT_TYPE_VALUE)).toBe(false);
  expect(e.metrics?.eventCount).toBe(e.events.length);
}

describe("wall_ms and cpu_ms", () => {
  it("wall_ms stops a synchronous endless loop: TIMEOUT, session READY, state kept", async () => {
    const session = await api.ready({ settings: { limits: { wallMs: 300 } } });
    await value(session.id, "var kept = 'yes'");
    const e = await api.repl(session.id, "console.log('spinning'); while (true) {}");
    expectTimeout(e, /wall/i);
    expect(consoleLines(e)).toEqual(["log: spinning"]);
    const after = await api.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect(after.restartCount).toBe(0);
    expect((await value(session.id, "kept")).json).toBe("yes");
  });

  it("wall_ms covers awaited promises: a promise that never settles is a TIMEOUT, state kept", async () => {
    const session = await api.ready({ settings: { limits: { wallMs: 300 } } });
    await value(session.id, "var kept = 'yes'");
    const e = await api.repl(session.id, "await new Promise(() => {})");
    expectTimeout(e, /wall/i);
    const after = await api.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect(after.restartCount).toBe(0);
    expect((await value(session.id, "kept")).json).toBe("yes");
  });

  it("cpu_ms stops a busy loop before the wall limit: TIMEOUT naming the CPU limit", async () => {
    const session = await api.ready({ settings: { limits: { cpuMs: 200, wallMs: 20000 } } });
    await value(session.id, "var kept = 'yes'");
    const e = await api.repl(session.id, "let i = 0; while (true) { i++ }");
    expectTimeout(e, /cpu/i);
    const after = await api.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect((await value(session.id, "kept")).json).toBe("yes");
  });

  it("code still running after an await is stopped by the wall limit (a restart only if the isolate had to be disposed)", async () => {
    const dir = makeWorktree({ "boot.js": "var booted = 'boot ran'; globalThis.bootRuns = (globalThis.bootRuns || 0) + 1;" });
    try {
      const session = await api.ready({ settings: { limits: { wallMs: 400 } }, startupFiles: [{ path: "boot.js" }], libraries: ["lodash"] }, dir);
      await value(session.id, "var before = 'in memory'");
      const startupsBefore = (await api.allExecutions(session.id)).filter((x) => x.kind === ExecutionKind.EXECUTION_KIND_STARTUP);
      expect(startupsBefore).toHaveLength(1);

      const e = await api.repl(session.id, "await null; while (true) {}");
      expectTimeout(e, /wall/i);

      const after = await api.getSession(session.id);
      expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
      const executions = await api.allExecutions(session.id);
      const startups = executions.filter((x) => x.kind === ExecutionKind.EXECUTION_KIND_STARTUP);
      if (after.restartCount === 0) {
        // The isolate survived: nothing may be lost and nothing re-run.
        expect(systemMessages(e).join("\n")).not.toMatch(/lost/i);
        expect((await value(session.id, "before")).json).toBe("in memory");
        expect(startups).toHaveLength(1);
      } else {
        expect(after.restartCount).toBe(1);
        // A SYSTEM event of the failing execution says the in-memory state was lost.
        expect(systemMessages(e).join("\n")).toMatch(/state.*lost|lost.*state/i);
        expect((await value(session.id, "typeof before")).json).toBe("undefined");
        // Startup files ran again in the fresh isolate, recorded as new STARTUP executions after the timed-out one.
        expect((await value(session.id, "[booted, bootRuns]")).json).toEqual(["boot ran", 1]);
        expect(startups).toHaveLength(2);
        expect(startups[0].number).toBeGreaterThan(e.number);
        expect(startups[0].status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
        // Libraries are back too.
        expect((await value(session.id, "_.chunk([1, 2, 3], 2)")).json).toEqual([[1, 2], [3]]);
      }
      // Either way the session runs code again and keeps numbering.
      const next = await api.repl(session.id, "'alive'");
      expect(okValue(next).json).toBe("alive");
      expect(next.number).toBeGreaterThan(e.number);
    } finally {
      removeDir(dir);
    }
  });

  it("running code that can only be stopped by disposing the isolate (client deadline on a busy loop) restarts the session", async () => {
    const dir = makeWorktree({ "boot.js": "var booted = 'boot ran'; globalThis.bootRuns = (globalThis.bootRuns || 0) + 1;" });
    try {
      const session = await api.ready(
        { settings: { limits: { wallMs: 20000, cpuMs: 20000 } }, startupFiles: [{ path: "boot.js" }], libraries: ["lodash"] },
        dir,
      );
      await value(session.id, "var before = 'in memory'");
      const err = await rpcError(
        unary<Execution>((cb) =>
          s.executions.executeRepl({ sessionId: session.id, input: "while (true) {}", requestId: "" }, new Metadata(), { deadline: Date.now() + 300 }, cb),
        ),
      );
      expect(err.code).toBe(status.DEADLINE_EXCEEDED);

      // The restart happens inside the failing execution; wait until it has ended.
      let spun: Execution | undefined;
      for (let i = 0; i < 300 && !spun; i++) {
        const found = (await api.allExecutions(session.id)).find((x) => x.input === "while (true) {}");
        if (found && found.status !== ExecutionStatus.EXECUTION_STATUS_RUNNING) spun = found;
        else await sleep(20);
      }
      expect(spun, "the cancelled execution never ended").toBeDefined();
      const e = await api.getExecution(spun!.id);
      expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_CANCELLED);
      expect(e.error?.code).toBe("CANCELLED");
      expect(systemMessages(e).join("\n")).toMatch(/state.*lost|lost.*state/i);

      // Calls get SESSION_BUSY until the restart is over; then the session takes code again.
      let ping: Execution | undefined;
      for (let i = 0; i < 300 && !ping; i++) {
        ping = await api.repl(session.id, "'ping'").catch(async (e: { code?: number }) => {
          if (e.code !== status.ABORTED) throw e;
          await sleep(20);
          return undefined;
        });
      }
      expect(okValue(ping!).json).toBe("ping");
      const after = await api.getSession(session.id);
      expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
      expect(after.restartCount).toBe(1);
      expect((await value(session.id, "typeof before")).json).toBe("undefined");
      expect((await value(session.id, "[booted, bootRuns]")).json).toEqual(["boot ran", 1]);
      expect((await value(session.id, "_.chunk([1, 2, 3], 2)")).json).toEqual([[1, 2], [3]]);
      const startups = (await api.allExecutions(session.id)).filter((x) => x.kind === ExecutionKind.EXECUTION_KIND_STARTUP);
      expect(startups).toHaveLength(2);
      expect(startups[0].number).toBeGreaterThan(e.number);
      expect(startups[0].status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    } finally {
      removeDir(dir);
    }
  });

  it("a timer callback that spins after the snippet awaited it is a TIMEOUT too", async () => {
    const session = await api.ready({ settings: { limits: { wallMs: 300, cpuMs: 20000 } } });
    const e = await api.repl(session.id, "await new Promise((r) => setTimeout(() => { while (true) {} }, 10))");
    expectTimeout(e, /wall|cpu/i);
    const after = await api.getSession(session.id);
    expect(after.status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect((await value(session.id, "1 + 1")).json).toBe(2);
  });
});

describe("max_events and max_output_kb", () => {
  it("max_events: ERROR/OUTPUT_LIMIT_EXCEEDED, exactly max_events events kept, the last a SYSTEM event", async () => {
    const session = await api.ready({ settings: { limits: { maxEvents: 5 } } });
    const e = await api.repl(session.id, "for (let i = 0; i < 10; i++) console.log('line ' + i)");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("OUTPUT_LIMIT_EXCEEDED");
    expect(eventTypes(e)).toEqual(["INPUT_ECHO", "CONSOLE", "CONSOLE", "CONSOLE", "SYSTEM"]);
    expect(consoleLines(e)).toEqual(["log: line 0", "log: line 1", "log: line 2"]);
    expect(e.events.map((ev) => ev.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(e.metrics?.eventCount).toBe(5);
    expect(await api.listEvents(e.id)).toHaveLength(5);
    expect((await api.getExecution(e.id)).events).toEqual(e.events);
    // The limit is per execution; the session keeps working.
    const next = await api.repl(session.id, "console.log('again'); 2");
    expect(okValue(next).json).toBe(2);
    expect(consoleLines(next)).toEqual(["log: again"]);
  });

  it("max_output_kb: the line that would cross the limit is dropped, and outputBytes counts what was kept", async () => {
    const session = await api.ready({ settings: { limits: { maxOutputKb: 1 } } });
    const e = await api.repl(session.id, "for (let i = 0; i < 10; i++) console.log(String(i).repeat(300))");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("OUTPUT_LIMIT_EXCEEDED");
    // 3 × 300 bytes fit in 1024; the 4th line would cross it.
    expect(consoleLines(e)).toEqual(["0", "1", "2"].map((d) => `log: ${d.repeat(300)}`));
    expect(lastEvent(e).type).toBe(EventType.EVENT_TYPE_SYSTEM);
    expect(e.metrics?.outputBytes).toBe(900);
    expect(e.metrics?.eventCount).toBe(e.events.length);
    expect((await api.getExecution(e.id)).events).toEqual(e.events);
  });

  it("console calls after the limit throw inside the sandbox; the execution still ends OUTPUT_LIMIT_EXCEEDED", async () => {
    const session = await api.ready({ settings: { limits: { maxEvents: 5 } } });
    const e = await api.repl(
      session.id,
      "globalThis.caught = 'no'; try { for (;;) console.log('x') } catch (err) { globalThis.caught = 'caught' } 'completed'",
    );
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("OUTPUT_LIMIT_EXCEEDED");
    expect(e.events).toHaveLength(5);
    expect(lastEvent(e).type).toBe(EventType.EVENT_TYPE_SYSTEM);
    expect(e.events.some((ev) => ev.type === EventType.EVENT_TYPE_VALUE)).toBe(false);
    // The loop ended because console threw in the sandbox, and the code went on.
    expect((await value(session.id, "caught")).json).toBe("caught");
  });

  it("the console call that crosses max_output_kb itself throws", async () => {
    const session = await api.ready({ settings: { limits: { maxOutputKb: 1 } } });
    const e = await api.repl(
      session.id,
      "globalThis.crossed = 'no'; console.log('small'); try { console.log('y'.repeat(2000)) } catch (err) { globalThis.crossed = 'threw' }",
    );
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("OUTPUT_LIMIT_EXCEEDED");
    expect(consoleLines(e)).toEqual(["log: small"]);
    expect((await value(session.id, "crossed")).json).toBe("threw");
  });
});

describe("mem_mb", () => {
  it("exceeding mem_mb: ERROR/MEMORY_LIMIT_EXCEEDED, session CRASHED, other sessions unaffected", async () => {
    const other = await api.ready();
    await value(other.id, "var mine = 'safe'");
    const session = await api.ready({ settings: { limits: { memMb: 16 } } });
    const e = await api.repl(session.id, "const hog = []; for (;;) hog.push('x'.repeat(1024) + hog.length)");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(lastEvent(e).type).toBe(EventType.EVENT_TYPE_SYSTEM);

    const crashed = await api.getSession(session.id);
    expect(crashed.status).toBe(SessionStatus.SESSION_STATUS_CRASHED);
    expect(crashed.lastError).toMatch(/memory/i);

    expect(await rpcError(api.repl(session.id, "1"))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY", domain: "vmsystem.v1" });
    // The execution is stored as it ended.
    expect((await api.getExecution(e.id)).error?.code).toBe("MEMORY_LIMIT_EXCEEDED");

    // The server and the other session carry on, state included.
    expect((await value(other.id, "mine")).json).toBe("safe");
    const fresh = await api.ready();
    expect((await value(fresh.id, "[1, 2].map((n) => n * 2)")).json).toEqual([2, 4]);

    expect((await api.closeSession(session.id)).status).toBe(SessionStatus.SESSION_STATUS_CLOSED);
  });

  it("sessions started one after another (on isolates the server made ahead) each keep their own template's mem_mb and no state", async () => {
    // The server makes an isolate for the next session after each create,
    // per memory limit: with the limits alternating, each session must still get its own.
    const small = { settings: { limits: { memMb: 16 } } };
    const large = { settings: { limits: { memMb: 256 } } };
    const sessions = [];
    for (const template of [small, large, small, large, small]) sessions.push({ session: await api.ready(template), memMb: template.settings.limits.memMb });
    await value(sessions[0].session.id, "var leftover = 'first'");
    expect((await value(sessions[2].session.id, "typeof leftover")).json).toBe("undefined");
    // 40 MB of arrays (5,000 × 1,024 numbers of 8 bytes): more than 16 MB, well within 256.
    const allocate = "const held = []; for (let i = 0; i < 5_000; i++) held.push(new Array(1024).fill(i)); held.length";
    for (const { session, memMb } of sessions) {
      const e = await api.repl(session.id, allocate);
      if (memMb === 16) expect(e.error?.code, describeExecution(e)).toBe("MEMORY_LIMIT_EXCEEDED");
      else expect(okValue(e).json).toBe(5_000);
    }
  });
});
