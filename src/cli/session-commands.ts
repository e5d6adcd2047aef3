import { Command } from "commander";
import { Session, SessionStatus } from "../../gen/vmsystem/v1/session";
import { status } from "@grpc/grpc-js";
import { invoke } from "./client";
import { clientAction, intArg } from "./context";
import { printStream, STREAM_MAX_BATCH } from "./events";
import { printFields, printJson, printTable, UsageError, type OutputMode } from "./output";

const statusName = (s: SessionStatus) => SessionStatus[s]?.replace("SESSION_STATUS_", "") ?? String(s);

/** Accepts `READY` or `SESSION_STATUS_READY`. */
function parseSessionStatus(value: string): SessionStatus {
  const full = value.toUpperCase().startsWith("SESSION_STATUS_") ? value.toUpperCase() : `SESSION_STATUS_${value.toUpperCase()}`;
  const status = SessionStatus[full as keyof typeof SessionStatus];
  if (status === undefined || status === SessionStatus.UNRECOGNIZED || status === SessionStatus.SESSION_STATUS_UNSPECIFIED) {
    throw new UsageError(`--status must be one of STARTING, READY, CLOSED, CRASHED, RESTORING, not "${value}"`);
  }
  return status;
}

/** `--at N`: an execution number, 0 or more (0 = the latest finished). */
function executionNumberArg(value: string): number {
  const n = intArg("--at")(value);
  if (n < 0 || n > 0xffff_ffff) throw new UsageError(`--at must be an execution number (0 = the latest), not "${value}"`);
  return n;
}

/** `<source id> at <execution number>` for a fork, "" otherwise. */
const forkedFrom = (s: Session) => (s.forkedFromSessionId ? `${s.forkedFromSessionId} at ${s.forkedFromExecutionNumber}` : "");

function showSession(s: Session, out: OutputMode): void {
  if (out === "json") return printJson(Session.toJSON(s));
  printFields([
    ["id", s.id],
    ["status", statusName(s.status)],
    ["template", s.templateId],
    ["workspace", s.workspaceId],
    ["commit", s.baseCommitOid],
    ["worktree", s.worktreePath],
    ["last error", s.lastError],
    ["restarts", s.restartCount],
    ["restores", s.restoreCount],
    ["forked from", forkedFrom(s)],
    ["created", s.createdAt?.toISOString() ?? ""],
    ["closed", s.closedAt?.toISOString() ?? ""],
    ["last activity", s.lastActivityAt?.toISOString() ?? ""],
  ]);
}

export function sessionCommand(): Command {
  const session = new Command("session").description("start, inspect and close sessions");
  session
    .command("create")
    .description("start a session from a template")
    .requiredOption("--template <id>", "template id")
    .requiredOption("--workspace <id>", "workspace id")
    .requiredOption("--commit <oid>", "base commit oid")
    .requiredOption("--worktree <dir>", "absolute path of the worktree")
    .action(
      clientAction(async (c, out, opts: { template: string; workspace: string; commit: string; worktree: string }) => {
        const s = await invoke<Session>((cb) =>
          c.sessions.createSession(
            { templateId: opts.template, workspaceId: opts.workspace, baseCommitOid: opts.commit, worktreePath: opts.worktree },
            c.metadata,
            cb,
          ),
        );
        showSession(s, out);
      }),
    );
  session
    .command("get <session-id>")
    .action(
      clientAction(async (c, out, id: string) => showSession(await invoke<Session>((cb) => c.sessions.getSession({ sessionId: id }, c.metadata, cb)), out)),
    );
  session
    .command("fork <session-id>")
    .description("start a new session holding the state the source had right after one of its executions")
    .option("--at <n>", "the source's execution number (default 0: its latest finished execution)", executionNumberArg)
    .option("--worktree <dir>", "absolute path of the fork's worktree (default: the source's)")
    .action(
      clientAction(async (c, out, id: string, opts: { at?: number; worktree?: string }) => {
        const s = await invoke<Session>((cb) =>
          c.sessions.forkSession({ sessionId: id, atExecutionNumber: opts.at ?? 0, worktreePath: opts.worktree }, c.metadata, cb),
        );
        showSession(s, out);
      }),
    );
  session
    .command("list")
    .description("list sessions, newest first")
    .option("--status <status>", "only this status (READY or SESSION_STATUS_READY)", parseSessionStatus)
    .option("--page-size <n>", "sessions per page", intArg("--page-size"))
    .option("--page-token <token>", "continue from a previous page")
    .option("--all", "follow every page")
    .action(
      clientAction(async (c, out, opts: { status?: SessionStatus; pageSize?: number; pageToken?: string; all?: boolean }) => {
        const items: Session[] = [];
        let pageToken = opts.pageToken ?? "";
        do {
          const page = await invoke<{ sessions: Session[]; nextPageToken: string }>((cb) =>
            c.sessions.listSessions({ status: opts.status ?? 0, pageSize: opts.pageSize ?? 0, pageToken }, c.metadata, cb),
          );
          items.push(...page.sessions);
          pageToken = page.nextPageToken;
        } while (opts.all && pageToken);
        if (out === "json") return printJson({ items: items.map(Session.toJSON), nextPageToken: pageToken });
        // The fork column only when the page holds a fork: most pages have none.
        const forks = items.some((s) => s.forkedFromSessionId);
        printTable(
          ["id", "status", "template", "worktree", "restores", ...(forks ? ["forked from"] : []), "created"],
          items.map((s) => [
            s.id,
            statusName(s.status),
            s.templateId,
            s.worktreePath,
            s.restoreCount,
            ...(forks ? [forkedFrom(s)] : []),
            s.createdAt?.toISOString() ?? "",
          ]),
        );
        if (pageToken) process.stdout.write(`next page: --page-token ${pageToken}\n`);
      }),
    );
  session
    .command("close <session-id>")
    .description("dispose the session's runtime")
    .action(
      clientAction(async (c, out, id: string) => showSession(await invoke<Session>((cb) => c.sessions.closeSession({ sessionId: id }, c.metadata, cb)), out)),
    );
  session
    .command("watch <session-id>")
    .description("print every event of every execution in the session until it closes (Ctrl-C stops)")
    .action(
      clientAction(async (c, out, id: string) => {
        const call = c.executions.watchSession({ sessionId: id, maxBatch: STREAM_MAX_BATCH }, c.metadata);
        process.once("SIGINT", () => call.cancel());
        await printStream(call, out).catch((err: { code?: number }) => {
          if (err.code !== status.CANCELLED) throw err;
        });
      }),
    );
  return session;
}
