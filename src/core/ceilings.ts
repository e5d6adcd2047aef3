import { DomainError } from "./errors";
import type { Limits } from "./model";

/**
 * What the operator lets any template ask for (`--max-cpu-ms` …), and how
 * many sessions may be live at once (`--max-sessions`). Templates outlive
 * server flags, so a template is checked when it is written and again when a
 * session starts from it.
 */
export interface Ceilings {
  limits: Limits;
  maxSessions: number;
}

/** Safe for one server on a small machine; the README lists them. */
export const DEFAULT_CEILINGS: Ceilings = {
  limits: { cpuMs: 600_000, wallMs: 3_600_000, memMb: 1024, maxEvents: 1_000_000, maxOutputKb: 65_536 },
  maxSessions: 500,
};

/** The operator's flags over the defaults (an absent flag keeps its default). */
export function ceilingsFrom(limits: Partial<Limits> = {}, maxSessions?: number): Ceilings {
  const out: Ceilings = { limits: { ...DEFAULT_CEILINGS.limits }, maxSessions: maxSessions ?? DEFAULT_CEILINGS.maxSessions };
  for (const key of Object.keys(NAMES) as (keyof Limits)[]) {
    const value = limits[key];
    if (value !== undefined) out.limits[key] = value;
  }
  return out;
}

const NAMES: Record<keyof Limits, [wire: string, flag: string]> = {
  cpuMs: ["cpu_ms", "--max-cpu-ms"],
  wallMs: ["wall_ms", "--max-wall-ms"],
  memMb: ["mem_mb", "--max-mem-mb"],
  maxEvents: ["max_events", "--max-events"],
  maxOutputKb: ["max_output_kb", "--max-output-kb"],
};

export function checkWithinCeilings(limits: Limits, ceilings: Limits, what = "settings.limits"): void {
  for (const key of Object.keys(NAMES) as (keyof Limits)[]) {
    if (limits[key] > ceilings[key]) {
      const [wire, flag] = NAMES[key];
      throw new DomainError("VALIDATION_ERROR", `${what}.${wire}: ${limits[key]} is above this server's ceiling of ${ceilings[key]} (${flag})`, {
        field: `settings.limits.${wire}`,
        ceiling: String(ceilings[key]),
      });
    }
  }
}

/** A new template's defaults, lowered to the ceilings where the operator set them lower. */
export function limitsWithin(defaults: Limits, ceilings: Limits): Limits {
  const out = { ...defaults };
  for (const key of Object.keys(NAMES) as (keyof Limits)[]) out[key] = Math.min(out[key], ceilings[key]);
  return out;
}
