/**
 * The console ring: fire-and-forget console lines travel from the sandbox to
 * the host through shared memory instead of one isolated-vm message each.
 * A message per line cost the isolate's thread more than formatting the line
 * (measured ~200k lines/s through Reference#applyIgnored, 1.5M+ through the
 * ring); now the sandbox sends a message only when the host may be idle.
 *
 * One SharedArrayBuffer holds the control slots (Int32, CTL_* in
 * sandbox/constants.ts) and, after them, the ring (UTF-16 units). A record is
 * [meta lo, meta hi, gen lo, gen hi, length lo, length hi, ...text] and never
 * wraps: where it would not fit before the end, a WRAP unit says "continue at
 * 0". Positions are int32 counters (wrapping), masked into the ring.
 *
 * The sandbox (sandbox/src/console.js) writes a record, publishes the new write
 * position, then notifies the host if the host said it was idle. The host
 * drains from its read position to the write position, says it is idle, and
 * looks once more (a record written meanwhile either saw the idle flag and
 * notified, or is drained now). The sandbox only writes while a run is
 * active; its data is untrusted all the same, so every record is bounds-checked.
 */
import { CLOCK_OFFSET, CLOCK_SHARED, CTL_HOST_IDLE, CTL_RING_READ, CTL_RING_WRITE, RING_HEADER, RING_OFFSET, RING_UNITS, RING_WRAP } from "./sandbox/constants";

export type RingLine = (gen: number, meta: number, text: string) => void;

export class ConsoleRing {
  readonly ctl: Int32Array;
  private readonly ring: Uint16Array;

  constructor(slots: number) {
    // The clock region after the ring belongs to sandbox/src/record.js (SessionRuntime reads it).
    const buffer = new SharedArrayBuffer(CLOCK_OFFSET + CLOCK_SHARED * 8);
    if (slots * 4 > RING_OFFSET) throw new Error("control slots overlap the console ring");
    this.ctl = new Int32Array(buffer, 0, slots);
    this.ring = new Uint16Array(buffer, RING_OFFSET, RING_UNITS);
  }

  get buffer(): SharedArrayBuffer {
    return this.ctl.buffer as SharedArrayBuffer;
  }

  /** Empties the ring (no run is writing), the host idle. */
  reset(): void {
    Atomics.store(this.ctl, CTL_RING_WRITE, 0);
    Atomics.store(this.ctl, CTL_RING_READ, 0);
    Atomics.store(this.ctl, CTL_HOST_IDLE, 1);
  }

  /** Hands every published record to `line`, oldest first, then marks the host idle. */
  drain(line: RingLine): void {
    const { ctl } = this;
    for (;;) {
      let read = Atomics.load(ctl, CTL_RING_READ);
      const write = Atomics.load(ctl, CTL_RING_WRITE);
      while (read !== write) {
        const next = this.take(read, line);
        if (next === undefined) {
          read = write; // malformed: drop what is left
          break;
        }
        read = next;
      }
      Atomics.store(ctl, CTL_RING_READ, read);
      Atomics.store(ctl, CTL_HOST_IDLE, 1);
      if (Atomics.load(ctl, CTL_RING_WRITE) === read) return;
      // A record came in meanwhile: if the sandbox cleared the flag it also
      // notified (that notification drains); otherwise drain it now.
      if (Atomics.exchange(ctl, CTL_HOST_IDLE, 0) === 0) return;
    }
  }

  /** Reads the record at `read`; the position after it, or undefined if it is malformed. */
  private take(read: number, line: RingLine): number | undefined {
    const { ring } = this;
    const pos = read & (RING_UNITS - 1);
    if (ring[pos] === RING_WRAP) return (read + (RING_UNITS - pos)) | 0;
    if (pos + RING_HEADER > RING_UNITS) return undefined;
    const meta = ring[pos] | (ring[pos + 1] << 16);
    const gen = ring[pos + 2] | (ring[pos + 3] << 16);
    const length = ring[pos + 4] | (ring[pos + 5] << 16);
    const start = pos + RING_HEADER;
    if (length < 0 || start + length > RING_UNITS) return undefined;
    const text = length <= SHORT_TEXT ? shortText(ring, start, length) : Buffer.from(ring.buffer, ring.byteOffset + start * 2, length * 2).toString("utf16le");
    try {
      line(gen, meta, text);
    } catch {
      // the line is lost; the ring goes on (a throw must not deliver the rest twice)
    }
    return (read + RING_HEADER + length) | 0;
  }
}

/** Up to this many units, a text is built a unit at a time: 3-4x faster than a Buffer (measured, 100k short lines). */
const SHORT_TEXT = 24;

function shortText(ring: Uint16Array, start: number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(ring[start + i]);
  return text;
}
