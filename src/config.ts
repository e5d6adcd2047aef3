import type { Limits } from "./core/model";

/** Server configuration, from `vmsystem serve` flags or VMSYSTEM_* variables. */
export interface ServeConfig {
  listen: string;
  dataDir: string;
  databaseUrl?: string;
  worktreeRoots: string[];
  allowExec: boolean;
  /** `--env-allow`: server variables an `env` capability may copy (default none). */
  envAllow?: string[];
  /** `--max-cpu-ms` …: what a template may ask for (default DEFAULT_CEILINGS). */
  ceilings?: Partial<Limits>;
  /** `--max-sessions` (default DEFAULT_CEILINGS). */
  maxSessions?: number;
  sessionIdleTimeoutMs: number;
  authToken?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
  shutdownGraceMs: number;
  /**
   * `--session-hosts`: child processes that run the sessions' isolates.
   * `vmsystem serve` defaults to the number of CPUs; absent here (an
   * embedding, the in-process test server): 0, in this process.
   */
  sessionHosts?: number;
  /** `--host-memory-mb`: a session host whose RSS passes this is killed and replaced (default 0: off). */
  hostMemoryMb?: number;
  /**
   * `--session-restore`: sessions whose holder is gone come back by replay on
   * first use (lazy, the default), all at start (eager), or are closed (off,
   * which also records nothing).
   */
  sessionRestore?: SessionRestoreMode;
  /** `--host-user`: the user (name or uid) session hosts run as; needs root and sessionHosts > 0. */
  hostUser?: string;
}

export type SessionRestoreMode = "lazy" | "eager" | "off";

export const DEFAULT_LISTEN = "127.0.0.1:50051";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `5m`, `1h` (or a bare number of milliseconds). */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}" (use e.g. 500ms, 30s, 5m, 1h)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]);
}

/** The shortest text parseDuration reads back as `ms` (for messages). */
export function formatDuration(ms: number): string {
  for (const unit of ["h", "m", "s"]) if (ms % UNIT_MS[unit] === 0 && ms > 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

/** A whole number ≥ min, for count and size flags. */
export function parseWholeNumber(text: string, flag: string, min = 1): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) throw new Error(`${flag} must be a whole number of at least ${min} (got "${text}")`);
  return n;
}

/** The environment variable that backs a flag: --database-url → VMSYSTEM_DATABASE_URL. */
export function envName(flag: string): string {
  return "VMSYSTEM_" + flag.replace(/^--/, "").replace(/-/g, "_").toUpperCase();
}
