/**
 * Restore by replay (SPEC, Durable sessions): a session's recorded
 * executions run again, in order, in a fresh runtime, each served its
 * recording instead of the outside world, and each must end as it ended the
 * first time. Console output goes nowhere (a replay writes no events), but
 * an output limit that ended a run ends it again at the same line.
 */
import type { SessionRuntime } from "./session-runtime";
import type { ExpectedOutcome, ReplayResult, ReplayStep, RunOutcome, RunResult } from "./types";

const UNLIMITED = 0x7fffffff;

export async function replaySteps(runtime: SessionRuntime, steps: ReplayStep[], signal?: AbortSignal): Promise<ReplayResult> {
  let replayed = 0;
  for (const step of steps) {
    if (signal?.aborted) return { replayed, divergence: { number: step.number, reason: "the restore was cancelled" } };
    const result = await replayOne(runtime, step, signal);
    const reason = result.diverged ?? mismatch(step.expect, result.outcome);
    if (reason) return { replayed, divergence: { number: step.number, reason } };
    replayed++;
  }
  return { replayed };
}

function replayOne(runtime: SessionRuntime, step: ReplayStep, signal?: AbortSignal): Promise<RunResult> {
  const lines = step.recording.consoleLines;
  let accepted = 0;
  const hooks = {
    onConsole: () => (lines === undefined ? true : accepted++ < lines),
    consoleBudget: () => ({ events: lines === undefined ? UNLIMITED : Math.max(0, lines - accepted), bytes: UNLIMITED }),
    signal,
    replay: step.recording,
    replayStop: step.expect.kind === "timeout" || step.expect.kind === "cancelled" ? step.expect.kind : undefined,
  };
  const { request, limits } = step;
  return request.kind === "repl" ? runtime.runRepl(request.code, limits, hooks) : runtime.runFile(request.file, limits, hooks, request.options);
}

/** How the replayed run's end differs from the recorded one, if it does. */
function mismatch(expect: ExpectedOutcome, outcome: RunOutcome): string | undefined {
  const got = describe(outcome);
  if (expect.kind === "other") return undefined;
  if (expect.kind !== outcome.kind) return `it ended with ${got} instead of ${describeExpected(expect)}`;
  if (expect.kind === "value" && outcome.kind === "value" && (expect.type !== outcome.value.type || expect.preview !== outcome.value.preview))
    return `it ended with ${got} instead of ${describeExpected(expect)}`;
  if (expect.kind === "exception" && outcome.kind === "exception" && !sameException(expect.message, outcome.exception))
    return `it ended with ${got} instead of ${describeExpected(expect)}`;
  return undefined;
}

function sameException(message: string, e: { name: string; message: string }): boolean {
  return message === (e.name ? `${e.name}: ${e.message}` : e.message);
}

const clip = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

function describe(outcome: RunOutcome): string {
  if (outcome.kind === "value") return `the value ${clip(outcome.value.preview)}`;
  if (outcome.kind === "exception") return `the exception ${clip(`${outcome.exception.name}: ${outcome.exception.message}`)}`;
  return `a ${outcome.kind}`;
}

function describeExpected(expect: ExpectedOutcome): string {
  if (expect.kind === "value") return `the value ${clip(expect.preview)}`;
  if (expect.kind === "exception") return `the exception ${clip(expect.message)}`;
  return `a ${expect.kind}`;
}
