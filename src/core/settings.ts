import { clip, invalidField } from "./errors";
import type { Limits, PartialSettings, TemplateSettings } from "./model";
import { isRelativeInside } from "./worktree";

export function defaultSettings(): TemplateSettings {
  return {
    limits: { cpuMs: 5000, wallMs: 30000, memMb: 128, maxEvents: 1000, maxOutputKb: 512 },
    resolver: { roots: [], extensions: [".js", ".mjs"], allowAbsoluteRepoImports: false },
    runtime: { esm: false, strict: false, console: true, wasm: false, dedicatedHost: false },
  };
}

/** Bounds on limits: below the minimum nothing useful runs, above it one session could starve the host. */
const LIMIT_BOUNDS: Record<keyof Limits, [number, number, string]> = {
  cpuMs: [1, 3_600_000, "cpu_ms"],
  wallMs: [1, 86_400_000, "wall_ms"],
  memMb: [8, 16_384, "mem_mb"],
  maxEvents: [2, 10_000_000, "max_events"],
  maxOutputKb: [1, 1_048_576, "max_output_kb"],
};

/** Every settings path an update mask may name (snake_case, as on the wire). */
const SECTIONS = {
  limits: { cpu_ms: "cpuMs", wall_ms: "wallMs", mem_mb: "memMb", max_events: "maxEvents", max_output_kb: "maxOutputKb" },
  resolver: { roots: "roots", extensions: "extensions", allow_absolute_repo_imports: "allowAbsoluteRepoImports" },
  runtime: { esm: "esm", strict: "strict", console: "console", wasm: "wasm", dedicated_host: "dedicatedHost" },
} as const;
type Section = keyof typeof SECTIONS;

/**
 * Applies `patch` over `base`. With a mask, exactly the named paths are taken
 * from the patch (an absent value there resets that field to its default);
 * without one, every field present in the patch is taken.
 */
export function applySettings(base: TemplateSettings, patch: PartialSettings, mask?: string[]): TemplateSettings {
  const next = structuredClone(base);
  const defaults = defaultSettings();
  const take = (section: Section, field: string) => {
    const from = (patch[section] ?? {}) as Record<string, unknown>;
    const value = from[field] ?? (defaults[section] as unknown as Record<string, unknown>)[field];
    (next[section] as unknown as Record<string, unknown>)[field] = structuredClone(value);
  };
  if (mask && mask.length > 0) {
    for (const path of mask) {
      const [section, leaf, ...rest] = path.split(".");
      // Own keys only: `__proto__`, `constructor` and friends are unknown paths, not prototype lookups.
      if (!Object.hasOwn(SECTIONS, section) || rest.length > 0) throw invalidField("update_mask", `unknown path "${clip(path)}"`);
      const fields = SECTIONS[section as Section] as Record<string, string>;
      if (leaf === undefined) {
        for (const field of Object.values(fields)) take(section as Section, field);
      } else if (Object.hasOwn(fields, leaf)) {
        take(section as Section, fields[leaf]);
      } else {
        throw invalidField("update_mask", `unknown path "${clip(path)}"`);
      }
    }
  } else {
    for (const section of Object.keys(SECTIONS) as Section[]) {
      const from = (patch[section] ?? {}) as Record<string, unknown>;
      for (const field of Object.values(SECTIONS[section])) {
        if (from[field] !== undefined) take(section, field);
      }
    }
  }
  validateSettings(next);
  return next;
}

function validateSettings(settings: TemplateSettings): void {
  for (const [key, [min, max, wire]] of Object.entries(LIMIT_BOUNDS)) {
    const value = settings.limits[key as keyof Limits];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalidField(`settings.limits.${wire}`, `must be an integer from ${min} to ${max}`);
    }
  }
  for (const ext of settings.resolver.extensions) {
    if (!/^\.[A-Za-z0-9._-]{1,20}$/.test(ext)) {
      throw invalidField("settings.resolver.extensions", `"${clip(ext)}" must look like ".js"`);
    }
  }
  for (const root of settings.resolver.roots) {
    if (!isRelativeInside(root)) {
      throw invalidField("settings.resolver.roots", `"${clip(root)}" must be a relative path inside the worktree`);
    }
  }
}

/** A relative path that does not climb out of its base: the worktree boundary's one text check. */
export { isRelativeInside };
