import type { DataSource } from "typeorm";
import type { ServeConfig } from "./config";
import { ceilingsFrom } from "./core/ceilings";
import { EventBus } from "./core/event-bus";
import { ExecutionPipeline } from "./core/execution-pipeline";
import { ExecutionService } from "./core/execution-service";
import { LiveEvents } from "./core/live-events";
import { SessionRegistry } from "./core/session-registry";
import { SessionService } from "./core/session-service";
import { defaultSettings } from "./core/settings";
import { TemplateService } from "./core/template-service";
import { killWith, type Logger } from "./log";
import { hostCodePaths, RemoteRuntimes } from "./hosts/remote-runtimes";
import { checkHostUserReads, resolveHostUser } from "./hosts/host-user";
import { LocalRuntimes } from "./runtime";
import { protectServerPaths } from "./runtime/paths";
import { describeDatabase, openDatabase, warnIfReadableByOthers } from "./store/data-source";
import { TypeormExecutionStore } from "./store/execution-store";
import { TypeormSessionStore } from "./store/session-store";
import { TypeormTemplateStore } from "./store/template-store";
import { eventEncoding } from "./transport/event-wire";
import { startGrpcServer, type GrpcServer } from "./transport/server";

export interface RunningApp {
  port: number;
  /** Graceful stop: stop accepting, finish calls within the grace period, free isolates, close the database. */
  stop(): Promise<void>;
}

/** Wires store → core → transport and starts serving. */
export async function startApp(config: ServeConfig, log: Logger): Promise<RunningApp> {
  // The sessions' runtimes: in session host processes (`--session-hosts`,
  // replaced when they die: src/hosts), or in this process. There, after a
  // catastrophic error V8's state is undefined: exit so a supervisor
  // restarts us (stale sessions are closed on the next start). Not
  // process.exit(): it hangs on the stuck isolate thread (see killWith).
  const serverPaths = [config.dataDir, ...(config.tlsKey ? [config.tlsKey] : []), ...(config.tlsCert ? [config.tlsCert] : [])];
  // Checked before anything starts: a refused server changes nothing.
  const hostUser = config.hostUser !== undefined ? resolveHostUser(config.hostUser, config.sessionHosts ?? 0) : undefined;
  if (hostUser) {
    checkHostUserReads(hostUser, hostCodePaths());
    log.info({ user: hostUser.name, uid: hostUser.uid, gid: hostUser.gid }, "session hosts run as another user");
  }
  warnIfReadableByOthers(config.tlsKey, log);
  const runtimes =
    (config.sessionHosts ?? 0) > 0
      ? new RemoteRuntimes({ hosts: config.sessionHosts!, log, serverPaths, hostMemoryMb: config.hostMemoryMb, hostUser })
      : new LocalRuntimes({
          onCatastrophicError: (message) => {
            log.fatal({ message }, "isolated-vm catastrophic error");
            killWith(log);
          },
        });
  const warming = runtimes.warmUp();
  // A failed start ends the process: not while the warm-up's isolate runs,
  // since process.exit() can then crash (SIGSEGV) or hang in isolated-vm's
  // exit handlers (seen now and then with a bad database URL, which fails at
  // once).
  const failed = async (err: unknown): Promise<never> => {
    await warming;
    await runtimes.close();
    throw err;
  };
  const db: DataSource = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onCheckpointError: (message) => log.error({ message }, "background checkpoint of the database failed (the database's own checkpoints go on)"),
  }).catch(failed);
  // No session reaches the server's own files through its worktree.
  const unprotect = protectServerPaths(serverPaths);
  let server: GrpcServer;
  let pipeline: ExecutionPipeline;
  let sessions: SessionService;
  let executions: ExecutionService;
  const bus = new EventBus();
  try {
    const sessionStore = new TypeormSessionStore(db);
    const executionStore = new TypeormExecutionStore(db, eventEncoding);
    const registry = new SessionRegistry();
    const ceilings = ceilingsFrom(config.ceilings, config.maxSessions);
    const templates = new TemplateService(new TypeormTemplateStore(db), ceilings.limits);
    pipeline = new ExecutionPipeline({
      registry,
      sessions: sessionStore,
      executions: executionStore,
      bus,
      grants: { allowExec: config.allowExec, envAllow: config.envAllow ?? [] },
      runtimes,
      log,
      restore: config.sessionRestore,
    });
    sessions = new SessionService({
      templates,
      sessions: sessionStore,
      executions: executionStore,
      registry,
      pipeline,
      bus,
      worktreeRoots: config.worktreeRoots,
      ceilings,
      log,
    });
    await sessions.recoverFromRestart();
    executions = new ExecutionService(pipeline, executionStore, sessionStore, registry);
    const live = new LiveEvents(bus, registry, executionStore, sessionStore, pipeline);
    server = await startGrpcServer(config, { templates, sessions, executions, live }, log);
  } catch (err) {
    await db.destroy();
    unprotect();
    return failed(err);
  }
  log.info(
    { listen: config.listen, port: server.port, database: describeDatabase(config), tls: Boolean(config.tlsCert), auth: Boolean(config.authToken) },
    "serving",
  );
  if (config.sessionRestore === "eager") void warming.then(() => stopping || sessions.restoreAll());
  const stopSweeper = config.sessionIdleTimeoutMs > 0 ? sessions.startIdleSweeper(config.sessionIdleTimeoutMs) : () => undefined;
  let stopping: Promise<void> | undefined;
  // The first session (from a template with the default limits) need not make its isolate either.
  void warming.then(() => stopping || pipeline.keepSpare(defaultSettings().limits.memMb));
  return {
    port: server.port,
    stop: () =>
      (stopping ??= (async () => {
        log.info({ graceMs: config.shutdownGraceMs }, "shutting down");
        stopSweeper();
        const drained = server.stopAccepting();
        await executions.idle(config.shutdownGraceMs);
        await executions.cancelAll();
        bus.closeAll();
        const cut = await Promise.race([drained.then(() => false), sleep(STREAM_DRAIN_MS).then(() => true)]);
        if (cut) {
          log.warn("calls still open after the grace period: cutting them");
          server.forceClose();
        }
        sessions.disposeAll();
        await runtimes.close();
        await db.destroy();
        unprotect();
        log.info("stopped");
      })()),
  };
}

/** How long ended streams get to flush to their clients before the server cuts them. */
const STREAM_DRAIN_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
