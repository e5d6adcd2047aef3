import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { exceptionOf, options, repl, tempWorktree, valueOf, runtimes } from "./helpers";

describe("hostile snippets find nothing", () => {
  let rt: SessionRuntime;
  let withModules: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options());
    const worktree = tempWorktree();
    writeFileSync(join(worktree, "a.txt"), "A");
    withModules = await runtimes.create(options({ worktreePath: worktree, modules: ["fs", "path"] }));
  });
  afterAll(() => {
    rt.dispose();
    withModules.dispose();
  });

  const value = async (r: SessionRuntime, code: string) => valueOf((await repl(r, code)).outcome).json;

  it("has no Node globals", async () => {
    expect(
      await value(
        rt,
        "[typeof require, typeof process, typeof Buffer, typeof global, typeof module, typeof exports, typeof __dirname, typeof fetch, typeof ivm, typeof _ivm]",
      ),
    ).toEqual(Array(10).fill("undefined"));
  });

  it("constructor-chain escapes reach only the sandbox's own global", async () => {
    expect(exceptionOf((await repl(rt, "this.constructor.constructor('return process')()")).outcome)).toMatchObject({
      name: "ReferenceError",
      message: "process is not defined",
    });
    expect(await value(rt, "typeof ({}).constructor.constructor('return this')().process")).toBe("undefined");
    expect(await value(rt, "typeof console.log.constructor('return this')().process")).toBe("undefined");
    expect(await value(rt, "typeof setTimeout.constructor('return this')().require")).toBe("undefined");
    expect(exceptionOf((await repl(rt, "eval('process')")).outcome).name).toBe("ReferenceError");
  });

  it("leaves no injected names on the global object", async () => {
    const names = (await value(rt, "Reflect.ownKeys(globalThis).map(String)")) as string[];
    const ours = ["console", "setTimeout", "setInterval", "clearTimeout", "clearInterval"];
    for (const n of names) expect(n).not.toMatch(/^\$|ivm|sink|host|control|ctl|prelude/i);
    for (const n of ours) expect(names).toContain(n);
  });

  it("shim functions expose nothing through their properties", async () => {
    expect(await value(rt, "Object.getOwnPropertyNames(console.log).sort()")).toEqual(["length", "name"]);
    expect(exceptionOf((await repl(rt, "console.log.caller")).outcome).name).toBe("TypeError");
    expect(exceptionOf((await repl(rt, "setTimeout.arguments")).outcome).name).toBe("TypeError");
    expect(await value(rt, "Object.getPrototypeOf(console) === Object.prototype")).toBe(true);
    const fsKeys = await value(withModules, "Object.getOwnPropertyNames(require('fs')).sort()");
    expect(fsKeys).toEqual(["appendFile", "exists", "mkdir", "readFile", "readdir", "rm", "stat", "writeFile"]);
    expect(exceptionOf((await repl(withModules, "require('fs').readFile.caller")).outcome).name).toBe("TypeError");
  });

  it("Error.prepareStackTrace sees no receiver or function of shim frames", async () => {
    const code = `
      const frames = [];
      Error.prepareStackTrace = (e, callSites) => {
        for (const c of callSites) frames.push({ file: c.getFileName(), self: c.getThis(), fn: c.getFunction() });
        return 'captured';
      };
      const probe = { toString() { new Error().stack; return 'p'; } };
      console.log('%s', probe);
      console.log({ get g() { return 1 }, toJSON() { new Error().stack } });
      console.log('%j', { toJSON() { new Error().stack; return 1 } });
      await new Promise(r => setTimeout(() => { new Error().stack; r() }, 5));
      require('fs').readFile({ toString() { new Error().stack; return 'a.txt' } }.toString());
      try { require('nope') } catch (e) { e.stack }
      Error.prepareStackTrace = undefined;
      const foreign = frames.filter(f => f.file !== 'repl');
      [foreign.length > 0, foreign.every(f => f.self === undefined && f.fn === undefined)]`;
    expect(await value(withModules, code)).toEqual([true, true]);
  });

  it("prototype pollution does not change how the shim talks to the host", async () => {
    const code = `
      Object.prototype.reference = true;
      Object.prototype.result = { reference: true };
      Object.prototype.get = function () { return 1 };
      Array.prototype.push = function () { throw new Error('patched push') };
      Map.prototype.get = function () { throw new Error('patched get') };
      let r;
      try {
        console.log({ a: [1] });
        r = [require('fs').readFile('a.txt'), typeof require('path').join('a', 'b')];
      } finally {
        delete Object.prototype.reference; delete Object.prototype.result; delete Object.prototype.get;
      }
      r`;
    const out = await repl(withModules, code);
    expect(valueOf(out.outcome).json).toEqual(["A", "string"]);
    expect(out.lines.map((l) => l.text)).toEqual(["{ a: [ 1 ] }"]);
  });

  it("dynamic import is refused without harm", async () => {
    const e = exceptionOf((await repl(rt, "await import('fs')")).outcome);
    expect(e.message).toMatch(/not supported/i);
    expect(await value(rt, "1 + 1")).toBe(2);
  });
});
