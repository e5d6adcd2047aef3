import type { EventPayload, ExecutionEvent } from "../core/model";
import type { HotSql, Statement } from "./sql";

/** How many pages one read asks for; a read stops as soon as it has `limit` events. */
const PAGES_PER_READ = 4;

/**
 * The statements that store a batch of events: one page row per run of
 * consecutive seq (a recorder batch is one run).
 */
export function eventPageStatements(sql: HotSql, events: ExecutionEvent[]): Statement[] {
  const statements: Statement[] = [];
  const insert = `INSERT INTO ${sql.table("event_pages")} (execution_id, last_seq, first_seq, events) VALUES (?, ?, ?, ?)`;
  let start = 0;
  for (let i = 1; i <= events.length; i++) {
    if (i < events.length && events[i].seq === events[i - 1].seq + 1 && events[i].executionId === events[start].executionId) continue;
    statements.push([insert, [events[start].executionId, events[i - 1].seq, events[start].seq, pageJson(events, start, i)]]);
    start = i;
  }
  return statements;
}

/** `[[ts, payload], …]` of events[from, to), built as one string (no array of pairs to collect). */
function pageJson(events: ExecutionEvent[], from: number, to: number): string {
  let json = "[";
  for (let i = from; i < to; i++) json += (i > from ? ",[" : "[") + events[i].ts + "," + JSON.stringify(events[i].payload) + "]";
  return json + "]";
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
