/**
 * Responses built from events encoded once. A live event goes to every
 * subscriber of its session, and to the caller of the execution's unary
 * RPC, as the same object: its protobuf bytes are made the first time one
 * of them sends it (on its execution's tape, event-tape.ts) and copied into
 * each response, instead of every reader converting and encoding it again.
 * The responses are written as they are (acceptEncoded).
 */
import type { ServiceDefinition } from "@grpc/grpc-js";
import { Execution as WireExecution } from "../../gen/vmsystem/v1/execution";
import type { Execution, ExecutionEvent } from "../core/model";
import type { EventEncoding } from "../core/ports";
import { eventFromProto, executionToProto } from "./codec-execution";
import { attach, decodeEntry, entryAt, entryLength, pack, tapeOf } from "./event-tape";
import { copyBytes, fieldSize, recurringUtf8, stringSize, varintSize, writeHeader, writer } from "./wire-bytes";

/** The store keeps pages of events as their tapes' entries (event-tape.ts). */
export const eventEncoding: EventEncoding = {
  pack,
  attach,
  read(event) {
    const decoded = decodeEntry(event);
    decoded.executionId = event.executionId;
    return eventFromProto(decoded);
  },
};

/** The UTF-8 of the last execution id written: a response's events are mostly one execution's. */
let lastId = "";
let lastIdBytes = recurringUtf8("");

function idBytes(executionId: string): Buffer {
  if (executionId !== lastId) {
    lastIdBytes = recurringUtf8(executionId);
    lastId = executionId;
  }
  return lastIdBytes;
}

/** The event's size as a field of a message: tag, length, the id's field and its entry's bytes. */
function eventFieldSize(event: ExecutionEvent): number {
  return fieldSize(stringSize(idBytes(event.executionId).length) + entryLength(tapeOf(event), entryAt(event)));
}

/** Writes the event as field `field` at `at`: its id put back in front of its entry's bytes. */
function writeEvent(out: Buffer, at: number, field: number, event: ExecutionEvent): number {
  const tape = tapeOf(event);
  const entry = entryAt(event);
  const length = entryLength(tape, entry);
  const start = entry + varintSize(length);
  const id = idBytes(event.executionId);
  at = writeHeader(out, at, field, stringSize(id.length) + length);
  if (id.length > 0) at = copyBytes(id, 0, id.length, out, writeHeader(out, at, 1, id.length));
  return copyBytes(tape, start, start + length, out, at);
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
  let size = head.length;
  for (const e of events) size += eventFieldSize(e);
  const out = Buffer.allocUnsafe(size);
  out.set(head, 0);
  let at = head.length;
  for (const e of events) at = writeEvent(out, at, EVENTS_FIELD, e);
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
  const out = Buffer.allocUnsafe(eventFieldSize(event));
  writeEvent(out, 0, fields.one, event);
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
  let inner = 0;
  for (const e of events) inner += eventFieldSize(e);
  const out = Buffer.allocUnsafe(fields.nested ? fieldSize(inner) : inner);
  let at = 0;
  if (fields.nested) at = writeHeader(out, 0, fields.batch, inner);
  const field = fields.nested ? 1 : fields.batch;
  for (const e of events) at = writeEvent(out, at, field, e);
  return new Encoded(out);
}
