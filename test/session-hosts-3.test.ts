/**
 * Session hosts, third slice of issue #15: `--host-user USER` runs the
 * hosts as USER (no root uid, gid or supplementary group left), and the
 * server keeps its files to itself (data dir 0700; database, WAL, shm and
 * lock 0600), so user code that reaches a program (the exec module) cannot
 * read the server's data; the same code in a server without the flag can,
 * which is what the flag is for. Servers run as their own processes.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { testDatabase, TEST_DB } from "./support/database";
import { makeWorktree, okValue } from "./support/fixtures";
import { poolPids, shutDown, until, type Served } from "./support/hosts";
import { BIN, ROOT, run, spawnServer } from "./support/process";
import { connect } from "./support/server";

const isRoot = process.getuid?.() === 0;
const nobody = /^nobody:/m.test(readFileSync("/etc/passwd", "utf8"));
const skip = !isRoot ? "the server must run as root to drop privileges" : !nobody ? "there is no user nobody" : false;

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
const status = (pid: number, field: string) =>
  new RegExp(`^${field}:[ \\t]*(.*)$`, "m")
    .exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]
    .trim()
    .split(/\s+/)
    .filter(Boolean);

/** A server variable hosts must not see: their user can read their /proc/<pid>/environ. */
const SECRET = { VMSYSTEM_TEST_SECRET: "h8-not-for-hosts" };

/** A server whose data dir starts out 0755 (not as the test's mkdtemp leaves it), so its own chmod shows. */
async function serveOpenDir(args: string[]): Promise<Served> {
  const db = testDatabase();
  chmodSync(db.dataDir, 0o755);
  const server = await spawnServer(db, args, SECRET);
  const clients = connect(server.address);
  return { server, clients, api: clients.api, db };
}

/** What code in a session of `s` sees of the server's files through exec, and the host's ids. */
async function probe(s: Served) {
  const worktree = makeWorktree();
  // The host user must be able to use its worktree (the operator's job).
  chmodSync(worktree, 0o777);
  const session = await s.api.ready({ name: "probe", modules: ["exec"] }, worktree);
  const exec = async (argv: string[]) =>
    okValue(await s.api.repl(session.id, `(() => { const r = require('exec').run(${JSON.stringify(argv)}); return { code: r.code, stderr: r.stderr }; })()`))
      .json as {
      code: number;
      stderr: string;
    };
  const db = join(s.db.dataDir, "vmsystem.db");
  const stdout = async (argv: string[]) => okValue(await s.api.repl(session.id, `require('exec').run(${JSON.stringify(argv)}).stdout`)).json as string;
  return {
    uid: (await stdout(["id", "-u"])).trim(),
    // The host is the parent of what exec runs.
    hostEnv: await stdout(["sh", "-c", "cat /proc/$PPID/environ"]),
    // Only the embedded database has files of the server's own.
    ls: TEST_DB === "sqlite" ? await exec(["ls", s.db.dataDir]) : undefined,
    cat: TEST_DB === "sqlite" ? await exec(["cat", db]) : undefined,
  };
}

describe.skipIf(skip)(`--host-user (${skip || "root, user nobody exists"})`, () => {
  const served: Served[] = [];
  afterAll(async () => {
    for (const s of served) await shutDown(s);
  });

  it("runs the hosts as nobody (no root group, none of the server's variables), whose code cannot read the server's data dir or database; without the flag the same code can", async () => {
    // The server gets supplementary groups (root here has none) to show the host does not inherit them.
    const groups = status(process.pid, "Groups").map(Number);
    process.setgroups!([10, 20]);
    let dropped: Served;
    try {
      dropped = await serveOpenDir(["--session-hosts", "1", "--host-user", "nobody", "--allow-exec"]);
    } finally {
      process.setgroups!(groups);
    }
    served.push(dropped);
    expect(status(dropped.server.proc.pid!, "Groups")).toEqual(["10", "20"]);
    await until("a host", () => poolPids(dropped.server).length === 1);
    const [pid] = poolPids(dropped.server);
    const seen = await probe(dropped);
    const nobodyUid = readFileSync("/etc/passwd", "utf8").match(/^nobody:[^:]*:(\d+):(\d+):/m)!;
    expect(status(pid, "Uid")).toEqual(Array(4).fill(nobodyUid[1]));
    expect(status(pid, "Gid")).toEqual(Array(4).fill(nobodyUid[2]));
    // None of root's supplementary groups.
    expect(status(pid, "Groups").filter((g) => g !== nobodyUid[2])).toEqual([]);
    expect(seen.uid).toBe(nobodyUid[1]);
    expect(seen.hostEnv).toContain("PATH=");
    expect(seen.hostEnv).not.toContain(SECRET.VMSYSTEM_TEST_SECRET);
    if (TEST_DB === "sqlite") {
      expect(seen.ls!.code).not.toBe(0);
      expect(seen.ls!.stderr).toMatch(/permission denied/i);
      expect(seen.cat!.code).not.toBe(0);
      expect(seen.cat!.stderr).toMatch(/permission denied/i);
    }

    const open = await serveOpenDir(["--session-hosts", "1", "--allow-exec"]);
    served.push(open);
    const contrast = await probe(open);
    expect(contrast.uid).toBe("0");
    expect(contrast.hostEnv).toContain(SECRET.VMSYSTEM_TEST_SECRET);
    if (TEST_DB === "sqlite") {
      expect(contrast.ls).toEqual({ code: 0, stderr: "" });
      expect(contrast.cat).toEqual({ code: 0, stderr: "" });
    }
  });

  // With PostgreSQL the server keeps no files of its own there.
  it.skipIf(TEST_DB !== "sqlite")("keeps the data dir 0700 and the database, its WAL and shm, and server.lock 0600", async () => {
    const s = await serveOpenDir(["--session-hosts", "1", "--host-user", "nobody"]);
    served.push(s);
    const dir = s.db.dataDir;
    expect(mode(dir)).toBe("700");
    for (const file of ["vmsystem.db", "vmsystem.db-wal", "vmsystem.db-shm", "server.lock"]) {
      expect(existsSync(join(dir, file)), file).toBe(true);
      expect([file, mode(join(dir, file))]).toEqual([file, "600"]);
    }
  });

  it("refuses to start with --session-hosts 0 or an unknown user", async () => {
    const db = testDatabase();
    try {
      const serve = (args: string[]) =>
        run(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", db.dataDir, ...(db.databaseUrl ? ["--database-url", db.databaseUrl] : []), ...args]);
      const noHosts = await serve(["--session-hosts", "0", "--host-user", "nobody"]);
      expect(noHosts.code).toBe(1);
      expect(noHosts.stdout).toContain("--host-user needs --session-hosts N > 0");
      const unknown = await serve(["--session-hosts", "1", "--host-user", "no-such-user-h8"]);
      expect(unknown.code).toBe(1);
      expect(unknown.stdout).toContain('--host-user: unknown user \\"no-such-user-h8\\"');
    } finally {
      await db.cleanup();
    }
  });

  it("refuses to start, naming the file, when the install is not readable to the host user", async () => {
    // A copy of the install in a directory of mkdtemp's (0700): nobody cannot enter it.
    const install = mkdtempSync(join(tmpdir(), "vmsystem-install-"));
    const db = testDatabase();
    try {
      cpSync(join(ROOT, "bin"), join(install, "bin"), { recursive: true });
      cpSync(join(ROOT, "dist"), join(install, "dist"), { recursive: true });
      for (const link of ["node_modules", "package.json"]) symlinkSync(join(ROOT, link), join(install, link));
      const args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", join(db.dataDir, "data"), "--session-hosts", "1", "--host-user", "nobody"];
      const refused = await run(join(install, "bin", "vmsystem"), [...args, ...(db.databaseUrl ? ["--database-url", db.databaseUrl] : [])]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain(`--host-user: \\"nobody\\" cannot read ${join(install, "dist", "src", "hosts", "host-main.js")}`);
      // Checked before anything starts: no data dir was made.
      expect(existsSync(join(db.dataDir, "data"))).toBe(false);
    } finally {
      rmSync(install, { recursive: true, force: true });
      await db.cleanup();
    }
  });
});

describe("a TLS key readable by other users", () => {
  it("is named in a warning at start; a 0600 one is not", async () => {
    const db = testDatabase();
    try {
      // Not a real key: the start fails after the check, which is all this needs.
      const key = join(db.dataDir, "key.pem");
      writeFileSync(key, "not a key", { mode: 0o644 });
      chmodSync(key, 0o644);
      const serve = () => run(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", db.dataDir, "--tls-cert", key, "--tls-key", key]);
      const warned = await serve();
      expect(warned.stdout).toContain("the TLS key is readable by other users: chmod 600 it");
      expect(warned.stdout).toContain('"mode":"0644"');
      chmodSync(key, 0o600);
      expect((await serve()).stdout).not.toContain("the TLS key is readable");
    } finally {
      await db.cleanup();
    }
  });
});
