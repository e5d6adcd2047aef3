import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestDatabase } from "./database";

export const ROOT = join(__dirname, "..", "..");
export const BIN = join(ROOT, "bin", "vmsystem");

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  address: string;
  /** Every JSON log line the server printed so far. */
  logs: Record<string, unknown>[];
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * util-linux's setpriv, when there: a test server started through it (it
 * execs the server, same pid) gets SIGKILL from the kernel once the test
 * worker that started it ends, however it ends.
 */
const SETPRIV = process.platform === "linux" && spawnSync("setpriv", ["--help"], { stdio: "pipe" }).stdout?.toString().includes("--pdeathsig");

/** Runs `vmsystem serve` as its own process on a free port, on the given database. */
export async function spawnServer(db: TestDatabase, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const args = ["serve", "--listen", "127.0.0.1:0", "--data-dir", db.dataDir, ...(db.databaseUrl ? ["--database-url", db.databaseUrl] : []), ...extraArgs];
  const [command, argv] = SETPRIV ? ["setpriv", ["--pdeathsig", "KILL", "--", BIN, ...args]] : [BIN, args];
  const proc = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  // "close", not "exit": it comes after stdout has ended, so every log line the server wrote is in `logs`.
  const exited = new Promise<number | null>((resolve) => proc.once("close", (code) => resolve(code)));
  // A test that fails before stopping its server must not leave it running
  // (and with SETPRIV not even when its worker is killed: the pool ends its
  // workers with a signal, which runs no "exit" handler).
  const reap = () => proc.kill("SIGKILL");
  process.once("exit", reap);
  void exited.then(() => process.off("exit", reap));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "serving") {
          clearTimeout(timer);
          resolve(entry.port as number);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
  });
  return {
    proc,
    port,
    address: `127.0.0.1:${port}`,
    logs,
    stop: async (signal = "SIGTERM") => {
      proc.kill(signal);
      return exited;
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion without blocking this process's event loop
 * (the server under test may live in this very process).
 */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"], timeout: 30_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    // A child that exits without reading stdin must not fail the run with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the `vmsystem` CLI. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<CliResult> {
  return run(BIN, args, env, input);
}

/** `buf curl` through server reflection, as a Go gRPC client would call; `{server}` in args is the base URL. */
export function bufCurl(address: string, args: string[]): Promise<CliResult> {
  const buf = join(ROOT, "node_modules", ".bin", "buf");
  return run(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args.map((a) => a.replace("{server}", `http://${address}`))]);
}

/** A self-signed certificate for localhost and 127.0.0.1, as dir/key.pem and dir/cert.pem. */
export async function selfSignedCertificate(dir: string): Promise<void> {
  const made = await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
  ]);
  if (made.code !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
}
