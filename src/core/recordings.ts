/**
 * Recordings as the store keeps them, and the replay plan a restore or a
 * fork runs (SPEC, Durable sessions and forks).
 *
 * An execution's row holds its recording (runtime/types.ts Recording,
 * v8-serialized) with every file text it ran or imported replaced by the
 * SHA-256 of that text; the texts live once each in recorded_sources. A row
 * whose recording is NULL never finished in its process (or failed before
 * any code ran) and is not replayed.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import type { ExpectedOutcome, Recording, ReplayStep, RunRequest } from "../runtime/types";
import type { Limits, StartupMode } from "./model";
import type { ExecutionStore, RecordedExecution, RecordedSource, SessionStore } from "./ports";
import type { WorktreeFile } from "./worktree";

interface StoredRecording {
  /** The recording, its imports' sources as hashes. */
  r?: Recording;
  /** The run-file's or startup file's source, as a hash. */
  entry?: string;
  mode?: StartupMode;
  /** The isolate was replaced after this execution (a restart): what came before is gone. */
  restart?: true;
}

/** The recording of an execution that received nothing from outside (most REPL snippets): made once. */
const EMPTY = serialize({});
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Turns runs' recordings into rows' bytes; remembers which sources are stored, so a file run again is not sent again. */
export class RecordingWriter {
  private readonly known = new Set<string>();

  encode(
    recording: Recording | undefined,
    file: WorktreeFile | undefined,
    mode: StartupMode | undefined,
    restart: boolean,
  ): { bytes: Uint8Array; sources: RecordedSource[] } {
    if (!recording && !file && !restart) return { bytes: EMPTY, sources: [] };
    const sources: RecordedSource[] = [];
    const hashOf = (text: string) => {
      const hash = sha256(text);
      if (!this.known.has(hash) && !sources.some((s) => s.hash === hash)) sources.push({ hash, text });
      return hash;
    };
    const stored: StoredRecording = {};
    if (recording) {
      stored.r = recording.imports
        ? { ...recording, imports: recording.imports.map(([from, spec, rel, text]) => [from, spec, rel, rel ? hashOf(text) : text]) }
        : recording;
    }
    if (file) stored.entry = hashOf(file.source);
    if (mode) stored.mode = mode;
    if (restart) stored.restart = true;
    return { bytes: serialize(stored), sources };
  }

  /** The sources of a finish that was stored. */
  stored(sources: RecordedSource[]): void {
    if (this.known.size > 100_000) this.known.clear();
    for (const s of sources) this.known.add(s.hash);
  }
}

/** What a restore or a fork runs, and how to name a step that diverges. */
export interface ReplayPlan {
  steps: ReplayStep[];
  /** "execution N" (of a fork's source: "execution N of session S"), by step. */
  labels: string[];
  /** Some executions were stopped partway: the state after them may differ. */
  partial: boolean;
  /** Set when the history cannot be replayed: why. */
  notRestorable?: string;
  /** The highest execution number of the session itself (0: none). */
  lastNumber: number;
}

interface PlanSource {
  sessions: Pick<SessionStore, "get">;
  executions: Pick<ExecutionStore, "listRecorded" | "loadSources">;
}

/**
 * The executions that rebuild `sessionId`'s state right after execution
 * `upTo` (all of them without it): those since its last restart, and for a
 * fork that has not restarted since, its source's up to the fork point first.
 */
export async function planReplay(
  from: PlanSource,
  sessionId: string,
  worktree: string,
  limits: Pick<Limits, "cpuMs" | "wallMs">,
  upTo?: number,
  /** Planning a fork's source: steps are named with their session. */
  nested = false,
): Promise<ReplayPlan> {
  const session = await from.sessions.get(sessionId);
  if (!session) return { steps: [], labels: [], partial: false, notRestorable: `session ${sessionId} is not in the store`, lastNumber: 0 };
  const rows = await from.executions.listRecorded(sessionId, upTo);
  const decoded = rows.map((row) => ({ row, stored: row.recording ? (deserialize(row.recording) as StoredRecording) : undefined }));
  let start = 0;
  decoded.forEach(({ stored }, i) => {
    if (stored?.restart) start = i + 1;
  });
  const prefix =
    start === 0 && session.forkedFromSessionId
      ? await planReplay(from, session.forkedFromSessionId, worktree, limits, session.forkedFromExecutionNumber, true)
      : { steps: [], labels: [], partial: false, lastNumber: 0 };
  const plan: ReplayPlan = { ...prefix, steps: [...prefix.steps], labels: [...prefix.labels], lastNumber: rows.length ? rows[rows.length - 1].number : 0 };
  if (plan.notRestorable) return plan;
  // Code ran and left its mark, but nothing was recorded (a server with --session-restore off, or one older
  // than recordings): replaying around it would build another state, silently.
  const gap = decoded.slice(start).find(({ row, stored }) => !stored && ranCode(row));
  if (gap) return { ...plan, notRestorable: `execution ${gap.row.number} ran without a recording (a server that recorded nothing ran it)` };
  const own = decoded.slice(start).filter((d): d is { row: RecordedExecution; stored: StoredRecording } => d.stored !== undefined);
  const overflow = own.find(({ stored }) => stored.r?.overflow);
  if (overflow) return { ...plan, notRestorable: `execution ${overflow.row.number}'s recording passed its cap (${overflow.stored.r!.overflow})` };
  const hashes = own.flatMap(({ stored }) => [...(stored.entry ? [stored.entry] : []), ...(stored.r?.imports ?? []).filter((i) => i[2]).map((i) => i[3])]);
  const texts = hashes.length ? await from.executions.loadSources(hashes) : new Map<string, string>();
  const text = (hash: string) => {
    const found = texts.get(hash);
    if (found === undefined) throw new Error(`recorded source ${hash} is missing from the store`);
    return found;
  };
  for (const { row, stored } of own) {
    const recording = stored.r?.imports ? { ...stored.r, imports: stored.r.imports.map(([f, s, rel, h]) => [f, s, rel, rel ? text(h) : h]) } : (stored.r ?? {});
    let request: RunRequest;
    if (row.kind === "REPL") request = { kind: "repl", code: row.input };
    else {
      const file = { abs: join(worktree, row.path), rel: row.path, source: text(stored.entry ?? "") };
      request = { kind: "file", file, options: { args: row.args, env: row.env, mode: stored.mode } };
    }
    plan.steps.push({
      number: row.number,
      request,
      limits: { cpuMs: limits.cpuMs, wallMs: limits.wallMs },
      recording: recording as Recording,
      expect: expected(row),
    });
    plan.labels.push(nested ? `execution ${row.number} of session ${sessionId}` : `execution ${row.number}`);
    if (row.status === "TIMEOUT" || row.status === "CANCELLED" || row.error?.code === "OUTPUT_LIMIT_EXCEEDED") plan.partial = true;
  }
  return plan;
}

/**
 * Whether a finished execution ran its code to an end that a recording
 * would have kept. Not the stopped ones: a timeout or cancel that took the
 * isolate with it, or a lost host, leaves no recording and nothing to replay.
 */
function ranCode(row: RecordedExecution): boolean {
  return row.status === "OK" || row.error?.code === "EXCEPTION" || row.error?.code === "OUTPUT_LIMIT_EXCEEDED";
}

function expected(row: RecordedExecution): ExpectedOutcome {
  if (row.status === "OK" && row.result) return { kind: "value", type: row.result.type, preview: row.result.preview };
  if (row.status === "TIMEOUT") return { kind: "timeout" };
  if (row.status === "CANCELLED") return { kind: "cancelled" };
  if (row.error?.code === "EXCEPTION") return { kind: "exception", message: row.error.message };
  if (row.error?.code === "OUTPUT_LIMIT_EXCEEDED") return { kind: "output-limit" };
  return { kind: "other" };
}
