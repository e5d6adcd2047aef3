import { MigrationInterface, QueryRunner, Table, TableForeignKey, TableIndex } from "typeorm";

const id = { name: "id", type: "varchar", length: "36", isPrimary: true };
const templateRef = { name: "template_id", type: "varchar", length: "36" };
const createdAt = { name: "created_at", type: "bigint" };
const cascadeToTemplate = () =>
  new TableForeignKey({ columnNames: ["template_id"], referencedTableName: "templates", referencedColumnNames: ["id"], onDelete: "CASCADE" });

/**
 * The whole schema, designed once for both dialects with TypeORM's Table API
 * (no dialect SQL). Times are epoch-ms BIGINTs, JSON lives in TEXT.
 */
export class InitialSchema1764100000000 implements MigrationInterface {
  name = "InitialSchema1764100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: "templates",
        columns: [
          id,
          { name: "name", type: "varchar", length: "200" },
          { name: "engine", type: "varchar", length: "50" },
          { name: "settings", type: "text" },
          createdAt,
          { name: "updated_at", type: "bigint" },
        ],
        indices: [new TableIndex({ name: "idx_templates_created", columnNames: ["created_at", "id"] })],
      }),
    );
    await q.createTable(
      new Table({
        name: "startup_files",
        columns: [
          id,
          templateRef,
          { name: "path", type: "text" },
          { name: "order_index", type: "integer" },
          { name: "mode", type: "varchar", length: "20" },
          createdAt,
        ],
        indices: [new TableIndex({ name: "idx_startup_files_template", columnNames: ["template_id", "order_index"] })],
        foreignKeys: [cascadeToTemplate()],
      }),
    );
    await q.createTable(
      new Table({
        name: "capabilities",
        columns: [
          id,
          templateRef,
          { name: "kind", type: "varchar", length: "20" },
          { name: "name", type: "varchar", length: "200" },
          { name: "enabled", type: "boolean" },
          { name: "config", type: "text" },
          createdAt,
        ],
        indices: [new TableIndex({ name: "idx_capabilities_template", columnNames: ["template_id", "created_at"] })],
        foreignKeys: [cascadeToTemplate()],
      }),
    );
    for (const [name, extra] of [
      ["template_modules", []],
      ["template_libraries", [{ name: "version", type: "varchar", length: "50" }]],
    ] as const) {
      await q.createTable(
        new Table({
          name,
          columns: [{ ...templateRef, isPrimary: true }, { name: "name", type: "varchar", length: "100", isPrimary: true }, ...extra, createdAt],
          foreignKeys: [cascadeToTemplate()],
        }),
      );
    }
    await q.createTable(
      new Table({
        name: "sessions",
        columns: [
          id,
          templateRef,
          { name: "workspace_id", type: "varchar", length: "200" },
          { name: "base_commit_oid", type: "varchar", length: "200" },
          { name: "worktree_path", type: "text" },
          { name: "status", type: "varchar", length: "20" },
          { name: "last_error", type: "text", default: "''" },
          { name: "restart_count", type: "integer", default: 0 },
          { name: "template_snapshot", type: "text" },
          createdAt,
          { name: "closed_at", type: "bigint", isNullable: true },
          { name: "last_activity_at", type: "bigint" },
        ],
        indices: [
          new TableIndex({ name: "idx_sessions_created", columnNames: ["created_at", "id"] }),
          new TableIndex({ name: "idx_sessions_status_created", columnNames: ["status", "created_at", "id"] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: "executions",
        columns: [
          id,
          { name: "session_id", type: "varchar", length: "36" },
          { name: "number", type: "integer" },
          { name: "kind", type: "varchar", length: "20" },
          { name: "input", type: "text", default: "''" },
          { name: "path", type: "text", default: "''" },
          { name: "args", type: "text" },
          { name: "env", type: "text" },
          { name: "status", type: "varchar", length: "20" },
          { name: "request_id", type: "varchar", length: "200", isNullable: true },
          { name: "started_at", type: "bigint" },
          { name: "ended_at", type: "bigint", isNullable: true },
          { name: "result", type: "text", isNullable: true },
          { name: "error_code", type: "varchar", length: "50", isNullable: true },
          { name: "error_message", type: "text", isNullable: true },
          { name: "duration_ms", type: "integer", default: 0 },
          { name: "cpu_ms", type: "integer", default: 0 },
          { name: "event_count", type: "integer", default: 0 },
          { name: "output_bytes", type: "integer", default: 0 },
        ],
        indices: [
          new TableIndex({ name: "uq_executions_session_number", columnNames: ["session_id", "number"], isUnique: true }),
          new TableIndex({ name: "uq_executions_session_request", columnNames: ["session_id", "request_id"], isUnique: true }),
          new TableIndex({ name: "idx_executions_status", columnNames: ["status"] }),
        ],
        foreignKeys: [
          new TableForeignKey({ columnNames: ["session_id"], referencedTableName: "sessions", referencedColumnNames: ["id"], onDelete: "CASCADE" }),
        ],
      }),
    );
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
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ["events", "executions", "sessions", "template_libraries", "template_modules", "capabilities", "startup_files", "templates"]) {
      await q.dropTable(table);
    }
  }
}
