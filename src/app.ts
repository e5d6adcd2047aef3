import type { DataSource } from "typeorm";
import type { ServeConfig } from "./config";
import { TemplateService } from "./core/template-service";
import type { Logger } from "./log";
import { describeDatabase, openDatabase } from "./store/data-source";
import { TypeormTemplateStore } from "./store/template-store";
import { startGrpcServer, type GrpcServer } from "./transport/server";

export interface RunningApp {
  port: number;
  /** Graceful stop: stop accepting, finish calls within the grace period, close the database. */
  stop(): Promise<void>;
}

/** Wires store → core → transport and starts serving. */
export async function startApp(config: ServeConfig, log: Logger): Promise<RunningApp> {
  const db: DataSource = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let server: GrpcServer;
  try {
    const templates = new TemplateService(new TypeormTemplateStore(db));
    server = await startGrpcServer(config.listen, { templates }, log);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  log.info({ listen: config.listen, port: server.port, database: describeDatabase(config) }, "serving");
  let stopping: Promise<void> | undefined;
  return {
    port: server.port,
    stop: () =>
      (stopping ??= (async () => {
        log.info({ graceMs: config.shutdownGraceMs }, "shutting down");
        await server.shutdown(config.shutdownGraceMs);
        await db.destroy();
        log.info("stopped");
      })()),
  };
}
