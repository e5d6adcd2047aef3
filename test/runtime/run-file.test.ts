import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RuntimeError, SessionRuntime } from "../../src/runtime";
import type { RunFileOptions } from "../../src/runtime";
import { exceptionOf, LIMITS, options, repl, tempWorktree, valueOf, runtimes } from "./helpers";

const outside = tempWorktree("vmsystem-outside-");
const worktree = tempWorktree();

function put(rel: string, content: string, root = worktree) {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
}

beforeAll(() => {
  put("outside.mjs", "export default 'secret'", outside);
  put("secret.js", "'secret'", outside);
  put("main.js", "console.log(argv.join(','), env.BASE, env.REQ); 40 + 2");
  put("lib/util.mjs", "export const twice = (x) => x * 2;");
  put("esm/helper.js", "export default 'h';");
  put("esm/counter.mjs", "globalThis.loads = (globalThis.loads || 0) + 1; export const n = 1;");
  put("esm/a.mjs", "import { n } from './counter.mjs'; export const a = n;");
  put(
    "esm/main.mjs",
    [
      "import { twice } from '../lib/util.mjs';",
      "import h from './helper';",
      "import { a } from './a.mjs';",
      "import { n } from './counter.mjs';",
      "export const result = twice(21);",
      "export const helper = h;",
      "export const sum = a + n;",
      "export const args = argv;",
    ].join("\n"),
  );
  put("esm/bare.mjs", "import { v } from 'pkg/thing'; export { v };");
  put("vendor/pkg/thing/index.js", "export const v = 'vendored';");
  put("esm/escape.mjs", "import x from '../../outside.mjs'; export default x;");
  put("esm/abs.mjs", "import { twice } from '/lib/util.mjs'; export const r = twice(2);");
  put("esm/missing.mjs", "import { nope } from './nope.mjs'; export default nope;");
  put("esm/linked.mjs", "import x from './outlink.mjs'; export default x;");
  symlinkSync(join(outside, "outside.mjs"), join(worktree, "esm/outlink.mjs"));
  put("esm/tla.mjs", "export const v = await new Promise(r => setTimeout(() => r(5), 5));");
  put("esm/fn.mjs", "export function f() {}");
  put("esm/throws.mjs", "export const x = 1; throw new Error('module boom');");
  put("esm/syntax.mjs", "import { twice } from '../lib/bad.mjs'; export default twice;");
  put("lib/bad.mjs", "export const = ;");
  put("esm/forever.mjs", "await new Promise(() => {});");
  put("esm/late-throw.mjs", "await new Promise(r => setTimeout(r, 5)); throw new TypeError('late boom');");
  put("esm/then.mjs", "export function then() { throw new Error('not a thenable') }");
  symlinkSync(join(outside, "secret.js"), join(worktree, "link.js"));
});

describe("run-file", () => {
  let rt: SessionRuntime;
  let esm: SessionRuntime;
  beforeAll(async () => {
    rt = await runtimes.create(options({ worktreePath: worktree, env: { BASE: "b", REQ: "base" } }));
    esm = await runtimes.create(
      options({
        worktreePath: worktree,
        runtime: { esm: true, strict: false, console: true },
        resolver: { roots: ["vendor"], extensions: [".js", ".mjs"], allowAbsoluteRepoImports: false },
      }),
    );
  });
  afterAll(() => {
    rt.dispose();
    esm.dispose();
  });

  const runFile = async (r: SessionRuntime, path: string, opts?: RunFileOptions) => {
    const lines: string[] = [];
    const result = await r.runFile(path, LIMITS, { onConsole: (_l, t) => (lines.push(t), true) }, opts);
    return { ...result, lines };
  };

  it("refuses bad paths before running anything", async () => {
    const cases: Array<[string, string]> = [
      ["/etc/passwd", "INVALID_PATH"],
      [join(worktree, "main.js"), "INVALID_PATH"],
      ["../x.js", "INVALID_PATH"],
      ["lib/../../x.js", "INVALID_PATH"],
      ["link.js", "INVALID_PATH"],
      ["lib", "INVALID_PATH"],
      ["missing.js", "FILE_NOT_FOUND"],
      ["", "INVALID_PATH"],
    ];
    for (const [path, code] of cases) {
      const err = await runFile(rt, path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, path).toBeInstanceOf(RuntimeError);
      expect((err as RuntimeError).code, path).toBe(code);
    }
  });

  it("eval mode: runs as a script; args and env are globals for that run only", async () => {
    const r = await runFile(rt, "main.js", { args: ["x", "y"], env: { REQ: "req" } });
    expect(valueOf(r.outcome)).toEqual({ type: "number", preview: "42", json: 42 });
    expect(r.lines).toEqual(["x,y b req"]);
    expect(valueOf((await repl(rt, "[argv, env]")).outcome).json).toEqual([[], { BASE: "b", REQ: "base" }]);
  });

  it("module mode: resolves relative imports, extensions, and runs each module once", async () => {
    const r = await runFile(esm, "esm/main.mjs", { args: ["a1"] });
    const v = valueOf(r.outcome);
    expect(v.json).toEqual({ args: ["a1"], helper: "h", result: 42, sum: 2 });
    // what util.inspect prints for a real namespace with these exports
    expect(v.preview).toBe("[Module: null prototype] {\n  args: [ 'a1' ],\n  helper: 'h',\n  result: 42,\n  sum: 2\n}");
    expect(valueOf((await repl(esm, "loads")).outcome).json).toBe(1);
  });

  it("module mode: bare specifiers go through resolver roots", async () => {
    expect(valueOf((await runFile(esm, "esm/bare.mjs")).outcome).json).toEqual({ v: "vendored" });
  });

  it("module mode: never resolves outside the worktree", async () => {
    for (const file of ["esm/escape.mjs", "esm/linked.mjs"]) {
      const e = exceptionOf((await runFile(esm, file)).outcome);
      expect(e.message, file).toMatch(/outside the worktree/);
      expect(e.stack).not.toContain(outside);
    }
    expect(exceptionOf((await runFile(esm, "esm/abs.mjs")).outcome).message).toMatch(/absolute imports are not allowed/);
    expect(exceptionOf((await runFile(esm, "esm/missing.mjs")).outcome).message).toBe("Cannot find module './nope.mjs' imported from 'esm/missing.mjs'");
  });

  it("module mode: repo-absolute imports when allowed", async () => {
    const abs = await runtimes.create(
      options({
        worktreePath: worktree,
        runtime: { esm: true, strict: false, console: true },
        resolver: { roots: [], extensions: [".mjs"], allowAbsoluteRepoImports: true },
      }),
    );
    try {
      expect(valueOf((await runFile(abs, "esm/abs.mjs")).outcome).json).toEqual({ r: 4 });
    } finally {
      abs.dispose();
    }
  });

  it("module mode: top-level await, non-plain exports, errors and limits", async () => {
    expect(valueOf((await runFile(esm, "esm/tla.mjs")).outcome).json).toEqual({ v: 5 });
    const fn = valueOf((await runFile(esm, "esm/fn.mjs")).outcome);
    expect(fn).toEqual({ type: "object", preview: "[Module: null prototype] { f: [Function: f] }" });
    expect(exceptionOf((await runFile(esm, "esm/throws.mjs")).outcome)).toMatchObject({ name: "Error", message: "module boom" });
    const syntax = exceptionOf((await runFile(esm, "esm/syntax.mjs")).outcome);
    expect(syntax.name).toBe("SyntaxError");
    expect(syntax.stack).not.toMatch(/\/work\/|boundary/);
    expect(exceptionOf((await runFile(esm, "esm/late-throw.mjs")).outcome)).toMatchObject({ name: "TypeError", message: "late boom" });
    expect(valueOf((await runFile(esm, "esm/then.mjs")).outcome).preview).toContain("then: [Function: then]");
    expect(valueOf((await repl(esm, "Object.getOwnPropertyNames(globalThis).filter(n => n.startsWith('__vmsystem'))")).outcome).json).toEqual([]);
    const forever = await esm.runFile("esm/forever.mjs", { cpuMs: 1000, wallMs: 300 }, { onConsole: () => true });
    expect(forever.outcome).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
  });

  it("mode can be chosen per call", async () => {
    expect(valueOf((await runFile(rt, "lib/util.mjs", { mode: "module" })).outcome).preview).toContain("twice");
    const evalMode = await runFile(esm, "main.js", { mode: "eval" });
    expect(valueOf(evalMode.outcome).json).toBe(42);
    expect(evalMode.lines).toEqual([" undefined undefined"]);
  });
});
