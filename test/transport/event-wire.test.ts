/**
 * Events written straight into their bytes (transport/event-wire.ts) must
 * read back, in any protobuf client, exactly as the generated encoder's
 * bytes do: compared here byte for byte and after decoding, for every
 * payload kind, empty and non-ASCII strings, large seq and times.
 */
import { describe, expect, it } from "vitest";
import { Execution as WireExecution, ExecutionEvent as WireEvent } from "../../gen/vmsystem/v1/execution";
import type { Execution, ExecutionEvent, EventPayload } from "../../src/core/model";
import { eventToProto, executionToProto } from "../../src/transport/codec-execution";
import { executionResponse } from "../../src/transport/event-wire";

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
