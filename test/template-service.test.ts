import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { Capability, Library, Module, StartupFile, Template } from "../gen/vmsystem/v1/template";
import { rpcError, unary, useTestServer, type TestServer } from "./support/server";

const s = useTestServer();

const create = (req: Parameters<TestServer["templates"]["createTemplate"]>[0]) => unary<Template>((cb) => s.templates.createTemplate(req, cb));
const get = (templateId: string) => unary<Template>((cb) => s.templates.getTemplate({ templateId }, cb));

describe("CreateTemplate / GetTemplate", () => {
  it("applies the documented defaults and returns the stored template", async () => {
    const t = await create({ name: "defaults", engine: "", settings: undefined });
    expect(t.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.engine).toBe("isolated-vm");
    expect(t.settings).toEqual({
      limits: { cpuMs: 5000, wallMs: 30000, memMb: 128, maxEvents: 1000, maxOutputKb: 512 },
      resolver: { roots: [], extensions: [".js", ".mjs"], allowAbsoluteRepoImports: false },
      runtime: { esm: false, strict: false, console: true, wasm: false, dedicatedHost: false },
    });
    expect(t.createdAt).toBeInstanceOf(Date);
    expect(await get(t.id)).toEqual(t);
  });

  it("merges stated settings over the defaults", async () => {
    const t = await create({
      name: "custom",
      engine: "isolated-vm",
      settings: { limits: { cpuMs: 250 }, runtime: { esm: true }, resolver: { roots: ["lib"], extensions: [] } },
    });
    expect(t.settings?.limits).toMatchObject({ cpuMs: 250, wallMs: 30000 });
    expect(t.settings?.runtime).toEqual({ esm: true, strict: false, console: true, wasm: false, dedicatedHost: false });
    expect(t.settings?.resolver?.roots).toEqual(["lib"]);
    expect(t.settings?.resolver?.extensions).toEqual([".js", ".mjs"]);
  });

  it.each([
    [{ name: "" }, "name"],
    [{ name: "   " }, "name"],
    [{ name: "x".repeat(201) }, "name"],
    [{ name: "e", engine: "v8" }, "engine"],
    [{ name: "l", settings: { limits: { memMb: 1 } } }, "settings.limits.mem_mb"],
    [{ name: "l", settings: { limits: { cpuMs: 0 } } }, "settings.limits.cpu_ms"],
    [{ name: "r", settings: { resolver: { roots: ["../up"], extensions: [] } } }, "settings.resolver.roots"],
    [{ name: "x", settings: { resolver: { roots: [], extensions: ["js"] } } }, "settings.resolver.extensions"],
  ])("rejects %j with VALIDATION_ERROR naming the field", async (req, field) => {
    const err = await rpcError(create({ engine: "", settings: undefined, ...req } as never));
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR", domain: "vmsystem.v1" });
    expect(err.metadata.field).toBe(field);
    expect(err.message).toContain(field);
  });

  it("answers TEMPLATE_NOT_FOUND for an unknown id and VALIDATION_ERROR for none", async () => {
    expect(await rpcError(get("00000000-0000-0000-0000-000000000000"))).toMatchObject({ code: status.NOT_FOUND, reason: "TEMPLATE_NOT_FOUND" });
    expect(await rpcError(get("not-a-uuid"))).toMatchObject({ code: status.NOT_FOUND, reason: "TEMPLATE_NOT_FOUND" });
    expect(await rpcError(get(""))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR" });
  });
});

describe("ListTemplates", () => {
  it("pages newest first with opaque tokens and no duplicates", async () => {
    const mine = new Set<string>();
    for (let i = 0; i < 7; i++) mine.add((await create({ name: `page-${i}`, engine: "", settings: undefined })).id);
    const seen: Template[] = [];
    let pageToken = "";
    do {
      const page = await unary<{ templates: Template[]; nextPageToken: string }>((cb) => s.templates.listTemplates({ pageSize: 3, pageToken }, cb));
      expect(page.templates.length).toBeLessThanOrEqual(3);
      seen.push(...page.templates);
      pageToken = page.nextPageToken;
    } while (pageToken);
    const ids = seen.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of mine) expect(ids).toContain(id);
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]];
      const order = a.createdAt!.getTime() - b.createdAt!.getTime() || a.id.localeCompare(b.id);
      expect(order).toBeGreaterThan(0);
    }
    const newest = seen.findIndex((t) => t.name === "page-6");
    expect(newest).toBeLessThan(seen.findIndex((t) => t.name === "page-0"));
  });

  it("lists each template with its sub-resources, as GetTemplate returns it", async () => {
    const t = await create({ name: "with-children", engine: "", settings: undefined });
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "b.js", orderIndex: 2, mode: "" }, cb));
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "a.js", orderIndex: 1, mode: "module" }, cb));
    await unary((cb) => s.templates.addCapability({ templateId: t.id, kind: "env", name: "vars", enabled: true, config: { allow: ["HOME"] } }, cb));
    await unary((cb) => s.templates.addModule({ templateId: t.id, name: "path" }, cb));
    await unary((cb) => s.templates.addLibrary({ templateId: t.id, name: "lodash" }, cb));
    const single = await get(t.id);
    expect(single.startupFiles.map((f) => f.path)).toEqual(["a.js", "b.js"]);
    expect(single.capabilities).toHaveLength(1);
    expect(single.modules.map((m) => m.name)).toEqual(["path"]);
    expect(single.libraries.map((l) => l.name)).toEqual(["lodash"]);
    const page = await unary<{ templates: Template[] }>((cb) => s.templates.listTemplates({ pageSize: 1000, pageToken: "" }, cb));
    expect(page.templates.find((x) => x.id === t.id)).toEqual(single);
  });

  it("defaults to 50, caps at 1000 and rejects negative sizes and foreign tokens", async () => {
    const page = await unary<{ templates: Template[] }>((cb) => s.templates.listTemplates({ pageSize: 0, pageToken: "" }, cb));
    expect(page.templates.length).toBeGreaterThan(0);
    expect(page.templates.length).toBeLessThanOrEqual(50);
    await unary((cb) => s.templates.listTemplates({ pageSize: 100000, pageToken: "" }, cb));
    expect(await rpcError(unary((cb) => s.templates.listTemplates({ pageSize: -1, pageToken: "" }, cb)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "VALIDATION_ERROR",
      metadata: { field: "page_size" },
    });
    expect(await rpcError(unary((cb) => s.templates.listTemplates({ pageSize: 5, pageToken: "garbage!" }, cb)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "VALIDATION_ERROR",
      metadata: { field: "page_token" },
    });
  });
});

describe("UpdateTemplateSettings", () => {
  it("changes only the masked paths", async () => {
    const t = await create({ name: "upd", engine: "", settings: { limits: { cpuMs: 100, wallMs: 900 } } });
    const u = await unary<Template>((cb) =>
      s.templates.updateTemplateSettings(
        { templateId: t.id, settings: { limits: { cpuMs: 777, wallMs: 1 }, runtime: { strict: true } }, updateMask: ["limits.cpu_ms", "runtime.strict"] },
        cb,
      ),
    );
    expect(u.settings?.limits).toMatchObject({ cpuMs: 777, wallMs: 900 });
    expect(u.settings?.runtime?.strict).toBe(true);
    expect(u.updatedAt!.getTime()).toBeGreaterThanOrEqual(t.updatedAt!.getTime());
    expect((await get(t.id)).settings).toEqual(u.settings);
  });

  it("without a mask takes every present field; a whole-section mask resets what is absent", async () => {
    const t = await create({ name: "upd2", engine: "", settings: { limits: { cpuMs: 100 } } });
    const u = await unary<Template>((cb) => s.templates.updateTemplateSettings({ templateId: t.id, settings: { limits: { memMb: 64 } }, updateMask: [] }, cb));
    expect(u.settings?.limits).toMatchObject({ cpuMs: 100, memMb: 64 });
    const r = await unary<Template>((cb) =>
      s.templates.updateTemplateSettings({ templateId: t.id, settings: { limits: { wallMs: 5 } }, updateMask: ["limits"] }, cb),
    );
    expect(r.settings?.limits).toEqual({ cpuMs: 5000, wallMs: 5, memMb: 128, maxEvents: 1000, maxOutputKb: 512 });
  });

  it("rejects unknown mask paths and invalid values, keeping what was stored", async () => {
    const t = await create({ name: "upd3", engine: "", settings: undefined });
    expect(
      await rpcError(unary((cb) => s.templates.updateTemplateSettings({ templateId: t.id, settings: {}, updateMask: ["limits.nope"] }, cb))),
    ).toMatchObject({
      reason: "VALIDATION_ERROR",
      metadata: { field: "update_mask" },
    });
    expect(
      await rpcError(
        unary((cb) => s.templates.updateTemplateSettings({ templateId: t.id, settings: { limits: { maxEvents: 0 } }, updateMask: ["limits.max_events"] }, cb)),
      ),
    ).toMatchObject({ reason: "VALIDATION_ERROR", metadata: { field: "settings.limits.max_events" } });
    expect((await get(t.id)).settings).toEqual(t.settings);
    expect(
      await rpcError(
        unary((cb) => s.templates.updateTemplateSettings({ templateId: "00000000-0000-0000-0000-000000000000", settings: {}, updateMask: ["limits"] }, cb)),
      ),
    ).toMatchObject({ reason: "TEMPLATE_NOT_FOUND" });
  });
});

describe("startup files", () => {
  it("adds, lists in ascending order_index, removes, and rejects bad modes and paths", async () => {
    const t = await create({ name: "startup", engine: "", settings: undefined });
    const add = (path: string, orderIndex: number, mode = "") =>
      unary<StartupFile>((cb) => s.templates.addStartupFile({ templateId: t.id, path, orderIndex, mode }, cb));
    const second = await add("b.js", 2);
    const first = await add("lib/a.mjs", 1, "module");
    expect(first).toMatchObject({ path: "lib/a.mjs", orderIndex: 1, mode: "module", templateId: t.id });
    expect(second.mode).toBe("eval");
    const list = await unary<{ startupFiles: StartupFile[] }>((cb) => s.templates.listStartupFiles({ templateId: t.id }, cb));
    expect(list.startupFiles.map((f) => f.path)).toEqual(["lib/a.mjs", "b.js"]);
    expect((await get(t.id)).startupFiles.map((f) => f.id)).toEqual([first.id, second.id]);

    expect(await rpcError(add("c.js", 3, "commonjs"))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "STARTUP_MODE_UNSUPPORTED" });
    expect(await rpcError(add("/etc/passwd", 3))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH" });
    expect(await rpcError(add("../outside.js", 3))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH" });

    await unary((cb) => s.templates.removeStartupFile({ templateId: t.id, startupFileId: first.id }, cb));
    await unary((cb) => s.templates.removeStartupFile({ templateId: t.id, startupFileId: first.id }, cb));
    const after = await unary<{ startupFiles: StartupFile[] }>((cb) => s.templates.listStartupFiles({ templateId: t.id }, cb));
    expect(after.startupFiles.map((f) => f.id)).toEqual([second.id]);
    expect(
      await rpcError(
        unary((cb) => s.templates.addStartupFile({ templateId: "00000000-0000-0000-0000-000000000000", path: "a.js", orderIndex: 0, mode: "" }, cb)),
      ),
    ).toMatchObject({
      reason: "TEMPLATE_NOT_FOUND",
    });
  });
});

describe("capabilities", () => {
  it("stores every kind with its JSON config, lists and removes them", async () => {
    const t = await create({ name: "caps", engine: "", settings: undefined });
    const add = (kind: string, name: string, config: Record<string, unknown> = {}, enabled = true) =>
      unary<Capability>((cb) => s.templates.addCapability({ templateId: t.id, kind, name, enabled, config }, cb));
    const g = await add("global", "settings", { region: "eu", n: 3, nested: { ok: true }, list: [1, "a"] });
    expect(g.config).toEqual({ region: "eu", n: 3, nested: { ok: true }, list: [1, "a"] });
    await add("fs", "read-only", { write: false });
    await add("env", "vars", { allow: ["HOME"] });
    await add("net", "api", { allow_hosts: ["*.example.com"] }, false);
    await add("module", "path");
    const list = await unary<{ capabilities: Capability[] }>((cb) => s.templates.listCapabilities({ templateId: t.id }, cb));
    expect(list.capabilities.map((c) => c.kind)).toEqual(["global", "fs", "env", "net", "module"]);
    expect(list.capabilities.find((c) => c.kind === "net")?.enabled).toBe(false);

    expect(await rpcError(add("disk", "x"))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR", metadata: { field: "kind" } });
    expect(await rpcError(add("module", "http"))).toMatchObject({ reason: "MODULE_NOT_ALLOWED" });
    expect(await rpcError(add("global", "not an identifier"))).toMatchObject({ reason: "VALIDATION_ERROR", metadata: { field: "name" } });
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 25; i++) deep = { d: deep };
    expect(await rpcError(add("global", "deep", deep))).toMatchObject({ reason: "VALIDATION_ERROR", metadata: { field: "config" } });
    // Deeper than the wire decoder's recursion limit: still a clean VALIDATION_ERROR.
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(await rpcError(add("global", "deeper", deep))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "VALIDATION_ERROR",
      metadata: { field: "request" },
    });

    await unary((cb) => s.templates.removeCapability({ templateId: t.id, capabilityId: g.id }, cb));
    await unary((cb) => s.templates.removeCapability({ templateId: t.id, capabilityId: g.id }, cb));
    expect((await get(t.id)).capabilities.map((c) => c.id)).not.toContain(g.id);
  });
});

describe("modules and libraries", () => {
  it("allows only the catalogue's modules; built-ins and unknown names are MODULE_NOT_ALLOWED", async () => {
    const t = await create({ name: "mods", engine: "", settings: undefined });
    const available = await unary<{ modules: { name: string }[] }>((cb) => s.templates.listAvailableModules({}, cb));
    expect(available.modules.map((m) => m.name).sort()).toEqual(["database", "exec", "fs", "path"]);
    for (const name of ["fs", "path", "database", "exec", "fs"]) {
      const m = await unary<Module>((cb) => s.templates.addModule({ templateId: t.id, name }, cb));
      expect(m).toMatchObject({ templateId: t.id, name });
    }
    for (const name of ["console", "math", "json", "date", "array", "string", "object", "promise", "Math", "http", "child_process"]) {
      const err = await rpcError(unary((cb) => s.templates.addModule({ templateId: t.id, name }, cb)));
      expect(err, name).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "MODULE_NOT_ALLOWED" });
    }
    let list = await unary<{ modules: Module[] }>((cb) => s.templates.listModules({ templateId: t.id }, cb));
    expect(list.modules.map((m) => m.name)).toEqual(["database", "exec", "fs", "path"]);
    await unary((cb) => s.templates.removeModule({ templateId: t.id, name: "exec" }, cb));
    await unary((cb) => s.templates.removeModule({ templateId: t.id, name: "never-added" }, cb));
    list = await unary<{ modules: Module[] }>((cb) => s.templates.listModules({ templateId: t.id }, cb));
    expect(list.modules.map((m) => m.name)).toEqual(["database", "fs", "path"]);
  });

  it("adds installed libraries with their versions; unknown ones are LIBRARY_NOT_FOUND", async () => {
    const t = await create({ name: "libs", engine: "", settings: undefined });
    const available = await unary<{ libraries: { name: string; version: string; globalName: string }[] }>((cb) => s.templates.listAvailableLibraries({}, cb));
    for (const name of ["lodash", "dayjs", "ramda", "moment"]) {
      const entry = available.libraries.find((l) => l.name === name);
      expect(entry?.version).toMatch(/^\d+\.\d+\.\d+/);
      const lib = await unary<Library>((cb) => s.templates.addLibrary({ templateId: t.id, name }, cb));
      expect(lib.version).toBe(entry?.version);
    }
    expect(await rpcError(unary((cb) => s.templates.addLibrary({ templateId: t.id, name: "left-pad" }, cb)))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "LIBRARY_NOT_FOUND",
    });
    await unary((cb) => s.templates.removeLibrary({ templateId: t.id, name: "moment" }, cb));
    const list = await unary<{ libraries: Library[] }>((cb) => s.templates.listLibraries({ templateId: t.id }, cb));
    expect(list.libraries.map((l) => l.name)).toEqual(["dayjs", "lodash", "ramda"]);
  });
});

describe("DeleteTemplate", () => {
  it("cascades to sub-resources and then answers TEMPLATE_NOT_FOUND", async () => {
    const t = await create({ name: "doomed", engine: "", settings: undefined });
    await unary((cb) => s.templates.addModule({ templateId: t.id, name: "fs" }, cb));
    await unary((cb) => s.templates.addLibrary({ templateId: t.id, name: "lodash" }, cb));
    await unary((cb) => s.templates.addStartupFile({ templateId: t.id, path: "a.js", orderIndex: 0, mode: "" }, cb));
    await unary((cb) => s.templates.addCapability({ templateId: t.id, kind: "env", name: "e", enabled: true, config: {} }, cb));
    await unary((cb) => s.templates.deleteTemplate({ templateId: t.id }, cb));
    expect(await rpcError(get(t.id))).toMatchObject({ code: status.NOT_FOUND, reason: "TEMPLATE_NOT_FOUND" });
    expect(await rpcError(unary((cb) => s.templates.listModules({ templateId: t.id }, cb)))).toMatchObject({ reason: "TEMPLATE_NOT_FOUND" });
    expect(await rpcError(unary((cb) => s.templates.deleteTemplate({ templateId: t.id }, cb)))).toMatchObject({ reason: "TEMPLATE_NOT_FOUND" });
    // Re-creating children under a new template with the same names works: nothing was left behind.
    const again = await create({ name: "doomed", engine: "", settings: undefined });
    expect((await get(again.id)).modules).toEqual([]);
  });
});
