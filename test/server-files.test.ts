/**
 * A worktree may contain the server's own data directory (a server started
 * in the checkout it serves, as the README's first steps do), but nothing a
 * session names through it reaches that directory: not fs (read, write,
 * list, remove), not the database module, not run-file. A worktree inside
 * the data directory is refused outright.
 */
import { status } from "@grpc/grpc-js";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, makeWorktree, okValue, removeDir, type Session } from "./support/fixtures";
import { rpcError, startTestServer, type TestServer } from "./support/server";

describe("the server's own files", () => {
  let worktree: string;
  let dataDir: string;
  let s: TestServer;
  let api: Api;
  let session: Session;

  beforeAll(async () => {
    worktree = makeWorktree({ "ok.txt": "fine" });
    dataDir = join(worktree, ".vmsystem");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "secret.txt"), "server-only");
    writeFileSync(join(dataDir, "evil.js"), "'ran from the data directory'");
    s = await startTestServer({ dataDir });
    api = new Api(s);
    session = await api.ready({ modules: ["fs", "database"] }, worktree);
  });
  afterAll(async () => {
    await api?.closeAll();
    await s?.close();
    if (worktree) removeDir(worktree);
  });

  async function refused(code: string): Promise<string> {
    const e = await api.repl(session.id, `(() => { try { ${code}; return 'reached'; } catch (e) { return e.code + ': ' + e.message; } })()`);
    return okValue(e).json as string;
  }

  it("fs and the database module cannot reach it", async () => {
    const before = readFileSync(join(dataDir, "secret.txt"), "utf8");
    const attempts = [
      `require('fs').readFile('.vmsystem/secret.txt')`,
      `require('fs').readFile(${JSON.stringify(join(dataDir, "secret.txt"))})`,
      `require('fs').readFile('sub/../.vmsystem/secret.txt')`,
      `require('fs').writeFile('.vmsystem/secret.txt', 'overwritten')`,
      `require('fs').appendFile('.vmsystem/new.txt', 'x')`,
      `require('fs').readdir('.vmsystem')`,
      `require('fs').stat('.vmsystem/secret.txt')`,
      `require('fs').exists('.vmsystem/secret.txt')`,
      `require('fs').mkdir('.vmsystem/d')`,
      `require('fs').rm('.vmsystem', { recursive: true })`,
      `require('database').configure({ filename: '.vmsystem/vmsystem.db' })`,
      `require('database').configure({ filename: '.vmsystem/other.db' })`,
    ];
    for (const code of attempts) expect(await refused(code), code).toMatch(/^EACCES: .*server's own data/);
    expect(readFileSync(join(dataDir, "secret.txt"), "utf8")).toBe(before);
    expect(existsSync(join(dataDir, "new.txt"))).toBe(false);
    expect(existsSync(join(dataDir, "other.db"))).toBe(false);
    expect(statSync(dataDir).isDirectory()).toBe(true);
    // The rest of the worktree is as usable as ever.
    expect(await refused(`globalThis.t = require('fs').readFile('ok.txt')`)).toBe("reached");
  });

  it("run-file cannot run a file in it", async () => {
    const e = await rpcError(api.runFile(session.id, ".vmsystem/evil.js"));
    expect([e.code, e.reason]).toEqual([status.INVALID_ARGUMENT, "INVALID_PATH"]);
    expect(e.message).toContain("server's own data");
  });

  it("is never a worktree itself", async () => {
    const t = await api.template();
    for (const dir of [dataDir, join(dataDir, "inner")]) {
      mkdirSync(dir, { recursive: true });
      const e = await rpcError(api.session(t.id, dir));
      expect([e.code, e.reason], dir).toEqual([status.INVALID_ARGUMENT, "INVALID_PATH"]);
    }
  });
});
