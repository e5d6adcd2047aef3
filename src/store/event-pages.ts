import type { EventPayload, ExecutionEvent } from "../core/model";
import type { EventEncoding } from "../core/ports";
import type { HotSql, Statement } from "./sql";

/**
 * A page ends past about this many characters of event text, whatever its
 * event count: output can reach 1 GiB (max_output_kb), and one row must
 * stay well under the databases' 1 GB per value.
 */
const PAGE_MAX_CHARS = 1024 * 1024;

/**
 * The statements that store a batch of events: one page row per run of
 * consecutive seq (a recorder batch is one run, unless it is very large),
 * its events in the encoded form only (`events` is left empty): writing
 * them as JSON too cost a flood a sixth of the server's thread.
 */
export function eventPageStatements(sql: HotSql, events: ExecutionEvent[], encoding: EventEncoding): Statement[] {
  const statements: Statement[] = [];
  const insert = `INSERT INTO ${sql.table("event_pages")} (execution_id, last_seq, first_seq, events, encoded) VALUES (?, ?, ?, ?, ?)`;
  let first = 0;
  let chars = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    chars += payloadChars(e.payload);
    const next = events[i + 1];
    if (next && next.seq === e.seq + 1 && next.executionId === e.executionId && chars < PAGE_MAX_CHARS) continue;
    const encoded = encoding.pack(first === 0 && i === events.length - 1 ? events : events.slice(first, i + 1));
    statements.push([insert, [events[first].executionId, e.seq, events[first].seq, "", encoded]]);
    first = i + 1;
    chars = 0;
  }
  return statements;
}

/** About how many characters an event's payload holds. */
function payloadChars(p: EventPayload): number {
  switch (p.type) {
    case "CONSOLE":
      return p.level.length + p.text.length;
    case "INPUT_ECHO":
      return p.text.length;
    case "SYSTEM":
      return p.level.length + p.message.length;
    default:
      return JSON.stringify(p).length;
  }
}

/** Seqs are `integer` columns. */
const MAX_SEQ = 2_147_483_647;

interface PageRow {
  first_seq: number;
  last_seq: number;
  events: string;
  encoded: Uint8Array | null;
}

/**
 * Up to `limit` events of one execution with seq > afterSeq, ascending.
 * Only the pages that hold them are read. Events of an encoded page get
 * their bytes from it, and read their ts and payload from those bytes only
 * if something asks: a replay does not. Pages stored before the encoded
 * form (`encoded` NULL) are read from their JSON.
 */
export async function readEvents(sql: HotSql, executionId: string, afterSeq: number, limit: number, encoding: EventEncoding): Promise<ExecutionEvent[]> {
  const select = `SELECT first_seq, last_seq, events, encoded FROM ${sql.table("event_pages")} WHERE execution_id = ? AND last_seq > ? AND first_seq <= ? ORDER BY last_seq`;
  const out: ExecutionEvent[] = [];
  let after = afterSeq;
  while (out.length < limit) {
    // Seqs are consecutive, so one read finds them all; a gap means another read.
    // Capped at the largest seq a column holds: PostgreSQL refuses a larger integer parameter.
    const pages = await sql.query<PageRow>(select, [executionId, after, Math.min(after + limit - out.length, MAX_SEQ)]);
    if (pages.length === 0) break;
    for (const row of pages) {
      const firstSeq = Number(row.first_seq);
      const from = Math.max(0, after + 1 - firstSeq);
      const count = Math.min(Number(row.last_seq) - firstSeq + 1 - from, limit - out.length);
      if (count <= 0) continue;
      for (const e of pageEvents(row, executionId, firstSeq, from, count, encoding)) out.push(e);
      after = firstSeq + from + count - 1;
      if (out.length >= limit) break;
    }
  }
  return out;
}

/** `count` events of a page from its entry `from`. */
function pageEvents(row: PageRow, executionId: string, firstSeq: number, from: number, count: number, encoding: EventEncoding): ExecutionEvent[] {
  if (row.encoded !== null) {
    const events = Array.from({ length: count }, (_, i): ExecutionEvent => new StoredEvent(executionId, firstSeq + from + i, encoding));
    if (encoding.attach(events, row.encoded, from)) return events;
  }
  if (!row.events) {
    const last = Number(row.last_seq);
    throw new Error(`the stored events ${firstSeq}-${last} of execution ${executionId} cannot be read: their page does not hold them as written`);
  }
  const entries = JSON.parse(row.events) as [number, EventPayload][];
  return Array.from({ length: count }, (_, i) => ({ executionId, seq: firstSeq + from + i, ts: Number(entries[from + i][0]), payload: entries[from + i][1] }));
}

/**
 * An event of an encoded page: its bytes are attached, its ts and payload
 * read from them when first asked for. (Getters: a spread copy would not
 * have them; nothing copies events so.)
 */
class StoredEvent implements ExecutionEvent {
  private contents?: Pick<ExecutionEvent, "ts" | "payload">;

  constructor(
    readonly executionId: string,
    readonly seq: number,
    private readonly encoding: EventEncoding,
  ) {}

  get ts(): number {
    return (this.contents ??= this.encoding.read(this)).ts;
  }

  get payload(): EventPayload {
    return (this.contents ??= this.encoding.read(this)).payload;
  }
}
