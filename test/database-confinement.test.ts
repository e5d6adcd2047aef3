/**
 * The `database` module touches exactly its own file (or memory). A hostile
 * session tries, through SQL, to reach the server's own database (on the
 * embedded backend) and another session's database file: every form that
 * names another file is refused by SQLite itself (the guard's authorizer),
 * so the text of the SQL does not matter. Nothing outside the worktree is
 * created, the victim's data is unchanged, and the module still works.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Api, consoleLines, describeExecution, ExecutionStatus, makeWorktree, okValue, removeDir, type Session } from "./support/fixtures";
import { startTestServer, type TestServer } from "./support/server";

let s: TestServer;
let api: Api;
let attacker: Session;
let victim: Session;
let outside: string;

beforeAll(async () => {
  s = await startTestServer();
  api = new Api(s);
  outside = makeWorktree({}, "vmsystem-outside-");
  victim = await api.ready({ modules: ["database"] });
  attacker = await api.ready({ modules: ["database", "fs"] });
  const planted = await api.repl(
    victim.id,
    `const db = require('database'); db.configure({ filename: 'victim.db' });
    db.exec("CREATE TABLE secrets(v TEXT)"); db.exec("INSERT INTO secrets VALUES ('tenant-secret')"); 'planted'`,
  );
  expect(okValue(planted).json).toBe("planted");
});

afterAll(async () => {
  await api?.closeAll();
  if (outside) removeDir(outside);
  await s?.close();
});

/** Runs `sql` through the attacker's database module; returns the error message, or "" if it ran. */
async function attempt(sql: string, how: "exec" | "query" = "exec"): Promise<string> {
  const e = await api.repl(
    attacker.id,
    `(() => { try { require('database').${how}(${JSON.stringify(sql)}); return ''; } catch (e) { return String(e.message); } })()`,
  );
  expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_OK);
  return okValue(e).json as string;
}

describe("database module confinement", () => {
  it("refuses every ATTACH form that names another file", async () => {
    const victimFile = join(victim.worktreePath, "victim.db");
    const forms = [
      `ATTACH DATABASE '${victimFile}' AS v`,
      `ATTACH '${victimFile}' AS v`,
      `attach database '${victimFile}' as v`,
      `/* comment */ ATTACH\n'${victimFile}' AS "v"`,
      `ATTACH 'file:${victimFile}?mode=ro' AS v`,
      `ATTACH 'file:${victimFile}?immutable=1' AS v`,
      `ATTACH '${victimFile}' || '' AS v`,
      `ATTACH ':memory:' AS m`,
      `ATTACH '${join(outside, "created.db")}' AS c`,
      `ATTACH 'relative-new.db' AS c`,
      `SELECT 1; ATTACH '${victimFile}' AS v`,
    ];
    for (const sql of forms) expect(await attempt(sql), sql).toMatch(/not authorized/);
    // A bound parameter reaches SQLite as a non-literal name: refused too.
    const bound = await api.repl(
      attacker.id,
      `(() => { try { require('database').exec("ATTACH ? AS v", [${JSON.stringify(victimFile)}]); return ''; } catch (e) { return e.message; } })()`,
    );
    expect(okValue(bound).json).toMatch(/not authorized/);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(attacker.worktreePath, "relative-new.db"))).toBe(false);
  });

  it.runIf(process.env.VMSYSTEM_TEST_DB !== "postgres")("cannot attach the server's own embedded database", async () => {
    const serverDb = readdirSync(s.db.dataDir).find((f) => f.endsWith(".db"));
    expect(serverDb, "the embedded database file").toBeDefined();
    const path = join(s.db.dataDir, serverDb!);
    expect(await attempt(`ATTACH DATABASE '${path}' AS srv`)).toMatch(/not authorized/);
    expect(await attempt(`ATTACH 'file:${path}' AS srv`)).toMatch(/not authorized/);
  });

  it("refuses DETACH, VACUUM INTO and load_extension; plain VACUUM still works", async () => {
    expect(await attempt(`DETACH DATABASE main`)).toMatch(/not authorized/);
    expect(await attempt(`DETACH temp`)).toMatch(/not authorized/);
    expect(await attempt(`VACUUM INTO '${join(outside, "copy.db")}'`)).toMatch(/not authorized|authorization denied/);
    expect(await attempt(`VACUUM INTO 'inside-copy.db'`)).toMatch(/not authorized|authorization denied/);
    expect(await attempt(`SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')`, "query")).toMatch(/not authorized/);
    expect(await attempt(`PRAGMA temp_store_directory = '${outside}'`)).toMatch(/not authorized/);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(attacker.worktreePath, "inside-copy.db"))).toBe(false);

    const own = await api.repl(
      attacker.id,
      `const db = require('database'); db.configure({ filename: 'own.db' });
      db.exec("CREATE TABLE t(x)"); db.exec("INSERT INTO t VALUES (1), (2)"); db.exec("DELETE FROM t WHERE x = 1"); db.exec("VACUUM");
      db.query("SELECT x FROM t")`,
    );
    expect(okValue(own).json).toEqual([{ x: 2 }]);
    expect(existsSync(join(attacker.worktreePath, "own.db"))).toBe(true);
  });

  it("refuses URI filenames and files outside the worktree in configure()", async () => {
    for (const filename of [`file:${join(outside, "u.db")}`, "FILE:u.db", join(outside, "abs.db"), "../escape.db"]) {
      const e = await api.repl(
        attacker.id,
        `(() => { try { require('database').configure({ filename: ${JSON.stringify(filename)} }); return ''; } catch (e) { return e.message; } })()`,
      );
      expect(okValue(e).json, filename).not.toBe("");
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  it("leaves the victim's data as it was", async () => {
    const e = await api.repl(victim.id, `db.query("SELECT v FROM secrets")`);
    expect(okValue(e).json).toEqual([{ v: "tenant-secret" }]);
    expect(consoleLines(e)).toEqual([]);
  });
});
