/**
 * One run's tape: in a recorded run it takes down, in order, what the run
 * receives from outside the isolate on the host's side (module calls, exec,
 * crypto bytes, timer and fetch callbacks, imported sources); in a replayed
 * run it serves those back instead of asking the world again, and notes the
 * first thing the run asks for that the recording does not hold (a
 * divergence). The clock and Math.random are recorded inside the isolate
 * (sandbox/src/record.js); SessionRuntime adds them at the end.
 *
 * A recording stays bounded: past RECORDING_CAP bytes (roughly counted) it
 * keeps only why it overflowed, and the session that made it can no longer
 * be restored (SPEC: an unbounded log is not kept).
 */
import type { Envelope } from "./modules/errors";
import type { Recording } from "./types";

/** About 8 MiB of recorded values per execution. */
const RECORDING_CAP = 8 * 1024 * 1024;

type Callback = NonNullable<Recording["callbacks"]>[number];

export class RunTape {
  readonly recording: Recording = {};
  diverged?: string;
  private size = 0;
  private callAt = 0;
  private callbackAt = 0;

  /** replay: the recording to serve; undefined: record. */
  constructor(readonly replay?: Recording) {}

  get replaying(): boolean {
    return this.replay !== undefined;
  }

  diverge(reason: string): void {
    this.diverged ??= reason;
  }

  /**
   * A host call's answer: recorded, or served from the replay. forReal: run
   * it again in a replay too (state that lived only in the host's memory,
   * e.g. an in-memory database), keeping its place in the recording.
   */
  call(name: string, live: () => Envelope, forReal = false): Envelope {
    if (!this.replay) {
      const value = live();
      this.keep("calls", [name, value], value);
      return value;
    }
    const next = this.nextCall(name);
    return next && forReal ? live() : next ? (next[1] as Envelope) : this.divergent(name);
  }

  async callAsync(name: string, live: () => Promise<Envelope>): Promise<Envelope> {
    if (!this.replay) {
      const value = await live();
      this.keep("calls", [name, value], value);
      return value;
    }
    const next = this.nextCall(name);
    return next ? (next[1] as Envelope) : this.divergent(name);
  }

  /** The replay's next host call, when it is one to `name`; else a divergence. */
  private nextCall(name: string): [string, unknown] | undefined {
    const next = this.replay?.calls?.[this.callAt++];
    if (next && next[0] === name) return next;
    this.diverge(`it called ${name} where the recording has ${next ? next[0] : "no further call"}`);
    return undefined;
  }

  /**
   * A replayed call the recording does not hold fails in the sandbox and goes
   * nowhere else: a restore must not write a file, run a program or touch a
   * database that the first run did not (the restore is lost anyway).
   */
  private divergent(name: string): Envelope {
    return { ok: false, error: { name: "Error", message: `${name}: not in the session's recording (the restore diverged)` } };
  }

  /** A call into the isolate on the host's initiative, as it is made. */
  callback(entry: Callback): void {
    if (!this.replay) this.keep("callbacks", entry, entry);
  }

  /** The replay's next callback, once the run has asked for it (see SessionRuntime's replay pump). */
  nextCallback(): Callback | undefined {
    return this.replay?.callbacks?.[this.callbackAt];
  }

  consumeCallback(): void {
    this.callbackAt++;
  }

  import(entry: [string, string, string, string]): void {
    if (!this.replay) this.keep("imports", entry, entry);
  }

  /** What a replay left unserved: a divergence too (the run took another path). */
  checkConsumed(): void {
    if (!this.replay) return;
    const calls = this.replay.calls?.length ?? 0;
    const callbacks = this.replay.callbacks?.length ?? 0;
    if (this.callAt < calls) this.diverge(`it made ${this.callAt} of the ${calls} host calls it made the first time`);
    else if (this.callbackAt < callbacks) this.diverge(`it took ${this.callbackAt} of the ${callbacks} timer and fetch callbacks it took the first time`);
  }

  /** Adds to a list of the recording, unless the cap is passed. */
  private keep<T>(part: "calls" | "callbacks" | "imports", entry: T, value: unknown): void {
    if (this.recording.overflow !== undefined) return;
    this.size += approxSize(value) + 16;
    if (this.size > RECORDING_CAP) return this.overflow(`what the execution received from outside its isolate passed ${RECORDING_CAP / (1024 * 1024)} MiB`);
    ((this.recording[part] ??= []) as T[]).push(entry);
  }

  /** Clock readings taken from the isolate at the end of the run. */
  clock(runs: number[]): void {
    if (this.recording.overflow !== undefined || runs.length === 0) return;
    this.size += runs.length * 8;
    if (this.size > RECORDING_CAP) return this.overflow(`the execution read the clock at ${runs.length / 2} distinct times`);
    this.recording.clock = runs;
  }

  private overflow(why: string): void {
    for (const key of Object.keys(this.recording)) delete this.recording[key as keyof Recording];
    this.recording.overflow = why;
  }
}

/** A rough byte count of a plain value (strings, byte arrays, numbers, nested), never more work than the value's size. */
function approxSize(value: unknown, depth = 0): number {
  if (typeof value === "string") return value.length;
  if (value === null || typeof value !== "object") return 8;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (depth > 64) return 8;
  let size = 8;
  if (Array.isArray(value)) for (const v of value) size += approxSize(v, depth + 1);
  else for (const [k, v] of Object.entries(value)) size += k.length + approxSize(v, depth + 1);
  return size;
}
