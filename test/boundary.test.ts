/**
 * The worktree boundary, end to end: which worktrees a session may have, and
 * what fs, run-file, startup files and imports do with FIFOs and devices in
 * it (refused at once; the server keeps answering meanwhile). exec's process
 * groups: a background grandchild does not outlive the run or the session.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health";
import { describeExecution, EventType, ExecutionStatus, makeWorktree, okValue, removeDir, SessionStatus, type Execution } from "./support/fixtures";
import { rpcError, unary, useTestServer, type ServerFixture } from "./support/server";
import { until } from "./support/streams";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});
function worktree(files: Record<string, string> = {}): string {
  const dir = makeWorktree(files, "vmsystem-boundary-");
  dirs.push(dir);
  return dir;
}

const createSession = (s: ServerFixture, templateId: string, worktreePath: string) =>
  unary((cb) => s.sessions.createSession({ templateId, workspaceId: "w", baseCommitOid: "c", worktreePath }, cb));

describe("worktree_path: / and the system trees are never a worktree", () => {
  const s = useTestServer();
  const rooted = useTestServer({ worktreeRoots: ["/"] });

  it("without --worktree-root: /, /etc, /proc/self, /root, /dev and a symlink to /etc are INVALID_PATH", async () => {
    const t = await s.api.template({ name: "wt" });
    const link = join(worktree(), "etc-link");
    symlinkSync("/etc", link);
    for (const path of ["/", "/etc", "/etc/", "/proc/self", "/proc", "/sys", "/dev", "/root", "/boot", link, "/tmp/../etc"]) {
      if (!existsSync(path)) continue;
      const err = await rpcError(createSession(s, t.id, path));
      expect(err, path).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH", metadata: { field: "worktree_path" } });
    }
  });

  it("refused even when --worktree-root / would allow them; an ordinary directory still works", async () => {
    const t = await rooted.api.template({ name: "wt-rooted" });
    for (const path of ["/", "/etc", "/proc/self"]) {
      expect(await rpcError(createSession(rooted, t.id, path)), path).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH" });
    }
    const ok = await rooted.api.session(t.id, worktree());
    expect(ok.status).toBe(SessionStatus.SESSION_STATUS_READY);
  });
});

/**
 * A process that opens the FIFO read-write after a while: before the fix, a
 * call blocked on the FIFO (and with it the whole server) came back then
 * with data instead of an error. Killed once the call is answered.
 */
function unblocker(fifo: string): () => void {
  const child = spawn("sh", ["-c", 'sleep 2; exec 3<>"$1"; sleep 2', "sh", fifo], { detached: true, stdio: "ignore" });
  return () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  };
}

describe("FIFOs and devices in the worktree", () => {
  const s = useTestServer();
  let dir: string;
  let fifo: string;
  beforeAll(() => {
    dir = worktree({ "main.mjs": "import x from './pipe.mjs';\nexport default x;", "ok.txt": "fine" });
    fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    execFileSync("mkfifo", [join(dir, "pipe.mjs")]);
    symlinkSync(fifo, join(dir, "pipe-link"));
    symlinkSync("/dev/null", join(dir, "devnull"));
  });

  const health = () => unary<HealthCheckResponse>((cb) => s.health.check({ service: "" }, cb));

  /** Runs `input` while the server is asked for its health: both must answer. */
  async function duringHealthCheck(sessionId: string, input: string): Promise<Execution> {
    const release = unblocker(fifo);
    try {
      const call = s.api.repl(sessionId, input);
      expect((await health()).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      return await call;
    } finally {
      release();
    }
  }

  it.each([
    ["readFile", "fs.readFile('pipe')"],
    ["readFile through a symlink", "fs.readFile('pipe-link')"],
    ["writeFile", "fs.writeFile('pipe', 'x')"],
    ["appendFile", "fs.appendFile('pipe-link', 'x')"],
    ["stat", "fs.stat('pipe')"],
  ])("fs %s on a FIFO fails at once with a clear error; the server keeps answering", async (_name, call) => {
    const session = await s.api.ready({ name: "fifo-fs", modules: ["fs"] }, dir);
    const e = await duringHealthCheck(session.id, `const fs = require('fs'); try { ${call}; 'no error' } catch (err) { [err.code, err.message] }`);
    const [code, message] = okValue(e).json as [string, string];
    expect(code).toBe("EACCES");
    expect(message).toMatch(/is a FIFO: only regular files and directories/);
    expect(message).not.toContain(dir);
    expect(okValue(await s.api.repl(session.id, "require('fs').readFile('ok.txt')")).json).toBe("fine");
  });

  it("a symlink to /dev/null is refused for reads and writes", async () => {
    const session = await s.api.ready({ name: "devnull", modules: ["fs"] }, dir);
    const e = await s.api.repl(
      session.id,
      "const fs = require('fs'); [() => fs.readFile('devnull'), () => fs.writeFile('devnull', 'x')].map((f) => { try { f(); return 'no error' } catch (err) { return err.code } })",
    );
    expect(okValue(e).json).toEqual(["EACCES", "EACCES"]);
    expect(await rpcError(s.api.runFile(session.id, "devnull"))).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH" });
  });

  it.skipIf(process.getuid?.() !== 0)("a device node made inside the worktree is refused (mknod needs root)", async () => {
    const devDir = worktree();
    execFileSync("mknod", [join(devDir, "null-dev"), "c", "1", "3"]);
    const session = await s.api.ready({ name: "device", modules: ["fs", "database"] }, devDir);
    const e = await s.api.repl(
      session.id,
      "const fs = require('fs'); [() => fs.readFile('null-dev'), () => fs.writeFile('null-dev', 'x'), () => require('database').configure({ filename: 'null-dev' })].map((f) => { try { f(); return 'no error' } catch (err) { return err.message } })",
    );
    const messages = okValue(e).json as string[];
    for (const m of messages) expect(m).toMatch(/is a character device/);
  });

  it("run-file on a FIFO is INVALID_PATH before anything runs, and records nothing", async () => {
    const session = await s.api.ready({ name: "fifo-run" }, dir);
    for (const path of ["pipe", "pipe-link"]) {
      const err = await rpcError(s.api.runFile(session.id, path));
      expect(err, path).toMatchObject({ code: status.INVALID_ARGUMENT, reason: "INVALID_PATH" });
      expect(err.message, path).toMatch(/is a FIFO/);
    }
    expect(await s.api.allExecutions(session.id)).toHaveLength(0);
  });

  it("a startup file that is a FIFO crashes the session with an error naming it", async () => {
    const t = await s.api.template({ name: "fifo-startup", startupFiles: [{ path: "pipe" }] });
    const session = await s.api.session(t.id, dir);
    expect(session.status).toBe(SessionStatus.SESSION_STATUS_CRASHED);
    expect(session.lastError).toMatch(/pipe.*is a FIFO/);
  });

  it("an ES module import of a FIFO fails the execution with a clear error", async () => {
    const session = await s.api.ready({ name: "fifo-import", settings: { runtime: { esm: true } } }, dir);
    const e = await s.api.runFile(session.id, "main.mjs");
    expect(e.status, describeExecution(e)).toBe(ExecutionStatus.EXECUTION_STATUS_ERROR);
    expect(e.events.find((ev) => ev.type === EventType.EVENT_TYPE_EXCEPTION)?.exception?.message).toMatch(/pipe\.mjs.*is a FIFO/);
  });
});

/** Whether a process exists and is not a zombie (a killed grandchild may wait to be reaped by init). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "")[0] !== "Z";
  } catch {
    return false;
  }
}

const killLeftover = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone, as it should be
  }
};

describe("exec: a child's background processes end with it", () => {
  const s = useTestServer({ allowExec: true });

  it("a grandchild started in the background is gone once the run ends", async () => {
    const session = await s.api.ready({ name: "exec-group", modules: ["exec"] }, worktree());
    const e = await s.api.repl(session.id, "require('exec')(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo $!']).stdout.trim()");
    const pid = Number(okValue(e).json);
    expect(pid).toBeGreaterThan(0);
    try {
      await until(() => !alive(pid), 5_000);
    } finally {
      killLeftover(pid);
    }
  });

  it("CloseSession while exec still runs kills the child and its background grandchild", async () => {
    const dir = worktree();
    const session = await s.api.ready({ name: "exec-close", modules: ["exec"] }, dir);
    const running = s.api.repl(session.id, `require('exec')(['sh', '-c', 'sleep 30 >/dev/null 2>&1 & echo "$$ $!" > pids.tmp && mv pids.tmp pids; sleep 30'])`);
    const pidsFile = join(dir, "pids");
    await until(() => existsSync(pidsFile));
    const pids = readFileSync(pidsFile, "utf8").trim().split(" ").map(Number);
    expect(pids).toHaveLength(2);
    try {
      expect(pids.every(alive)).toBe(true);
      await s.api.closeSession(session.id);
      await running.catch(() => undefined);
      await until(() => !pids.some(alive), 5_000);
    } finally {
      pids.forEach(killLeftover);
    }
  });
});
