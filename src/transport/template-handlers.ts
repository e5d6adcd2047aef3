import { TemplateServiceService, type TemplateServiceServer } from "../../gen/vmsystem/v1/template";
import type { TemplateService } from "../core/template-service";
import type { Rpc } from "./call";
import { capabilityToProto, libraryToProto, moduleToProto, settingsFromProto, startupFileToProto, templateToProto } from "./codec-template";

/** TemplateService over gRPC: decode, call core, encode. */
export function templateHandlers(service: TemplateService, rpc: Rpc): TemplateServiceServer {
  return {
    createTemplate: rpc.unary(TemplateServiceService.createTemplate, async (req) =>
      templateToProto(await service.create({ name: req.name, engine: req.engine, settings: settingsFromProto(req.settings) })),
    ),
    getTemplate: rpc.unary(TemplateServiceService.getTemplate, async (req) => templateToProto(await service.get(req.templateId))),
    listTemplates: rpc.unary(TemplateServiceService.listTemplates, async (req) => {
      const page = await service.list({ pageSize: req.pageSize, pageToken: req.pageToken });
      return { templates: page.items.map(templateToProto), nextPageToken: page.nextPageToken };
    }),
    deleteTemplate: rpc.unary(TemplateServiceService.deleteTemplate, async (req) => {
      await service.delete(req.templateId);
      return {};
    }),
    updateTemplateSettings: rpc.unary(TemplateServiceService.updateTemplateSettings, async (req) =>
      templateToProto(await service.updateSettings(req.templateId, settingsFromProto(req.settings), req.updateMask ?? [])),
    ),
    addStartupFile: rpc.unary(TemplateServiceService.addStartupFile, async (req) =>
      startupFileToProto(await service.addStartupFile({ templateId: req.templateId, path: req.path, orderIndex: req.orderIndex, mode: req.mode })),
    ),
    listStartupFiles: rpc.unary(TemplateServiceService.listStartupFiles, async (req) => ({
      startupFiles: (await service.listStartupFiles(req.templateId)).map(startupFileToProto),
    })),
    removeStartupFile: rpc.unary(TemplateServiceService.removeStartupFile, async (req) => {
      await service.removeStartupFile(req.templateId, req.startupFileId);
      return {};
    }),
    addCapability: rpc.unary(TemplateServiceService.addCapability, async (req) =>
      capabilityToProto(await service.addCapability({ templateId: req.templateId, kind: req.kind, name: req.name, enabled: req.enabled, config: req.config })),
    ),
    listCapabilities: rpc.unary(TemplateServiceService.listCapabilities, async (req) => ({
      capabilities: (await service.listCapabilities(req.templateId)).map(capabilityToProto),
    })),
    removeCapability: rpc.unary(TemplateServiceService.removeCapability, async (req) => {
      await service.removeCapability(req.templateId, req.capabilityId);
      return {};
    }),
    addModule: rpc.unary(TemplateServiceService.addModule, async (req) => moduleToProto(await service.addModule(req.templateId, req.name))),
    removeModule: rpc.unary(TemplateServiceService.removeModule, async (req) => {
      await service.removeModule(req.templateId, req.name);
      return {};
    }),
    listModules: rpc.unary(TemplateServiceService.listModules, async (req) => ({ modules: (await service.listModules(req.templateId)).map(moduleToProto) })),
    listAvailableModules: rpc.unary(TemplateServiceService.listAvailableModules, () => ({ modules: service.listAvailableModules() })),
    addLibrary: rpc.unary(TemplateServiceService.addLibrary, async (req) => libraryToProto(await service.addLibrary(req.templateId, req.name))),
    removeLibrary: rpc.unary(TemplateServiceService.removeLibrary, async (req) => {
      await service.removeLibrary(req.templateId, req.name);
      return {};
    }),
    listLibraries: rpc.unary(TemplateServiceService.listLibraries, async (req) => ({
      libraries: (await service.listLibraries(req.templateId)).map(libraryToProto),
    })),
    listAvailableLibraries: rpc.unary(TemplateServiceService.listAvailableLibraries, () => ({ libraries: service.listAvailableLibraries() })),
  };
}
