import type * as pb from "../../gen/vmsystem/v1/template";
import type { Capability, PartialSettings, StartupFile, Template, TemplateLibrary, TemplateModule, TemplateSettings } from "../core/model";

const date = (ms: number) => new Date(ms);

/** Proto3 cannot tell an empty repeated field from an absent one: empty means "not stated". */
const listOrUndefined = (list: string[] | undefined) => (list && list.length > 0 ? [...list] : undefined);

export function settingsFromProto(s: pb.TemplateSettings | undefined): PartialSettings | undefined {
  if (!s) return undefined;
  return {
    limits: s.limits && { ...s.limits },
    resolver: s.resolver && {
      roots: listOrUndefined(s.resolver.roots),
      extensions: listOrUndefined(s.resolver.extensions),
      allowAbsoluteRepoImports: s.resolver.allowAbsoluteRepoImports,
    },
    runtime: s.runtime && { ...s.runtime },
  };
}

function settingsToProto(s: TemplateSettings): pb.TemplateSettings {
  return { limits: { ...s.limits }, resolver: { ...s.resolver }, runtime: { ...s.runtime } };
}

export function startupFileToProto(f: StartupFile): pb.StartupFile {
  return { id: f.id, templateId: f.templateId, path: f.path, orderIndex: f.orderIndex, mode: f.mode, createdAt: date(f.createdAt) };
}

export function capabilityToProto(c: Capability): pb.Capability {
  return { id: c.id, templateId: c.templateId, kind: c.kind, name: c.name, enabled: c.enabled, config: c.config, createdAt: date(c.createdAt) };
}

export function moduleToProto(m: TemplateModule): pb.Module {
  return { templateId: m.templateId, name: m.name, createdAt: date(m.createdAt) };
}

export function libraryToProto(l: TemplateLibrary): pb.Library {
  return { templateId: l.templateId, name: l.name, version: l.version, createdAt: date(l.createdAt) };
}

export function templateToProto(t: Template): pb.Template {
  return {
    id: t.id,
    name: t.name,
    engine: t.engine,
    settings: settingsToProto(t.settings),
    startupFiles: t.startupFiles.map(startupFileToProto),
    capabilities: t.capabilities.map(capabilityToProto),
    modules: t.modules.map(moduleToProto),
    libraries: t.libraries.map(libraryToProto),
    createdAt: date(t.createdAt),
    updatedAt: date(t.updatedAt),
  };
}
