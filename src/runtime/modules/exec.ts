/**
 * require('exec'): run a program by argv (no shell) with cwd = worktree.
 * Asynchronous on the host (the sandbox waits through applySyncPromise), so
 * a long-running child never blocks the server's event loop.
 */
import { spawn, type ChildProcess } from "node:child_process";
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
  /** Children still running when a run ends are killed through this set. */
  children: Set<ChildProcess>;
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
    });
    ctx.children.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on("data", (b: Buffer) => { if (outBytes < MAX_CAPTURE) { out.push(b); outBytes += b.length; } });
    child.stderr.on("data", (b: Buffer) => { if (errBytes < MAX_CAPTURE) { err.push(b); errBytes += b.length; } });
    const timer = setTimeout(() => child.kill("SIGKILL"), Math.max(1, timeoutMs));
    child.on("error", (e) => {
      clearTimeout(timer);
      ctx.children.delete(child);
      reject(new SandboxError(`exec: cannot run '${argv[0]}': ${(e as NodeJS.ErrnoException).code ?? e.message}`,
        (e as NodeJS.ErrnoException).code));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      ctx.children.delete(child);
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
