/**
 * What code inside a session can reach: granted modules (fs, path, database,
 * exec), libraries, capabilities, runtime settings, timers — and nothing of
 * the host otherwise, whatever the snippet tries.
 */
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Api,
  consoleLines,
  describeExecution,
  EventType,
  ExecutionStatus,
  makeWorktree,
  okValue,
  removeDir,
  sleep,
  writeFiles,
  type Execution,
  type Session,
} from "./support/fixtures";
import { startTestServer, type TestServer } from "./support/server";

const PROJECT_ROOT = join(__dirname, "..");
const ALLOWED_VAR = "VMSYSTEM_TEST_ALLOWED_VAR";
const SECRET_VAR = "VMSYSTEM_TEST_SECRET_VAR";

let s: TestServer;
let api: Api;
const dirs: string[] = [];

beforeAll(async () => {
  process.env[ALLOWED_VAR] = "allowed-value";
  process.env[SECRET_VAR] = "secret-value";
  // --env-allow names what an env capability may copy at all; the capability then picks from it.
  s = await startTestServer({ envAllow: [ALLOWED_VAR, SECRET_VAR, "VMSYSTEM_TEST_UNSET_VAR"] });
  api = new Api(s);
});
afterAll(async () => {
  await api?.closeAll();
  await s?.close();
  for (const d of dirs) removeDir(d);
  delete process.env[ALLOWED_VAR];
  delete process.env[SECRET_VAR];
});

function worktree(files: Record<string, string> = {}): string {
  const dir = makeWorktree(files);
  dirs.push(dir);
  return dir;
}

const value = async (sessionId: string, input: string) => okValue(await api.repl(sessionId, input)).json;

function exceptionOf(e: Execution) {
  expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
  expect(e.error?.code).toBe("EXCEPTION");
  return e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)!.exception!;
}

describe("modules", () => {
  let dir: string;
  let outside: string;
  let session: Session;
  beforeAll(async () => {
    // The worktree sits inside `outside`, so every escape below names a file that exists:
    // a row passes only if the escape is refused, not because there is nothing to read.
    outside = worktree({ "secret.txt": "outside secret", x: "outside x", "data.txt": "outside data" });
    dir = join(outside, "wt");
    writeFiles(dir, { "data.txt": "hello", "sub/inner.txt": "inner" });
    symlinkSync(join(outside, "secret.txt"), join(dir, "link-out.txt"));
    session = await api.ready({ name: "modules", modules: ["fs", "path", "database", "exec"] }, dir);
  });

  it("path is Node's path.posix", async () => {
    expect(await value(session.id, "require('path').join('a', 'b')")).toBe("a/b");
    expect(
      await value(session.id, "const path = require('path'); [path.basename('/x/y.js', '.js'), path.extname('f.txt'), path.normalize('a//b/../c'), path.sep]"),
    ).toEqual(["y", ".txt", "a/c", "/"]);
  });

  it("fs reads inside the worktree, relative or absolute", async () => {
    expect(await value(session.id, "require('fs').readFile('data.txt')")).toBe("hello");
    expect(await value(session.id, `require('fs').readFile(${JSON.stringify(join(dir, "sub/inner.txt"))})`)).toBe("inner");
    expect(await value(session.id, "require('fs').readdir('.').includes('data.txt')")).toBe(true);
    expect(await value(session.id, "const st = require('fs').stat('data.txt'); [st.size, st.isFile, st.isDirectory]")).toEqual([5, true, false]);
    expect(await value(session.id, "[require('fs').exists('data.txt'), require('fs').exists('nope.txt')]")).toEqual([true, false]);
  });

  it.each([["/etc/passwd"], ["../x"], ["sub/../../data.txt"], ["link-out.txt"]])("fs refuses to read %s: the sandbox catches an error", async (p) => {
    expect(existsSync(resolve(dir, p)), `${p} names a real file`).toBe(true);
    const e = await api.repl(
      session.id,
      `try { const text = require('fs').readFile(${JSON.stringify(p)}); 'read: ' + text.slice(0, 20) } catch (err) { 'denied: ' + (err instanceof Error) }`,
    );
    expect(okValue(e).json).toBe("denied: true");
  });

  it("fs refuses a path outside given as absolute", async () => {
    const e = await api.repl(session.id, `require('fs').readFile(${JSON.stringify(join(outside, "secret.txt"))})`);
    const ex = exceptionOf(e);
    expect(ex.message).not.toContain("outside secret");
    expect(ex.stack).not.toContain(PROJECT_ROOT);
  });

  it("fs writes inside the worktree (the file appears on disk) and not outside", async () => {
    expect(
      await value(
        session.id,
        "const fs = require('fs'); fs.mkdir('out/deep', { recursive: true }); fs.writeFile('out/deep/new.txt', 'written'); fs.appendFile('out/deep/new.txt', '!'); fs.readFile('out/deep/new.txt')",
      ),
    ).toBe("written!");
    expect(readFileSync(join(dir, "out/deep/new.txt"), "utf8")).toBe("written!");
    const escape = await api.repl(session.id, "try { require('fs').writeFile('../escaped.txt', 'x'); 'wrote' } catch (err) { 'denied' }");
    expect(okValue(escape).json).toBe("denied");
    expect(existsSync(join(dir, "..", "escaped.txt"))).toBe(false);
    const throughLink = await api.repl(session.id, "try { require('fs').writeFile('link-out.txt', 'overwritten'); 'wrote' } catch (err) { 'denied' }");
    expect(okValue(throughLink).json).toBe("denied");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("outside secret");
    expect(await value(session.id, "require('fs').rm('out', { recursive: true }); require('fs').exists('out')")).toBe(false);
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("database: configure, exec and query round trip, with ? placeholders", async () => {
    const e = await api.repl(
      session.id,
      [
        "const db = require('database')",
        "db.configure({})",
        "db.exec('create table t (id integer primary key, name text)')",
        "const ins = db.exec('insert into t (name) values (?)', ['a'])",
        "db.exec('insert into t (name) values (?)', ['b'])",
        "({ changes: ins.changes, rows: db.query('select id, name from t where id >= ? order by id', [1]) })",
      ].join(";\n"),
    );
    expect(okValue(e).json).toEqual({
      changes: 1,
      rows: [
        { id: 1, name: "a" },
        { id: 2, name: "b" },
      ],
    });
  });

  it("database: a relative filename lives in the worktree and outlives close()", async () => {
    expect(
      await value(
        session.id,
        "const d2 = require('database'); d2.configure({ filename: 'app.db' }); d2.exec('create table k (v text)'); d2.exec('insert into k values (?)', ['kept']); d2.close(); d2.configure({ filename: 'app.db' }); d2.query('select v from k')",
      ),
    ).toEqual([{ v: "kept" }]);
    expect(existsSync(join(dir, "app.db"))).toBe(true);
    const bad = await api.repl(session.id, "try { require('database').configure({ filename: '../evil.db' }); 'opened' } catch (err) { 'denied' }");
    expect(okValue(bad).json).toBe("denied");
    expect(existsSync(join(dir, "..", "evil.db"))).toBe(false);
  });

  it("require('exec') throws a clear error when the server lacks --allow-exec", async () => {
    const e = await api.repl(session.id, "require('exec')");
    const ex = exceptionOf(e);
    expect(ex.message).toMatch(/allow-exec/);
  });

  it("modules that were not granted cannot be required", async () => {
    for (const name of ["child_process", "net", "http", "os", "vm", "module"]) {
      const ex = exceptionOf(await api.repl(session.id, `require(${JSON.stringify(name)})`));
      expect(ex.message, name).toContain(name);
    }
  });

  it("without granted modules there is no require at all", async () => {
    const plain = await api.ready({ name: "no-modules" });
    expect(await value(plain.id, "typeof require")).toBe("undefined");
    const granted = await api.ready({ name: "path-only", modules: ["path"] });
    exceptionOf(await api.repl(granted.id, "require('fs')"));
  });

  it("module errors carry no host stack", async () => {
    const ex = exceptionOf(await api.repl(session.id, "require('fs').readFile('missing-file.txt')"));
    expect(ex.stack).not.toContain(PROJECT_ROOT);
    expect(ex.stack).not.toContain("node_modules");
  });
});

describe("exec with --allow-exec", () => {
  let server: TestServer;
  let execApi: Api;
  beforeAll(async () => {
    server = await startTestServer({ allowExec: true });
    execApi = new Api(server);
  });
  afterAll(async () => {
    await execApi?.closeAll();
    await server?.close();
  });

  it("runs argv with no shell, cwd = worktree", async () => {
    const dir = worktree({ "marker.txt": "m" });
    const session = await execApi.ready({ name: "exec", modules: ["exec"] }, dir);
    const run = async (input: string) => okValue(await execApi.repl(session.id, input)).json;
    expect(await run("const r = require('exec').run(['echo', 'hi']); ({ code: r.code, stdout: r.stdout, stderr: r.stderr })")).toEqual({
      code: 0,
      stdout: "hi\n",
      stderr: "",
    });
    expect(await run("require('exec')(['echo', '$HOME', '&&', 'ls']).stdout")).toBe("$HOME && ls\n");
    expect(await run("require('exec')(['pwd']).stdout.trim()")).toBe(dir);
    expect(await run("require('exec').run(['cat'], { input: 'piped' }).stdout")).toBe("piped");
    expect(await run("require('exec').run(['sh', '-c', 'exit 3']).code")).toBe(3);
    // Without the module granted, the flag alone grants nothing.
    const other = await execApi.ready({ name: "exec-not-granted" });
    expect(okValue(await execApi.repl(other.id, "typeof require")).json).toBe("undefined");
  });
});

describe("libraries", () => {
  it("lodash, dayjs, ramda and moment are globals when added", async () => {
    const session = await api.ready({ name: "libs", libraries: ["lodash", "dayjs", "ramda", "moment"] });
    expect(await value(session.id, "_.chunk([1, 2, 3], 2)")).toEqual([[1, 2], [3]]);
    expect(await value(session.id, "dayjs('2020-01-02T00:00:00Z').isValid() && dayjs('2020-01-02').year()")).toBe(2020);
    expect(await value(session.id, "R.add(1, 2)")).toBe(3);
    expect(await value(session.id, "moment.utc('2020-01-02').format('YYYY-MM-DD')")).toBe("2020-01-02");
  });

  it("are absent unless added", async () => {
    const session = await api.ready({ name: "only-lodash", libraries: ["lodash"] });
    expect(await value(session.id, "[typeof _, typeof dayjs, typeof R, typeof moment]")).toEqual(["function", "undefined", "undefined", "undefined"]);
  });
});

describe("capabilities", () => {
  it("global: a read-only global holding the capability's config", async () => {
    const session = await api.ready({
      name: "cap-global",
      capabilities: [{ kind: "global", name: "settings", config: { region: "eu", n: 3, nested: { ok: true } } }],
    });
    expect(await value(session.id, "settings")).toEqual({ region: "eu", n: 3, nested: { ok: true } });
    expect(
      await value(
        session.id,
        "try { settings.region = 'us' } catch {} try { settings.nested.ok = false } catch {} try { settings = 5 } catch {} try { delete globalThis.settings } catch {} settings",
      ),
    ).toEqual({ region: "eu", n: 3, nested: { ok: true } });
  });

  it("global with enabled: false defines nothing", async () => {
    const session = await api.ready({ name: "cap-off", capabilities: [{ kind: "global", name: "flags", config: { a: 1 }, enabled: false }] });
    expect(await value(session.id, "typeof flags")).toBe("undefined");
  });

  it("env: copies only the allowed server variables into env; run-file env wins over it", async () => {
    const dir = worktree({ "show-env.js": "JSON.stringify(env)" });
    const session = await api.ready(
      { name: "cap-env", capabilities: [{ kind: "env", name: "vars", config: { allow: [ALLOWED_VAR, "VMSYSTEM_TEST_UNSET_VAR"] } }] },
      dir,
    );
    expect(await value(session.id, "env")).toEqual({ [ALLOWED_VAR]: "allowed-value" });
    const file = okValue(await api.runFile(session.id, "show-env.js", { env: { [ALLOWED_VAR]: "from request", OTHER: "o" } })).json as string;
    expect(JSON.parse(file)).toEqual({ [ALLOWED_VAR]: "from request", OTHER: "o" });
    expect(await value(session.id, "JSON.stringify(env)")).not.toContain(SECRET_VAR);
    expect(await value(session.id, "env")).toEqual({ [ALLOWED_VAR]: "allowed-value" });
  });

  it("module: grants the module like AddModule; fs with write: false makes fs read-only", async () => {
    const dir = worktree({ "r.txt": "readable" });
    const session = await api.ready(
      {
        name: "cap-fs",
        capabilities: [
          { kind: "module", name: "fs" },
          { kind: "fs", name: "ro", config: { write: false } },
        ],
      },
      dir,
    );
    expect(await value(session.id, "require('fs').readFile('r.txt')")).toBe("readable");
    expect(await value(session.id, "try { require('fs').writeFile('w.txt', 'x'); 'wrote' } catch (err) { 'denied' }")).toBe("denied");
    expect(existsSync(join(dir, "w.txt"))).toBe(false);
  });
});

describe("runtime settings and timers", () => {
  it("runtime.strict evaluates REPL input in strict mode", async () => {
    const session = await api.ready({ name: "strict", settings: { runtime: { strict: true } } });
    expect(exceptionOf(await api.repl(session.id, "undeclared = 1")).name).toBe("ReferenceError");
    expect(await value(session.id, "(function () { return typeof this })()")).toBe("undefined");
  });

  it("runtime.console = false: console calls produce no events", async () => {
    const session = await api.ready({ name: "quiet", settings: { runtime: { console: false } } });
    const e = await api.repl(session.id, "if (typeof console !== 'undefined') console.log('hidden'); 'done'");
    expect(okValue(e).json).toBe("done");
    expect(consoleLines(e)).toEqual([]);
  });

  it("setTimeout/setInterval/clearInterval work within an execution", async () => {
    const session = await api.ready({ name: "timers" });
    expect(
      await value(
        session.id,
        "let ticks = 0; await new Promise((r) => { const h = setInterval(() => { if (++ticks === 3) { clearInterval(h); r() } }, 5) }); ticks",
      ),
    ).toBe(3);
    expect(
      await value(
        session.id,
        "let cleared = true; const t = setTimeout(() => { cleared = false }, 5); clearTimeout(t); await new Promise((r) => setTimeout(r, 30)); cleared",
      ),
    ).toBe(true);
  });

  it("timers still pending when an execution ends are cleared", async () => {
    const session = await api.ready({ name: "pending-timers" });
    const e = await api.repl(
      session.id,
      "setTimeout(() => { globalThis.fired = true; console.log('late') }, 30); setInterval(() => { globalThis.ticked = true }, 10); 'scheduled'",
    );
    expect(okValue(e).json).toBe("scheduled");
    await sleep(150);
    expect(await value(session.id, "[typeof fired, typeof ticked]")).toEqual(["undefined", "undefined"]);
    expect(consoleLines(await api.getExecution(e.id))).toEqual([]);
  });
});

describe("hostile snippets find nothing of the host", () => {
  let session: Session;
  beforeAll(async () => {
    session = await api.ready({ name: "hostile" });
  });

  it("the Function constructor reached through this / {} sees no process", async () => {
    const e = await api.repl(session.id, "this.constructor.constructor('return process')()");
    expect(exceptionOf(e).name).toBe("ReferenceError");
    expect(await value(session.id, "({}).constructor.constructor('return typeof process')()")).toBe("undefined");
    expect(await value(session.id, "new Function('return typeof this.process')()")).toBe("undefined");
    expect(await value(session.id, "console.log.constructor('return typeof process')()")).toBe("undefined");
    expect(await value(session.id, "setTimeout.constructor('return typeof process')()")).toBe("undefined");
  });

  it("no Node globals: require, process, Buffer, setImmediate, module, __dirname", async () => {
    expect(
      await value(
        session.id,
        "[typeof require, typeof process, typeof Buffer, typeof setImmediate, typeof module, typeof exports, typeof __dirname, typeof __filename]",
      ),
    ).toEqual(Array(8).fill("undefined"));
    expect(exceptionOf(await api.repl(session.id, "eval('process.exit(1)')")).name).toBe("ReferenceError");
  });

  it("Error.prepareStackTrace tricks reveal no host frames or functions", async () => {
    const e = await api.repl(
      session.id,
      [
        "const seen = []",
        "Error.prepareStackTrace = (err, frames) => { for (const f of frames) { seen.push(String(f.getFileName())); try { const fn = f.getFunction(); if (fn) seen.push(fn.constructor('return typeof process')()) } catch (x) {} try { const t = f.getThis(); if (t && t.constructor) seen.push(t.constructor.constructor('return typeof process')()) } catch (x) {} } return 'prepared' }",
        "function a() { return new Error('probe').stack }",
        "const out = [a()]",
        "try { null.x } catch (err) { out.push(err.stack) }",
        "try { console.log({ get boom() { throw new Error('getter') } }) } catch (err) { out.push(String(err.stack)) }",
        "Error.prepareStackTrace = undefined",
        "JSON.stringify({ out, seen })",
      ].join(";\n"),
    );
    const text = okValue(e).json as string;
    expect(text).not.toContain(PROJECT_ROOT);
    expect(text).not.toContain("node_modules");
    expect(text).not.toMatch(/"object"|"function"/);
  });

  it("a poisoned Error.prepareStackTrace does not break exception reporting", async () => {
    const poisoned = await api.ready({ name: "poisoned" });
    await value(poisoned.id, "Error.prepareStackTrace = () => { throw new Error('evil') }; 1");
    const ex = exceptionOf(await api.repl(poisoned.id, "throw new RangeError('real error')"));
    expect(ex).toMatchObject({ name: "RangeError", message: "real error" });
    expect(ex.stack).not.toContain(PROJECT_ROOT);
    expect(await value(poisoned.id, "'still works'")).toBe("still works");
  });

  it("overwritten built-ins do not change how values and console lines are reported", async () => {
    const tampered = await api.ready({ name: "tampered" });
    await value(
      tampered.id,
      "JSON.stringify = () => '\"hacked\"'; Object.keys = () => ['hacked']; Array.prototype.map = function () { return ['hacked'] }; String.prototype.slice = () => 'hacked'; 1",
    );
    const e = await api.repl(tampered.id, "console.log({ a: 1 }, [2]); ({ b: [1, 'x'] })");
    expect(consoleLines(e)).toEqual(["log: { a: 1 } [ 2 ]"]);
    expect(okValue(e)).toMatchObject({ type: "object", preview: "{ b: [ 1, 'x' ] }", json: { b: [1, "x"] } });
  });

  it("hostile getters and proxy traps in values and console arguments cannot hang the session", async () => {
    const guarded = await api.ready({ name: "traps", settings: { limits: { wallMs: 500 } } });
    // Like util.inspect, accessors are shown, not invoked.
    expect(okValue(await api.repl(guarded.id, "({ get x() { while (true) {} } })")).preview).toBe("{ x: [Getter] }");
    const logged = await api.repl(guarded.id, "console.log({ get x() { throw new Error('getter') } }); 'logged'");
    expect(okValue(logged).json).toBe("logged");
    expect(consoleLines(logged)).toEqual(["log: { x: [Getter] }"]);
    // A trap that spins is stopped by the limits like any other code.
    for (const input of [
      "new Proxy({}, { get() { while (true) {} }, ownKeys() { while (true) {} }, getPrototypeOf() { while (true) {} } })",
      "console.log(new Proxy({}, { ownKeys() { while (true) {} } })); 'never'",
    ]) {
      const e = await api.repl(guarded.id, input);
      expect([ExecutionStatus.EXECUTION_STATUS_OK, ExecutionStatus.EXECUTION_STATUS_TIMEOUT], describeExecution(e)).toContain(e.status);
      expect(await value(guarded.id, "'still usable'")).toBe("still usable");
    }
  });

  it("Object.prototype pollution stays in its session", async () => {
    const a = await api.ready({ name: "polluter" });
    const b = await api.ready({ name: "victim" });
    await value(a.id, "Object.prototype.polluted = 'yes'; Array.prototype.evil = 1; 'done'");
    expect(await value(a.id, "({}).polluted")).toBe("yes");
    // The polluting session still reports its own values correctly.
    expect(okValue(await api.repl(a.id, "({ own: 1 })")).json).toEqual({ own: 1 });
    expect(await value(b.id, "[typeof ({}).polluted, typeof [].evil]")).toEqual(["undefined", "undefined"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
