import type { EventPayload, ExecutionEvent } from "../core/model";
import type { HotSql, Statement } from "./sql";

/** How many pages one read asks for; a read stops as soon as it has `limit` events. */
const PAGES_PER_READ = 4;

/**
 * A page ends past this many characters of JSON, whatever its event count:
 * output can reach 1 GiB (max_output_kb), and one row must stay well under
 * the databases' 1 GB per value.
 */
const PAGE_MAX_CHARS = 1024 * 1024;

/**
 * The statements that store a batch of events: one page row per run of
 * consecutive seq (a recorder batch is one run, unless it is very large).
 */
export function eventPageStatements(sql: HotSql, events: ExecutionEvent[]): Statement[] {
  const statements: Statement[] = [];
  const insert = `INSERT INTO ${sql.table("event_pages")} (execution_id, last_seq, first_seq, events) VALUES (?, ?, ?, ?)`;
  let first = 0;
  let json = "";
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    // Built as one string: no array of pairs to collect.
    json += (i > first ? ",[" : "[[") + e.ts + "," + JSON.stringify(e.payload) + "]";
    const next = events[i + 1];
    if (next && next.seq === e.seq + 1 && next.executionId === e.executionId && json.length < PAGE_MAX_CHARS) continue;
    statements.push([insert, [events[first].executionId, e.seq, events[first].seq, json + "]"]]);
    first = i + 1;
    json = "";
  }
  return statements;
}

/** Up to `limit` events of one execution with seq > afterSeq, ascending. */
export async function readEvents(sql: HotSql, executionId: string, afterSeq: number, limit: number): Promise<ExecutionEvent[]> {
  const select = `SELECT first_seq, last_seq, events FROM ${sql.table("event_pages")} WHERE execution_id = ? AND last_seq > ? ORDER BY last_seq LIMIT ${PAGES_PER_READ}`;
  const out: ExecutionEvent[] = [];
  let after = afterSeq;
  while (out.length < limit) {
    const pages = await sql.query<{ first_seq: number; last_seq: number; events: string }>(select, [executionId, after]);
    for (const page of pages) {
      const entries = JSON.parse(page.events) as [number, EventPayload][];
      for (let i = Math.max(0, after + 1 - page.first_seq); i < entries.length && out.length < limit; i++) {
        out.push({ executionId, seq: page.first_seq + i, ts: Number(entries[i][0]), payload: entries[i][1] });
      }
      after = page.last_seq;
      if (out.length >= limit) break;
    }
    if (pages.length < PAGES_PER_READ) break;
  }
  return out;
}
