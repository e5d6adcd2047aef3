import { DataSource, In } from "typeorm";
import type { Session, SessionStatus, TemplateSnapshot } from "../core/model";
import type { Cursor } from "../core/pagination";
import type { SessionPatch, SessionStore } from "../core/ports";
import { SessionEntity } from "./entities/session.entity";

export class TypeormSessionStore implements SessionStore {
  constructor(private readonly db: DataSource) {}

  private get repo() {
    return this.db.getRepository(SessionEntity);
  }

  async insert(session: Session, template: TemplateSnapshot): Promise<void> {
    await this.repo.insert({ ...session, templateSnapshot: template as never });
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
    const result = await this.repo.update({ id }, patch);
    if (result.affected === 0) throw new Error(`session ${id} vanished from the store`);
  }

  async closeOrphans(lastError: string, now: number): Promise<number> {
    const result = await this.repo.update({ status: In(["STARTING", "READY"]) }, { status: "CLOSED", lastError, closedAt: now });
    return result.affected ?? 0;
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
    createdAt: e.createdAt,
    closedAt: e.closedAt,
    lastActivityAt: e.lastActivityAt,
  };
}
