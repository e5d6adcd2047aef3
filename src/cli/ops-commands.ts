import { Command } from "commander";
import { HealthCheckResponse, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health";
import { GetRuntimeSummaryResponse, SessionStatus } from "../../gen/vmsystem/v1/session";
import { invoke } from "./client";
import { clientAction } from "./context";
import { EXIT, printJson, printTable } from "./output";

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
  ops
    .command("runtime-summary")
    .description("live sessions in the server process: status, heap, executions run, restarts")
    .action(
      clientAction(async (c, out) => {
        const r = await invoke<GetRuntimeSummaryResponse>((cb) => c.sessions.getRuntimeSummary({}, c.metadata, cb));
        if (out === "json") return printJson(summaryJson(r));
        process.stdout.write(`live sessions: ${r.liveSessionCount}\n`);
        printTable(
          ["session", "status", "heap used", "executions", "restarts"],
          r.sessions.map((s) => [
            s.sessionId,
            SessionStatus[s.status].replace("SESSION_STATUS_", ""),
            `${(s.heapUsedBytes / 1048576).toFixed(1)} MiB`,
            s.executionsRun,
            s.restartCount,
          ]),
        );
      }),
    );
  return ops;
}

/**
 * protojson writes 64-bit integers as strings (JSON numbers lose precision
 * past 2^53); ts-proto's toJSON, generated with forceLong=number, writes
 * numbers. The two uint64 fields of the summary are written the protojson way.
 */
function summaryJson(r: GetRuntimeSummaryResponse): unknown {
  const json = GetRuntimeSummaryResponse.toJSON(r) as { sessions?: Record<string, unknown>[] };
  for (const session of json.sessions ?? []) {
    for (const field of ["heapUsedBytes", "executionsRun"]) {
      if (typeof session[field] === "number") session[field] = String(session[field]);
    }
  }
  return json;
}
