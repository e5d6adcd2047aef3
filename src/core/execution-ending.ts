import type { RunOutcome } from "../runtime/types";
import type { EventPayload, ExecutionError, ExecutionStatus, Limits, ValueDescription } from "./model";

/** How an execution ends: its status, error, final events and what the session must do next. */
export interface Ending {
  status: ExecutionStatus;
  error: ExecutionError | null;
  result: ValueDescription | null;
  events: EventPayload[];
  then: "nothing" | "restart" | "crash";
}

/** An outcome the runtime did not produce: a path problem or an internal failure. */
export interface Failure {
  kind: "failure";
  code: string;
  message: string;
}

const HOST_LOST = ": the session host running it had to be killed, and the session crashed";
const LOST_STATE = "; the running code could only be stopped by disposing the isolate: the session restarts and its in-memory state is lost";

/** The one table from run outcomes to endings, shared by every execution kind. */
export function endingOf(outcome: RunOutcome | Failure, limits: Limits, limitMessage?: string): Ending {
  const fail = (status: ExecutionStatus, code: string, message: string, level: string, then: Ending["then"] = "nothing"): Ending => ({
    status,
    error: { code, message },
    result: null,
    events: [{ type: "SYSTEM", level, message }],
    then,
  });
  switch (outcome.kind) {
    case "value":
      return { status: "OK", error: null, result: outcome.value, events: [{ type: "VALUE", value: outcome.value }], then: "nothing" };
    case "exception": {
      const { name, message, stack } = outcome.exception;
      return {
        status: "ERROR",
        error: { code: "EXCEPTION", message: name ? `${name}: ${message}` : message },
        result: null,
        events: [{ type: "EXCEPTION", name, message, stack }],
        then: "nothing",
      };
    }
    case "timeout": {
      const limit = outcome.limit === "wall" ? `wall time limit of ${limits.wallMs} ms` : `CPU time limit of ${limits.cpuMs} ms`;
      if (outcome.hostLost) return fail("TIMEOUT", "TIMEOUT", `${outcome.cause ?? `${limit} exceeded`}${HOST_LOST}`, "error", "crash");
      const message = `${outcome.cause ?? `${limit} exceeded`}${outcome.isolateDisposed ? LOST_STATE : ""}`;
      return fail("TIMEOUT", "TIMEOUT", message, "warn", outcome.isolateDisposed ? "restart" : "nothing");
    }
    case "cancelled":
      return fail(
        "CANCELLED",
        "CANCELLED",
        `execution cancelled${outcome.cause ? ` (${outcome.cause})` : ""}${outcome.isolateDisposed ? LOST_STATE : ""}`,
        "warn",
        outcome.isolateDisposed ? "restart" : "nothing",
      );
    case "memory":
      return fail(
        "ERROR",
        "MEMORY_LIMIT_EXCEEDED",
        `${outcome.cause ? `memory limit exceeded (${outcome.cause})` : `memory limit of ${limits.memMb} MB exceeded`}: the isolate was disposed and the session crashed`,
        "error",
        "crash",
      );
    case "output-limit":
      // The recorder already stored the SYSTEM event that reports the limit.
      return { ...fail("ERROR", "OUTPUT_LIMIT_EXCEEDED", limitMessage ?? "output limit exceeded", "warn"), events: [] };
    case "failure":
      return fail("ERROR", outcome.code, outcome.message, "error");
  }
}
