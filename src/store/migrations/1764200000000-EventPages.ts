import { MigrationInterface, QueryRunner, Table, TableForeignKey } from "typeorm";
import { qualifiedTable } from "../sql";

/**
 * Events move from a row each to pages of consecutive events (see
 * EventPageEntity). Each stored event becomes a page of one; `down` expands
 * pages back into rows (the payload keeps its `type` member, which the old
 * reader ignored in favour of the column).
 */
export class EventPages1764200000000 implements MigrationInterface {
  name = "EventPages1764200000000";

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: "event_pages",
        columns: [
          { name: "execution_id", type: "varchar", length: "36", isPrimary: true },
          { name: "last_seq", type: "integer", isPrimary: true },
          { name: "first_seq", type: "integer" },
          { name: "events", type: "text" },
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ["execution_id"], referencedTableName: "executions", referencedColumnNames: ["id"], onDelete: "CASCADE" }),
        ],
      }),
    );
    // payload is a JSON object without `type` (unless `down` wrote it); the
    // page element is [ts, {"type": …, …payload}].
    const withType = `CASE WHEN substr(payload, 1, 8) = '{"type":' THEN payload ELSE '{"type":"' || type || '"' || CASE WHEN payload = '{}' THEN '}' ELSE ',' || substr(payload, 2) END END`;
    await q.query(
      `INSERT INTO ${qualifiedTable(q.connection, "event_pages")} (execution_id, last_seq, first_seq, events) ` +
        `SELECT execution_id, seq, seq, '[[' || CAST(ts AS varchar(20)) || ',' || ${withType} || ']]' FROM ${qualifiedTable(q.connection, "events")}`,
    );
    await q.dropTable("events");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: "events",
        columns: [
          { name: "execution_id", type: "varchar", length: "36", isPrimary: true },
          { name: "seq", type: "integer", isPrimary: true },
          { name: "ts", type: "bigint" },
          { name: "type", type: "varchar", length: "20" },
          { name: "payload", type: "text" },
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ["execution_id"], referencedTableName: "executions", referencedColumnNames: ["id"], onDelete: "CASCADE" }),
        ],
      }),
    );
    // PostgreSQL's json operators refuse to unescape \u0000, which a payload
    // may hold: its elements are taken apart as text ([ts,{"type":"…",…}]).
    const expand =
      q.connection.options.type === "postgres"
        ? `SELECT p.execution_id, p.first_seq + CAST(x.n AS integer) - 1, CAST(substring(e.v from '^\\[(-?[0-9]+),') AS bigint), ` +
          `substring(e.v from '^\\[-?[0-9]+,\\{"type":"([A-Z_]+)"'), substring(e.v from '^\\[-?[0-9]+,(.*)\\]$') ` +
          `FROM ${qualifiedTable(q.connection, "event_pages")} p CROSS JOIN LATERAL json_array_elements(CAST(p.events AS json)) WITH ORDINALITY AS x(j, n) CROSS JOIN LATERAL CAST(x.j AS text) AS e(v)`
        : `SELECT p.execution_id, p.first_seq + e.key, json_extract(e.value, '$[0]'), json_extract(e.value, '$[1].type'), json(json_extract(e.value, '$[1]')) ` +
          `FROM event_pages p, json_each(p.events) e`;
    await q.query(`INSERT INTO ${qualifiedTable(q.connection, "events")} (execution_id, seq, ts, type, payload) ${expand}`);
    await q.dropTable("event_pages");
  }
}
