import type { Cursor } from "./pagination";
import type { Capability, StartupFile, Template, TemplateLibrary, TemplateModule, TemplateSettings } from "./model";

/**
 * What the template service needs from persistence. Implemented by
 * store/template-store.ts; every method throws when the write fails.
 */
export interface TemplateStore {
  insert(template: Template): Promise<void>;
  get(id: string): Promise<Template | undefined>;
  exists(id: string): Promise<boolean>;
  /** Newest first, strictly after `after`, at most `limit`. */
  list(limit: number, after?: Cursor): Promise<Template[]>;
  delete(id: string): Promise<void>;
  updateSettings(id: string, settings: TemplateSettings, updatedAt: number): Promise<void>;

  addStartupFile(file: StartupFile): Promise<void>;
  listStartupFiles(templateId: string): Promise<StartupFile[]>;
  removeStartupFile(templateId: string, id: string, updatedAt: number): Promise<void>;

  addCapability(capability: Capability): Promise<void>;
  listCapabilities(templateId: string): Promise<Capability[]>;
  removeCapability(templateId: string, id: string, updatedAt: number): Promise<void>;

  /** Adds the module unless present; returns the stored row either way. */
  addModule(module: TemplateModule): Promise<TemplateModule>;
  listModules(templateId: string): Promise<TemplateModule[]>;
  removeModule(templateId: string, name: string, updatedAt: number): Promise<void>;

  addLibrary(library: TemplateLibrary): Promise<TemplateLibrary>;
  listLibraries(templateId: string): Promise<TemplateLibrary[]>;
  removeLibrary(templateId: string, name: string, updatedAt: number): Promise<void>;
}
