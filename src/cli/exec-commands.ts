import { readFileSync } from "node:fs";
import { Command } from "commander";
import { EventType, Execution, ExecutionEvent, ExecutionStatus } from "../../gen/vmsystem/v1/execution";
import { invoke } from "./client";
import { clientAction, intArg } from "./context";
import { EXIT, printJson, printTable, type OutputMode } from "./output";

const statusName = (s: ExecutionStatus) => ExecutionStatus[s]?.replace("EXECUTION_STATUS_", "") ?? String(s);

/** Prints one event the way a terminal REPL would. */
export function printEvent(e: ExecutionEvent): void {
  if (e.console) {
    const stream = e.console.level === "error" || e.console.level === "warn" ? process.stderr : process.stdout;
    stream.write(e.console.text + "\n");
  } else if (e.value) {
    process.stdout.write(e.value.preview + "\n");
  } else if (e.exception) {
    process.stderr.write((e.exception.stack || `${e.exception.name}: ${e.exception.message}`) + "\n");
  } else if (e.system) {
    process.stderr.write(`[${e.system.level}] ${e.system.message}\n`);
  }
}

/** Prints a finished execution and returns the exit code scripts rely on (3 when it did not end OK). */
function finish(execution: Execution, out: OutputMode): number {
  if (out === "json") printJson(Execution.toJSON(execution));
  else for (const e of execution.events) if (e.type !== EventType.EVENT_TYPE_INPUT_ECHO) printEvent(e);
  return execution.status === ExecutionStatus.EXECUTION_STATUS_OK ? EXIT.ok : EXIT.executionFailed;
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
        const e = await invoke<Execution>((cb) => c.executions.executeRepl({ sessionId: opts.session, input, requestId: opts.requestId ?? "" }, c.metadata, cb));
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
        const e = await invoke<Execution>((cb) =>
          c.executions.executeRunFile({ sessionId: opts.session, path, args, env: opts.env ?? {}, requestId: opts.requestId ?? "" }, c.metadata, cb),
        );
        return finish(e, out);
      }),
    );
  exec
    .command("get <execution-id>")
    .action(
      clientAction(async (c, out, id: string) => {
        const e = await invoke<Execution>((cb) => c.executions.getExecution({ executionId: id }, c.metadata, cb));
        if (out === "json") return printJson(Execution.toJSON(e));
        printTable(
          ["id", "number", "kind", "status", "error", "duration ms", "events"],
          [[e.id, e.number, e.kind, statusName(e.status), e.error ? `${e.error.code}: ${e.error.message}` : "", e.metrics?.durationMs ?? 0, e.metrics?.eventCount ?? 0]],
        );
        for (const ev of e.events) printEvent(ev);
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
        printTable(["number", "id", "kind", "status", "input / path"], items.map((e) => [e.number, e.id, e.kind, statusName(e.status), (e.input || e.path).slice(0, 60)]));
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
        const r = await invoke<{ events: ExecutionEvent[] }>((cb) => c.executions.listEvents({ executionId: id, afterSeq: opts.afterSeq ?? 0, limit: opts.limit ?? 0 }, c.metadata, cb));
        if (out === "json") return printJson({ items: r.events.map(ExecutionEvent.toJSON) });
        for (const e of r.events) printEvent(e);
      }),
    );
  return exec;
}
