import { Command } from "commander";
import { HealthCheckResponse, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health";
import { invoke } from "./client";
import { clientAction } from "./context";
import { EXIT, printJson } from "./output";

export function opsCommand(): Command {
  const ops = new Command("ops").description("operate the server");
  ops
    .command("health")
    .description("check the server's health (exits 1 unless SERVING)")
    .option("--service <name>", "a service name; empty for the whole server", "")
    .action(
      clientAction(async (c, out, opts: { service: string }) => {
        const r = await invoke<HealthCheckResponse>((cb) => c.health.check({ service: opts.service }, c.metadata, cb));
        if (out === "json") printJson(HealthCheckResponse.toJSON(r));
        else process.stdout.write(`${HealthCheckResponse_ServingStatus[r.status]}\n`);
        return r.status === HealthCheckResponse_ServingStatus.SERVING ? EXIT.ok : EXIT.rpcError;
      }),
    );
  return ops;
}
