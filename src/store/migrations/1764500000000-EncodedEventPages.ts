import { MigrationInterface, QueryRunner } from "typeorm";
import { qualifiedTable } from "../sql";

/**
 * event_pages.encoded: each page's events as the transport sends them
 * (core/ports.ts EventEncoding), beside their JSON, so that a replay sends
 * stored bytes instead of parsing and encoding every event again. NULL for
 * pages stored before it (read from their JSON, as before). The JSON stays
 * what a page means: this column is derived from it and can be dropped.
 */
export class EncodedEventPages1764500000000 implements MigrationInterface {
  name = "EncodedEventPages1764500000000";

  async up(q: QueryRunner): Promise<void> {
    const bytes = q.connection.options.type === "postgres" ? "bytea" : "blob";
    await q.query(`ALTER TABLE ${qualifiedTable(q.connection, "event_pages")} ADD COLUMN encoded ${bytes} NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ${qualifiedTable(q.connection, "event_pages")} DROP COLUMN encoded`);
  }
}
