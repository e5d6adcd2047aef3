/**
 * Events written straight into their bytes (transport/event-wire.ts) must
 * read back, in any protobuf client, exactly as the generated encoder's
 * bytes do: compared here byte for byte and after decoding, for every
 * payload kind, empty and non-ASCII strings, large seq and times. And the
 * pages the store keeps (transport/event-tape.ts): packed from the events'
 * tapes, attached back, read and answered as the originals.
 */
import { describe, expect, it } from "vitest";
import { Execution as WireExecution, ExecutionEvent as WireEvent } from "../../gen/vmsystem/v1/execution";
import type { Execution, ExecutionEvent, EventPayload } from "../../src/core/model";
import { eventFromProto, eventToProto, executionToProto } from "../../src/transport/codec-execution";
import { batchResponse, eventEncoding, eventListResponse, executionResponse, TAIL_FIELDS } from "../../src/transport/event-wire";

const execution: Execution = {
  id: "0b7f6f3e-2d7c-4a8e-9a51-3c1f2f5d9e01",
  number: 7,
  sessionId: "5e0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
  kind: "REPL",
  input: "console.log('é')",
  path: "",
  args: [],
  env: {},
  status: "OK",
  requestId: null,
  startedAt: 1_796_551_958_570,
  endedAt: 1_796_551_958_999,
  result: { type: "number", preview: "1", json: 1 },
  error: null,
  metrics: { durationMs: 429, cpuMs: 3, eventCount: 9, outputBytes: 12 },
};

const payloads: EventPayload[] = [
  { type: "INPUT_ECHO", text: "console.log('é')" },
  { type: "INPUT_ECHO", text: "" },
  { type: "CONSOLE", level: "log", text: "héllo 🌍 \u0000 end" },
  { type: "CONSOLE", level: "warn", text: "" },
  { type: "CONSOLE", level: "log", text: "x".repeat(70_000) },
  // Short ASCII text is copied a character at a time, up to 64.
  { type: "CONSOLE", level: "error", text: "12345" },
  { type: "CONSOLE", level: "log", text: "a".repeat(64) },
  { type: "CONSOLE", level: "log", text: "b".repeat(65) },
  { type: "CONSOLE", level: "log", text: "lone \ud800 surrogate" },
  { type: "SYSTEM", level: "warn", message: "the session was restored" },
  { type: "SYSTEM", level: "", message: "" },
  { type: "VALUE", value: { type: "number", preview: "1", json: 1 } },
  { type: "EXCEPTION", name: "Error", message: "boom", stack: "Error: boom\n    at <repl>:1:7" },
];
const times = [1_796_551_958_570, 1_796_551_958_000, 0, 999];
const events: ExecutionEvent[] = payloads.map((payload, i) => ({
  executionId: execution.id,
  seq: i === 4 ? 300_000 : i + 1,
  ts: times[i % times.length],
  payload,
}));

describe("events encoded once", () => {
  it("writes an execution with its events exactly as the generated encoder does", () => {
    const ours = (executionResponse(execution, events) as { bytes: Buffer }).bytes;
    const generated = WireExecution.encode(executionToProto(execution, events)).finish();
    expect(WireExecution.decode(ours)).toEqual(WireExecution.decode(generated));
    expect(Buffer.from(ours).equals(Buffer.from(generated))).toBe(true);
  });

  it("each string-only event reads back as it was", () => {
    for (const event of events) {
      const one = (executionResponse({ ...execution, id: "" }, [event]) as { bytes: Buffer }).bytes;
      expect(WireExecution.decode(one).events[0]).toEqual(WireEvent.decode(WireEvent.encode(eventToProto(event)).finish()));
    }
  });
});

/** Fresh copies of events (no bytes yet), as another execution's: `id`. */
const copies = (id: string, from = events) => from.map((e) => ({ executionId: id, seq: e.seq, ts: e.ts, payload: e.payload }));
const bytesOf = (response: unknown) => Buffer.from((response as { bytes: Buffer }).bytes);

describe("event pages (the form the store keeps)", () => {
  it("a run packed, then attached to events that have only their id and seq, answers and reads as the originals", () => {
    const original = copies(execution.id);
    const page = Buffer.from(eventEncoding.pack(original));
    const read = original.map((e) => ({ executionId: e.executionId, seq: e.seq }) as ExecutionEvent);
    expect(eventEncoding.attach(read, page, 0)).toBe(true);
    expect(bytesOf(eventListResponse(read)).equals(bytesOf(eventListResponse(original)))).toBe(true);
    // As any protobuf round trip reads them (a lone surrogate comes back as U+FFFD).
    for (let i = 0; i < read.length; i++)
      expect(eventEncoding.read(read[i])).toEqual(eventFromProto(WireEvent.decode(WireEvent.encode(eventToProto(original[i])).finish())));
    // From an entry in the middle: the later events only.
    const tail = original.slice(5).map((e) => ({ executionId: e.executionId, seq: e.seq }) as ExecutionEvent);
    expect(eventEncoding.attach(tail, page, 5)).toBe(true);
    expect(bytesOf(eventListResponse(tail)).equals(bytesOf(eventListResponse(original.slice(5))))).toBe(true);
  });

  it("events of several executions encoded in turns pack and answer each as their own, whatever order they were written in", () => {
    const a = copies("11111111-1111-4111-8111-111111111111");
    const b = copies("22222222-2222-4222-8222-222222222222");
    const none = copies("");
    // Written alternately (live subscribers of two sessions), then some out of order.
    for (let i = 0; i < a.length; i++) for (const e of [a[i], b[a.length - 1 - i], none[i]]) batchResponse([e], TAIL_FIELDS);
    for (const run of [a, b, none]) {
      const expected = Buffer.from(WireExecution.encode(executionToProto({ ...execution, id: run[0].executionId }, run)).finish());
      expect(bytesOf(executionResponse({ ...execution, id: run[0].executionId }, run)).equals(expected)).toBe(true);
      const read = run.map((e) => ({ executionId: e.executionId, seq: e.seq }) as ExecutionEvent);
      expect(eventEncoding.attach(read, eventEncoding.pack(run), 0)).toBe(true);
      expect(bytesOf(eventListResponse(read)).equals(bytesOf(eventListResponse(run)))).toBe(true);
    }
  });

  it("a page keeps its bytes while its execution goes on writing events after it", () => {
    const id = "33333333-3333-4333-8333-333333333333";
    const first = copies(id).slice(0, 4);
    const page = eventEncoding.pack(first);
    const before = Buffer.from(page);
    // Many more events of the same execution, on the same tape and the tapes after it.
    const more = Array.from({ length: 5000 }, (_, i): ExecutionEvent => ({
      executionId: id,
      seq: 5 + i,
      ts: 1,
      payload: { type: "CONSOLE", level: "log", text: `line ${i}` },
    }));
    eventEncoding.pack(more);
    expect(Buffer.from(page).equals(before)).toBe(true);
  });

  it("refuses a page that does not hold the events asked for", () => {
    const original = copies("44444444-4444-4444-8444-444444444444");
    const page = eventEncoding.pack(original);
    const wrongSeq = original.map((e) => ({ executionId: e.executionId, seq: e.seq + 1 }) as ExecutionEvent);
    expect(eventEncoding.attach(wrongSeq, page, 0)).toBe(false);
    expect(eventEncoding.attach(original.slice(0, 3), page.subarray(0, 10), 0)).toBe(false);
    expect(eventEncoding.attach(original.slice(0, 3), page, original.length)).toBe(false);
  });
});
