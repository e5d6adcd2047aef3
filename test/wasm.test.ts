/**
 * runtime.wasm end to end (SPEC, "Runtime inside the sandbox"): a template
 * setting, off by default, that decides whether sessions see WebAssembly;
 * when on, wasm memory counts against the template's mem_mb.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Template, TemplateSettings } from "../gen/vmsystem/v1/template";
import { testDatabase, type TestDatabase } from "./support/database";
import { Api, describeExecution, ExecutionStatus, okValue, type Execution } from "./support/fixtures";
import { startTestServer, templateStoredByOlderVersion, unary, useTestServer } from "./support/server";
import { ADD, BIG_MEMORY, growable } from "./support/wasm-bytes";

const s = useTestServer();
const runtime = (wasm: boolean) => ({ esm: false, strict: false, console: true, wasm, dedicatedHost: false });
const json = (e: Execution) => okValue(e).json as unknown;
function exception(e: Execution) {
  expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
  return e.events.find((ev) => ev.exception)!.exception!;
}

describe("the runtime.wasm setting", () => {
  const get = (templateId: string) => unary<Template>((cb) => s.templates.getTemplate({ templateId }, cb));
  const update = (templateId: string, settings: TemplateSettings, updateMask: string[]) =>
    unary<Template>((cb) => s.templates.updateTemplateSettings({ templateId, settings, updateMask }, cb));

  it("is false by default and round-trips through Create, Get and UpdateTemplateSettings (update_mask runtime.wasm)", async () => {
    const t = await s.api.template({ name: "wasm-default" });
    expect(t.settings?.runtime).toEqual(runtime(false));
    const on = await update(t.id, { runtime: { wasm: true } }, ["runtime.wasm"]);
    expect(on.settings?.runtime).toEqual(runtime(true));
    expect((await get(t.id)).settings?.runtime).toEqual(runtime(true));
    // Masked but absent: back to the default.
    expect((await update(t.id, {}, ["runtime.wasm"])).settings?.runtime).toEqual(runtime(false));
    const created = await s.api.template({ name: "wasm-on", settings: { runtime: { wasm: true } } });
    expect((await get(created.id)).settings?.runtime?.wasm).toBe(true);
  });
});

describe("sessions", () => {
  it("of a default template have no WebAssembly, by any name", async () => {
    const session = await s.api.ready({ name: "no-wasm" });
    expect(
      json(await s.api.repl(session.id, "[typeof WebAssembly, Reflect.ownKeys(globalThis).includes('WebAssembly'), Function('return typeof WebAssembly')()]")),
    ).toEqual(["undefined", false, "undefined"]);
  });

  it("of a wasm template with mem_mb 16 run wasm, and cannot take 64 MB of wasm memory by any route", async () => {
    const settings = { limits: { memMb: 16 }, runtime: { wasm: true } };
    const session = await s.api.ready({ name: "wasm-16", settings });
    const other = await s.api.ready({ name: "wasm-16-other", settings });
    expect(json(await s.api.repl(session.id, `new WebAssembly.Instance(new WebAssembly.Module(${ADD})).exports.add(40, 2)`))).toBe(42);

    const rss = process.memoryUsage().rss; // the server runs in this process
    const byConstructor = exception(await s.api.repl(session.id, "new WebAssembly.Memory({ initial: 1024 })"));
    expect(byConstructor.name).toBe("RangeError");
    expect(byConstructor.message).toMatch(
      /64 MB of WebAssembly memory requested, but only 15\.\d+ MB of this session's budget is left .*limits\.mem_mb = 16 MB/,
    );
    expect(exception(await s.api.repl(session.id, `await WebAssembly.instantiate(${BIG_MEMORY})`)).name).toBe("RangeError");
    expect(
      json(
        await s.api.repl(
          session.id,
          `const { exports: g } = new WebAssembly.Instance(new WebAssembly.Module(${growable()}));
      [g.grow(1023), g.grow(254), g.mem.buffer.byteLength]`,
        ),
      ),
    ).toEqual([-1, 1, 255 * 65536]); // compiled code took the rest
    expect(exception(await s.api.repl(session.id, "new WebAssembly.Memory({ initial: 1 })")).message).toMatch(/but only 0\.0\d MB/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 << 20);

    // The session and its neighbour carry on.
    expect(json(await s.api.repl(session.id, "g.mem.buffer.byteLength / 65536"))).toBe(255);
    expect(json(await s.api.repl(other.id, `[1 + 1, new WebAssembly.Instance(new WebAssembly.Module(${ADD})).exports.add(1, 2)]`))).toEqual([2, 3]);
  });
});

describe("a template stored before runtime.wasm existed", () => {
  let db: TestDatabase;
  beforeAll(() => {
    db = testDatabase();
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it("reads as runtime.wasm false, and can be turned on", async () => {
    // The row as the previous version wrote it: no `wasm` in its settings.
    const id = await templateStoredByOlderVersion(db, (settings) => delete settings.runtime.wasm);
    const server = await startTestServer({}, db);
    try {
      const api = new Api(server);
      const t = await unary<Template>((cb) => server.templates.getTemplate({ templateId: id }, cb));
      expect(t.settings?.runtime).toEqual(runtime(false));
      const session = await api.session(id);
      expect(json(await api.repl(session.id, "typeof WebAssembly"))).toBe("undefined");
      const on = await unary<Template>((cb) =>
        server.templates.updateTemplateSettings({ templateId: id, settings: { runtime: { wasm: true } }, updateMask: ["runtime.wasm"] }, cb),
      );
      expect(on.settings?.runtime).toEqual(runtime(true));
      await api.closeAll();
    } finally {
      await server.stop();
    }
  });
});
