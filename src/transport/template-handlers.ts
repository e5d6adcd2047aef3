import type { TemplateServiceServer } from "../../gen/vmsystem/v1/template";
import type { TemplateService } from "../core/template-service";
import type { Rpc } from "./call";
import {
  capabilityToProto,
  libraryToProto,
  moduleToProto,
  settingsFromProto,
  startupFileToProto,
  templateToProto,
} from "./codec-template";

/** TemplateService over gRPC: decode, call core, encode. */
export function templateHandlers(service: TemplateService, rpc: Rpc): TemplateServiceServer {
  const m = (name: string) => `vmsystem.v1.TemplateService/${name}`;
  return {
    createTemplate: rpc.unary(m("CreateTemplate"), async (req) =>
      templateToProto(await service.create({ name: req.name, engine: req.engine, settings: settingsFromProto(req.settings) })),
    ),
    getTemplate: rpc.unary(m("GetTemplate"), async (req) => templateToProto(await service.get(req.templateId))),
    listTemplates: rpc.unary(m("ListTemplates"), async (req) => {
      const page = await service.list({ pageSize: req.pageSize, pageToken: req.pageToken });
      return { templates: page.items.map(templateToProto), nextPageToken: page.nextPageToken };
    }),
    deleteTemplate: rpc.unary(m("DeleteTemplate"), async (req) => {
      await service.delete(req.templateId);
      return {};
    }),
    updateTemplateSettings: rpc.unary(m("UpdateTemplateSettings"), async (req) =>
      templateToProto(await service.updateSettings(req.templateId, settingsFromProto(req.settings), req.updateMask ?? [])),
    ),
    addStartupFile: rpc.unary(m("AddStartupFile"), async (req) =>
      startupFileToProto(await service.addStartupFile({ templateId: req.templateId, path: req.path, orderIndex: req.orderIndex, mode: req.mode })),
    ),
    listStartupFiles: rpc.unary(m("ListStartupFiles"), async (req) => ({
      startupFiles: (await service.listStartupFiles(req.templateId)).map(startupFileToProto),
    })),
    removeStartupFile: rpc.unary(m("RemoveStartupFile"), async (req) => {
      await service.removeStartupFile(req.templateId, req.startupFileId);
      return {};
    }),
    addCapability: rpc.unary(m("AddCapability"), async (req) =>
      capabilityToProto(
        await service.addCapability({ templateId: req.templateId, kind: req.kind, name: req.name, enabled: req.enabled, config: req.config }),
      ),
    ),
    listCapabilities: rpc.unary(m("ListCapabilities"), async (req) => ({
      capabilities: (await service.listCapabilities(req.templateId)).map(capabilityToProto),
    })),
    removeCapability: rpc.unary(m("RemoveCapability"), async (req) => {
      await service.removeCapability(req.templateId, req.capabilityId);
      return {};
    }),
    addModule: rpc.unary(m("AddModule"), async (req) => moduleToProto(await service.addModule(req.templateId, req.name))),
    removeModule: rpc.unary(m("RemoveModule"), async (req) => {
      await service.removeModule(req.templateId, req.name);
      return {};
    }),
    listModules: rpc.unary(m("ListModules"), async (req) => ({ modules: (await service.listModules(req.templateId)).map(moduleToProto) })),
    listAvailableModules: rpc.unary(m("ListAvailableModules"), () => ({ modules: service.listAvailableModules() })),
    addLibrary: rpc.unary(m("AddLibrary"), async (req) => libraryToProto(await service.addLibrary(req.templateId, req.name))),
    removeLibrary: rpc.unary(m("RemoveLibrary"), async (req) => {
      await service.removeLibrary(req.templateId, req.name);
      return {};
    }),
    listLibraries: rpc.unary(m("ListLibraries"), async (req) => ({
      libraries: (await service.listLibraries(req.templateId)).map(libraryToProto),
    })),
    listAvailableLibraries: rpc.unary(m("ListAvailableLibraries"), () => ({ libraries: service.listAvailableLibraries() })),
  };
}
