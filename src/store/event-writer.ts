import type { EventPayload, EventType, ExecutionEvent } from "../core/model";
import type { EventEntity } from "./entities/event.entity";
import type { HotSql, Statement } from "./sql";

type Row = [executionId: string, seq: number, ts: number, type: EventType, payload: string];

function eventToRow(e: ExecutionEvent): Row {
  const { type, ...rest } = e.payload;
  return [e.executionId, e.seq, e.ts, type, JSON.stringify(rest)];
}

export function eventFromRow(row: EventEntity): ExecutionEvent {
  return { executionId: row.executionId, seq: row.seq, ts: row.ts, payload: { type: row.type, ...JSON.parse(row.payload) } as EventPayload };
}

/**
 * The statements that store a batch of events: on SQLite one prepared
 * single-row INSERT per event (run inside the caller's transaction, ~1 µs
 * each), on PostgreSQL one INSERT … SELECT FROM unnest(arrays) per batch
 * (one round trip however large the batch).
 */
export function eventStatements(sql: HotSql, events: ExecutionEvent[]): Statement[] {
  if (events.length === 0) return [];
  const rows = events.map(eventToRow);
  const table = sql.table("events");
  if (sql.dialect === "sqlite") {
    const insert = `INSERT INTO ${table} (execution_id, seq, ts, type, payload) VALUES (?, ?, ?, ?, ?)`;
    return rows.map((row) => [insert, row]);
  }
  const columns: unknown[][] = [[], [], [], [], []];
  for (const row of rows) for (let i = 0; i < 5; i++) columns[i].push(row[i]);
  return [[`INSERT INTO ${table} (execution_id, seq, ts, type, payload) SELECT * FROM unnest(?::varchar[], ?::int[], ?::bigint[], ?::varchar[], ?::text[])`, columns]];
}
