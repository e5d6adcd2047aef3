import { DataSource } from "typeorm";
import type { Session, SessionStatus, TemplateSnapshot } from "../core/model";
import type { Cursor } from "../core/pagination";
import type { SessionPatch, SessionStore } from "../core/ports";
import { SessionEntity } from "./entities/session.entity";
import { openHotSql, type HotSql } from "./sql";

/** Reads through TypeORM; the writes every session start and execution make take the raw path (see sql.ts). */
export class TypeormSessionStore implements SessionStore {
  private readonly sql: HotSql;

  constructor(private readonly db: DataSource) {
    this.sql = openHotSql(db);
  }

  private get repo() {
    return this.db.getRepository(SessionEntity);
  }

  async insert(s: Session, template: TemplateSnapshot): Promise<void> {
    await this.sql.transaction([
      [
        `INSERT INTO ${this.sql.table("sessions")} (id, template_id, workspace_id, base_commit_oid, worktree_path, status, last_error, restart_count, restore_count, forked_from_session_id, forked_from_execution_number, template_snapshot, created_at, closed_at, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          s.id,
          s.templateId,
          s.workspaceId,
          s.baseCommitOid,
          s.worktreePath,
          s.status,
          s.lastError,
          s.restartCount,
          s.restoreCount,
          s.forkedFromSessionId,
          s.forkedFromExecutionNumber,
          JSON.stringify(template),
          s.createdAt,
          s.closedAt,
          s.lastActivityAt,
        ],
      ],
    ]);
  }

  async get(id: string): Promise<Session | undefined> {
    const row = await this.repo.findOneBy({ id });
    return row ? toSession(row) : undefined;
  }

  async list(limit: number, after: Cursor | undefined, status: SessionStatus | undefined): Promise<Session[]> {
    const qb = this.repo.createQueryBuilder("s");
    if (status) qb.andWhere("s.status = :status", { status });
    if (after) qb.andWhere("(s.created_at < :key OR (s.created_at = :key AND s.id < :id))", { key: after.key, id: after.id });
    const rows = await qb.orderBy("s.created_at", "DESC").addOrderBy("s.id", "DESC").limit(limit).getMany();
    return rows.map(toSession);
  }

  async update(id: string, patch: SessionPatch): Promise<void> {
    const columns: Record<keyof SessionPatch, string> = {
      status: "status",
      lastError: "last_error",
      restartCount: "restart_count",
      restoreCount: "restore_count",
      closedAt: "closed_at",
      lastActivityAt: "last_activity_at",
    };
    const keys = (Object.keys(patch) as (keyof SessionPatch)[]).filter((k) => patch[k] !== undefined);
    if (keys.length === 0) return;
    const [changed] = await this.sql.transaction([
      [`UPDATE ${this.sql.table("sessions")} SET ${keys.map((k) => `${columns[k]} = ?`).join(", ")} WHERE id = ?`, [...keys.map((k) => patch[k]), id]],
    ]);
    if (changed === 0) throw new Error(`session ${id} vanished from the store`);
  }

  async closeOrphans(lastError: string, now: number, statuses: SessionStatus[] = ["STARTING", "READY", "RESTORING"]): Promise<number> {
    const sessions = this.sql.table("sessions");
    const [count] = await this.sql.transaction([
      [
        `UPDATE ${sessions} AS s SET status = 'CLOSED', last_error = ?, closed_at = ?, last_activity_at = COALESCE(
           (SELECT MAX(COALESCE(e.ended_at, e.started_at)) FROM ${this.sql.table("executions")} e WHERE e.session_id = s.id AND COALESCE(e.ended_at, e.started_at) > s.last_activity_at),
           s.last_activity_at)
         WHERE s.status IN (${statuses.map(() => "?").join(", ")})`,
        [lastError, now, ...statuses],
      ],
    ]);
    return count;
  }

  async listRestorable(): Promise<string[]> {
    const rows = await this.sql.query<{ id: string }>(
      `SELECT id FROM ${this.sql.table("sessions")} WHERE status IN ('READY', 'RESTORING') ORDER BY created_at`,
      [],
    );
    return rows.map((r) => r.id);
  }

  async template(id: string): Promise<TemplateSnapshot | undefined> {
    const row = await this.repo.findOne({ where: { id }, select: { id: true, templateSnapshot: true } });
    return row?.templateSnapshot;
  }
}

function toSession(e: SessionEntity): Session {
  return {
    id: e.id,
    templateId: e.templateId,
    workspaceId: e.workspaceId,
    baseCommitOid: e.baseCommitOid,
    worktreePath: e.worktreePath,
    status: e.status,
    lastError: e.lastError,
    restartCount: e.restartCount,
    restoreCount: e.restoreCount,
    forkedFromSessionId: e.forkedFromSessionId,
    forkedFromExecutionNumber: e.forkedFromExecutionNumber,
    createdAt: e.createdAt,
    closedAt: e.closedAt,
    lastActivityAt: e.lastActivityAt,
  };
}
