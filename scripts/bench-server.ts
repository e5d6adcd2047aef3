/** A `vmsystem serve` process for the benchmark scripts, started as users start it. */
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
/** A server that has not said "serving" by then is stuck: it is killed and the bench fails. */
const START_TIMEOUT_MS = 60_000;

export interface BenchServer {
  address: string;
  pid: number;
  /** Resolves with the exit code (null after a signal) once the process has ended. */
  exited: Promise<number | null>;
  /** SIGTERM; the log is removed. */
  stop(): void;
}

/**
 * The server as users run it (info logs: a line per RPC), its log going to a
 * file: read through a pipe, every line would also cost this process (the
 * client) work on calls the floor does not log.
 */
export async function startServer(args: string[]): Promise<BenchServer> {
  const logDir = mkdtempSync(join(tmpdir(), "vmsystem-bench-log-"));
  const logFile = join(logDir, "server.log");
  const out = openSync(logFile, "w");
  const proc = spawn(join(ROOT, "bin", "vmsystem"), ["serve", "--listen", "127.0.0.1:0", ...args], { stdio: ["ignore", out, "inherit"] });
  closeSync(out);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const log = readFileSync(logFile, "utf8");
    const serving = log.split("\n").find((line) => line.includes('"serving"'));
    if (serving) {
      const stop = () => {
        proc.kill("SIGTERM");
        rmSync(logDir, { recursive: true, force: true });
      };
      return { address: `127.0.0.1:${JSON.parse(serving).port}`, pid: proc.pid!, exited, stop };
    }
    if (exitCode !== undefined || Date.now() > deadline) {
      if (exitCode === undefined) proc.kill("SIGKILL");
      rmSync(logDir, { recursive: true, force: true });
      const why = exitCode === undefined ? `did not say "serving" within ${START_TIMEOUT_MS / 1000} s` : `exited ${exitCode}`;
      throw new Error(`server (${args.join(" ")}) ${why}; its log ends:\n${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
