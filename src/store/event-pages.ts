import type { EventPayload, ExecutionEvent } from "../core/model";
import type { EventEncoding } from "../core/ports";
import type { HotSql, Statement } from "./sql";

/**
 * A page ends past this many characters of JSON, whatever its event count:
 * output can reach 1 GiB (max_output_kb), and one row must stay well under
 * the databases' 1 GB per value.
 */
const PAGE_MAX_CHARS = 1024 * 1024;

/**
 * The statements that store a batch of events: one page row per run of
 * consecutive seq (a recorder batch is one run, unless it is very large),
 * with the run's encoded form when there is an encoding.
 */
export function eventPageStatements(sql: HotSql, events: ExecutionEvent[], encoding?: EventEncoding): Statement[] {
  const statements: Statement[] = [];
  const insert = `INSERT INTO ${sql.table("event_pages")} (execution_id, last_seq, first_seq, events, encoded) VALUES (?, ?, ?, ?, ?)`;
  let first = 0;
  let json = "";
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    // Built as one string: no array of pairs to collect.
    json += (i > first ? ",[" : "[[") + e.ts + "," + payloadJson(e.payload) + "]";
    const next = events[i + 1];
    if (next && next.seq === e.seq + 1 && next.executionId === e.executionId && json.length < PAGE_MAX_CHARS) continue;
    const encoded = encoding?.pack(first === 0 && i === events.length - 1 ? events : events.slice(first, i + 1)) ?? null;
    statements.push([insert, [events[first].executionId, e.seq, events[first].seq, json + "]", encoded]]);
    first = i + 1;
    json = "";
  }
  return statements;
}

/** JSON.stringify(payload), with a console line's written by hand: half the time of the generic path, and a flood is 100k of them. */
function payloadJson(p: EventPayload): string {
  return p.type === "CONSOLE" ? `{"type":"CONSOLE","level":${JSON.stringify(p.level)},"text":${JSON.stringify(p.text)}}` : JSON.stringify(p);
}

interface PageRow {
  first_seq: number;
  last_seq: number;
  events: string;
  encoded: Uint8Array | null;
}

/**
 * Up to `limit` events of one execution with seq > afterSeq, ascending.
 * Only the pages that hold them are read. Events of a page with an encoded
 * form get their bytes from it and parse the page's JSON only if something
 * reads their ts or payload: a replay reads neither.
 */
export async function readEvents(sql: HotSql, executionId: string, afterSeq: number, limit: number, encoding?: EventEncoding): Promise<ExecutionEvent[]> {
  const select = `SELECT first_seq, last_seq, events, encoded FROM ${sql.table("event_pages")} WHERE execution_id = ? AND last_seq > ? AND first_seq <= ? ORDER BY last_seq`;
  const out: ExecutionEvent[] = [];
  let after = afterSeq;
  while (out.length < limit) {
    // Seqs are consecutive, so one read finds them all; a gap means another read.
    const pages = await sql.query<PageRow>(select, [executionId, after, after + limit - out.length]);
    if (pages.length === 0) break;
    for (const row of pages) {
      const firstSeq = Number(row.first_seq);
      const from = Math.max(0, after + 1 - firstSeq);
      const count = Math.min(Number(row.last_seq) - firstSeq + 1 - from, limit - out.length);
      if (count <= 0) continue;
      const page = new StoredPage(row.events);
      const events = Array.from({ length: count }, (_, i): ExecutionEvent => new StoredEvent(executionId, firstSeq + from + i, page, from + i));
      const attached = row.encoded !== null && encoding !== undefined && encoding.attach(events, row.encoded, from);
      for (const e of events) out.push(attached ? e : { executionId, seq: e.seq, ts: e.ts, payload: e.payload });
      after = firstSeq + from + count - 1;
      if (out.length >= limit) break;
    }
  }
  return out;
}

/** A page's `[ts, payload]` pairs, parsed once, on first need. */
class StoredPage {
  private entries?: [number, EventPayload][];
  constructor(private readonly json: string) {}

  parse(): [number, EventPayload][] {
    return (this.entries ??= JSON.parse(this.json) as [number, EventPayload][]);
  }
}

/**
 * A stored event with its bytes attached; its ts and payload come from its
 * page's JSON when first read. (Getters: a spread copy would not have them;
 * nothing copies events so.)
 */
class StoredEvent implements ExecutionEvent {
  constructor(
    readonly executionId: string,
    readonly seq: number,
    private readonly page: StoredPage,
    private readonly index: number,
  ) {}

  get ts(): number {
    return Number(this.page.parse()[this.index][0]);
  }

  get payload(): EventPayload {
    return this.page.parse()[this.index][1];
  }
}
