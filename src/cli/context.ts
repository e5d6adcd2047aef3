import type { Command } from "commander";
import { connect, type Clients } from "./client";
import { EXIT, isServiceError, printRpcError, UsageError, type OutputMode } from "./output";

interface GlobalOptions {
  server?: string;
  output: OutputMode;
  token?: string;
  tlsCa?: string;
}

function globalsOf(cmd: Command): GlobalOptions {
  const opts = cmd.optsWithGlobals() as GlobalOptions;
  if (opts.output !== "human" && opts.output !== "json") throw new UsageError(`--output must be human or json, not "${opts.output}"`);
  return opts;
}

/**
 * Runs one client command: connects, runs `body`, maps failures to the exit
 * codes scripts rely on (1 RPC error, 2 bad usage), always closes the channel.
 * `body` may return an exit code (exec commands return 3 for failed executions).
 */
export function clientAction<A extends unknown[]>(
  body: (clients: Clients, out: OutputMode, ...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    let out: OutputMode = "human";
    let clients: Clients | undefined;
    try {
      const globals = globalsOf(cmd);
      out = globals.output;
      clients = connect(globals);
      process.exitCode = (await body(clients, out, ...args)) ?? EXIT.ok;
    } catch (err) {
      process.exitCode = reportFailure(err, out);
    } finally {
      clients?.close();
    }
  };
}

function reportFailure(err: unknown, out: OutputMode): number {
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  if (isServiceError(err)) {
    printRpcError(err, out);
    return EXIT.rpcError;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return EXIT.rpcError;
}

/** Parses a whole-number flag value, or fails as bad usage. */
export function intArg(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, not "${value}"`);
    return Number(value);
  };
}
