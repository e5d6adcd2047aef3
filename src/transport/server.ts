import { readFileSync } from "node:fs";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { ExecutionServiceService } from "../../gen/vmsystem/v1/execution";
import { SessionServiceService } from "../../gen/vmsystem/v1/session";
import { TemplateServiceService } from "../../gen/vmsystem/v1/template";
import type { ExecutionService } from "../core/execution-service";
import type { LiveEvents } from "../core/live-events";
import type { SessionService } from "../core/session-service";
import type { TemplateService } from "../core/template-service";
import type { Logger } from "../log";
import { withSafeDecoding } from "./decode";
import { acceptEncoded } from "./event-wire";
import { Rpc } from "./call";
import { addReflection } from "./reflection";
import { executionHandlers } from "./execution-handlers";
import { sessionHandlers } from "./session-handlers";
import { templateHandlers } from "./template-handlers";

const SERVICE_NAMES = ["vmsystem.v1.TemplateService", "vmsystem.v1.SessionService", "vmsystem.v1.ExecutionService"];

export interface CoreServices {
  templates: TemplateService;
  sessions: SessionService;
  executions: ExecutionService;
  live: LiveEvents;
}

export interface GrpcServer {
  /** The bound port (useful with port 0). */
  port: number;
  /**
   * Health turns NOT_SERVING and new calls are refused; resolves once every
   * open call has ended.
   */
  stopAccepting(): Promise<void>;
  /** Cuts whatever calls are still open. */
  forceClose(): void;
}

export interface ListenOptions {
  listen: string;
  authToken?: string;
  /** PEM files; both or neither. */
  tlsCert?: string;
  tlsKey?: string;
}

export async function startGrpcServer(options: ListenOptions, core: CoreServices, log: Logger): Promise<GrpcServer> {
  const server = new Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  const rpc = new Rpc({ log, authToken: options.authToken });
  server.addService(withSafeDecoding(TemplateServiceService), templateHandlers(core.templates, rpc));
  server.addService(withSafeDecoding(SessionServiceService), sessionHandlers(core.sessions, rpc));
  server.addService(acceptEncoded(withSafeDecoding(ExecutionServiceService)), executionHandlers(core.executions, core.live, rpc));
  addReflection(server);
  const health = new HealthImplementation({ "": "SERVING", ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, "SERVING" as const])) });
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, credentialsFor(options), (err, bound) => (err ? reject(err) : resolve(bound))),
  );

  return {
    port,
    stopAccepting: () =>
      new Promise<void>((resolve) => {
        for (const name of ["", ...SERVICE_NAMES]) health.setStatus(name, "NOT_SERVING");
        server.tryShutdown(() => resolve());
      }),
    forceClose: () => server.forceShutdown(),
  };
}

function credentialsFor(options: ListenOptions): ServerCredentials {
  if (!options.tlsCert && !options.tlsKey) return ServerCredentials.createInsecure();
  if (!options.tlsCert || !options.tlsKey) throw new Error("TLS needs both --tls-cert and --tls-key");
  return ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(options.tlsCert), private_key: readFileSync(options.tlsKey) }], false);
}
