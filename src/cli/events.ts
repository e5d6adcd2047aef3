import type { ClientReadableStream } from "@grpc/grpc-js";
import { ExecutionEvent } from "../../gen/vmsystem/v1/execution";
import type { OutputMode } from "./output";

/**
 * The max_batch the CLI's streams ask for: the server's cap (README,
 * Batched streams), so a flood of events crosses in as few messages as the
 * server allows. Batching never delays an event, so live output is as prompt.
 */
export const STREAM_MAX_BATCH = 1000;

/** A TailEvents or WatchSession response. */
interface EventMessage {
  event?: ExecutionEvent;
  events: ExecutionEvent[];
}

/**
 * The events one stream message carries: a batch in `events`, or a single
 * `event` from a server that predates batches and ignores max_batch.
 */
export function eventsOf(single: ExecutionEvent | undefined, batch: ExecutionEvent[] | undefined): ExecutionEvent[] {
  return single ? [single] : (batch ?? []);
}

/** What a terminal REPL shows for one event, and whether it goes to stderr; nothing for an input echo. */
function rendered(e: ExecutionEvent): { text: string; toStderr: boolean } | undefined {
  if (e.console) return { text: e.console.text, toStderr: e.console.level === "error" || e.console.level === "warn" };
  if (e.value) return { text: e.value.preview, toStderr: false };
  if (e.exception) return { text: e.exception.stack || `${e.exception.name}: ${e.exception.message}`, toStderr: true };
  if (e.system) return { text: `[${e.system.level}] ${e.system.message}`, toStderr: true };
  return undefined;
}

/**
 * Prints events the way a terminal REPL would, a line each. Consecutive
 * lines for the same stream go out in one write, so a batch of a thousand
 * console lines costs one write instead of a thousand; stdout and stderr
 * lines keep their order relative to each other.
 */
export function printEvents(events: ExecutionEvent[]): void {
  let pending = "";
  let pendingToStderr = false;
  const flush = () => {
    if (pending) (pendingToStderr ? process.stderr : process.stdout).write(pending);
    pending = "";
  };
  for (const e of events) {
    const line = rendered(e);
    if (!line) continue;
    if (line.toStderr !== pendingToStderr) flush();
    pendingToStderr = line.toStderr;
    pending += line.text + "\n";
  }
  flush();
}

/**
 * Prints a TailEvents or WatchSession stream as it comes: each event as
 * printEvents does (human), or one JSON line per event, `{"event": …}`,
 * whether the server sent it alone or in a batch (json).
 */
export function printStream(call: ClientReadableStream<EventMessage>, out: OutputMode): Promise<void> {
  return new Promise((resolve, reject) => {
    call.on("data", (m: EventMessage) => {
      const events = eventsOf(m.event, m.events);
      if (out === "human") return printEvents(events);
      if (events.length > 0) process.stdout.write(events.map((e) => JSON.stringify({ event: ExecutionEvent.toJSON(e) }) + "\n").join(""));
    });
    call.on("error", reject);
    call.on("end", () => resolve());
  });
}
