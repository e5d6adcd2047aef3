/**
 * Where each event's protobuf bytes live once made. An execution's events
 * are encoded one after another into its current tape, a buffer of entries:
 * each a varint length and the event's bytes without field 1, the
 * execution id (the same for all of them, a third of a console line's
 * bytes). That is the form the store keeps a page of events in, so a run of
 * events encoded in order is stored as the tape's bytes as they are, and a
 * page read back is the tape of the events read from it: a replay sends
 * them on without parsing, encoding or copying them one by one. Responses
 * put the id back in front of each event as they write it (event-wire.ts).
 *
 * An event gets its tape and the offset of its entry (under symbols no
 * other layer sees) instead of a buffer of its own: one Buffer per event
 * was, in a 100k-line flood, most of the encoding's cost and a good part of
 * the garbage collector's.
 */
import { ExecutionEvent as WireEvent } from "../../gen/vmsystem/v1/execution";
import type { ExecutionEvent } from "../core/model";
import { eventToProto } from "./codec-execution";
import { copyBytes, readVarint, recurringUtf8, stringSize, varintSize, writeHeader, writeString, writeTag, writeVarint, writer } from "./wire-bytes";

const TAPE = Symbol("vmsystem.tape");
const AT = Symbol("vmsystem.at");
type Placed = ExecutionEvent & { [TAPE]?: Uint8Array; [AT]?: number };

interface Tape {
  bytes: Buffer;
  used: number;
}

/**
 * Each execution's current tape, by id. A tape starts small (most
 * executions have a few events) and each next one is twice the last, up to
 * MAX_TAPE. Bounded: emptied at MAX_TAPES executions (those go on in new
 * tapes). A tape lives as long as an event written in it.
 */
const tapes = new Map<string, Tape>();
const FIRST_TAPE = 256;
const MAX_TAPE = 64 * 1024;
const MAX_TAPES = 64;

/** A tape of the execution with `size` bytes free. */
function room(executionId: string, size: number): Tape {
  let tape = tapes.get(executionId);
  if (tape && tape.used + size <= tape.bytes.length) return tape;
  const length = Math.max(size, tape ? Math.min(tape.bytes.length * 2, MAX_TAPE) : FIRST_TAPE);
  if (!tape && tapes.size >= MAX_TAPES) tapes.clear();
  tape = { bytes: Buffer.allocUnsafe(length), used: 0 };
  tapes.set(executionId, tape);
  return tape;
}

/** The event's tape (encoding it first if need be); its entry starts at entryAt(event). */
export function tapeOf(event: ExecutionEvent): Uint8Array {
  const e = event as Placed;
  if (e[TAPE] === undefined) place(e);
  return e[TAPE]!;
}

export const entryAt = (event: ExecutionEvent): number => (event as Placed)[AT]!;

function place(event: Placed): void {
  if (placeTextEvent(event)) return;
  const bytes = WireEvent.encode(eventToProto(event), writer).finish();
  const skip = idFieldSize(event.executionId, bytes);
  const length = bytes.length - skip;
  const tape = room(event.executionId, varintSize(length) + length);
  event[TAPE] = tape.bytes;
  event[AT] = tape.used;
  const at = writeVarint(tape.bytes, tape.used, length);
  tape.bytes.set(bytes.subarray(skip), at);
  tape.used = at + length;
}

/** ExecutionEvent's payload fields (proto/vmsystem/v1/execution.proto) and EventType numbers, for the string-only payloads. */
const TEXT_PAYLOADS = { INPUT_ECHO: { field: 5, type: 1 }, CONSOLE: { field: 6, type: 2 }, SYSTEM: { field: 9, type: 5 } } as const;

/**
 * Writes the entry as the generated encoder writes the event (proto3: empty
 * strings and zero numbers left out, the payload message always written),
 * for INPUT_ECHO {text = 1}, CONSOLE {level = 1, text = 2} and SYSTEM
 * {level = 1, message = 2}: a flood's every event. False for the other
 * payloads (the generated encoder's turn).
 */
function placeTextEvent(event: Placed): boolean {
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
  } else return false;
  const { field, type } = TEXT_PAYLOADS[p.type];
  const level = p.type === "INPUT_ECHO" ? undefined : recurringUtf8(first);
  const a = level ? level.length : Buffer.byteLength(first);
  const b = second.length === 0 ? 0 : Buffer.byteLength(second);
  const payload = stringSize(a) + stringSize(b);
  const seconds = Math.floor(event.ts / 1000);
  const nanos = (event.ts - seconds * 1000) * 1_000_000;
  const ts = (seconds !== 0 ? 1 + varintSize(seconds) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
  const length = (event.seq !== 0 ? 1 + varintSize(event.seq) : 0) + 1 + varintSize(ts) + ts + 2 + 1 + varintSize(payload) + payload;
  const tape = room(event.executionId, varintSize(length) + length);
  const out = tape.bytes;
  event[TAPE] = out;
  event[AT] = tape.used;
  let at = writeVarint(out, tape.used, length);
  if (event.seq !== 0) at = writeVarint(out, writeTag(out, at, 2, 0), event.seq);
  at = writeHeader(out, at, 3, ts);
  if (seconds !== 0) at = writeVarint(out, writeTag(out, at, 1, 0), seconds);
  if (nanos !== 0) at = writeVarint(out, writeTag(out, at, 2, 0), nanos);
  at = writeVarint(out, writeTag(out, at, 4, 0), type);
  at = writeHeader(out, at, field, payload);
  if (level) {
    if (level.length > 0) at = copyBytes(level, 0, level.length, out, writeHeader(out, at, 1, level.length));
  } else at = writeString(out, at, 1, first, a);
  tape.used = writeString(out, at, 2, second, b);
  return true;
}

/** How many bytes field 1 (execution_id) takes at the start of an event's bytes; 0 if it is not there. */
function idFieldSize(executionId: string, bytes: Uint8Array): number {
  const size = stringSize(recurringUtf8(executionId).length);
  return size > 0 && bytes[0] === ((1 << 3) | 2) ? size : 0;
}

/** A run of consecutive events of one execution as the store keeps it: their entries end to end. */
export function pack(events: ExecutionEvent[]): Uint8Array {
  if (events.length === 0) return new Uint8Array(0);
  // Runs of entries that lie one after another on one tape; usually one.
  const runs: { tape: Uint8Array; start: number; end: number }[] = [];
  let total = 0;
  for (const e of events) {
    const tape = tapeOf(e);
    const start = entryAt(e);
    const end = entryEnd(tape, start);
    const last = runs.at(-1);
    if (last && last.tape === tape && last.end === start) last.end = end;
    else runs.push({ tape, start, end });
    total += end - start;
  }
  // Tapes are only appended to: the bytes of a run never change, and a page can be them.
  if (runs.length === 1) return runs[0].tape.subarray(runs[0].start, runs[0].end);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const run of runs) {
    out.set(run.tape.subarray(run.start, run.end), at);
    at += run.end - run.start;
  }
  return out;
}

function entryEnd(tape: Uint8Array, at: number): number {
  const length = entryLength(tape, at);
  return at + varintSize(length) + length;
}

/** The length of the entry at `at` (its bytes start after the varint). */
export function entryLength(tape: Uint8Array, at: number): number {
  const b = tape[at];
  return b < 0x80 ? b : readVarint(tape, at)[0];
}

/** Gives `events` their entries in `packed` (what pack made) from its entry `from`: false if it does not hold them. */
export function attach(events: ExecutionEvent[], packed: Uint8Array, from: number): boolean {
  if (events.length === 0) return true;
  const offsets = new Array<number>(events.length);
  let at = 0;
  for (let i = 0; i < from + events.length; i++) {
    if (at >= packed.length) return false;
    const [length, next] = readVarint(packed, at);
    if (next + length > packed.length) return false;
    if (i >= from) {
      // Each entry must be its event's: it starts with field 2, seq.
      if (packed[next] !== ((2 << 3) | 0) || readVarint(packed, next + 1)[0] !== events[i - from].seq) return false;
      offsets[i - from] = at;
    }
    at = next + length;
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as Placed;
    e[TAPE] = packed;
    e[AT] = offsets[i];
  }
  return true;
}

/** The ts and payload of an event that has an entry, decoded from it. */
export function decodeEntry(event: ExecutionEvent): WireEvent {
  const e = event as Placed;
  if (e[TAPE] === undefined) throw new Error(`event ${event.executionId}#${event.seq} has no encoded bytes to read`);
  const length = entryLength(e[TAPE], e[AT]!);
  const start = e[AT]! + varintSize(length);
  return WireEvent.decode(e[TAPE].subarray(start, start + length));
}
