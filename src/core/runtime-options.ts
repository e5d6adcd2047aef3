import type { RuntimeOptions } from "../runtime/types";
import type { TemplateSnapshot } from "./model";

/** What the operator grants every session (`--allow-exec`, `--env-allow`). */
export interface HostGrants {
  allowExec: boolean;
  /** Server environment variables an `env` capability may copy; none by default. */
  envAllow: readonly string[];
}

/**
 * What a session's isolate gets from its template: modules (AddModule and
 * enabled `module` capabilities), libraries, read-only globals (`global`),
 * the fs write switch (`fs`), server environment variables (`env`: only
 * those the operator also allows, so no template reads the server's
 * secrets), and the hosts fetch may reach (`net`: the allow_hosts lists of
 * every enabled net capability together; none enabled means no fetch at all).
 */
export function runtimeOptionsFor(template: TemplateSnapshot, worktree: string, grants: HostGrants, hostEnv: NodeJS.ProcessEnv = process.env): RuntimeOptions {
  const enabled = template.capabilities.filter((c) => c.enabled);
  const modules = new Set(template.modules.map((m) => m.name));
  for (const c of enabled) if (c.kind === "module") modules.add(c.name);
  const globals: Record<string, unknown> = {};
  for (const c of enabled) if (c.kind === "global") globals[c.name] = c.config;
  const env: Record<string, string> = {};
  const allowed = new Set(grants.envAllow);
  for (const c of enabled) {
    if (c.kind !== "env" || !Array.isArray(c.config.allow)) continue;
    for (const name of c.config.allow) {
      if (typeof name === "string" && allowed.has(name) && Object.hasOwn(hostEnv, name)) env[name] = hostEnv[name]!;
    }
  }
  const fsWritable = !enabled.some((c) => c.kind === "fs" && c.config.write === false);
  const netCapabilities = enabled.filter((c) => c.kind === "net");
  const allowHosts = new Set<string>();
  for (const c of netCapabilities) {
    const hosts = c.config.allow_hosts;
    if (!Array.isArray(hosts)) continue;
    for (const h of hosts) if (typeof h === "string") allowHosts.add(h);
  }
  return {
    memMb: template.settings.limits.memMb,
    worktreePath: worktree,
    runtime: { ...template.settings.runtime },
    resolver: { ...template.settings.resolver },
    modules: [...modules],
    libraries: template.libraries.map((l) => l.name),
    allowExec: grants.allowExec,
    globals,
    env,
    fsWritable,
    ...(netCapabilities.length > 0 ? { net: { allowHosts: [...allowHosts] } } : {}),
  };
}
