/** Protobuf's wire format, written by hand where the generated encoder costs too much (event-tape.ts, event-wire.ts). */
import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** One writer for the generated encoder: finish() hands out a copy and resets it, and a new writer per event cost its buffer each time. */
export const writer = new BinaryWriter();

// A length-delimited field: its tag (field number, wire type 2), its length as a varint, its bytes. Fields here are < 16: a one-byte tag.
export const fieldSize = (length: number) => 1 + varintSize(length) + length;
/** A string field of `length` UTF-8 bytes: left out when empty. */
export const stringSize = (length: number) => (length === 0 ? 0 : fieldSize(length));

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

export function writeTag(out: Uint8Array, at: number, field: number, wireType: number): number {
  out[at] = (field << 3) | wireType;
  return at + 1;
}

export function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

export function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = bytes[at++];
    value += (b & 0x7f) * scale;
    if (b < 0x80 || at >= bytes.length) return [value, at];
    scale *= 0x80;
  }
}

export function writeHeader(out: Uint8Array, at: number, field: number, length: number): number {
  return writeVarint(out, writeTag(out, at, field, 2), length);
}

/** Short ASCII text (most console lines) is copied a character at a time: Buffer.write costs a call into C++ each. */
const SHORT_TEXT = 64;

/** A string field of `length` UTF-8 bytes (left out when empty). */
export function writeString(out: Buffer, at: number, field: number, text: string, length: number): number {
  if (length === 0) return at;
  at = writeHeader(out, at, field, length);
  // As many bytes as characters: every character is ASCII.
  if (length === text.length && length <= SHORT_TEXT) {
    for (let i = 0; i < length; i++) out[at + i] = text.charCodeAt(i);
    return at + length;
  }
  return at + out.write(text, at, length, "utf8");
}

/** Copies src[start, end) to out at `at`; short runs byte by byte, which costs less than a call into C++. */
export function copyBytes(src: Uint8Array, start: number, end: number, out: Uint8Array, at: number): number {
  if (end - start <= SHORT_TEXT) {
    for (let i = start; i < end; i++) out[at++] = src[i];
    return at;
  }
  out.set(src.subarray(start, end), at);
  return at + end - start;
}

/**
 * UTF-8 of the strings every event of a flood repeats (its execution id,
 * its console level), made once: writing them again each time was a third
 * of the encoding. Bounded: emptied when it reaches 256 strings.
 */
const recurring = new Map<string, Buffer>();

export function recurringUtf8(text: string): Buffer {
  let bytes = recurring.get(text);
  if (!bytes) {
    if (recurring.size >= 256) recurring.clear();
    recurring.set(text, (bytes = Buffer.from(text, "utf8")));
  }
  return bytes;
}
