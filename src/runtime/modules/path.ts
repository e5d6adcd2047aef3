/**
 * require('path'): Node's path.posix, with the worktree standing in for the
 * process cwd (resolve/relative would otherwise reveal the server's cwd).
 */
import { posix } from "node:path";
import type { ModuleMethod } from "./fs";

export function createPathModule(root: string): Record<string, ModuleMethod> {
  const pure = ["basename", "dirname", "extname", "format", "isAbsolute", "join", "normalize", "parse", "toNamespacedPath"] as const;
  const methods: Record<string, ModuleMethod> = {};
  for (const name of pure) methods[name] = (...args) => (posix[name] as (...a: unknown[]) => unknown)(...args);
  methods.resolve = (...args) => posix.resolve(root, ...(args as string[]));
  methods.relative = (from, to) => posix.relative(posix.resolve(root, from as string), posix.resolve(root, to as string));
  return methods;
}
