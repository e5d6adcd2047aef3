import { readFileSync } from "node:fs";
import { Command } from "commander";
import type { ServiceError } from "@grpc/grpc-js";
import {
  EventType,
  Execution,
  ExecutionEvent,
  ExecutionKind,
  ExecutionStatus,
  StreamExecutionResponse,
  type StreamExecutionRequest,
} from "../../gen/vmsystem/v1/execution";
import type { Clients } from "./client";
import { invoke } from "./client";
import { clientAction, intArg } from "./context";
import { eventsOf, printEvents, printStream, STREAM_MAX_BATCH } from "./events";
import { EXIT, printJson, printTable, type OutputMode } from "./output";

const statusName = (s: ExecutionStatus) => ExecutionStatus[s]?.replace("EXECUTION_STATUS_", "") ?? String(s);
const kindName = (k: ExecutionKind) => ExecutionKind[k]?.replace("EXECUTION_KIND_", "") ?? String(k);

/** Prints a finished execution and returns the exit code scripts rely on (3 when it did not end OK). */
function finish(execution: Execution, out: OutputMode): number {
  if (out === "json") printJson(Execution.toJSON(execution));
  else printEvents(execution.events.filter((e) => e.type !== EventType.EVENT_TYPE_INPUT_ECHO));
  return execution.status === ExecutionStatus.EXECUTION_STATUS_OK ? EXIT.ok : EXIT.executionFailed;
}

/**
 * Human mode: runs through StreamExecution and prints each event as it
 * happens. Ctrl-C cancels the execution (CancelExecution), a second Ctrl-C
 * abandons the call.
 */
async function streamLive(c: Clients, request: StreamExecutionRequest): Promise<number> {
  const call = c.executions.streamExecution(request, c.metadata);
  let executionId: string | undefined;
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1 || !executionId) return call.cancel();
    process.stderr.write("cancelling…\n");
    c.executions.cancelExecution({ executionId }, c.metadata, () => undefined);
  };
  process.on("SIGINT", onSigint);
  try {
    const finished = await new Promise<Execution | undefined>((resolve, reject) => {
      let last: Execution | undefined;
      call.on("data", (m: StreamExecutionResponse) => {
        if (m.started) executionId = m.started.id;
        printEvents(eventsOf(m.event, m.events?.events).filter((e) => e.type !== EventType.EVENT_TYPE_INPUT_ECHO));
        if (m.finished) last = m.finished;
      });
      call.on("error", (err: ServiceError) => reject(err));
      call.on("end", () => resolve(last));
    });
    return finished?.status === ExecutionStatus.EXECUTION_STATUS_OK ? EXIT.ok : EXIT.executionFailed;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

const collectEnv = (value: string, previous: Record<string, string> = {}) => {
  const eq = value.indexOf("=");
  return eq < 0 ? { ...previous, [value]: process.env[value] ?? "" } : { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
};

export function execCommand(): Command {
  const exec = new Command("exec").description("run code in sessions and read what it did");
  exec
    .command("repl <code>")
    .description("run a REPL snippet (CODE '-' reads stdin)")
    .requiredOption("--session <id>", "session id")
    .option("--request-id <key>", "idempotency key")
    .action(
      clientAction(async (c, out, code: string, opts: { session: string; requestId?: string }) => {
        const input = code === "-" ? readFileSync(0, "utf8") : code;
        if (out === "human") return streamLive(c, { sessionId: opts.session, repl: { input }, requestId: opts.requestId ?? "", maxBatch: STREAM_MAX_BATCH });
        const e = await invoke<Execution>((cb) =>
          c.executions.executeRepl({ sessionId: opts.session, input, requestId: opts.requestId ?? "" }, c.metadata, cb),
        );
        return finish(e, out);
      }),
    );
  exec
    .command("run-file <path> [args...]")
    .description("run a file of the session's worktree (arguments after --)")
    .requiredOption("--session <id>", "session id")
    .option("--env <NAME=value>", "set a variable in `env` (repeatable)", collectEnv)
    .option("--request-id <key>", "idempotency key")
    .action(
      clientAction(async (c, out, path: string, args: string[], opts: { session: string; env?: Record<string, string>; requestId?: string }) => {
        if (out === "human")
          return streamLive(c, {
            sessionId: opts.session,
            runFile: { path, args, env: opts.env ?? {} },
            requestId: opts.requestId ?? "",
            maxBatch: STREAM_MAX_BATCH,
          });
        const e = await invoke<Execution>((cb) =>
          c.executions.executeRunFile({ sessionId: opts.session, path, args, env: opts.env ?? {}, requestId: opts.requestId ?? "" }, c.metadata, cb),
        );
        return finish(e, out);
      }),
    );
  exec.command("get <execution-id>").action(
    clientAction(async (c, out, id: string) => {
      const e = await invoke<Execution>((cb) => c.executions.getExecution({ executionId: id }, c.metadata, cb));
      if (out === "json") return printJson(Execution.toJSON(e));
      printTable(
        ["id", "number", "kind", "status", "error", "duration ms", "events"],
        [
          [
            e.id,
            e.number,
            kindName(e.kind),
            statusName(e.status),
            e.error ? `${e.error.code}: ${e.error.message}` : "",
            e.metrics?.durationMs ?? 0,
            e.metrics?.eventCount ?? 0,
          ],
        ],
      );
      printEvents(e.events);
    }),
  );
  exec
    .command("list")
    .description("list a session's executions, newest first")
    .requiredOption("--session <id>", "session id")
    .option("--page-size <n>", "executions per page", intArg("--page-size"))
    .option("--page-token <token>", "continue from a previous page")
    .option("--all", "follow every page")
    .action(
      clientAction(async (c, out, opts: { session: string; pageSize?: number; pageToken?: string; all?: boolean }) => {
        const items: Execution[] = [];
        let pageToken = opts.pageToken ?? "";
        do {
          const page = await invoke<{ executions: Execution[]; nextPageToken: string }>((cb) =>
            c.executions.listExecutions({ sessionId: opts.session, pageSize: opts.pageSize ?? 0, pageToken }, c.metadata, cb),
          );
          items.push(...page.executions);
          pageToken = page.nextPageToken;
        } while (opts.all && pageToken);
        if (out === "json") return printJson({ items: items.map(Execution.toJSON), nextPageToken: pageToken });
        printTable(
          ["number", "id", "kind", "status", "input / path"],
          items.map((e) => [e.number, e.id, kindName(e.kind), statusName(e.status), (e.input || e.path).slice(0, 60)]),
        );
        if (pageToken) process.stdout.write(`next page: --page-token ${pageToken}\n`);
      }),
    );
  exec
    .command("events <execution-id>")
    .description("print an execution's stored events")
    .option("--after-seq <n>", "only events after this seq", intArg("--after-seq"))
    .option("--limit <n>", "at most this many (default 1000)", intArg("--limit"))
    .action(
      clientAction(async (c, out, id: string, opts: { afterSeq?: number; limit?: number }) => {
        const r = await invoke<{ events: ExecutionEvent[] }>((cb) =>
          c.executions.listEvents({ executionId: id, afterSeq: opts.afterSeq ?? 0, limit: opts.limit ?? 0 }, c.metadata, cb),
        );
        if (out === "json") return printJson({ items: r.events.map(ExecutionEvent.toJSON) });
        printEvents(r.events);
      }),
    );
  exec
    .command("tail <execution-id>")
    .description("print an execution's events, replayed then (with --follow) live until it ends")
    .option("--after-seq <n>", "only events after this seq", intArg("--after-seq"))
    .option("--follow", "keep printing live events until the execution ends")
    .action(
      clientAction(async (c, out, id: string, opts: { afterSeq?: number; follow?: boolean }) => {
        const call = c.executions.tailEvents(
          { executionId: id, afterSeq: opts.afterSeq ?? 0, follow: Boolean(opts.follow), maxBatch: STREAM_MAX_BATCH },
          c.metadata,
        );
        await printStream(call, out);
      }),
    );
  exec
    .command("cancel <execution-id>")
    .description("cancel a running execution (returns once it has ended)")
    .action(
      clientAction(async (c, out, id: string) => {
        const e = await invoke<Execution>((cb) => c.executions.cancelExecution({ executionId: id }, c.metadata, cb));
        if (out === "json") return printJson(Execution.toJSON(e));
        process.stdout.write(`${e.id} ${statusName(e.status)}${e.error ? ` (${e.error.code}: ${e.error.message})` : ""}\n`);
      }),
    );
  return exec;
}
