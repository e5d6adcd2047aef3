import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionRuntime } from "../../src/runtime";
import { exceptionOf, options, repl, tempWorktree, valueOf, runtimes } from "./helpers";

const outside = tempWorktree("vmsystem-outside-");
writeFileSync(join(outside, "secret.txt"), "top secret");

const value = async (rt: SessionRuntime, code: string, wallMs?: number) => valueOf((await repl(rt, code, wallMs ? { wallMs } : {})).outcome).json;
const thrown = async (rt: SessionRuntime, code: string) => exceptionOf((await repl(rt, code)).outcome);

describe("require", () => {
  it("only knows granted modules", async () => {
    const rt = await runtimes.create(options({ modules: ["path"] }));
    try {
      expect(await value(rt, "typeof require('path').join")).toBe("function");
      for (const name of ["fs", "child_process", "database", "exec", "__proto__"]) {
        expect((await thrown(rt, `require(${JSON.stringify(name)})`)).message).toMatch(/not granted/);
      }
    } finally {
      rt.dispose();
    }
  });
});

describe("fs module", () => {
  let worktree: string;
  let rt: SessionRuntime;
  beforeAll(async () => {
    worktree = tempWorktree();
    writeFileSync(join(worktree, "hello.txt"), "hello");
    symlinkSync(outside, join(worktree, "out"));
    symlinkSync(join(outside, "missing.txt"), join(worktree, "dangling"));
    rt = await runtimes.create(options({ worktreePath: worktree, modules: ["fs"] }));
    await repl(rt, "var fs = require('fs')");
  });
  afterAll(() => rt.dispose());

  it("reads, writes and lists inside the worktree", async () => {
    expect(await value(rt, "fs.readFile('hello.txt')")).toBe("hello");
    expect(await value(rt, `fs.readFile(${JSON.stringify(join(worktree, "hello.txt"))})`)).toBe("hello");
    expect(await value(rt, "Array.from(fs.readFile('hello.txt', null))")).toEqual([104, 101, 108, 108, 111]);
    await value(rt, "fs.mkdir('a/b', { recursive: true }); fs.writeFile('a/b/c.txt', 'one'); fs.appendFile('a/b/c.txt', '+two')");
    expect(readFileSync(join(worktree, "a/b/c.txt"), "utf8")).toBe("one+two");
    await value(rt, "fs.writeFile('bytes.bin', new Uint8Array([1, 2, 3]))");
    expect([...readFileSync(join(worktree, "bytes.bin"))]).toEqual([1, 2, 3]);
    expect(await value(rt, "fs.readdir('a/b')")).toEqual(["c.txt"]);
    expect(await value(rt, "[fs.exists('hello.txt'), fs.exists('nope.txt')]")).toEqual([true, false]);
    expect(await value(rt, "const st = fs.stat('a'); [st.isFile, st.isDirectory, typeof st.size, typeof st.mtimeMs]")).toEqual([
      false,
      true,
      "number",
      "number",
    ]);
    await value(rt, "fs.rm('a', { recursive: true })");
    expect(existsSync(join(worktree, "a"))).toBe(false);
  });

  it("stays inside the worktree, symlinks included, and names no host path", async () => {
    for (const code of [
      "fs.readFile('../x.txt')",
      "fs.readFile('/etc/passwd')",
      "fs.readFile('out/secret.txt')",
      "fs.writeFile('out/new.txt', 'x')",
      "fs.writeFile('dangling', 'x')",
      "fs.readdir('out')",
      "fs.rm('.', { recursive: true })",
    ]) {
      const e = await thrown(rt, code);
      expect(e.message, code).not.toContain(outside);
      expect(e.message, code).toMatch(/outside the worktree|dangling|cannot be removed/);
    }
    expect(existsSync(join(outside, "new.txt"))).toBe(false);
    expect(existsSync(join(outside, "missing.txt"))).toBe(false);
    const missing = await thrown(rt, "fs.readFile('nope.txt')");
    expect(missing.message).toBe("ENOENT: no such file or directory, open 'nope.txt'");
    expect(await value(rt, "try { fs.readFile('nope.txt') } catch (e) { e.code }")).toBe("ENOENT");
    // removing the link itself is fine: it lives in the worktree
    await value(rt, "fs.rm('dangling')");
    expect(existsSync(join(worktree, "dangling"))).toBe(false);
  });

  it("can be read-only", async () => {
    const ro = await runtimes.create(options({ worktreePath: worktree, modules: ["fs"], fsWritable: false }));
    try {
      expect(await value(ro, "require('fs').readFile('hello.txt')")).toBe("hello");
      for (const code of ["writeFile('x', 'y')", "appendFile('hello.txt', 'y')", "mkdir('d')", "rm('hello.txt')"]) {
        expect((await thrown(ro, `require('fs').${code}`)).message).toMatch(/read-only/);
      }
      expect(readFileSync(join(worktree, "hello.txt"), "utf8")).toBe("hello");
    } finally {
      ro.dispose();
    }
  });
});

describe("path module", () => {
  it("is Node's path.posix with the worktree as cwd", async () => {
    const worktree = tempWorktree();
    const rt = await runtimes.create(options({ worktreePath: worktree, modules: ["path"] }));
    try {
      expect(
        await value(
          rt,
          `const path = require('path');
        [path.join('a', '../b', 'c.js'), path.basename('/x/y.txt', '.txt'), path.extname('f.tar.gz'),
         path.resolve('src'), path.relative('src/a', 'lib'), path.parse('/a/b.c').name, path.sep, path.posix === path,
         path.isAbsolute('/a'), path.normalize('a//b/../c')]`,
        ),
      ).toEqual(["b/c.js", "y", ".gz", join(worktree, "src"), "../../lib", "b", "/", true, true, "a/c"]);
      expect((await thrown(rt, "require('path').join(1)")).name).toBe("TypeError");
    } finally {
      rt.dispose();
    }
  });
});

describe("database module", () => {
  it("runs SQL in memory and in a worktree file", async () => {
    const worktree = tempWorktree();
    const rt = await runtimes.create(options({ worktreePath: worktree, modules: ["database"] }));
    try {
      expect(
        await value(
          rt,
          `const db = require('database');
        db.configure();
        db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, ok INTEGER)');
        const a = db.exec('INSERT INTO t (name, ok) VALUES (?, ?)', ['a', true]);
        const b = db.exec('INSERT INTO t (name, ok) VALUES (@name, @ok)', { name: 'b', ok: false });
        [a.changes, b.changes, db.query('SELECT name, ok FROM t WHERE id > ? ORDER BY id', [0])]`,
        ),
      ).toEqual([
        1,
        1,
        [
          { name: "a", ok: 1 },
          { name: "b", ok: 0 },
        ],
      ]);
      expect(await value(rt, "db.exec('UPDATE t SET ok = 1; DELETE FROM t WHERE name = \\'a\\'').changes")).toBe(3);
      expect((await thrown(rt, "db.query('SELEC nope')")).message).toMatch(/syntax error/);
      expect((await thrown(rt, "db.configure({ filename: '../escape.db' })")).message).toMatch(/outside the worktree/);

      await value(rt, "db.configure({ filename: 'data.db' }); db.exec('CREATE TABLE k (v TEXT)'); db.exec('INSERT INTO k VALUES (?)', ['kept']); db.close()");
      expect(existsSync(join(worktree, "data.db"))).toBe(true);
      expect(await value(rt, "db.configure({ filename: 'data.db' }); db.query('SELECT v FROM k')")).toEqual([{ v: "kept" }]);
    } finally {
      rt.dispose();
    }
  });
});

describe("exec module", () => {
  it("is refused with a clear error unless the server allows it", async () => {
    const rt = await runtimes.create(options({ modules: ["exec"], allowExec: false }));
    try {
      expect((await thrown(rt, "require('exec')")).message).toMatch(/--allow-exec/);
    } finally {
      rt.dispose();
    }
  });

  it("runs argv without a shell in the worktree", async () => {
    const worktree = tempWorktree();
    mkdirSync(join(worktree, "sub"));
    const rt = await runtimes.create(options({ worktreePath: worktree, modules: ["exec"], allowExec: true, env: { GREETING: "hey" } }));
    try {
      expect(await value(rt, "const exec = require('exec'); exec(['echo', 'hi', '$HOME'])")).toEqual({
        code: 0,
        signal: null,
        stdout: "hi $HOME\n",
        stderr: "",
      });
      expect(await value(rt, "exec.run(['cat'], { input: 'from stdin' }).stdout")).toBe("from stdin");
      expect(await value(rt, "exec(['pwd']).stdout.trim()")).toBe(worktree);
      expect(await value(rt, "exec(['sh', '-c', 'echo $GREETING; exit 3'])")).toMatchObject({ code: 3, stdout: "hey\n" });
      expect(await value(rt, "exec(['sleep', '5'], { timeoutMs: 100 })")).toMatchObject({ code: null, signal: "SIGKILL" });
      expect((await thrown(rt, "exec(['definitely-not-a-program-xyz'])")).message).toMatch(/cannot run 'definitely-not-a-program-xyz': ENOENT/);
      expect((await thrown(rt, "exec('echo hi')")).name).toBe("TypeError");
      const t0 = Date.now();
      const stopped = await repl(rt, "exec(['sleep', '5'])", { wallMs: 300 });
      // the child is killed when the run stops; the sandbox then hits its own timeout
      expect(stopped.outcome).toEqual({ kind: "timeout", limit: "wall", isolateDisposed: false });
      expect(await value(rt, "typeof exec")).toBe("function");
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      rt.dispose();
    }
  });

  it("a call that times out takes its child's background processes with it, before the run ends", async () => {
    const rt = await runtimes.create(options({ modules: ["exec"], allowExec: true }));
    try {
      // Checked from inside the same run, so only the timeout's kill can have ended the grandchild.
      expect(
        await value(
          rt,
          `const exec = require('exec');
        const r = exec(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!; sleep 30'], { timeoutMs: 200 });
        const pid = r.stdout.trim();
        let state = 'unknown';
        for (let i = 0; i < 100; i++) {
          state = exec(['sh', '-c', 'cut -d " " -f 3 /proc/$0/stat 2>/dev/null', pid]).stdout.trim();
          if (state === '' || state === 'Z') break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        [r.signal, /^[0-9]+$/.test(pid), state === '' || state === 'Z' ? 'gone' : 'alive: ' + state]`,
          10_000,
        ),
      ).toEqual(["SIGKILL", true, "gone"]);
    } finally {
      rt.dispose();
    }
  });
});
