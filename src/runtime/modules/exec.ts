/**
 * require('exec'): run a program by argv (no shell) with cwd = worktree.
 * Asynchronous on the host (the sandbox waits through applySyncPromise), so
 * a long-running child never blocks the server's event loop.
 *
 * Each child leads its own process group (`detached`: setsid), so what it
 * starts in the background (`sh -c 'sleep 100 &'`) is killed with it: on a
 * call's timeout, at the end of the run, on session close. A descendant that
 * calls setsid itself leaves the group and escapes that kill (see README).
 */
import { spawn } from "node:child_process";
import { optionsObject, SandboxError } from "./errors";

const MAX_CAPTURE = 8 * 1024 * 1024;

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecContext {
  root: string;
  /** The `env` of the current run; PATH comes from the server. */
  env: Record<string, string>;
  /** Used when the call gives no timeoutMs: what is left of the run's wall budget. */
  defaultTimeoutMs: number;
  /** Process groups of this run's children, killed when the run ends (see ProcessGroups). */
  groups: ProcessGroups;
}

/**
 * The process groups a session's children lead. A group is kept after its
 * leader exits while anything is left in it (a background grandchild); one
 * already empty when its leader exits is forgotten then, so its pid, free
 * for reuse, is not signalled later.
 */
export class ProcessGroups {
  private readonly pgids = new Set<number>();

  add(pgid: number): void {
    this.pgids.add(pgid);
  }

  /** After the leader exited: drop the group if nothing is left in it. */
  settle(pgid: number): void {
    if (!signalGroup(pgid, 0)) this.pgids.delete(pgid);
  }

  kill(pgid: number): void {
    signalGroup(pgid, "SIGKILL");
  }

  killAll(): void {
    for (const pgid of this.pgids) signalGroup(pgid, "SIGKILL");
    this.pgids.clear();
  }
}

/** Signals a whole group; false once no process is left in it. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function runExec(ctx: ExecContext, argv: unknown, options: unknown): Promise<ExecResult> {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === "string")) {
    throw new SandboxError("exec: argv must be a non-empty array of strings", "ERR_INVALID_ARG_TYPE", "TypeError");
  }
  const opts = optionsObject(options, "options");
  const timeoutMs = typeof opts.timeoutMs === "number" && opts.timeoutMs > 0 ? opts.timeoutMs : ctx.defaultTimeoutMs;
  const input = opts.input;
  if (input !== undefined && typeof input !== "string" && !(input instanceof Uint8Array)) {
    throw new SandboxError("exec: options.input must be a string or a Uint8Array", "ERR_INVALID_ARG_TYPE", "TypeError");
  }

  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1) as string[], {
      cwd: ctx.root,
      shell: false,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...ctx.env },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const pgid = child.pid;
    if (pgid !== undefined) ctx.groups.add(pgid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on("data", (b: Buffer) => {
      if (outBytes < MAX_CAPTURE) {
        out.push(b);
        outBytes += b.length;
      }
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errBytes < MAX_CAPTURE) {
        err.push(b);
        errBytes += b.length;
      }
    });
    const timer = setTimeout(() => (pgid === undefined ? child.kill("SIGKILL") : ctx.groups.kill(pgid)), Math.max(1, timeoutMs));
    child.on("exit", () => {
      if (pgid !== undefined) ctx.groups.settle(pgid);
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new SandboxError(`exec: cannot run '${argv[0]}': ${(e as NodeJS.ErrnoException).code ?? e.message}`, (e as NodeJS.ErrnoException).code));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.on("error", () => {}); // the child may exit without reading its input
    child.stdin.end(input === undefined ? undefined : input);
  });
}
