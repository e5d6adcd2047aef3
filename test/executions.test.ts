/**
 * ExecutionService end to end: REPL state, the event stream, VALUE payloads,
 * exceptions, one-at-a-time execution, request_id idempotency, and the read
 * RPCs. Limits, run-file and the sandbox itself have their own files.
 */
import { status } from "@grpc/grpc-js";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  consoleLines,
  describeExecution,
  EventType,
  eventTypes,
  ExecutionStatus,
  okValue,
  sleep,
  valueOf,
  type Execution,
  type Session,
} from "./support/fixtures";
import { ExecutionKind } from "../gen/vmsystem/v1/execution";
import { rpcError, useTestServer } from "./support/server";

const PROJECT_ROOT = join(__dirname, "..");
const UNKNOWN_ID = "00000000-0000-0000-0000-000000000000";

const s = useTestServer();
const api = s.api;
/** A plain default session shared by tests that only add state of their own. */
let shared: Session;

beforeAll(async () => {
  shared = await api.ready({ name: "executions-shared" });
});

/** Runs a snippet that must end OK and returns its VALUE. */
async function value(sessionId: string, input: string) {
  return okValue(await api.repl(sessionId, input));
}

/** Waits until the session's newest execution is RUNNING (the call has taken the session). */
async function untilRunning(sessionId: string, previousCount: number): Promise<Execution> {
  for (let i = 0; i < 200; i++) {
    const page = await api.listExecutions(sessionId, 1);
    const newest = page.executions[0];
    if (newest && newest.number > previousCount && newest.status === ExecutionStatus.EXECUTION_STATUS_RUNNING) return newest;
    await sleep(10);
  }
  throw new Error("the first execution never showed up as RUNNING");
}

describe("state across executions", () => {
  it("keeps var bindings: `var x = 41` then `x + 1` is 42", async () => {
    const session = await api.ready();
    const decl = await api.repl(session.id, "var x = 41");
    expect(decl.status, describeExecution(decl)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(valueOf(decl)).toMatchObject({ type: "undefined" });
    expect(valueOf(decl)?.json).toBeUndefined();
    const v = await value(session.id, "x + 1");
    expect(v).toMatchObject({ type: "number", preview: "42", json: 42 });
  });

  it("keeps functions, let, const and classes, as a browser console does", async () => {
    const session = await api.ready();
    for (const input of ["function inc(n) { return n + 1 }", "let counter = 1", "const K = 'k'", "class Point { constructor(x) { this.x = x } }"]) {
      const e = await api.repl(session.id, input);
      expect(e.status, `${input}: ${describeExecution(e)}`).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    }
    expect((await value(session.id, "[inc(1), counter, K, new Point(3).x, typeof Point]")).json).toEqual([2, 1, "k", 3, "function"]);
    await value(session.id, "counter = counter + 1");
    expect((await value(session.id, "counter")).json).toBe(2);
    // const stays const across executions.
    const reassign = await api.repl(session.id, "K = 'changed'");
    expect(reassign.status, describeExecution(reassign)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect((await value(session.id, "K")).json).toBe("k");
  });

  it("supports top-level await, and the awaited bindings persist", async () => {
    const session = await api.ready();
    const first = await api.repl(session.id, "const v = await Promise.resolve(5)");
    expect(first.status, describeExecution(first)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect((await value(session.id, "v * 2")).json).toBe(10);
    expect((await value(session.id, "await new Promise((r) => setTimeout(() => r('later'), 20))")).json).toBe("later");
    expect((await value(session.id, "let w = await Promise.resolve(3); w + v")).json).toBe(8);
    expect((await value(session.id, "w")).json).toBe(3);
  });
});

describe("the event stream of an execution", () => {
  const snippet = "console.log('a', 1, {b: 2}); console.info('i'); console.warn('w'); console.error('e'); console.debug('d'); console.log('héllo €'); 7";
  let e: Execution;
  beforeAll(async () => {
    e = await api.repl(shared.id, snippet);
  });

  it("starts with INPUT_ECHO of the snippet, then CONSOLE lines in order, and ends with VALUE", () => {
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(eventTypes(e)).toEqual(["INPUT_ECHO", "CONSOLE", "CONSOLE", "CONSOLE", "CONSOLE", "CONSOLE", "CONSOLE", "VALUE"]);
    expect(e.events[0].inputEcho).toEqual({ text: snippet });
    expect(consoleLines(e)).toEqual(["log: a 1 { b: 2 }", "info: i", "warn: w", "error: e", "debug: d", "log: héllo €"]);
    expect(e.events[e.events.length - 1].value).toMatchObject({ type: "number", json: 7 });
  });

  it("numbers events 1..n contiguously, each tagged with the execution id and a timestamp", () => {
    expect(e.events.map((ev) => ev.seq)).toEqual(e.events.map((_, i) => i + 1));
    for (const ev of e.events) {
      expect(ev.executionId).toBe(e.id);
      expect(ev.ts).toBeInstanceOf(Date);
    }
  });

  it("fills the execution record: kind, input, result, metrics and times", () => {
    expect(e).toMatchObject({ sessionId: shared.id, kind: ExecutionKind.EXECUTION_KIND_REPL, input: snippet, path: "" });
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.result).toMatchObject({ type: "number", json: 7 });
    expect(e.error).toBeUndefined();
    expect(e.metrics?.eventCount).toBe(e.events.length);
    const consoleBytes = e.events.filter((ev) => ev.console).reduce((n, ev) => n + Buffer.byteLength(ev.console!.text, "utf8"), 0);
    expect(consoleBytes).toBe(12 + 4 + 10); // "héllo €" is 10 bytes in UTF-8
    expect(e.metrics?.outputBytes).toBe(consoleBytes);
    expect(e.startedAt).toBeInstanceOf(Date);
    expect(e.endedAt).toBeInstanceOf(Date);
    expect(e.endedAt!.getTime()).toBeGreaterThanOrEqual(e.startedAt!.getTime());
  });

  it("reports duration and CPU time of code that works", async () => {
    const busy = await api.repl(shared.id, "{ const t0 = Date.now(); let n = 0; while (Date.now() - t0 < 60) n++; n > 0 }");
    expect(okValue(busy).json).toBe(true);
    expect(busy.metrics!.durationMs).toBeGreaterThanOrEqual(50);
    expect(busy.metrics!.cpuMs).toBeGreaterThan(0);
    expect(busy.metrics!.durationMs).toBe(busy.endedAt!.getTime() - busy.startedAt!.getTime());
  });

  it("formats console arguments as Node's console does", async () => {
    const f = await api.repl(
      shared.id,
      [
        "console.log('%s is %d', 'x', 42)",
        "console.log([1, 'a'], {s: 'str'})",
        "console.log({a: {b: {c: {d: 1}}}})",
        "console.log(new Map([[1, 2]]), new Set(['z']))",
        "console.log(null, undefined, true)",
        "console.log('multi\\nline')",
        "console.log()",
      ].join(";\n"),
    );
    expect(f.status, describeExecution(f)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(consoleLines(f)).toEqual([
      "log: x is 42",
      "log: [ 1, 'a' ] { s: 'str' }",
      "log: { a: { b: { c: [Object] } } }",
      "log: Map(1) { 1 => 2 } Set(1) { 'z' }",
      "log: null undefined true",
      "log: multi\nline",
      "log: ",
    ]);
  });

  it("numbers executions 1, 2, 3 per session", async () => {
    const a = await api.ready();
    const b = await api.ready();
    const numbers = [];
    for (const input of ["1", "2", "3"]) numbers.push((await api.repl(a.id, input)).number);
    expect(numbers).toEqual([1, 2, 3]);
    expect((await api.repl(b.id, "'other'")).number).toBe(1);
    // Failures take a number too.
    expect((await api.repl(a.id, "throw new Error('x')")).number).toBe(4);
    expect((await api.repl(a.id, "4")).number).toBe(5);
  });
});

describe("VALUE payloads", () => {
  it.each([
    ["42", { type: "number", preview: "42", json: 42 }],
    ["'hi'", { type: "string", preview: "'hi'", json: "hi" }],
    ["true", { type: "boolean", preview: "true", json: true }],
    ["({a: 1, b: [true, null], c: 'x'})", { type: "object", preview: "{ a: 1, b: [ true, null ], c: 'x' }", json: { a: 1, b: [true, null], c: "x" } }],
    ["[1, 'two', [3]]", { type: "array", preview: "[ 1, 'two', [ 3 ] ]", json: [1, "two", [3]] }],
    ["[]", { type: "array", preview: "[]", json: [] }],
  ])("%s is JSON-representable: type, preview and json", async (input, expected) => {
    expect(await value(shared.id, input)).toEqual(expected);
  });

  it("null has type null and json null", async () => {
    const v = await value(shared.id, "null");
    expect(v).toMatchObject({ type: "null", preview: "null" });
    expect(v.json).toBeNull();
  });

  it.each([
    ["var declared = 1", "undefined", "undefined"],
    ["undefined", "undefined", "undefined"],
    ["new Date(0)", "date", "1970-01-01T00:00:00.000Z"],
    ["new Map([['a', 1]])", "map", "Map(1) { 'a' => 1 }"],
    ["new Set([1])", "set", "Set(1) { 1 }"],
    ["(function foo() {})", "function", "[Function: foo]"],
    ["NaN", "number", "NaN"],
    ["Infinity", "number", "Infinity"],
    ["-Infinity", "number", "-Infinity"],
    ["/ab+c/g", "regexp", "/ab+c/g"],
    ["Symbol('s')", "symbol", "Symbol(s)"],
    ["10n", "bigint", "10n"],
    ["({n: NaN})", "object", "{ n: NaN }"],
    ["({d: new Date(0)})", "object", "{ d: 1970-01-01T00:00:00.000Z }"],
    ["({f() {}})", "object", "{ f: [Function: f] }"],
    ["[1, undefined]", "array", "[ 1, undefined ]"],
  ])("%s has no json (type %s, preview %s)", async (input, type, preview) => {
    const v = await value(shared.id, input);
    expect(v).toMatchObject({ type, preview });
    expect(v.json).toBeUndefined();
  });

  it("an Error value (not thrown) has type error and its preview names it", async () => {
    const v = await value(shared.id, "new RangeError('boom')");
    expect(v.type).toBe("error");
    expect(v.preview).toContain("RangeError: boom");
    expect(v.json).toBeUndefined();
  });

  it("awaits a promise that resolves and describes its value", async () => {
    expect(await value(shared.id, "Promise.resolve(7)")).toMatchObject({ type: "number", json: 7 });
    expect(await value(shared.id, "new Promise((r) => setTimeout(() => r({late: true}), 20))")).toMatchObject({ type: "object", json: { late: true } });
  });

  it("cuts the preview at 4 KB but keeps the full json", async () => {
    const v = await value(shared.id, "'x'.repeat(10000)");
    expect(v.type).toBe("string");
    expect(Buffer.byteLength(v.preview, "utf8")).toBeLessThanOrEqual(4096);
    expect(v.preview.startsWith("'xxxx")).toBe(true);
    expect(v.json).toBe("x".repeat(10000));
  });
});

describe("exceptions", () => {
  const expectNoHostPaths = (text: string) => {
    expect(text).not.toContain(PROJECT_ROOT);
    expect(text).not.toContain("/work/main");
    expect(text).not.toContain("node_modules");
    expect(text).not.toContain("isolated-vm");
  };

  it("a throw is not an RPC error: the execution ends ERROR/EXCEPTION with an EXCEPTION event", async () => {
    const e = await api.repl(shared.id, "function thrower() { throw new TypeError('bad thing') }\nthrower()");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("EXCEPTION");
    expect(e.error?.message).toContain("bad thing");
    expect(e.result).toBeUndefined();
    expect(eventTypes(e)).toEqual(["INPUT_ECHO", "EXCEPTION"]);
    const ex = e.events[1].exception!;
    expect(ex).toMatchObject({ name: "TypeError", message: "bad thing" });
    expect(ex.stack).toContain("TypeError: bad thing");
    expect(ex.stack).toContain("thrower");
    expectNoHostPaths(ex.stack);
    expect(e.metrics?.eventCount).toBe(2);
  });

  it.each([
    ["undefinedVariable + 1", "ReferenceError"],
    ["let = ;", "SyntaxError"],
    ["await Promise.reject(new RangeError('rejected'))", "RangeError"],
    ["Promise.reject(new URIError('unawaited'))", "URIError"],
    ["null.x", "TypeError"],
  ])("%s ends ERROR/EXCEPTION with %s and no host paths", async (input, name) => {
    const e = await api.repl(shared.id, input);
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("EXCEPTION");
    const ex = e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)?.exception;
    expect(ex?.name).toBe(name);
    expectNoHostPaths(ex!.stack);
    expectNoHostPaths(e.error!.message);
  });

  it("throwing a non-Error value is still an EXCEPTION event", async () => {
    const e = await api.repl(shared.id, "throw 'just a string'");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("EXCEPTION");
    const ex = e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)?.exception;
    expect(ex?.message).toContain("just a string");
  });

  it("keeps console output before the throw and the session's state", async () => {
    const session = await api.ready();
    await value(session.id, "var kept = 'still here'");
    const e = await api.repl(session.id, "console.log('before'); throw new Error('after')");
    expect(eventTypes(e)).toEqual(["INPUT_ECHO", "CONSOLE", "EXCEPTION"]);
    expect(consoleLines(e)).toEqual(["log: before"]);
    expect((await value(session.id, "kept")).json).toBe("still here");
    expect((await api.getSession(session.id)).restartCount).toBe(0);
  });
});

describe("one execution at a time", () => {
  it("a second concurrent call gets ABORTED/SESSION_BUSY at once and runs nothing", async () => {
    const session = await api.ready();
    let firstDone = false;
    const first = api.repl(session.id, "console.log('started'); await new Promise((r) => setTimeout(r, 1500)); 'first'").finally(() => (firstDone = true));
    const running = await untilRunning(session.id, 0);
    // While it runs, reads show it RUNNING with what it printed so far (events are stored shortly after they happen).
    let midway = await api.getExecution(running.id);
    for (let i = 0; i < 50 && midway.events.length < 2; i++) {
      await sleep(20);
      midway = await api.getExecution(running.id);
    }
    expect(midway.status).toBe(ExecutionStatus.EXECUTION_STATUS_RUNNING);
    expect(midway.endedAt).toBeUndefined();
    expect(eventTypes(midway)).toEqual(["INPUT_ECHO", "CONSOLE"]);
    expect(consoleLines(midway)).toEqual(["log: started"]);
    const busy = await rpcError(api.repl(session.id, "globalThis.ranSecond = true"));
    expect(busy).toMatchObject({ code: status.ABORTED, reason: "SESSION_BUSY", domain: "vmsystem.v1" });
    const busyFile = await rpcError(api.runFile(session.id, "whatever.js"));
    expect(busyFile).toMatchObject({ code: status.ABORTED, reason: "SESSION_BUSY" });
    // "At once": the refusal came back while the first execution was still running.
    expect(firstDone).toBe(false);
    expect(okValue(await first).json).toBe("first");
    expect((await value(session.id, "typeof ranSecond")).json).toBe("undefined");
    expect((await api.listExecutions(session.id)).executions.map((e) => e.number)).toEqual([2, 1]);
  });
});

describe("request_id", () => {
  it("a retry returns the first execution and runs nothing", async () => {
    const session = await api.ready();
    const input = "globalThis.n = (globalThis.n ?? 0) + 1; n";
    const first = await api.repl(session.id, input, "req-1");
    expect(okValue(first).json).toBe(1);
    expect(first.requestId).toBe("req-1");
    const retry = await api.repl(session.id, input, "req-1");
    expect(retry.id).toBe(first.id);
    expect(retry.number).toBe(first.number);
    expect(retry.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(retry.events).toEqual(first.events);
    expect((await value(session.id, "n")).json).toBe(1);
    expect((await api.listExecutions(session.id)).executions).toHaveLength(2);
    // A new key runs again.
    expect((await value(session.id, "globalThis.n += 1; n")).json).toBe(2);
  });

  it("a retry of a failed execution returns the failure, not a new run", async () => {
    const session = await api.ready();
    const input = "globalThis.tries = (globalThis.tries ?? 0) + 1; throw new Error('fail ' + tries)";
    const first = await api.repl(session.id, input, "req-fail");
    expect(first.status).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    const retry = await api.repl(session.id, input, "req-fail");
    expect(retry.id).toBe(first.id);
    expect(retry.error).toEqual(first.error);
    expect((await value(session.id, "tries")).json).toBe(1);
  });

  it("the same request_id with different input is VALIDATION_ERROR", async () => {
    const session = await api.ready();
    await api.repl(session.id, "1 + 1", "req-x");
    const err = await rpcError(api.repl(session.id, "2 + 2", "req-x"));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR", domain: "vmsystem.v1" });
    // A run-file under a REPL's key is a different request too.
    expect(await rpcError(api.runFile(session.id, "a.js", { requestId: "req-x" }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "VALIDATION_ERROR",
    });
    expect((await api.listExecutions(session.id)).executions).toHaveLength(1);
  });

  it("keys are per session: the same request_id on another session runs there", async () => {
    const a = await api.ready();
    const b = await api.ready();
    const ea = await api.repl(a.id, "'on a'", "shared-key");
    const eb = await api.repl(b.id, "'on a'", "shared-key");
    expect(eb.id).not.toBe(ea.id);
    expect(eb.sessionId).toBe(b.id);
    expect(okValue(eb).json).toBe("on a");
  });

  it("a retry while the first is still running waits for it and returns the same execution", async () => {
    const session = await api.ready();
    const input = "await new Promise((r) => setTimeout(r, 500)); globalThis.m = (globalThis.m ?? 0) + 1; m";
    const first = api.repl(session.id, input, "slow");
    await untilRunning(session.id, 0);
    const retry = await api.repl(session.id, input, "slow");
    const done = await first;
    expect(retry.id).toBe(done.id);
    expect(retry.status, describeExecution(retry)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(okValue(retry).json).toBe(1);
    expect(retry.events).toEqual(done.events);
    expect((await value(session.id, "m")).json).toBe(1);
  });
});

describe("execution ids", () => {
  it("are UUIDs of version 7: they sort in the order the executions started", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await api.repl(shared.id, String(i))).id);
      await sleep(2);
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("reading executions and events", () => {
  let session: Session;
  const runs: Execution[] = [];
  beforeAll(async () => {
    session = await api.ready();
    for (const input of [
      "1",
      "console.log('a'); console.log('b'); console.log('c'); console.log('d'); console.log('e'); 2",
      "3",
      "throw new Error('four')",
      "5",
    ]) {
      runs.push(await api.repl(session.id, input));
    }
  });

  it("GetExecution returns the stored execution with its events", async () => {
    for (const run of runs) {
      const got = await api.getExecution(run.id);
      expect(got).toEqual(run);
    }
  });

  it("ListExecutions is newest first and pages with tokens", async () => {
    const numbers: number[] = [];
    const tokens: string[] = [];
    let token = "";
    do {
      const page = await api.listExecutions(session.id, 2, token);
      expect(page.executions.length).toBeLessThanOrEqual(2);
      numbers.push(...page.executions.map((e) => e.number));
      for (const e of page.executions) expect(e.sessionId).toBe(session.id);
      token = page.nextPageToken;
      tokens.push(token);
    } while (token && tokens.length < 10);
    expect(numbers).toEqual([5, 4, 3, 2, 1]);
    expect(tokens).toHaveLength(3);
    expect(tokens[2]).toBe("");
    const all = await api.listExecutions(session.id);
    expect(all.executions.map((e) => e.id)).toEqual([...runs].reverse().map((e) => e.id));
    expect(all.nextPageToken).toBe("");
    expect(all.executions[1]).toMatchObject({ status: ExecutionStatus.EXECUTION_STATUS_ERROR, error: { code: "EXCEPTION" } });
  });

  it("ListExecutions rejects a foreign page token and a negative page size", async () => {
    expect(await rpcError(api.listExecutions(session.id, 2, "not-a-token!"))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR" });
    expect(await rpcError(api.listExecutions(session.id, -1))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR" });
  });

  it("ListEvents returns events after after_seq, ascending, at most limit", async () => {
    const id = runs[1].id;
    const all = await api.listEvents(id);
    expect(all).toEqual(runs[1].events);
    expect(all).toHaveLength(7);
    expect((await api.listEvents(id, 2, 3)).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect((await api.listEvents(id, 5)).map((e) => e.seq)).toEqual([6, 7]);
    expect(await api.listEvents(id, 7)).toEqual([]);
    expect((await api.listEvents(id, 0, 1)).map((e) => e.type)).toEqual([EventType.EVENT_TYPE_INPUT_ECHO]);
  });

  it("ListEvents reads any window of a long execution stored in many pages", async () => {
    // Batches are written at 2,000 events or after 10 ms: the pauses make
    // short pages between the long ones, so windows cross page ends.
    const long = await api.ready({ name: "long-output", settings: { limits: { maxEvents: 20_000, maxOutputKb: 4096 } } });
    const run = await api.repl(
      long.id,
      "for (let b = 0; b < 5; b++) { for (let i = 0; i < 2100; i++) console.log(b, i); await new Promise((r) => setTimeout(r, 25)); console.log('pause', b); } 'done'",
    );
    expect(run.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    const n = run.events.length;
    expect(n).toBe(1 + 5 * 2101 + 1);
    const all = await api.listEvents(run.id, 0, 10_000);
    expect(all).toEqual(run.events.slice(0, 10_000));
    expect(await api.listEvents(run.id, 10_000, 10_000)).toEqual(run.events.slice(10_000));
    for (const [after, limit] of [
      [1999, 3],
      [2000, 2],
      [2101, 1],
      [2102, 5000],
      [4203, 2000],
      [n - 2, 10],
      [n - 1, 1],
      [7777, 1],
    ]) {
      const window = await api.listEvents(run.id, after, limit);
      expect(
        window.map((e) => e.seq),
        `after ${after}, limit ${limit}`,
      ).toEqual(run.events.slice(after, after + limit).map((e) => e.seq));
      expect(window).toEqual(run.events.slice(after, after + limit));
    }
    expect(await api.listEvents(run.id, n)).toEqual([]);
    const around = await api.listEvents(run.id, 2100, 3);
    expect(around.map((e) => [e.seq, e.console?.text])).toEqual([
      [2101, "0 2099"],
      [2102, "pause 0"],
      [2103, "1 0"],
    ]);
  });

  it("stores and reads back output larger than a page (1 MiB of JSON) line for line", async () => {
    const big = await api.ready({ name: "big-lines", settings: { limits: { maxOutputKb: 4096 } } });
    const run = await api.repl(big.id, "const line = 'x'.repeat(600000); for (let i = 0; i < 3; i++) console.log(i + line + '\\u0000\"'); 'ok'");
    expect(run.status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(run.events.map((e) => e.console?.text.length ?? 0)).toEqual([0, 600003, 600003, 600003, 0]);
    expect(await api.listEvents(run.id, 0, 100)).toEqual(run.events);
    expect(await api.listEvents(run.id, 2, 2)).toEqual(run.events.slice(2, 4));
  });

  it("answers NOT_FOUND for unknown ids", async () => {
    expect(await rpcError(api.getExecution(UNKNOWN_ID))).toMatchObject({ code: status.NOT_FOUND, reason: "EXECUTION_NOT_FOUND", domain: "vmsystem.v1" });
    expect(await rpcError(api.listEvents(UNKNOWN_ID))).toMatchObject({ code: status.NOT_FOUND, reason: "EXECUTION_NOT_FOUND" });
    expect(await rpcError(api.repl(UNKNOWN_ID, "1"))).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND" });
    expect(await rpcError(api.runFile(UNKNOWN_ID, "a.js"))).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND" });
    expect(await rpcError(api.listExecutions(UNKNOWN_ID))).toMatchObject({ code: status.NOT_FOUND, reason: "SESSION_NOT_FOUND" });
  });

  it("answers VALIDATION_ERROR for missing ids", async () => {
    for (const call of [api.repl("", "1"), api.runFile("", "a.js"), api.listExecutions(""), api.getExecution(""), api.listEvents("")]) {
      expect(await rpcError(call)).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR", domain: "vmsystem.v1" });
    }
  });

  it("a closed session refuses new code with SESSION_NOT_READY but its executions stay readable", async () => {
    const closing = await api.ready();
    const e = await api.repl(closing.id, "'before close'");
    await api.closeSession(closing.id);
    expect(await rpcError(api.repl(closing.id, "1"))).toMatchObject({ code: status.FAILED_PRECONDITION, reason: "SESSION_NOT_READY" });
    expect((await api.getExecution(e.id)).events).toEqual(e.events);
    expect((await api.listExecutions(closing.id)).executions.map((x) => x.id)).toEqual([e.id]);
  });
});
