/** Server configuration, from `vmsystem serve` flags or VMSYSTEM_* variables. */
export interface ServeConfig {
  listen: string;
  dataDir: string;
  databaseUrl?: string;
  worktreeRoots: string[];
  allowExec: boolean;
  sessionIdleTimeoutMs: number;
  authToken?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
  shutdownGraceMs: number;
}

export const DEFAULT_LISTEN = "127.0.0.1:50051";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `5m`, `1h` (or a bare number of milliseconds). */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`invalid duration "${text}" (use e.g. 500ms, 30s, 5m, 1h)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]);
}

/** The environment variable that backs a flag: --database-url → VMSYSTEM_DATABASE_URL. */
export function envName(flag: string): string {
  return "VMSYSTEM_" + flag.replace(/^--/, "").replace(/-/g, "_").toUpperCase();
}
