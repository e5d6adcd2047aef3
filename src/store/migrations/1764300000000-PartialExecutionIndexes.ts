import { MigrationInterface, QueryRunner, TableIndex } from "typeorm";

/**
 * Two executions indexes only ever serve lookups of a few rows, yet every
 * execution paid for an entry in each (a B-tree page written per commit,
 * ~25 µs of a REPL's ~110 µs SQLite commit): `request_id` is looked up only
 * when set, `status` only for RUNNING rows (cancelOrphans at start). Partial
 * indexes keep those lookups and skip the entries nobody reads.
 */
export class PartialExecutionIndexes1764300000000 implements MigrationInterface {
  name = "PartialExecutionIndexes1764300000000";

  async up(q: QueryRunner): Promise<void> {
    await replace(q, "uq_executions_session_request", ["session_id", "request_id"], true, `"request_id" IS NOT NULL`);
    await replace(q, "idx_executions_status", ["status"], false, `"status" = 'RUNNING'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await replace(q, "uq_executions_session_request", ["session_id", "request_id"], true);
    await replace(q, "idx_executions_status", ["status"], false);
  }
}

async function replace(q: QueryRunner, name: string, columnNames: string[], isUnique: boolean, where?: string): Promise<void> {
  await q.dropIndex("executions", name);
  await q.createIndex("executions", new TableIndex({ name, columnNames, isUnique, where }));
}
