import type { TemplateServiceServer } from "../../gen/vmsystem/v1/template";
import type { TemplateService } from "../core/template-service";
import type { Logger } from "../log";
import { unary } from "./call";
import {
  capabilityToProto,
  libraryToProto,
  moduleToProto,
  settingsFromProto,
  startupFileToProto,
  templateToProto,
} from "./codec-template";

/** TemplateService over gRPC: decode, call core, encode. */
export function templateHandlers(service: TemplateService, log: Logger): TemplateServiceServer {
  const m = (name: string) => `vmsystem.v1.TemplateService/${name}`;
  return {
    createTemplate: unary(log, m("CreateTemplate"), async (req) =>
      templateToProto(await service.create({ name: req.name, engine: req.engine, settings: settingsFromProto(req.settings) })),
    ),
    getTemplate: unary(log, m("GetTemplate"), async (req) => templateToProto(await service.get(req.templateId))),
    listTemplates: unary(log, m("ListTemplates"), async (req) => {
      const page = await service.list({ pageSize: req.pageSize, pageToken: req.pageToken });
      return { templates: page.items.map(templateToProto), nextPageToken: page.nextPageToken };
    }),
    deleteTemplate: unary(log, m("DeleteTemplate"), async (req) => {
      await service.delete(req.templateId);
      return {};
    }),
    updateTemplateSettings: unary(log, m("UpdateTemplateSettings"), async (req) =>
      templateToProto(await service.updateSettings(req.templateId, settingsFromProto(req.settings), req.updateMask ?? [])),
    ),
    addStartupFile: unary(log, m("AddStartupFile"), async (req) =>
      startupFileToProto(await service.addStartupFile({ templateId: req.templateId, path: req.path, orderIndex: req.orderIndex, mode: req.mode })),
    ),
    listStartupFiles: unary(log, m("ListStartupFiles"), async (req) => ({
      startupFiles: (await service.listStartupFiles(req.templateId)).map(startupFileToProto),
    })),
    removeStartupFile: unary(log, m("RemoveStartupFile"), async (req) => {
      await service.removeStartupFile(req.templateId, req.startupFileId);
      return {};
    }),
    addCapability: unary(log, m("AddCapability"), async (req) =>
      capabilityToProto(
        await service.addCapability({ templateId: req.templateId, kind: req.kind, name: req.name, enabled: req.enabled, config: req.config }),
      ),
    ),
    listCapabilities: unary(log, m("ListCapabilities"), async (req) => ({
      capabilities: (await service.listCapabilities(req.templateId)).map(capabilityToProto),
    })),
    removeCapability: unary(log, m("RemoveCapability"), async (req) => {
      await service.removeCapability(req.templateId, req.capabilityId);
      return {};
    }),
    addModule: unary(log, m("AddModule"), async (req) => moduleToProto(await service.addModule(req.templateId, req.name))),
    removeModule: unary(log, m("RemoveModule"), async (req) => {
      await service.removeModule(req.templateId, req.name);
      return {};
    }),
    listModules: unary(log, m("ListModules"), async (req) => ({ modules: (await service.listModules(req.templateId)).map(moduleToProto) })),
    listAvailableModules: unary(log, m("ListAvailableModules"), () => ({ modules: service.listAvailableModules() })),
    addLibrary: unary(log, m("AddLibrary"), async (req) => libraryToProto(await service.addLibrary(req.templateId, req.name))),
    removeLibrary: unary(log, m("RemoveLibrary"), async (req) => {
      await service.removeLibrary(req.templateId, req.name);
      return {};
    }),
    listLibraries: unary(log, m("ListLibraries"), async (req) => ({
      libraries: (await service.listLibraries(req.templateId)).map(libraryToProto),
    })),
    listAvailableLibraries: unary(log, m("ListAvailableLibraries"), () => ({ libraries: service.listAvailableLibraries() })),
  };
}
