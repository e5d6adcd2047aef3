import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll } from "vitest";
import { startApp, type RunningApp } from "../../src/app";
import type { ServeConfig } from "../../src/config";
import { createLogger } from "../../src/log";
import { errorInfoOf } from "../../src/transport/errors";
import { ExecutionServiceClient } from "../../gen/vmsystem/v1/execution";
import { SessionServiceClient } from "../../gen/vmsystem/v1/session";
import { TemplateServiceClient } from "../../gen/vmsystem/v1/template";
import { HealthClient } from "../../gen/grpc/health/v1/health";
import { rewriteStoredSettings, testDatabase, type TestDatabase } from "./database";
// Circular (fixtures.ts calls unary): each side uses the other only at call time.
import { Api } from "./fixtures";

export interface TestServer {
  app: RunningApp;
  address: string;
  db: TestDatabase;
  templates: TemplateServiceClient;
  sessions: SessionServiceClient;
  executions: ExecutionServiceClient;
  health: HealthClient;
  /** Stops the server and the clients, keeping the database (for restart tests). */
  stop(): Promise<void>;
  /** Stops everything and drops the database. */
  close(): Promise<void>;
}

/** Starts the real server (real gRPC on a free loopback port, real database). */
export async function startTestServer(overrides: Partial<ServeConfig> = {}, db: TestDatabase = testDatabase()): Promise<TestServer> {
  const config: ServeConfig = {
    listen: "127.0.0.1:0",
    dataDir: db.dataDir,
    databaseUrl: db.databaseUrl,
    worktreeRoots: [],
    allowExec: false,
    sessionIdleTimeoutMs: 0,
    logLevel: "silent",
    shutdownGraceMs: 2000,
    ...overrides,
  };
  const app = await startApp(config, createLogger(process.env.VMSYSTEM_TEST_LOG ?? "silent"));
  const address = `127.0.0.1:${app.port}`;
  const creds = credentials.createInsecure();
  const templates = new TemplateServiceClient(address, creds);
  const sessions = new SessionServiceClient(address, creds);
  const executions = new ExecutionServiceClient(address, creds);
  const health = new HealthClient(address, creds);
  const stop = async () => {
    for (const c of [templates, sessions, executions, health]) c.close();
    await app.stop();
  };
  return {
    app,
    address,
    db,
    templates,
    sessions,
    executions,
    health,
    stop,
    close: async () => {
      await stop();
      await db.cleanup();
    },
  };
}

export interface ServerFixture extends TestServer {
  /** Typed calls on this server; sessions it opened are closed before the server stops. */
  api: Api;
}

/**
 * Starts a test server for the enclosing file or describe block: registers
 * beforeAll/afterAll and returns a handle whose fields read the running
 * server (reading one before beforeAll has run throws). `overrides` may be a
 * function, for settings made in an earlier beforeAll (a temp dir).
 */
export function useTestServer(overrides: Partial<ServeConfig> | (() => Partial<ServeConfig>) = {}): ServerFixture {
  let server: TestServer | undefined;
  const running = (): TestServer => {
    if (!server) throw new Error("useTestServer: the server is started in beforeAll; read it inside a hook or a test");
    return server;
  };
  const fixture: ServerFixture = {
    get app() {
      return running().app;
    },
    get address() {
      return running().address;
    },
    get db() {
      return running().db;
    },
    get templates() {
      return running().templates;
    },
    get sessions() {
      return running().sessions;
    },
    get executions() {
      return running().executions;
    },
    get health() {
      return running().health;
    },
    stop: () => running().stop(),
    close: () => running().close(),
    api: undefined as unknown as Api,
  };
  // Api reads the server at call time, so it can wrap the handle before the start.
  fixture.api = new Api(fixture);
  beforeAll(async () => {
    server = await startTestServer(typeof overrides === "function" ? overrides() : overrides);
  });
  afterAll(async () => {
    if (!server) return;
    try {
      await fixture.api.closeAll();
    } finally {
      await server.close();
    }
  });
  return fixture;
}

export interface Clients extends Pick<TestServer, "templates" | "sessions" | "executions" | "health"> {
  api: Api;
  close(): void;
}

/** Clients for a server in another process (spawnServer), and an Api over them. */
export function connect(address: string): Clients {
  const creds = credentials.createInsecure();
  const clients = {
    templates: new TemplateServiceClient(address, creds),
    sessions: new SessionServiceClient(address, creds),
    executions: new ExecutionServiceClient(address, creds),
    health: new HealthClient(address, creds),
  };
  return { ...clients, api: new Api(clients), close: () => Object.values(clients).forEach((c) => c.close()) };
}

type Callback<Res> = (err: ServiceError | null, response: Res) => void;

/** Promisifies one generated unary call: `await unary((cb) => s.templates.getTemplate(req, cb))`. */
export function unary<Res>(start: (callback: Callback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

/** Awaits a call expected to fail; returns its gRPC code and ErrorInfo reason. */
export async function rpcError(
  promise: Promise<unknown>,
): Promise<{ code: number; reason?: string; domain?: string; message: string; metadata: Record<string, string> }> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    const info = errorInfoOf(e);
    return { code: e.code, reason: info?.reason, domain: info?.domain, message: e.details, metadata: info?.metadata ?? {} };
  }
  throw new Error("expected the call to fail, but it succeeded");
}

export { Metadata };

/**
 * A template as an older version of the server stored it: created through a
 * server on `db`, then, with that server stopped, its stored settings edited
 * (`edit` deletes the fields the older version did not know). Returns its id.
 */
export async function templateStoredByOlderVersion(db: TestDatabase, edit: (settings: Record<string, Record<string, unknown>>) => void): Promise<string> {
  const server = await startTestServer({}, db);
  let id: string;
  try {
    id = (await new Api(server).template({ name: "old" })).id;
  } finally {
    await server.stop();
  }
  await rewriteStoredSettings(db, id, edit);
  return id;
}
