/**
 * What templates may grant: host modules, installed libraries, and the
 * JavaScript built-ins that are always there (and so are not modules).
 * Kept free of isolated-vm so the template service can import it cheaply.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface ModuleInfo {
  name: string;
  description: string;
}

export interface LibraryInfo {
  name: string;
  version: string;
  /** The global the library defines. */
  globalName: string;
  description: string;
}

export const JS_BUILTIN_NAMES = ["console", "math", "json", "date", "array", "string", "object", "promise"] as const;

export const AVAILABLE_MODULES: readonly ModuleInfo[] = [
  { name: "fs", description: "synchronous file access confined to the session worktree" },
  { name: "path", description: "Node's path.posix" },
  { name: "database", description: "SQLite databases in the worktree or in memory (configure, query, exec, close)" },
  { name: "exec", description: "run programs by argv, no shell, cwd = worktree (server needs --allow-exec)" },
];

/** Reads the installed version (some packages' `exports` hide their package.json). */
function installedVersion(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version?: string };
      if (parsed.name === pkg && parsed.version) return parsed.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}

export const LIBRARY_CATALOGUE: readonly LibraryInfo[] = [
  { name: "lodash", version: installedVersion("lodash"), globalName: "_", description: "utility functions" },
  { name: "dayjs", version: installedVersion("dayjs"), globalName: "dayjs", description: "dates, small" },
  { name: "ramda", version: installedVersion("ramda"), globalName: "R", description: "functional utilities" },
  { name: "moment", version: installedVersion("moment"), globalName: "moment", description: "dates" },
];
