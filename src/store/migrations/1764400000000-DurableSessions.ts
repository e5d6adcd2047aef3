import { MigrationInterface, QueryRunner, Table, TableColumn } from "typeorm";

/**
 * Durable sessions (SPEC, Durable sessions and forks):
 *  - executions.recording: what each execution received from outside its
 *    isolate (runtime/types.ts Recording, v8-serialized: byte arrays and
 *    `undefined` survive, which JSON would not keep); NULL for an execution
 *    that never finished in its process, which a restore does not replay;
 *  - recorded_sources: the text of every file an execution ran or imported,
 *    once per distinct content (by SHA-256), which recordings name;
 *  - sessions: restore_count and where a fork came from.
 */
export class DurableSessions1764400000000 implements MigrationInterface {
  name = "DurableSessions1764400000000";

  async up(q: QueryRunner): Promise<void> {
    const bytes = q.connection.options.type === "postgres" ? "bytea" : "blob";
    await q.addColumn("executions", new TableColumn({ name: "recording", type: bytes, isNullable: true }));
    await q.addColumns("sessions", [
      new TableColumn({ name: "restore_count", type: "integer", default: 0 }),
      new TableColumn({ name: "forked_from_session_id", type: "varchar", length: "36", default: "''" }),
      new TableColumn({ name: "forked_from_execution_number", type: "integer", default: 0 }),
    ]);
    await q.createTable(
      new Table({
        name: "recorded_sources",
        columns: [
          { name: "hash", type: "varchar", length: "64", isPrimary: true },
          { name: "source", type: "text" },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable("recorded_sources");
    await q.dropColumns("sessions", ["restore_count", "forked_from_session_id", "forked_from_execution_number"]);
    await q.dropColumn("executions", "recording");
  }
}
