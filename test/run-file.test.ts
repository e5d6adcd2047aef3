/**
 * ExecuteRunFile end to end: files relative to the worktree, argv/env for one
 * run, path checks before any code runs, and ES modules (runtime.esm).
 */
import { status } from "@grpc/grpc-js";
import { mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutionKind } from "../gen/vmsystem/v1/execution";
import {
  Api,
  consoleLines,
  describeExecution,
  EventType,
  eventTypes,
  ExecutionStatus,
  okValue,
  removeDir,
  SessionStatus,
  writeFiles,
  type Session,
} from "./support/fixtures";
import { rpcError, startTestServer, type TestServer } from "./support/server";

let s: TestServer;
let api: Api;
/** Holds a worktree and, beside it, a file outside it. */
let parent: string;
let outsideFile: string;

beforeAll(async () => {
  s = await startTestServer();
  api = new Api(s);
  parent = mkdtempSync(join(tmpdir(), "vmsystem-runfile-"));
  outsideFile = join(parent, "outside.js");
  writeFileSync(outsideFile, "globalThis.outsideRan = true; export default 'outside'; ");
});
afterAll(async () => {
  await api?.closeAll();
  await s?.close();
  if (parent) removeDir(parent);
});

/** A worktree inside `parent`, so `../outside.js` exists next to it. */
function worktree(files: Record<string, string>): string {
  const dir = realpathSync(mkdtempSync(join(parent, "wt-")));
  writeFiles(dir, files);
  return dir;
}

describe("run-file (script mode)", () => {
  let dir: string;
  let session: Session;
  beforeAll(async () => {
    dir = worktree({
      "calc.js": "console.log('computing');\nvar fromFile = 6 * 7;\nfromFile",
      "sub/dir/nested.js": "'nested ' + (1 + 1)",
      "args.js": "({ argv: argv, env: env })",
      "boom.js": "function explode() { throw new Error('from file') }\nexplode()",
      "inside-target.js": "'through a symlink inside'",
      "later.js": "globalThis.fileRuns = (globalThis.fileRuns || 0) + 1; fileRuns",
    });
    symlinkSync(outsideFile, join(dir, "escape-link.js"));
    symlinkSync(join(dir, "inside-target.js"), join(dir, "inside-link.js"));
    session = await api.ready({ name: "run-file" }, dir);
  });

  it("runs a file relative to the worktree: INPUT_ECHO is the path, VALUE its completion value", async () => {
    const e = await api.runFile(session.id, "calc.js");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(e).toMatchObject({ kind: ExecutionKind.EXECUTION_KIND_RUN_FILE, path: "calc.js", sessionId: session.id });
    expect(eventTypes(e)).toEqual(["INPUT_ECHO", "CONSOLE", "VALUE"]);
    expect(e.events[0].inputEcho?.text).toBe("calc.js");
    expect(consoleLines(e)).toEqual(["log: computing"]);
    expect(okValue(e)).toMatchObject({ type: "number", json: 42 });
    expect(e.result).toMatchObject({ type: "number", json: 42 });
    expect(e.metrics?.eventCount).toBe(3);
    expect((await api.getExecution(e.id)).events).toEqual(e.events);
  });

  it("runs files in subdirectories and through symlinks that stay inside", async () => {
    expect(okValue(await api.runFile(session.id, "sub/dir/nested.js")).json).toBe("nested 2");
    expect(okValue(await api.runFile(session.id, "./sub/../sub/dir/nested.js")).json).toBe("nested 2");
    expect(okValue(await api.runFile(session.id, "inside-link.js")).json).toBe("through a symlink inside");
  });

  it("args and env become the globals argv and env for that run only", async () => {
    const e = await api.runFile(session.id, "args.js", { args: ["a", "b c"], env: { K: "v", EMPTY: "" } });
    expect(okValue(e).json).toEqual({ argv: ["a", "b c"], env: { K: "v", EMPTY: "" } });
    expect(e.args).toEqual(["a", "b c"]);
    expect(e.env).toEqual({ K: "v", EMPTY: "" });
    // Not in the next REPL snippet …
    const after = await api.repl(session.id, "[typeof argv === 'undefined' || argv.length === 0, typeof env === 'undefined' || !('K' in env)]");
    expect(okValue(after).json).toEqual([true, true]);
    // … nor in the next run of the same file.
    expect(okValue(await api.runFile(session.id, "args.js")).json).toEqual({ argv: [], env: {} });
  });

  it("a throw in a file ends ERROR/EXCEPTION with a stack free of host paths", async () => {
    const e = await api.runFile(session.id, "boom.js");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).toBe("EXCEPTION");
    const ex = e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)!.exception!;
    expect(ex).toMatchObject({ name: "Error", message: "from file" });
    expect(ex.stack).toContain("explode");
    expect(ex.stack).not.toContain("/work/main");
    expect(ex.stack).not.toContain("node_modules");
  });

  it("rejects absolute and escaping paths with INVALID_PATH before any code runs", async () => {
    const before = (await api.allExecutions(session.id)).length;
    for (const path of ["/etc/passwd", join(dir, "calc.js"), "../outside.js", "sub/../../outside.js", "escape-link.js"]) {
      const err = await rpcError(api.runFile(session.id, path));
      expect(err, path).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH", domain: "vmsystem.v1" });
    }
    expect(await api.allExecutions(session.id)).toHaveLength(before);
    expect(okValue(await api.repl(session.id, "typeof outsideRan")).json).toBe("undefined");
  });

  it("a missing file is NOT_FOUND/FILE_NOT_FOUND and records nothing; an empty path is VALIDATION_ERROR", async () => {
    const before = (await api.allExecutions(session.id)).length;
    expect(await rpcError(api.runFile(session.id, "nope.js"))).toMatchObject({ code: status.NOT_FOUND, reason: "FILE_NOT_FOUND", domain: "vmsystem.v1" });
    expect(await rpcError(api.runFile(session.id, "sub/missing.js"))).toMatchObject({ code: status.NOT_FOUND, reason: "FILE_NOT_FOUND" });
    expect(await rpcError(api.runFile(session.id, ""))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "VALIDATION_ERROR" });
    expect(await api.allExecutions(session.id)).toHaveLength(before);
  });

  it("a request_id retry of a run-file returns the first execution and runs nothing", async () => {
    const first = await api.runFile(session.id, "later.js", { args: ["x"], requestId: "file-once" });
    expect(okValue(first).json).toBe(1);
    const retry = await api.runFile(session.id, "later.js", { args: ["x"], requestId: "file-once" });
    expect(retry.id).toBe(first.id);
    expect(okValue(await api.repl(session.id, "fileRuns")).json).toBe(1);
    expect(await rpcError(api.runFile(session.id, "later.js", { args: ["y"], requestId: "file-once" }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      reason: "VALIDATION_ERROR",
    });
  });
});

describe("run-file with runtime.esm", () => {
  let dir: string;
  let session: Session;
  beforeAll(async () => {
    dir = worktree({
      "lib.js": "export const a = 1;\nexport function f() { return 2 }",
      "main.js": "import { a } from './lib.js';\nconsole.log('a is', a);\nexport const b = a + 1;\nexport const s = 'x';",
      "noext.js": "import { a } from './lib';\nexport const c = a;",
      "withfn.js": "import { f } from './lib.js';\nexport const n = f();\nexport { f };",
      "tla.js": "export const v = await Promise.resolve(3);",
      "escape.js": "import x from '../outside.js';\nexport default x;",
      "missing-import.js": "import { z } from './not-there.js';\nexport const y = z;",
      "throws.js": "export const q = 1;\nthrow new TypeError('module threw');",
      "uses-root.js": "import { h } from 'helpers';\nexport const fromRoot = h;",
      "vendor/helpers.js": "export const h = 'from vendor';",
      "args.mjs": "export const got = { argv, env };",
    });
    session = await api.ready({ name: "esm", settings: { runtime: { esm: true }, resolver: { roots: ["vendor"], extensions: [".js", ".mjs"] } } }, dir);
  });

  it("a file importing a sibling module runs; VALUE is its namespace with json of plain exports", async () => {
    const e = await api.runFile(session.id, "main.js");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
    expect(consoleLines(e)).toEqual(["log: a is 1"]);
    expect(okValue(e).json).toEqual({ b: 2, s: "x" });
    expect(okValue(e).preview).toContain("b: 2");
  });

  it("resolves extension-less specifiers with the resolver's extensions and bare ones through its roots", async () => {
    expect(okValue(await api.runFile(session.id, "noext.js")).json).toEqual({ c: 1 });
    expect(okValue(await api.runFile(session.id, "uses-root.js")).json).toEqual({ fromRoot: "from vendor" });
  });

  it("a namespace with a function export has a VALUE but no json", async () => {
    const v = okValue(await api.runFile(session.id, "withfn.js"));
    expect(v.json).toBeUndefined();
    expect(v.preview).toContain("n: 2");
  });

  it("supports top-level await and argv/env in modules", async () => {
    expect(okValue(await api.runFile(session.id, "tla.js")).json).toEqual({ v: 3 });
    expect(okValue(await api.runFile(session.id, "args.mjs", { args: ["1"], env: { E: "e" } })).json).toEqual({ got: { argv: ["1"], env: { E: "e" } } });
  });

  it("an import escaping the worktree fails the execution, not the server", async () => {
    const e = await api.runFile(session.id, "escape.js");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.error?.code).not.toBe("");
    expect(e.events.some((ev) => ev.type === EventType.EVENT_TYPE_VALUE)).toBe(false);
    expect(okValue(await api.repl(session.id, "typeof outsideRan")).json).toBe("undefined");
    expect((await api.getSession(session.id)).status).toBe(SessionStatus.SESSION_STATUS_READY);
    expect(okValue(await api.runFile(session.id, "noext.js")).json).toEqual({ c: 1 });
  });

  it("a missing import or a throwing module ends ERROR", async () => {
    const missing = await api.runFile(session.id, "missing-import.js");
    expect(missing.status, describeExecution(missing)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    const threw = await api.runFile(session.id, "throws.js");
    expect(threw.status, describeExecution(threw)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(threw.error?.code).toBe("EXCEPTION");
    expect(threw.events.find((ev) => ev.exception)?.exception).toMatchObject({ name: "TypeError", message: "module threw" });
  });
});
