import { MigrationInterface, QueryRunner } from "typeorm";
import { qualifiedTable } from "../sql";

/**
 * Durable sessions (SPEC, Durable sessions and forks):
 *  - executions.recording: what each execution received from outside its
 *    isolate (runtime/types.ts Recording, v8-serialized: byte arrays and
 *    `undefined` survive, which JSON would not keep); NULL for an execution
 *    that never finished in its process, which a restore does not replay;
 *  - recorded_sources: the text of every file an execution ran or imported,
 *    once per distinct content (by SHA-256), which recordings name;
 *  - sessions: restore_count and where a fork came from.
 *
 * Plain ALTER TABLE on both databases: TypeORM's SQLite column changes copy
 * the table into a new one and drop the old, and dropping `executions`
 * cascades to every event page that references it.
 */
export class DurableSessions1764400000000 implements MigrationInterface {
  name = "DurableSessions1764400000000";

  async up(q: QueryRunner): Promise<void> {
    const t = (name: string) => qualifiedTable(q.connection, name);
    const bytes = q.connection.options.type === "postgres" ? "bytea" : "blob";
    await q.query(`ALTER TABLE ${t("executions")} ADD COLUMN recording ${bytes} NULL`);
    await q.query(`ALTER TABLE ${t("sessions")} ADD COLUMN restore_count integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE ${t("sessions")} ADD COLUMN forked_from_session_id varchar(36) NOT NULL DEFAULT ''`);
    await q.query(`ALTER TABLE ${t("sessions")} ADD COLUMN forked_from_execution_number integer NOT NULL DEFAULT 0`);
    await q.query(`CREATE TABLE ${t("recorded_sources")} (hash varchar(64) PRIMARY KEY NOT NULL, source text NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    const t = (name: string) => qualifiedTable(q.connection, name);
    await q.query(`DROP TABLE ${t("recorded_sources")}`);
    for (const column of ["restore_count", "forked_from_session_id", "forked_from_execution_number"]) {
      await q.query(`ALTER TABLE ${t("sessions")} DROP COLUMN ${column}`);
    }
    await q.query(`ALTER TABLE ${t("executions")} DROP COLUMN recording`);
  }
}
