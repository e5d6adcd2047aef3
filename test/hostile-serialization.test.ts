/**
 * User code that overrides built-ins the sandbox's serialization could use
 * (toJSON on prototypes, JSON.stringify, Array.prototype.push/join, index
 * accessors) never changes what the server stores and answers: each row
 * overrides in one execution, then the next execution's VALUE or EXCEPTION
 * is the true one, the call succeeds (no INTERNAL, no failed RPC), and the
 * execution is stored as it was answered (GetExecution, ListEvents).
 */
import { describe, expect, it } from "vitest";
import { describeExecution, EventType, ExecutionStatus, type Execution, type Value } from "./support/fixtures";
import { useTestServer } from "./support/server";

const s = useTestServer();
const api = s.api;

/** 100,000 nested arrays as JSON text, in the sandbox. */
const DEEP = "const DEEP = '['.repeat(1e5) + ']'.repeat(1e5);";

interface Row {
  name: string;
  setup: string;
  input: string;
  value?: Value;
  exception?: { name: string; message: string };
}

const rows: Row[] = [
  {
    name: "Array.prototype.toJSON",
    setup: "Array.prototype.toJSON = () => 'forged'",
    input: "[1, { a: [2] }]",
    value: { type: "array", preview: "[ 1, { a: [ 2 ] } ]", json: [1, { a: [2] }] },
  },
  {
    name: "Array.prototype.toJSON, then an exception",
    setup: "Array.prototype.toJSON = () => 'forged'",
    input: "throw new TypeError('real')",
    exception: { name: "TypeError", message: "real" },
  },
  {
    name: "Object.prototype.toJSON and String.prototype.toJSON",
    setup: "Object.prototype.toJSON = () => ({ forged: true }); String.prototype.toJSON = () => 'forged'",
    input: "({ s: 'text' })",
    value: { type: "object", preview: "{ s: 'text' }", json: { s: "text" } },
  },
  {
    name: "a toJSON that throws",
    setup: "Array.prototype.toJSON = Object.prototype.toJSON = () => { throw new Error('toJSON ran') }",
    input: "[1, 2]",
    value: { type: "array", preview: "[ 1, 2 ]", json: [1, 2] },
  },
  {
    name: "a toJSON answering with a 100,000-deep JSON text where the json goes",
    setup: `${DEEP} Array.prototype.toJSON = function () { return this.length === 3 && this[0] === 'array' ? ['array', ['t', 'forged'], DEEP] : this }`,
    input: "[1, 2, 3]",
    value: { type: "array", preview: "[ 1, 2, 3 ]", json: [1, 2, 3] },
  },
  {
    name: "a toJSON answering with a 100,000-deep JSON text, then an exception",
    setup: `${DEEP} Array.prototype.toJSON = function () { return this[0] === 1 ? [1, 'Forged', 'forged', DEEP] : this }`,
    input: "throw new RangeError('real')",
    exception: { name: "RangeError", message: "real" },
  },
  {
    name: "a real value 100,000 arrays deep",
    setup: "var v = 0; for (let i = 0; i < 1e5; i++) v = [v]",
    input: "v",
    value: { type: "array", preview: "[ [ [ [Array] ] ] ]" },
  },
  {
    name: "a real value 40 arrays deep (json is kept up to 32)",
    setup: "var v = 0; for (let i = 0; i < 40; i++) v = [v]",
    input: "v",
    value: { type: "array", preview: "[ [ [ [Array] ] ] ]" },
  },
  {
    name: "patched JSON.stringify, Array.prototype.push/join and an index accessor",
    setup: [
      "JSON.stringify = () => 'forged'",
      "Array.prototype.push = Array.prototype.join = function () { return 'forged' }",
      "Object.defineProperty(Array.prototype, '0', { get() { return 'forged' }, set(v) {}, configurable: true })",
    ].join("; "),
    input: "({ a: [1, 2] })",
    value: { type: "object", preview: "{ a: [ 1, 2 ] }", json: { a: [1, 2] } },
  },
];

/** The execution as stored: GetExecution and ListEvents answer what the call answered. */
async function expectStored(e: Execution): Promise<void> {
  const stored = await api.getExecution(e.id);
  expect(stored.status).toBe(e.status);
  expect(stored.events).toEqual(e.events);
  const events = await api.listEvents(e.id);
  expect(events).toEqual(e.events);
}

describe("overridden built-ins never reach what the server stores", () => {
  for (const row of rows) {
    it(row.name, async () => {
      const session = await api.ready({ name: "hostile-serialization" });
      const setup = await api.repl(session.id, row.setup);
      expect(setup.status, describeExecution(setup)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
      const e = await api.repl(session.id, row.input);
      if (row.value) {
        expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
        const value = e.events.find((ev) => ev.type === EventType.EVENT_TYPE_VALUE)?.value;
        expect(value).toEqual(row.value);
      } else {
        expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
        expect(e.error?.code).toBe("EXCEPTION");
        const exception = e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)?.exception;
        expect(exception).toMatchObject(row.exception!);
      }
      await expectStored(e);
      // The session goes on.
      expect((await api.repl(session.id, "1 + 1")).status).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    });
  }
});
