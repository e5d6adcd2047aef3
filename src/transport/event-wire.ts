/**
 * Responses built from events encoded once. A live event goes to every
 * subscriber of its session, and to the caller of the execution's unary
 * RPC, as the same object: its protobuf bytes are made the first time one
 * of them sends it (kept beside the object, collected with it) and copied
 * into each response, instead of every reader converting and encoding it
 * again. The responses are written as they are (acceptEncoded).
 *
 * Events whose payload is strings only (console lines, input echo, system
 * notes: a flood's every event) are written straight into their bytes
 * (encodeTextEvent); the others go through the generated encoder. A 100k
 * line flood spent a fifth of the server's thread converting, encoding and
 * collecting the garbage of the generated path (measured, --cpu-prof).
 */
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { Execution as WireExecution, ExecutionEvent as WireEvent } from "../../gen/vmsystem/v1/execution";
import type { Execution, ExecutionEvent } from "../core/model";
import type { EventEncoding } from "../core/ports";
import { eventFromProto, eventToProto, executionToProto } from "./codec-execution";

/**
 * An event's bytes ride on the event object under a symbol (no other layer
 * sees it): a WeakMap of 100k events cost more than encoding them.
 */
const BYTES = Symbol("vmsystem.wire");
type WithBytes = ExecutionEvent & { [BYTES]?: Uint8Array };
/** One writer for every event: finish() hands out a copy and resets it, and a new writer per event cost its buffer each time. */
const writer = new BinaryWriter();

function bytesOf(event: WithBytes): Uint8Array {
  return (event[BYTES] ??= encodeTextEvent(event) ?? WireEvent.encode(eventToProto(event), writer).finish());
}

/** ExecutionEvent's payload fields (proto/vmsystem/v1/execution.proto) and EventType numbers, for the string-only payloads. */
const TEXT_PAYLOADS = { INPUT_ECHO: { field: 5, type: 1 }, CONSOLE: { field: 6, type: 2 }, SYSTEM: { field: 9, type: 5 } } as const;

/**
 * The event's bytes as the generated encoder writes them (proto3: empty
 * strings and zero numbers left out, the payload message always written),
 * for INPUT_ECHO {text = 1}, CONSOLE {level = 1, text = 2} and SYSTEM
 * {level = 1, message = 2}; undefined for the other payloads.
 */
function encodeTextEvent(event: ExecutionEvent): Uint8Array | undefined {
  const p = event.payload;
  // The first string recurs (a console level) but for INPUT_ECHO (the input).
  let first: string;
  let second: string;
  if (p.type === "CONSOLE") {
    first = p.level;
    second = p.text;
  } else if (p.type === "SYSTEM") {
    first = p.level;
    second = p.message;
  } else if (p.type === "INPUT_ECHO") {
    first = p.text;
    second = "";
  } else return undefined;
  const { field, type } = TEXT_PAYLOADS[p.type];
  const id = recurringUtf8(event.executionId);
  const level = p.type === "INPUT_ECHO" ? undefined : recurringUtf8(first);
  const a = level ? level.length : Buffer.byteLength(first);
  const b = Buffer.byteLength(second);
  const payload = stringSize(a) + stringSize(b);
  const seconds = Math.floor(event.ts / 1000);
  const nanos = (event.ts - seconds * 1000) * 1_000_000;
  const ts = (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
  const total = stringSize(id.length) + (event.seq !== 0 ? 1 + varintSize(event.seq) : 0) + fieldSize(ts) + 2 + fieldSize(payload);
  const out = Buffer.allocUnsafe(total);
  let at = id.length === 0 ? 0 : writeField(out, 0, 1, id);
  if (event.seq !== 0) at = writeVarint(out, writeTag(out, at, 2, 0), event.seq);
  at = writeHeader(out, at, 3, ts);
  if (seconds !== 0) at = writeVarint(out, writeTag(out, at, 1, 0), seconds);
  if (nanos !== 0) at = writeVarint(out, writeTag(out, at, 2, 0), nanos);
  at = writeVarint(out, writeTag(out, at, 4, 0), type);
  at = writeHeader(out, at, field, payload);
  at = level ? (level.length === 0 ? at : writeField(out, at, 1, level)) : writeString(out, at, 1, first, a);
  writeString(out, at, 2, second, b);
  return out;
}

/**
 * UTF-8 of the strings every event of a flood repeats (its execution id,
 * its console level), made once: writing them again each time was a third
 * of the encoding. Bounded: emptied when it reaches 256 strings.
 */
const recurring = new Map<string, Buffer>();

function recurringUtf8(text: string): Buffer {
  let bytes = recurring.get(text);
  if (!bytes) {
    if (recurring.size >= 256) recurring.clear();
    recurring.set(text, (bytes = Buffer.from(text, "utf8")));
  }
  return bytes;
}

/**
 * Stored pages of events keep their bytes (store/event-pages.ts): each
 * event as a varint length and its bytes without field 1, the execution
 * id, which is the page's and would be a third of it. A replay puts the id
 * back in front; it parses and encodes nothing.
 */
export const eventEncoding: EventEncoding = {
  pack(events) {
    let total = 0;
    for (const e of events) {
      const bytes = bytesOf(e);
      const length = bytes.length - idFieldSize(e.executionId, bytes);
      total += varintSize(length) + length;
    }
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const e of events) {
      const bytes = bytesOf(e);
      const skip = idFieldSize(e.executionId, bytes);
      at = writeVarint(out, at, bytes.length - skip);
      // No subarray per event: a flood is 100k of them.
      at += Buffer.prototype.copy.call(bytes, out, at, skip);
    }
    return out;
  },

  attach(events, packed, from) {
    if (events.length === 0) return true;
    const id = recurringUtf8(events[0].executionId);
    const head = stringSize(id.length);
    // The entries: skip `from`, then each event's length and where it starts.
    const starts = new Array<number>(events.length);
    const lengths = new Array<number>(events.length);
    let at = 0;
    let total = 0;
    for (let i = 0; i < from + events.length; i++) {
      if (at >= packed.length) return false;
      const [length, next] = readVarint(packed, at);
      if (next + length > packed.length) return false;
      if (i >= from) {
        // Each entry must be its event's: it starts with field 2, seq.
        if (packed[next] !== ((2 << 3) | 0) || readVarint(packed, next + 1)[0] !== events[i - from].seq) return false;
        starts[i - from] = next;
        lengths[i - from] = length;
        total += head + length;
      }
      at = next + length;
    }
    const out = Buffer.allocUnsafe(total);
    at = 0;
    for (let i = 0; i < events.length; i++) {
      const start = at;
      if (id.length > 0) at = writeField(out, at, 1, id);
      out.set(packed.subarray(starts[i], starts[i] + lengths[i]), at);
      at += lengths[i];
      (events[i] as WithBytes)[BYTES] = out.subarray(start, at);
    }
    return true;
  },

  read(event) {
    const bytes = (event as WithBytes)[BYTES];
    if (!bytes) throw new Error(`event ${event.executionId}#${event.seq} has no encoded bytes to read`);
    return eventFromProto(WireEvent.decode(bytes));
  },
};

/** How many bytes field 1 (execution_id) takes at the start of an event's bytes; 0 if it is not there. */
function idFieldSize(executionId: string, bytes: Uint8Array): number {
  const size = stringSize(recurringUtf8(executionId).length);
  return size > 0 && bytes[0] === ((1 << 3) | 2) ? size : 0;
}

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * scale;
    if (b < 0x80 || at >= bytes.length) return [value, at];
    scale *= 0x80;
  }
}

const EVENTS_FIELD = 15;

/**
 * A unary RPC's Execution with its events, each event's bytes the ones its
 * live readers got (or will get): the execution's own fields as the
 * generated encoder writes them, then each event as field 15 (protobuf
 * fields may come in any order).
 */
export function executionResponse<R>(execution: Execution, events: ExecutionEvent[]): R {
  const head = WireExecution.encode(executionToProto(execution), writer).finish();
  const parts = events.map(bytesOf);
  const out = Buffer.allocUnsafe(head.length + parts.reduce((n, b) => n + fieldSize(b.length), 0));
  out.set(head, 0);
  let at = head.length;
  for (const bytes of parts) at = writeField(out, at, EVENTS_FIELD, bytes);
  return new Encoded(out) as R;
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

/**
 * The batches built last, by their first event: subscribers of one session
 * that keep up take the same batches, and each copied every event's bytes
 * again (10 subscribers: a fifth of the server's thread in a flood). Only
 * the last 8 are kept (subscribers that keep up ask within a few batches of
 * each other): 64 kept a flood's batches alive long enough to cost one
 * subscriber more garbage collection than the copies it saved.
 */
const recentBatches = new Map<ExecutionEvent, { events: ExecutionEvent[]; fields: EventFields; response: Encoded }>();
const RECENT_BATCHES = 8;

/** A response carrying a batch of events, typed as the stream's response for `send`. */
export function batchResponse<R>(events: ExecutionEvent[], fields: EventFields): R {
  const recent = recentBatches.get(events[0]);
  if (recent && recent.fields === fields && sameEvents(recent.events, events)) return recent.response as R;
  const response = buildBatch(events, fields);
  recentBatches.delete(events[0]);
  recentBatches.set(events[0], { events, fields, response });
  if (recentBatches.size > RECENT_BATCHES) recentBatches.delete(recentBatches.keys().next().value!);
  return response as R;
}

/** ListEvents' response (`repeated ExecutionEvent events = 1`) from the events' bytes: stored events are sent as stored. */
export function eventListResponse<R>(events: ExecutionEvent[]): R {
  return buildBatch(events, LIST_FIELDS) as R;
}

const LIST_FIELDS: EventFields = { one: 1, batch: 1, nested: false };

function sameEvents(a: ExecutionEvent[], b: ExecutionEvent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function buildBatch(events: ExecutionEvent[], fields: EventFields): Encoded {
  const parts = events.map(bytesOf);
  const inner = parts.reduce((n, b) => n + fieldSize(b.length), 0);
  const out = Buffer.allocUnsafe(fields.nested ? fieldSize(inner) : inner);
  let at = 0;
  if (fields.nested) at = writeHeader(out, 0, fields.batch, inner);
  const field = fields.nested ? 1 : fields.batch;
  for (const bytes of parts) at = writeField(out, at, field, bytes);
  return new Encoded(out);
}

// A length-delimited field: its tag (field number, wire type 2), its length as a varint, its bytes. Fields here are < 16: a one-byte tag.
const fieldSize = (length: number) => 1 + varintSize(length) + length;
/** A string field of `length` UTF-8 bytes: left out when empty. */
const stringSize = (length: number) => (length === 0 ? 0 : fieldSize(length));

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeTag(out: Buffer, at: number, field: number, wireType: number): number {
  out[at] = (field << 3) | wireType;
  return at + 1;
}

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

function writeHeader(out: Buffer, at: number, field: number, length: number): number {
  return writeVarint(out, writeTag(out, at, field, 2), length);
}

/** Short ASCII text (most console lines) is copied a character at a time: Buffer.write costs a call into C++ each. */
const SHORT_TEXT = 64;

function writeString(out: Buffer, at: number, field: number, text: string, length: number): number {
  if (length === 0) return at;
  at = writeHeader(out, at, field, length);
  // As many bytes as characters: every character is ASCII.
  if (length === text.length && length <= SHORT_TEXT) {
    for (let i = 0; i < length; i++) out[at + i] = text.charCodeAt(i);
    return at + length;
  }
  return at + out.write(text, at, length, "utf8");
}

function writeField(out: Buffer, at: number, field: number, bytes: Uint8Array): number {
  at = writeHeader(out, at, field, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}
