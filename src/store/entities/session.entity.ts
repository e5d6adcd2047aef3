import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { epochMs, jsonText } from "../columns";
import type { SessionStatus, TemplateSnapshot } from "../../core/model";

@Entity({ name: "sessions" })
@Index("idx_sessions_created", ["createdAt", "id"])
@Index("idx_sessions_status_created", ["status", "createdAt", "id"])
export class SessionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 })
  id: string;

  // No foreign key: deleting a template leaves its running sessions alone.
  @Column({ name: "template_id", type: "varchar", length: 36 })
  templateId: string;

  @Column({ name: "workspace_id", type: "varchar", length: 200 })
  workspaceId: string;

  @Column({ name: "base_commit_oid", type: "varchar", length: 200 })
  baseCommitOid: string;

  @Column({ name: "worktree_path", type: "text" })
  worktreePath: string;

  @Column({ type: "varchar", length: 20 })
  status: SessionStatus;

  @Column({ name: "last_error", type: "text", default: "" })
  lastError: string;

  @Column({ name: "restart_count", type: "integer", default: 0 })
  restartCount: number;

  @Column({ name: "restore_count", type: "integer", default: 0 })
  restoreCount: number;

  @Column({ name: "forked_from_session_id", type: "varchar", length: 36, default: "" })
  forkedFromSessionId: string;

  @Column({ name: "forked_from_execution_number", type: "integer", default: 0 })
  forkedFromExecutionNumber: number;

  /** The template as it was when the session started (restarts reuse it). */
  @Column({ name: "template_snapshot", type: "text", transformer: jsonText })
  templateSnapshot: TemplateSnapshot;

  @Column({ name: "created_at", type: "bigint", transformer: epochMs })
  createdAt: number;

  @Column({ name: "closed_at", type: "bigint", nullable: true, transformer: epochMs })
  closedAt: number | null;

  @Column({ name: "last_activity_at", type: "bigint", transformer: epochMs })
  lastActivityAt: number;
}
