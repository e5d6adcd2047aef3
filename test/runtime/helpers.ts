import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { LocalRuntimes, type SessionRuntime } from "../../src/runtime";
import type { ConsoleLevel, RunHooks, RunLimits, RunOutcome, RunResult, RuntimeOptions } from "../../src/runtime";

export const LIMITS: RunLimits = { cpuMs: 5_000, wallMs: 10_000 };

/** The runtimes of one test file (each file evaluates this module afresh). */
export const runtimes = new LocalRuntimes();

// Each test file evaluates this module afresh, so this hook runs after the file's tests.
const made: string[] = [];
afterAll(async () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  await runtimes.close();
});

export function tempWorktree(prefix = "vmsystem-rt-"): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

export function options(overrides: Partial<RuntimeOptions> = {}): RuntimeOptions {
  return {
    memMb: 64,
    worktreePath: overrides.worktreePath ?? tempWorktree(),
    runtime: { esm: false, strict: false, console: true },
    resolver: { roots: [], extensions: [".js", ".mjs"], allowAbsoluteRepoImports: false },
    modules: [],
    libraries: [],
    allowExec: false,
    ...overrides,
  };
}

export interface Captured extends RunResult {
  lines: Array<{ level: ConsoleLevel; text: string }>;
}

export async function repl(
  rt: SessionRuntime,
  code: string,
  limits: Partial<RunLimits> = {},
  extra: { signal?: AbortSignal; accept?: (n: number) => boolean } = {},
): Promise<Captured> {
  const lines: Captured["lines"] = [];
  const result = await rt.runRepl(
    code,
    { ...LIMITS, ...limits },
    {
      onConsole(level, text) {
        if (extra.accept && !extra.accept(lines.length)) return false;
        lines.push({ level, text });
        return true;
      },
      signal: extra.signal,
    },
  );
  return { ...result, lines };
}

/** The VALUE of a run, failing loudly on anything else. */
export function valueOf(outcome: RunOutcome) {
  if (outcome.kind !== "value") throw new Error(`expected a value, got ${JSON.stringify(outcome)}`);
  return outcome.value;
}

export function exceptionOf(outcome: RunOutcome) {
  if (outcome.kind !== "exception") throw new Error(`expected an exception, got ${JSON.stringify(outcome)}`);
  return outcome.exception;
}

/**
 * Hooks that keep console lines the way the service's event recorder does:
 * at most maxLines lines and maxBytes UTF-8 bytes of text, the first line
 * that does not fit and every later one refused; with the matching budget.
 */
export function limitedConsole(maxLines: number, maxBytes: number) {
  const lines: Array<{ level: ConsoleLevel; text: string }> = [];
  const state = { bytes: 0, limited: false, budgetReads: 0 };
  const hooks: RunHooks = {
    onConsole(level, text) {
      if (state.limited) return false;
      const size = Buffer.byteLength(text, "utf8");
      if (lines.length >= maxLines || state.bytes + size > maxBytes) {
        state.limited = true;
        return false;
      }
      state.bytes += size;
      lines.push({ level, text });
      return true;
    },
    consoleBudget() {
      state.budgetReads++;
      return state.limited ? { events: 0, bytes: 0 } : { events: maxLines - lines.length, bytes: maxBytes - state.bytes };
    },
  };
  return { lines, state, hooks };
}

export async function runWith(rt: SessionRuntime, code: string, hooks: RunHooks, limits: Partial<RunLimits> = {}): Promise<RunResult> {
  return rt.runRepl(code, { ...LIMITS, ...limits }, hooks);
}
