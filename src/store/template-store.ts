import { DataSource, EntityManager } from "typeorm";
import type { TemplateStore } from "../core/ports";
import type { Cursor } from "../core/pagination";
import type { Capability, CapabilityKind, StartupFile, StartupMode, Template, TemplateLibrary, TemplateModule, TemplateSettings } from "../core/model";
import { CapabilityEntity } from "./entities/capability.entity";
import { StartupFileEntity } from "./entities/startup-file.entity";
import { TemplateLibraryEntity } from "./entities/template-library.entity";
import { TemplateModuleEntity } from "./entities/template-module.entity";
import { TemplateEntity } from "./entities/template.entity";
import { openHotSql, type HotSql } from "./sql";

type Raw = Record<string, unknown>;

/** TypeORM implementation of the template port (both dialects). */
export class TypeormTemplateStore implements TemplateStore {
  private readonly sql: HotSql;

  /** The templates query (see templateSelects), by row filter. */
  private readonly select: Record<"byId" | "page" | "pageAfter", string>;

  constructor(private readonly db: DataSource) {
    this.sql = openHotSql(db);
    this.select = templateSelects(this.sql);
  }

  async insert(t: Template): Promise<void> {
    await this.db.getRepository(TemplateEntity).insert({
      id: t.id,
      name: t.name,
      engine: t.engine,
      settings: t.settings,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    });
  }

  /**
   * One template with its sub-resources in one prepared read (each child
   * table aggregated into a JSON array by a subquery), since every
   * CreateSession starts here: five reads cost four more round trips on
   * PostgreSQL, and TypeORM's query building more than the reads themselves.
   */
  async get(id: string): Promise<Template | undefined> {
    const [row] = await this.sql.query<Raw>(this.select.byId, [id]);
    return row ? fromRow(row) : undefined;
  }

  async exists(id: string): Promise<boolean> {
    return this.db.getRepository(TemplateEntity).existsBy({ id });
  }

  async list(limit: number, after?: Cursor): Promise<Template[]> {
    const rows = after
      ? await this.sql.query<Raw>(this.select.pageAfter, [after.key, after.key, after.id, limit])
      : await this.sql.query<Raw>(this.select.page, [limit]);
    return rows.map(fromRow);
  }

  async delete(id: string): Promise<void> {
    // Sub-resources go with it through ON DELETE CASCADE.
    await this.db.getRepository(TemplateEntity).delete({ id });
  }

  async updateSettings(id: string, settings: TemplateSettings, updatedAt: number): Promise<void> {
    await this.db.getRepository(TemplateEntity).update({ id }, { settings, updatedAt });
  }

  async addStartupFile(file: StartupFile): Promise<void> {
    await this.changeChild(file.templateId, file.createdAt, (m) => m.getRepository(StartupFileEntity).insert({ ...file }));
  }

  async listStartupFiles(templateId: string): Promise<StartupFile[]> {
    const rows = await this.db.getRepository(StartupFileEntity).find({
      where: { templateId },
      order: { orderIndex: "ASC", createdAt: "ASC", id: "ASC" },
    });
    return rows.map(toStartupFile);
  }

  async removeStartupFile(templateId: string, id: string, updatedAt: number): Promise<void> {
    await this.changeChild(templateId, updatedAt, (m) => m.getRepository(StartupFileEntity).delete({ templateId, id }));
  }

  async addCapability(c: Capability): Promise<void> {
    await this.changeChild(c.templateId, c.createdAt, (m) => m.getRepository(CapabilityEntity).insert({ ...c, config: c.config as Record<string, never> }));
  }

  async listCapabilities(templateId: string): Promise<Capability[]> {
    const rows = await this.db.getRepository(CapabilityEntity).find({ where: { templateId }, order: { createdAt: "ASC", id: "ASC" } });
    return rows.map(toCapability);
  }

  async removeCapability(templateId: string, id: string, updatedAt: number): Promise<void> {
    await this.changeChild(templateId, updatedAt, (m) => m.getRepository(CapabilityEntity).delete({ templateId, id }));
  }

  async addModule(module: TemplateModule): Promise<TemplateModule> {
    return this.addNamed(TemplateModuleEntity, module);
  }

  async listModules(templateId: string): Promise<TemplateModule[]> {
    return this.db.getRepository(TemplateModuleEntity).find({ where: { templateId }, order: { name: "ASC" } });
  }

  async removeModule(templateId: string, name: string, updatedAt: number): Promise<void> {
    await this.changeChild(templateId, updatedAt, (m) => m.getRepository(TemplateModuleEntity).delete({ templateId, name }));
  }

  async addLibrary(library: TemplateLibrary): Promise<TemplateLibrary> {
    return this.addNamed(TemplateLibraryEntity, library);
  }

  async listLibraries(templateId: string): Promise<TemplateLibrary[]> {
    return this.db.getRepository(TemplateLibraryEntity).find({ where: { templateId }, order: { name: "ASC" } });
  }

  async removeLibrary(templateId: string, name: string, updatedAt: number): Promise<void> {
    await this.changeChild(templateId, updatedAt, (m) => m.getRepository(TemplateLibraryEntity).delete({ templateId, name }));
  }

  /** Adds a (template_id, name) row unless one exists, and returns the stored row. */
  private async addNamed<E extends TemplateModuleEntity | TemplateLibraryEntity>(entity: new () => E, row: E): Promise<E> {
    return this.db.transaction(async (m) => {
      const repo = m.getRepository(entity);
      // INSERT … ON CONFLICT DO NOTHING (OR IGNORE on SQLite): concurrent
      // identical adds race to one row instead of a duplicate-key error.
      await repo
        .createQueryBuilder()
        .insert()
        .values(row as never)
        .orIgnore()
        .execute();
      const stored = (await repo.findOneBy({ templateId: row.templateId, name: row.name } as never)) ?? row;
      if (stored.createdAt === row.createdAt) await m.getRepository(TemplateEntity).update({ id: row.templateId }, { updatedAt: row.createdAt });
      return stored;
    });
  }

  /** A sub-resource change and the template's updated_at, in one transaction. */
  private async changeChild(templateId: string, updatedAt: number, change: (m: EntityManager) => Promise<unknown>): Promise<void> {
    await this.db.transaction(async (m) => {
      await change(m);
      await m.getRepository(TemplateEntity).update({ id: templateId }, { updatedAt });
    });
  }
}

/** The templates query with each child table aggregated into a JSON array column, by row filter. */
function templateSelects(sql: HotSql): Record<"byId" | "page" | "pageAfter", string> {
  const t = (name: string) => sql.table(name);
  // A JSON array of rows (each a JSON array of columns), in order; [] when none.
  const rows = (table: string, columns: string, orderBy: string) =>
    sql.dialect === "postgres"
      ? `(SELECT coalesce(json_agg(json_build_array(${columns}) ORDER BY ${orderBy}), '[]'::json) FROM ${t(table)} c WHERE c.template_id = t.id)`
      : `(SELECT json_group_array(json_array(${columns}) ORDER BY ${orderBy}) FROM ${t(table)} c WHERE c.template_id = t.id)`;
  const from =
    `SELECT t.id, t.name, t.engine, t.settings, t.created_at, t.updated_at, ` +
    `${rows("startup_files", "c.id, c.path, c.order_index, c.mode, c.created_at", "c.order_index, c.created_at, c.id")} AS startup_files, ` +
    `${rows("capabilities", "c.id, c.kind, c.name, c.enabled, c.config, c.created_at", "c.created_at, c.id")} AS capabilities, ` +
    `${rows("template_modules", "c.name, c.created_at", "c.name")} AS modules, ` +
    `${rows("template_libraries", "c.name, c.version, c.created_at", "c.name")} AS libraries ` +
    `FROM ${t("templates")} t `;
  const order = `ORDER BY t.created_at DESC, t.id DESC LIMIT ?`;
  return {
    byId: `${from}WHERE t.id = ?`,
    page: `${from}${order}`,
    pageAfter: `${from}WHERE (t.created_at < ? OR (t.created_at = ? AND t.id < ?)) ${order}`,
  };
}

/** A row of templateSelects(): children come as JSON arrays (text on SQLite, parsed on PostgreSQL). */
function fromRow(row: Raw): Template {
  const id = row.id as string;
  const children = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : (value ?? [])) as unknown[][];
  return {
    id,
    name: row.name as string,
    engine: row.engine as string,
    settings: storedSettings(row.settings as string),
    startupFiles: children(row.startup_files).map(([fileId, path, orderIndex, mode, createdAt]) => ({
      id: fileId as string,
      templateId: id,
      path: path as string,
      orderIndex: Number(orderIndex),
      mode: mode as StartupMode,
      createdAt: Number(createdAt),
    })),
    capabilities: children(row.capabilities).map(([capId, kind, name, enabled, config, createdAt]) => ({
      id: capId as string,
      templateId: id,
      kind: kind as CapabilityKind,
      name: name as string,
      enabled: Boolean(enabled),
      config: JSON.parse(config as string) ?? {},
      createdAt: Number(createdAt),
    })),
    modules: children(row.modules).map(([name, createdAt]) => ({ templateId: id, name: name as string, createdAt: Number(createdAt) })),
    libraries: children(row.libraries).map(([name, version, createdAt]) => ({
      templateId: id,
      name: name as string,
      version: version as string,
      createdAt: Number(createdAt),
    })),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * Settings are one JSON document per template: a field added to the contract
 * after a row was written is absent from it and reads as its default
 * (runtime.wasm and runtime.dedicated_host, added later, are off), so no
 * migration is needed.
 */
function storedSettings(text: string): TemplateSettings {
  const settings = JSON.parse(text) as TemplateSettings;
  settings.runtime.wasm ??= false;
  settings.runtime.dedicatedHost ??= false;
  return settings;
}

function toStartupFile(e: StartupFileEntity): StartupFile {
  return { id: e.id, templateId: e.templateId, path: e.path, orderIndex: e.orderIndex, mode: e.mode as StartupMode, createdAt: e.createdAt };
}

function toCapability(e: CapabilityEntity): Capability {
  return {
    id: e.id,
    templateId: e.templateId,
    kind: e.kind as CapabilityKind,
    name: e.name,
    enabled: e.enabled,
    config: e.config ?? {},
    createdAt: e.createdAt,
  };
}
