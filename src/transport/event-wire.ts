/**
 * Stream responses built from events encoded once. A live event goes to
 * every subscriber of its session as the same object: its protobuf bytes
 * are made the first time one of them sends it (kept beside the object,
 * collected with it) and copied into each subscriber's response, instead of
 * every subscriber converting and encoding it again. The responses are
 * written as they are (acceptEncoded).
 */
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { ExecutionEvent as WireEvent } from "../../gen/vmsystem/v1/execution";
import type { ExecutionEvent } from "../core/model";
import { eventToProto } from "./codec-execution";

const encoded = new WeakMap<ExecutionEvent, Uint8Array>();
/** One writer for every event: finish() hands out a copy and resets it, and a new writer per event cost its buffer each time. */
const writer = new BinaryWriter();

function bytesOf(event: ExecutionEvent): Uint8Array {
  let bytes = encoded.get(event);
  if (!bytes) encoded.set(event, (bytes = WireEvent.encode(eventToProto(event), writer).finish()));
  return bytes;
}

/** A response whose bytes are ready: written as they are. */
class Encoded {
  constructor(readonly bytes: Buffer) {}
}

/** The definition with every response that is an Encoded written as it is, and any other encoded as before. */
export function acceptEncoded<D extends ServiceDefinition>(definition: D): D {
  const wrapped: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    wrapped[name] = { ...method, responseSerialize: (value: unknown) => (value instanceof Encoded ? value.bytes : method.responseSerialize(value)) };
  }
  return wrapped as D;
}

/** Field numbers of the events in a stream's response (proto/vmsystem/v1/execution.proto). */
export interface EventFields {
  /** The one-event field: TailEvents/WatchSession `event` = 1, StreamExecution `event` = 2. */
  one: number;
  /** The batch field: TailEvents/WatchSession `repeated events` = 2; StreamExecution `EventBatch events` = 4. */
  batch: number;
  /** Whether the batch is an EventBatch message (its events in its field 1) rather than a repeated field. */
  nested: boolean;
}

export const TAIL_FIELDS: EventFields = { one: 1, batch: 2, nested: false };
export const STREAM_FIELDS: EventFields = { one: 2, batch: 4, nested: true };

/** A response carrying one event (max_batch 0), typed as the stream's response for `send`. */
export function oneEventResponse<R>(event: ExecutionEvent, fields: EventFields): R {
  const bytes = bytesOf(event);
  const out = Buffer.allocUnsafe(fieldSize(bytes.length));
  writeField(out, 0, fields.one, bytes);
  return new Encoded(out) as R;
}

/** A response carrying a batch of events, typed as the stream's response for `send`. */
export function batchResponse<R>(events: ExecutionEvent[], fields: EventFields): R {
  const parts = events.map(bytesOf);
  const inner = parts.reduce((n, b) => n + fieldSize(b.length), 0);
  const out = Buffer.allocUnsafe(fields.nested ? fieldSize(inner) : inner);
  let at = 0;
  if (fields.nested) at = writeHeader(out, 0, fields.batch, inner);
  const field = fields.nested ? 1 : fields.batch;
  for (const bytes of parts) at = writeField(out, at, field, bytes);
  return new Encoded(out) as R;
}

// A length-delimited field: its tag (field number, wire type 2), its length as a varint, its bytes. Fields here are < 16: a one-byte tag.
const fieldSize = (length: number) => 1 + varintSize(length) + length;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeHeader(out: Buffer, at: number, field: number, length: number): number {
  out[at++] = (field << 3) | 2;
  let n = length;
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

function writeField(out: Buffer, at: number, field: number, bytes: Uint8Array): number {
  at = writeHeader(out, at, field, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}
