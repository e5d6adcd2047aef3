/**
 * Hostile code: a table of sandbox-escape and resource-exhaustion snippets
 * that test/sandbox.test.ts, test/limits.test.ts and
 * test/runtime/security.test.ts do not already cover. Each row runs in a
 * fresh session and must end its execution with the right status and
 * error.code (SPEC "Limits end an execution, never the server"), be stored
 * as it was returned, and leave its session usable (or CRASHED, for the
 * memory limit). After the table, sessions created before it still answer
 * with their state and health is SERVING.
 *
 * The server runs as its own process (`vmsystem serve`, from dist/): a row
 * that kills it shows as that row failing — the process exited — instead of
 * taking the test runner down with it. A dead server is restarted for the
 * rows after it, and the final test reports every row that killed it.
 */
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus, HealthClient, type HealthCheckResponse } from "../gen/grpc/health/v1/health";
import { ExecutionServiceClient } from "../gen/vmsystem/v1/execution";
import { SessionServiceClient } from "../gen/vmsystem/v1/session";
import { TemplateServiceClient, type TemplateSettings } from "../gen/vmsystem/v1/template";
import { errorInfoOf } from "../src/transport/errors";
import { testDatabase, type TestDatabase } from "./support/database";
import {
  Api,
  consoleLines,
  describeExecution,
  EventType,
  ExecutionStatus,
  okValue,
  SessionStatus,
  valueOf,
  type Execution,
  type Session,
} from "./support/fixtures";
import { spawnServer, type ServerProcess } from "./support/process";
import { unary, type TestServer } from "./support/server";

const OK = ExecutionStatus.EXECUTION_STATUS_OK;
const ERROR = ExecutionStatus.EXECUTION_STATUS_ERROR;
const TIMEOUT = ExecutionStatus.EXECUTION_STATUS_TIMEOUT;

/** Small limits keep the table fast; rows about sizes use the template defaults (128 MB, 5 s CPU). */
const SMALL: TemplateSettings = { limits: { wallMs: 2000, cpuMs: 1000, memMb: 64 } };
const DEFAULTS: TemplateSettings = {};

type Outcome = [ExecutionStatus, string | undefined];
const ok: Outcome = [OK, undefined];
const exception: Outcome = [ERROR, "EXCEPTION"];
const timeout: Outcome = [TIMEOUT, "TIMEOUT"];
const outputLimit: Outcome = [ERROR, "OUTPUT_LIMIT_EXCEEDED"];
const memory: Outcome = [ERROR, "MEMORY_LIMIT_EXCEEDED"];

interface Row {
  name: string;
  input: string;
  /** Acceptable endings: [status, error.code]. Several only where both are right (a limit or the describer may stop a trap first). */
  expect: Outcome[];
  settings?: TemplateSettings;
  modules?: string[];
  /** Extra checks on the returned execution. */
  check?: (e: Execution) => void;
  /** A second execution in the same session, which must end OK with this JSON value (the tampering stays in the session). */
  followUp?: { input: string; json: unknown; console?: string[] };
}

const ROWS: Row[] = [
  // ---- prototype pollution of host-provided objects (console, timers, require'd modules)
  {
    name: "Function.prototype.call/apply/bind, Reflect.apply and Promise.prototype.then replaced by throwing functions",
    input:
      "Function.prototype.call = Function.prototype.apply = Function.prototype.bind = () => { throw new Error('patched') }; Reflect.apply = () => { throw new Error('patched') }; Promise.prototype.then = function () { throw new Error('patched then') }; console.log('x', { y: 2 }); 'done'",
    expect: [ok],
    check: (e) => {
      expect(consoleLines(e)).toEqual(["log: x { y: 2 }"]);
      expect(valueOf(e)?.json).toBe("done");
    },
    followUp: { input: "console.log('again', [1]); await new Promise((r) => setTimeout(r, 5)); 'next'", json: "next", console: ["log: again [ 1 ]"] },
  },
  {
    name: "Function.prototype.call/apply turned into spinning getters, console.log's prototype a spinning proxy",
    input:
      "Object.defineProperty(Function.prototype, 'call', { get() { while (true) {} } }); Object.defineProperty(Function.prototype, 'apply', { get() { while (true) {} } }); Object.setPrototypeOf(console.log, new Proxy(Function.prototype, { get() { while (true) {} } })); console.log({ a: 1 }); await new Promise((r) => setTimeout(r, 5)); 'ok'",
    expect: [ok],
    check: (e) => expect(consoleLines(e)).toEqual(["log: { a: 1 }"]),
    followUp: { input: "console.info('still'); 1", json: 1, console: ["info: still"] },
  },
  {
    name: "globals the console and timer shims could use at run time (Promise, Atomics, JSON, Symbol, Object.keys) replaced",
    input:
      "globalThis.Promise = class { constructor() { throw new Error('fake Promise') } }; for (const k of ['store', 'load', 'wait', 'notify', 'add', 'exchange']) Atomics[k] = () => { throw new Error('fake Atomics') }; JSON.stringify = () => { throw new Error('fake JSON') }; Object.keys = () => { throw new Error('fake keys') }; console.log('after', { k: 1 }); 'value'",
    expect: [ok],
    check: (e) => {
      expect(consoleLines(e)).toEqual(["log: after { k: 1 }"]);
      expect(valueOf(e)?.json).toBe("value");
    },
    followUp: { input: "console.log('follow'); setTimeout(() => {}, 1); ({ n: 2 })", json: { n: 2 }, console: ["log: follow"] },
  },
  {
    name: "timers tampered: Object.prototype[Symbol.toPrimitive] spins, clearTimeout deleted, a timer left pending",
    input:
      // The pending timer is due well after the run's own 5 ms wait, so that
      // a loaded machine does not fire it while the run is still going.
      "setTimeout(() => { globalThis.late = true }, 250); Object.prototype[Symbol.toPrimitive] = () => { while (true) {} }; delete globalThis.clearTimeout; setTimeout.call = null; await new Promise((r) => setTimeout(r, 5)); delete Object.prototype[Symbol.toPrimitive]; 'timers ok'",
    expect: [ok],
    check: (e) => expect(valueOf(e)?.json).toBe("timers ok"),
    followUp: { input: "await new Promise((r) => setTimeout(r, 400)); typeof late", json: "undefined" },
  },
  {
    name: "a require'd module object patched and Object.prototype polluted (the bystander session with the same modules is checked after the table)",
    input:
      "const p = require('path'); p.join = () => 'hacked'; require('fs').readFile = () => 'forged'; Object.prototype.polluted = 'yes'; Object.prototype.encoding = 'base64'; [require('path').join('a'), typeof require('fs').readFile]",
    modules: ["path", "fs"],
    expect: [ok],
    followUp: { input: "delete Object.prototype.encoding; require('fs').exists('.')", json: true },
  },
  {
    name: "host module given arguments that cannot cross (a spinning toString, a spinning proxy)",
    input:
      "let caught = []; try { require('fs').readFile({ toString() { while (true) {} } }) } catch (e) { caught.push(e.name) } try { require('path').join(new Proxy({}, { get() { while (true) {} } })) } catch (e) { caught.push(e.name) } caught",
    modules: ["path", "fs"],
    expect: [ok, timeout],
  },
  // ---- constructor.constructor through objects not covered elsewhere
  {
    name: "constructor.constructor through module functions, host errors, async and generator function constructors",
    input:
      "[require('path').join.constructor('return typeof process')(), (function* () {}).constructor('return typeof process')().next().value, (async function () {}).constructor('return typeof Buffer')().constructor.name, (() => { try { require('fs').readFile('nope') } catch (e) { return [e.constructor.constructor('return typeof process')(), Object.getPrototypeOf(e).constructor.constructor('return typeof __dirname')()].join() } })()]",
    modules: ["path", "fs"],
    expect: [ok],
    check: (e) => expect(valueOf(e)?.json).toEqual(["undefined", "undefined", "Promise", "undefined,undefined"]),
  },
  // ---- Error.prepareStackTrace and friends
  {
    name: "Error.prepareStackTrace returning an object whose toString spins",
    input: "Error.prepareStackTrace = () => ({ toString() { while (true) {} } }); throw new Error('obj stack')",
    expect: [exception, timeout],
  },
  {
    name: "Error.prepareStackTrace returning a 50 MB string: the exception is reported and the response is readable",
    input: "Error.prepareStackTrace = () => 'z'.repeat(50 * 1024 * 1024); throw new Error('big stack')",
    settings: DEFAULTS,
    expect: [exception],
  },
  {
    name: "Error.stackTraceLimit = Infinity with runaway recursion",
    input: "Error.stackTraceLimit = Infinity; function r(n) { return r(n + 1) } r(0)",
    expect: [exception],
    check: (e) => expect(e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)?.exception?.name).toBe("RangeError"),
  },
  {
    name: "Error.captureStackTrace on console and plain objects leaks no host frames",
    input:
      "const o = {}; Error.captureStackTrace(o); Error.captureStackTrace(console); [typeof o.stack, /node_modules|\\/src\\/|node:/.test(String(console.stack) + String(o.stack))]",
    expect: [ok],
    check: (e) => expect(valueOf(e)?.json).toEqual(["string", false]),
  },
  {
    name: "a thrown Proxy whose traps throw or spin",
    input: "throw new Proxy(new Error('x'), { get() { throw new Error('trap') }, getPrototypeOf() { while (true) {} } })",
    expect: [exception, timeout],
  },
  {
    name: "a thrown object whose name and message getters spin",
    input: "throw { get name() { while (true) {} }, get message() { while (true) {} } }",
    expect: [exception],
  },
  // ---- recursive getters and proxies on returned values
  {
    name: "a cyclic object as the value",
    input: "const o = { a: 1 }; o.self = o; o",
    expect: [ok],
    check: (e) => {
      expect(valueOf(e)).toMatchObject({ type: "object", preview: "<ref *1> { a: 1, self: [Circular *1] }" });
      expect(valueOf(e)?.json).toBeUndefined();
    },
  },
  {
    name: "a getter that recurses forever, on the value",
    input: "const r = { get self() { return r.self } }; r",
    expect: [ok],
    check: (e) => expect(valueOf(e)?.preview).toBe("{ self: [Getter] }"),
  },
  {
    name: "a revoked proxy as the value (util.inspect shows <Revoked Proxy>)",
    input: "const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); proxy",
    expect: [ok],
    check: (e) => expect(valueOf(e)?.preview).toBe("<Revoked Proxy>"),
  },
  {
    name: "a proxy array whose length trap spins, as the value",
    input: "new Proxy([], { get(t, k) { if (k === 'length') while (true) {} return t[k] } })",
    expect: [ok, timeout],
  },
  {
    name: "while (true) inside an index getter, a class getter and toJSON of the value",
    input:
      "class A { get x() { for (;;); } toJSON() { for (;;); } }; const arr = [new A()]; Object.defineProperty(arr, 1, { get() { while (true) {} }, enumerable: true }); arr",
    expect: [ok],
    check: (e) => {
      expect(valueOf(e)?.preview).toBe("[ A {}, [Getter] ]");
      expect(valueOf(e)?.json).toBeUndefined();
    },
  },
  {
    name: "a Symbol.toStringTag getter that spins, on the value",
    input: "({ get [Symbol.toStringTag]() { for (;;); } })",
    expect: [ok, timeout],
  },
  {
    name: "a thenable that spins is a value, not a promise to await",
    input: "({ then(resolve) { while (true) {} } })",
    expect: [ok],
    check: (e) => expect(valueOf(e)?.preview).toBe("{ then: [Function: then] }"),
  },
  {
    name: "an array nested 100 000 deep as the value",
    input: "let d = []; for (let i = 0; i < 1e5; i++) d = [d]; d",
    expect: [ok],
    check: (e) => expect(valueOf(e)?.preview).toBe("[ [ [ [Array] ] ] ]"),
  },
  // ---- giant strings in console
  {
    name: "a 50 MB console line: the line is dropped, OUTPUT_LIMIT_EXCEEDED",
    input: "console.log('x'.repeat(50 * 1024 * 1024))",
    settings: DEFAULTS,
    expect: [outputLimit],
    check: (e) => expect(consoleLines(e)).toEqual([]),
  },
  {
    name: "5000 console arguments of 1 KB in one call: OUTPUT_LIMIT_EXCEEDED",
    input: "console.error(...Array.from({ length: 5000 }, () => 'a'.repeat(1024)))",
    expect: [outputLimit],
    check: (e) => expect(consoleLines(e)).toEqual([]),
  },
  {
    name: "a 50 MB string through '%s' and a user toString (Node prints it whole): OUTPUT_LIMIT_EXCEEDED",
    input: "console.log('%s', { toString() { return 'y'.repeat(50 * 1024 * 1024) } })",
    settings: DEFAULTS,
    expect: [outputLimit],
  },
  {
    name: "a 50 MB string as the value: OK, and the response is readable",
    input: "'x'.repeat(50 * 1024 * 1024)",
    settings: DEFAULTS,
    expect: [ok],
    check: (e) => expect(valueOf(e)?.type).toBe("string"),
  },
  // ---- deep recursion
  {
    name: "runaway async recursion",
    input: "async function ar(n) { return ar(n + 1) } await ar(0)",
    expect: [exception],
  },
  {
    name: "runaway recursion inside a console '%s' argument's toString",
    input: "const o = { toString() { return String(o) } }; console.log('%s', o)",
    expect: [exception],
  },
  // ---- Atomics.wait
  {
    name: "Atomics.wait on a SharedArrayBuffer forever",
    input: "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)",
    expect: [timeout],
  },
  {
    name: "Atomics.wait inside a timer callback the snippet awaits",
    input: "await new Promise((r) => setTimeout(() => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); r() }, 5))",
    expect: [timeout],
  },
  // ---- infinite microtask loops
  {
    name: "an infinite promise chain (each link waits on the next: memory grows too)",
    input: "const f = () => Promise.resolve().then(f); f()",
    expect: [timeout, memory],
  },
  {
    name: "an infinite await loop, not awaited by the snippet",
    input: "(async () => { for (;;) await null })(); 'returned'",
    expect: [timeout, ok],
  },
  {
    name: "an infinite await loop, awaited",
    input: "await (async () => { for (;;) await null })()",
    expect: [timeout],
  },
  // ---- Symbol.toPrimitive tricks on console arguments
  {
    name: "console '%d' with a Symbol.toPrimitive that spins",
    input: "console.log('%d', { [Symbol.toPrimitive]() { while (true) {} } })",
    expect: [timeout],
  },
  {
    name: "console '%i' with a Symbol.toPrimitive that throws",
    input: "console.log('%i', { [Symbol.toPrimitive]() { throw new Error('prim') } })",
    expect: [exception],
  },
  {
    name: "console.log of an object whose Symbol.toPrimitive and valueOf spin (inspected, not converted)",
    input:
      "console.log({ [Symbol.toPrimitive]() { while (true) {} }, valueOf() { while (true) {} } }); console.log('%s', { [Symbol.toPrimitive]() { while (true) {} } }); 'logged'",
    expect: [ok],
    check: (e) => expect(consoleLines(e)).toHaveLength(2),
  },
  // ---- huge arrays returned as the value
  {
    name: "a sparse array of length 2^32-1 as the value",
    input: "const a = []; a[2 ** 32 - 2] = 1; a",
    expect: [ok],
  },
  {
    name: "an array of 3 million numbers (24 MB, well under mem_mb 128) as the value",
    input: "Array.from({ length: 3e6 }, (_, i) => i)",
    settings: DEFAULTS,
    expect: [ok],
    check: (e) => expect(valueOf(e)?.type).toBe("array"),
  },
  {
    name: "new Array(1e7).fill(0) as the value",
    input: "new Array(1e7).fill(0)",
    settings: DEFAULTS,
    expect: [ok],
    check: (e) => expect(valueOf(e)?.type).toBe("array"),
  },
];

// ---------------------------------------------------------------- the server process

let db: TestDatabase;
let server: ServerProcess;
let s: TestServer;
let api: Api;
let firstPid: number | undefined;
/** Rows after which the server process was found dead, with how it ended. */
const deaths: string[] = [];
let bystander: Session;
let bystanderModules: Session;

function connect(proc: ServerProcess): TestServer {
  const creds = credentials.createInsecure();
  const clients = {
    templates: new TemplateServiceClient(proc.address, creds),
    sessions: new SessionServiceClient(proc.address, creds),
    executions: new ExecutionServiceClient(proc.address, creds),
    health: new HealthClient(proc.address, creds),
  };
  const close = async () => {
    for (const c of Object.values(clients)) c.close();
  };
  return { ...clients, address: proc.address, db, app: undefined as never, stop: close, close } as TestServer;
}

const alive = (p: ServerProcess) => p.proc.exitCode === null && p.proc.signalCode === null;
const fatalLogs = (p: ServerProcess) =>
  p.logs.filter((l) => (l.level as number) >= 50).map((l) => `${l.msg}: ${String(l.message ?? (l.err as { message?: string } | undefined)?.message ?? "")}`);

async function start(): Promise<void> {
  server = await spawnServer(db);
  s = connect(server);
  api = new Api(s);
}

/** Health of the server process within 5 s: a wedged process (alive, not answering) counts as dead. */
async function healthy(): Promise<boolean> {
  if (!alive(server)) return false;
  try {
    const h = await unary<HealthCheckResponse>((cb) => s.health.check({ service: "" }, new Metadata(), { deadline: Date.now() + 5000 }, cb));
    return h.status === HealthCheckResponse_ServingStatus.SERVING;
  } catch {
    return false;
  }
}

/** Ends a server process that no longer answers (it is ours: its pid, SIGKILL). */
async function killServer(): Promise<void> {
  await s.close();
  if (!alive(server)) return;
  const exited = new Promise((r) => server.proc.once("exit", r));
  server.proc.kill("SIGKILL");
  await exited;
}

/** Restarts the server if a previous row killed or wedged it (the death is recorded where it happened). */
async function ensureServer(): Promise<void> {
  if (alive(server)) return;
  await s.close();
  await start();
}

beforeAll(async () => {
  db = testDatabase();
  await start();
  firstPid = server.proc.pid;
  bystander = await api.ready({ name: "bystander" });
  expect(okValue(await api.repl(bystander.id, "var mine = 'safe'; globalThis.counter = 41; 'set'")).json).toBe("set");
  bystanderModules = await api.ready({ name: "bystander-modules", modules: ["path", "fs"] });
}, 60_000);

afterAll(async () => {
  if (server && (await healthy())) {
    await api.closeAll().catch(() => undefined);
    await s.close();
    await server.stop();
  } else if (server) {
    await killServer();
  }
  await db?.cleanup();
}, 60_000);

describe("hostile snippets end their execution, never the server", { timeout: 90_000 }, () => {
  for (const row of ROWS) {
    it(row.name, async () => {
      await ensureServer();
      const session = await api.ready({ name: "hostile-row", settings: row.settings ?? SMALL, modules: row.modules });
      let e: Execution | undefined;
      let rpcFailure: string | undefined;
      try {
        e = await unary<Execution>((cb) =>
          s.executions.executeRepl({ sessionId: session.id, input: row.input, requestId: "" }, new Metadata(), { deadline: Date.now() + 20_000 }, cb),
        );
      } catch (err) {
        const se = err as ServiceError;
        rpcFailure = `${status[se.code]} ${errorInfoOf(se)?.reason ?? "(no ErrorInfo)"}: ${se.details}`;
      }
      // First: did the server survive, and does it still answer?
      if (!(await healthy())) {
        const how = alive(server)
          ? `the server process (pid ${server.proc.pid}) is alive but no longer answers health checks`
          : `the server process exited (code ${server.proc.exitCode}, signal ${server.proc.signalCode})`;
        const story = `${how}; fatal logs: ${fatalLogs(server).join(" | ") || "none"}; the call: ${rpcFailure ?? "returned"}`;
        deaths.push(`${row.name} → ${story}`);
        await killServer();
        throw new Error(story);
      }
      if (!e) throw new Error(`ExecuteRepl failed instead of returning the finished execution: ${rpcFailure}`);

      // The right ending.
      const got: Outcome = [e.status, e.error?.code || undefined];
      expect(
        row.expect.map(([st, code]) => `${ExecutionStatus[st]}/${code ?? "-"}`),
        describeExecution(e),
      ).toContain(`${ExecutionStatus[got[0]]}/${got[1] ?? "-"}`);
      expect(e.events[0]?.type).toBe(EventType.EVENT_TYPE_INPUT_ECHO);
      if (e.status === OK) expect(e.events[e.events.length - 1].type).toBe(EventType.EVENT_TYPE_VALUE);
      row.check?.(e);

      // Stored as it was returned.
      const stored = await api.getExecution(e.id);
      expect(stored.status).toBe(e.status);
      expect(stored.events).toEqual(e.events);

      // The session: CRASHED after the memory limit, otherwise READY (restarted if the isolate had to go) and usable.
      const after = await api.getSession(session.id);
      if (e.error?.code === "MEMORY_LIMIT_EXCEEDED") {
        expect(after.status).toBe(SessionStatus.SESSION_STATUS_CRASHED);
      } else {
        expect(after.status, after.lastError).toBe(SessionStatus.SESSION_STATUS_READY);
        expect(okValue(await api.repl(session.id, "[1, 2].map((n) => n * 21)")).json).toEqual([21, 42]);
        if (row.followUp && after.restartCount === 0) {
          const next = await api.repl(session.id, row.followUp.input);
          expect(okValue(next).json, describeExecution(next)).toEqual(row.followUp.json);
          if (row.followUp.console) expect(consoleLines(next)).toEqual(row.followUp.console);
        }
      }
      await api.closeSession(session.id).catch(() => undefined);
      expect(alive(server)).toBe(true);
    });
  }

  it("after the table: the same server process still serves, and sessions created before it kept their state", async () => {
    expect(deaths, `rows that killed the server:\n${deaths.join("\n")}`).toEqual([]);
    expect(server.proc.pid).toBe(firstPid);
    expect(await healthy()).toBe(true);
    expect((await api.getSession(bystander.id)).status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect(okValue(await api.repl(bystander.id, "[mine, ++counter, typeof ({}).polluted]")).json).toEqual(["safe", 42, "undefined"]);
    // Modules in another session are pristine after a session patched its own.
    expect(
      okValue(
        await api.repl(bystanderModules.id, "[require('path').join('a', 'b'), typeof require('fs').readFile, typeof ({}).polluted, typeof ({}).encoding]"),
      ).json,
    ).toEqual(["a/b", "function", "undefined", "undefined"]);
    const fresh = await api.ready({ name: "after-the-table" });
    expect(okValue(await api.repl(fresh.id, "console.log('fine'); 6 * 7")).json).toBe(42);
  });
});
