import { randomUUID } from "node:crypto";
import { AVAILABLE_MODULES, JS_BUILTIN_NAMES, LIBRARY_CATALOGUE } from "../runtime/catalogue";
import { clip, DomainError, invalidField, notFound } from "./errors";
import {
  CAPABILITY_KINDS,
  type Capability,
  type CapabilityKind,
  type Limits,
  type Page,
  type PartialSettings,
  type StartupFile,
  type StartupMode,
  type Template,
  type TemplateLibrary,
  type TemplateModule,
} from "./model";
import { decodeCursor, encodeCursor, pageSize, type PageRequest } from "./pagination";
import type { TemplateStore } from "./ports";
import { checkWithinCeilings, DEFAULT_CEILINGS, limitsWithin } from "./ceilings";
import { applySettings, defaultSettings, isRelativeInside } from "./settings";
import { requireId, requireText } from "./validate";

const ENGINE = "isolated-vm";
const STARTUP_MODES: readonly string[] = ["eval", "module"];
/** Bounds a config document so one template cannot hold megabytes of JSON. */
const MAX_CONFIG_BYTES = 64 * 1024;
const MAX_CONFIG_DEPTH = 20;

export interface CreateTemplateInput {
  name?: string;
  engine?: string;
  settings?: PartialSettings;
}

export interface AddCapabilityInput {
  templateId?: string;
  kind?: string;
  name?: string;
  enabled?: boolean;
  config?: Record<string, unknown>;
}

/** TemplateService: runtime profiles and their sub-resources. */
export class TemplateService {
  constructor(
    private readonly store: TemplateStore,
    /** The operator's `--max-*` limits: a template may not ask for more. */
    private readonly ceilings: Limits = DEFAULT_CEILINGS.limits,
    private readonly now: () => number = Date.now,
  ) {}

  async create(input: CreateTemplateInput): Promise<Template> {
    const name = requireText("name", input.name);
    const engine = input.engine || ENGINE;
    if (engine !== ENGINE) throw invalidField("engine", `unknown engine "${clip(engine)}" (the only engine is "${ENGINE}")`);
    const defaults = defaultSettings();
    defaults.limits = limitsWithin(defaults.limits, this.ceilings);
    const settings = applySettings(defaults, input.settings ?? {});
    checkWithinCeilings(settings.limits, this.ceilings);
    const now = this.now();
    const template: Template = {
      id: randomUUID(),
      name,
      engine,
      settings,
      startupFiles: [],
      capabilities: [],
      modules: [],
      libraries: [],
      createdAt: now,
      updatedAt: now,
    };
    await this.store.insert(template);
    return template;
  }

  async get(templateId: string | undefined): Promise<Template> {
    const id = requireId("template_id", templateId);
    const template = await this.store.get(id);
    if (!template) throw notFound("TEMPLATE_NOT_FOUND", id);
    return template;
  }

  async list(request: PageRequest): Promise<Page<Template>> {
    const size = pageSize(request.pageSize);
    const after = decodeCursor(request.pageToken);
    // One extra row tells whether another page exists.
    const rows = await this.store.list(size + 1, after);
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    const nextPageToken = rows.length > size && last ? encodeCursor({ key: last.createdAt, id: last.id }) : "";
    return { items, nextPageToken };
  }

  async delete(templateId: string | undefined): Promise<void> {
    const id = requireId("template_id", templateId);
    if (!(await this.store.exists(id))) throw notFound("TEMPLATE_NOT_FOUND", id);
    await this.store.delete(id);
  }

  async updateSettings(templateId: string | undefined, patch: PartialSettings | undefined, mask: string[]): Promise<Template> {
    const template = await this.get(templateId);
    if (!patch && mask.length === 0) throw invalidField("settings", "is required");
    const settings = applySettings(template.settings, patch ?? {}, mask);
    checkWithinCeilings(settings.limits, this.ceilings);
    const updatedAt = this.now();
    await this.store.updateSettings(template.id, settings, updatedAt);
    return { ...template, settings, updatedAt };
  }

  async addStartupFile(input: { templateId?: string; path?: string; orderIndex?: number; mode?: string }): Promise<StartupFile> {
    const templateId = await this.existingTemplate(input.templateId);
    const path = requireText("path", input.path, 4096);
    if (!isRelativeInside(path))
      throw new DomainError("INVALID_PATH", `path "${clip(path)}" must be relative to the worktree and stay inside it`, { field: "path" });
    const mode = input.mode || "eval";
    if (!STARTUP_MODES.includes(mode)) {
      throw new DomainError("STARTUP_MODE_UNSUPPORTED", `startup mode "${clip(mode)}" is not supported (use "eval" or "module")`, { field: "mode" });
    }
    const file: StartupFile = { id: randomUUID(), templateId, path, orderIndex: input.orderIndex ?? 0, mode: mode as StartupMode, createdAt: this.now() };
    await this.store.addStartupFile(file);
    return file;
  }

  async listStartupFiles(templateId: string | undefined): Promise<StartupFile[]> {
    return this.store.listStartupFiles(await this.existingTemplate(templateId));
  }

  async removeStartupFile(templateId: string | undefined, startupFileId: string | undefined): Promise<void> {
    const id = await this.existingTemplate(templateId);
    await this.store.removeStartupFile(id, requireId("startup_file_id", startupFileId), this.now());
  }

  async addCapability(input: AddCapabilityInput): Promise<Capability> {
    const templateId = await this.existingTemplate(input.templateId);
    const kind = input.kind ?? "";
    if (!(CAPABILITY_KINDS as readonly string[]).includes(kind)) {
      throw invalidField("kind", `must be one of ${CAPABILITY_KINDS.join(", ")}`);
    }
    const name = requireText("name", input.name);
    const config = input.config ?? {};
    checkConfig(config);
    if (kind === "module") this.checkModuleName(name);
    if (kind === "global" && !/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) {
      throw invalidField("name", "a global's name must be a JavaScript identifier");
    }
    const capability: Capability = {
      id: randomUUID(),
      templateId,
      kind: kind as CapabilityKind,
      name,
      enabled: input.enabled ?? false,
      config,
      createdAt: this.now(),
    };
    await this.store.addCapability(capability);
    return capability;
  }

  async listCapabilities(templateId: string | undefined): Promise<Capability[]> {
    return this.store.listCapabilities(await this.existingTemplate(templateId));
  }

  async removeCapability(templateId: string | undefined, capabilityId: string | undefined): Promise<void> {
    const id = await this.existingTemplate(templateId);
    await this.store.removeCapability(id, requireId("capability_id", capabilityId), this.now());
  }

  async addModule(templateId: string | undefined, moduleName: string | undefined): Promise<TemplateModule> {
    const id = await this.existingTemplate(templateId);
    const name = requireText("name", moduleName, 100);
    this.checkModuleName(name);
    return this.store.addModule({ templateId: id, name, createdAt: this.now() });
  }

  async listModules(templateId: string | undefined): Promise<TemplateModule[]> {
    return this.store.listModules(await this.existingTemplate(templateId));
  }

  async removeModule(templateId: string | undefined, moduleName: string | undefined): Promise<void> {
    const id = await this.existingTemplate(templateId);
    await this.store.removeModule(id, requireText("name", moduleName, 100), this.now());
  }

  listAvailableModules(): { name: string; description: string }[] {
    return AVAILABLE_MODULES.map((m) => ({ name: m.name, description: m.description }));
  }

  async addLibrary(templateId: string | undefined, libraryName: string | undefined): Promise<TemplateLibrary> {
    const id = await this.existingTemplate(templateId);
    const name = requireText("name", libraryName, 100);
    const entry = LIBRARY_CATALOGUE.find((l) => l.name === name);
    if (!entry) {
      throw new DomainError("LIBRARY_NOT_FOUND", `library "${clip(name)}" is not installed (available: ${LIBRARY_CATALOGUE.map((l) => l.name).join(", ")})`, {
        name,
      });
    }
    return this.store.addLibrary({ templateId: id, name, version: entry.version, createdAt: this.now() });
  }

  async listLibraries(templateId: string | undefined): Promise<TemplateLibrary[]> {
    return this.store.listLibraries(await this.existingTemplate(templateId));
  }

  async removeLibrary(templateId: string | undefined, libraryName: string | undefined): Promise<void> {
    const id = await this.existingTemplate(templateId);
    await this.store.removeLibrary(id, requireText("name", libraryName, 100), this.now());
  }

  listAvailableLibraries(): { name: string; version: string; globalName: string; description: string }[] {
    return LIBRARY_CATALOGUE.map((l) => ({ name: l.name, version: l.version, globalName: l.globalName, description: l.description }));
  }

  private checkModuleName(name: string): void {
    if ((JS_BUILTIN_NAMES as readonly string[]).includes(name.toLowerCase())) {
      throw new DomainError("MODULE_NOT_ALLOWED", `"${clip(name)}" is a JavaScript built-in, always available; it is not a module to add`, {
        name: clip(name),
      });
    }
    if (!AVAILABLE_MODULES.some((m) => m.name === name)) {
      throw new DomainError("MODULE_NOT_ALLOWED", `module "${clip(name)}" is not allowed (available: ${AVAILABLE_MODULES.map((m) => m.name).join(", ")})`, {
        name: clip(name),
      });
    }
  }

  private async existingTemplate(templateId: string | undefined): Promise<string> {
    const id = requireId("template_id", templateId);
    if (!(await this.store.exists(id))) throw notFound("TEMPLATE_NOT_FOUND", id);
    return id;
  }
}

function checkConfig(config: Record<string, unknown>): void {
  const text = JSON.stringify(config);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw invalidField("config", `must be at most ${MAX_CONFIG_BYTES} bytes of JSON`);
  const depth = (value: unknown): number => (value !== null && typeof value === "object" ? 1 + Math.max(0, ...Object.values(value).map(depth)) : 0);
  if (depth(config) > MAX_CONFIG_DEPTH) throw invalidField("config", `must nest at most ${MAX_CONFIG_DEPTH} levels`);
}
