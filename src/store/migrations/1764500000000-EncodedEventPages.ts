import { MigrationInterface, QueryRunner } from "typeorm";
import type { ExecutionEvent } from "../../core/model";
import type { EventEncoding } from "../../core/ports";
import { qualifiedTable } from "../sql";

/** Pages converted per round of `down`. */
const DOWN_PAGES = 100;

/**
 * event_pages.encoded: a page's events as the transport sends them
 * (core/ports.ts EventEncoding), in place of their JSON, which is left
 * empty (see store/event-pages.ts). Pages stored before it keep their JSON
 * and a NULL here. `down` writes the JSON of the pages that have none: it
 * needs the encoding to read them, so the migration is made with it.
 */
export function encodedEventPages(encoding?: EventEncoding) {
  return class EncodedEventPages1764500000000 implements MigrationInterface {
    name = "EncodedEventPages1764500000000";

    async up(q: QueryRunner): Promise<void> {
      const bytes = q.connection.options.type === "postgres" ? "bytea" : "blob";
      await q.query(`ALTER TABLE ${qualifiedTable(q.connection, "event_pages")} ADD COLUMN encoded ${bytes} NULL`);
    }

    async down(q: QueryRunner): Promise<void> {
      const pages = qualifiedTable(q.connection, "event_pages");
      const p = (n: number) => (q.connection.options.type === "postgres" ? `$${n}` : "?");
      for (;;) {
        const rows: { execution_id: string; first_seq: number; last_seq: number; encoded: Uint8Array }[] = await q.query(
          `SELECT execution_id, first_seq, last_seq, encoded FROM ${pages} WHERE events = '' LIMIT ${DOWN_PAGES}`,
        );
        if (rows.length === 0) break;
        if (!encoding) throw new Error("event pages stored in their encoded form only: undoing this migration needs the event encoding");
        for (const row of rows) {
          const first = Number(row.first_seq);
          const events = Array.from(
            { length: Number(row.last_seq) - first + 1 },
            (_, i) => ({ executionId: row.execution_id, seq: first + i }) as ExecutionEvent,
          );
          if (!encoding.attach(events, row.encoded, 0)) throw new Error(`event page ${row.execution_id}/${row.last_seq} cannot be read`);
          const json = JSON.stringify(
            events.map((e) => {
              const { ts, payload } = encoding.read(e);
              return [ts, payload];
            }),
          );
          await q.query(`UPDATE ${pages} SET events = ${p(1)} WHERE execution_id = ${p(2)} AND last_seq = ${p(3)}`, [json, row.execution_id, row.last_seq]);
        }
      }
      await q.query(`ALTER TABLE ${pages} DROP COLUMN encoded`);
    }
  };
}
