import { availableParallelism } from "node:os";
import { delimiter } from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_LISTEN, envName, parseDuration, parseWholeNumber, type ServeConfig, type SessionRestoreMode } from "../config";
import { DEFAULT_CEILINGS } from "../core/ceilings";
import { createLogger, exitWith, stopDeferringLogs } from "../log";

const collect = (value: string, previous: string[] = []) => [...previous, value];

const SESSION_RESTORE_MODES: readonly SessionRestoreMode[] = ["lazy", "eager", "off"];

function parseSessionRestore(text: string): SessionRestoreMode {
  const mode = text.trim().toLowerCase() as SessionRestoreMode;
  if (!SESSION_RESTORE_MODES.includes(mode)) throw new Error(`--session-restore must be lazy, eager or off (got "${text}")`);
  return mode;
}

/** `vmsystem serve`: every flag also reads VMSYSTEM_<FLAG>. */
export function serveCommand(): Command {
  const flag = (flags: string, description: string, defaultValue?: string) => {
    const long = flags.split(" ")[0];
    const option = new Option(flags, description).env(envName(long));
    return defaultValue === undefined ? option : option.default(defaultValue);
  };
  return new Command("serve")
    .description("run the vmsystem gRPC server")
    .addOption(flag("--listen <host:port>", "address to listen on", DEFAULT_LISTEN))
    .addOption(flag("--data-dir <dir>", "embedded database and state", "./.vmsystem"))
    .addOption(flag("--database-url <url>", "use PostgreSQL (postgres://…) instead of the embedded database"))
    .addOption(new Option("--worktree-root <dir>", "allowed worktree root (repeatable; default: any)").argParser(collect).env(envName("--worktree-root")))
    .addOption(flag("--allow-exec", "let templates with the exec module run programs"))
    .addOption(flag("--session-idle-timeout <duration>", "close sessions idle this long (0 = never)", "0"))
    .addOption(flag("--auth-token <token>", "require `authorization: Bearer <token>` on every RPC"))
    .addOption(flag("--tls-cert <file>", "TLS certificate (PEM)"))
    .addOption(flag("--tls-key <file>", "TLS private key (PEM)"))
    .addOption(flag("--log-level <level>", "trace, debug, info, warn, error", "info"))
    .addOption(flag("--shutdown-grace <duration>", "time running work gets on SIGTERM", "10s"))
    .addOption(
      new Option("--env-allow <name>", "server variable an `env` capability may copy (repeatable; default none)")
        .argParser(collect)
        .env(envName("--env-allow")),
    )
    .addOption(flag("--max-sessions <n>", "live sessions at most (beyond: RESOURCE_EXHAUSTED)", String(DEFAULT_CEILINGS.maxSessions)))
    .addOption(flag("--max-mem-mb <mb>", "highest mem_mb a template may ask for", String(DEFAULT_CEILINGS.limits.memMb)))
    .addOption(flag("--max-cpu-ms <ms>", "highest cpu_ms a template may ask for", String(DEFAULT_CEILINGS.limits.cpuMs)))
    .addOption(flag("--max-wall-ms <ms>", "highest wall_ms a template may ask for", String(DEFAULT_CEILINGS.limits.wallMs)))
    .addOption(flag("--max-events <n>", "highest max_events a template may ask for", String(DEFAULT_CEILINGS.limits.maxEvents)))
    .addOption(flag("--max-output-kb <kb>", "highest max_output_kb a template may ask for", String(DEFAULT_CEILINGS.limits.maxOutputKb)))
    .addOption(flag("--session-hosts <n>", "child processes that run the sessions' code (0 = in the server's own process)", String(availableParallelism())))
    .addOption(flag("--host-memory-mb <mb>", "RSS above which a session host is killed and replaced (0 = not watched)", "0"))
    .addOption(flag("--host-user <user>", "run session hosts as this user (name or uid; needs root and --session-hosts > 0)"))
    .addOption(
      flag("--session-restore <mode>", "sessions whose process is gone: restore on first use (lazy), all at start (eager), or close them (off)", "lazy"),
    )
    .action(async (opts) => {
      const log = createLogger(opts.logLevel);
      const config: ServeConfig = {
        listen: opts.listen,
        dataDir: opts.dataDir,
        databaseUrl: opts.databaseUrl || undefined,
        // VMSYSTEM_WORKTREE_ROOT holds several roots the way PATH does.
        worktreeRoots: ((opts.worktreeRoot ?? []) as string[]).flatMap((root) => root.split(delimiter)).filter(Boolean),
        allowExec: Boolean(opts.allowExec),
        sessionIdleTimeoutMs: parseDuration(opts.sessionIdleTimeout),
        authToken: opts.authToken || undefined,
        tlsCert: opts.tlsCert,
        tlsKey: opts.tlsKey,
        logLevel: opts.logLevel,
        shutdownGraceMs: parseDuration(opts.shutdownGrace),
        // VMSYSTEM_ENV_ALLOW holds several names separated by commas.
        envAllow: ((opts.envAllow ?? []) as string[])
          .flatMap((name) => name.split(","))
          .map((name) => name.trim())
          .filter(Boolean),
        maxSessions: parseWholeNumber(opts.maxSessions, "--max-sessions"),
        sessionHosts: parseWholeNumber(opts.sessionHosts, "--session-hosts", 0),
        hostMemoryMb: parseWholeNumber(opts.hostMemoryMb, "--host-memory-mb", 0),
        hostUser: opts.hostUser || undefined,
        sessionRestore: parseSessionRestore(opts.sessionRestore),
        ceilings: {
          memMb: parseWholeNumber(opts.maxMemMb, "--max-mem-mb"),
          cpuMs: parseWholeNumber(opts.maxCpuMs, "--max-cpu-ms"),
          wallMs: parseWholeNumber(opts.maxWallMs, "--max-wall-ms"),
          maxEvents: parseWholeNumber(opts.maxEvents, "--max-events"),
          maxOutputKb: parseWholeNumber(opts.maxOutputKb, "--max-output-kb"),
        },
      };
      let app;
      try {
        // Loaded here: the server's modules (isolated-vm, TypeORM, drivers) are
        // most of what the CLI would otherwise load for every client command.
        const { startApp } = await import("../app");
        app = await startApp(config, log);
      } catch (err) {
        log.fatal({ err }, "failed to start");
        exitWith(log, 1);
      }
      const stop = (signal: string) => {
        stopDeferringLogs();
        log.info({ signal }, "signal received");
        app.stop().then(
          () => exitWith(log, 0),
          (err) => {
            log.error({ err }, "shutdown failed");
            exitWith(log, 1);
          },
        );
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
}
