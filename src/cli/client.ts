import { ChannelCredentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { ExecutionServiceClient } from "../../gen/vmsystem/v1/execution";
import { SessionServiceClient } from "../../gen/vmsystem/v1/session";
import { TemplateServiceClient } from "../../gen/vmsystem/v1/template";
import { HealthClient } from "../../gen/grpc/health/v1/health";
import { DEFAULT_LISTEN } from "../config";

export interface ClientOptions {
  server?: string;
  token?: string;
  tlsCa?: string;
}

export interface Clients {
  templates: TemplateServiceClient;
  sessions: SessionServiceClient;
  executions: ExecutionServiceClient;
  health: HealthClient;
  metadata: Metadata;
  close(): void;
}

/** One channel per CLI run, shared by the typed clients. */
export function connect(options: ClientOptions): Clients {
  const address = options.server || process.env.VMSYSTEM_SERVER || DEFAULT_LISTEN;
  const token = options.token || process.env.VMSYSTEM_AUTH_TOKEN;
  const credentials = options.tlsCa ? ChannelCredentials.createSsl(readFileSync(options.tlsCa)) : ChannelCredentials.createInsecure();
  // Executions with many events exceed grpc-js's 4 MB default response size.
  const templates = new TemplateServiceClient(address, credentials, { "grpc.max_receive_message_length": -1 });
  const channelOverride = templates.getChannel();
  const opts = { channelOverride };
  const metadata = new Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  const sessions = new SessionServiceClient(address, credentials, opts);
  const executions = new ExecutionServiceClient(address, credentials, opts);
  const health = new HealthClient(address, credentials, opts);
  return {
    templates,
    sessions,
    executions,
    health,
    metadata,
    close: () => templates.close(),
  };
}

/**
 * Promisifies one generated unary call:
 * `await invoke<Template>((cb) => c.templates.getTemplate(req, c.metadata, cb))`.
 */
export function invoke<Res>(start: (callback: (err: ServiceError | null, response: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => start((err, response) => (err ? reject(err) : resolve(response))));
}
