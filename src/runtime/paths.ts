/**
 * Worktree confinement. Every path the sandbox names is checked twice: as
 * text (no absolute paths outside, no `..` escapes) and on disk (realpath of
 * the nearest existing ancestor must stay inside, so symlinks cannot lead out).
 */
import { lstatSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { RuntimeError } from "./types";

export function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The worktree-relative form used in messages and stack frames. */
export function toRelative(root: string, abs: string): string {
  return relative(root, abs).split(sep).join("/") || ".";
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Run-file targets: checked before any code runs; returns the real path. */
export function resolveRunFile(root: string, relPath: string): { abs: string; rel: string } {
  if (typeof relPath !== "string" || relPath === "" || relPath.includes("\0")) {
    throw new RuntimeError("INVALID_PATH", "path must be a non-empty relative path");
  }
  if (isAbsolute(relPath)) throw new RuntimeError("INVALID_PATH", `path '${relPath}' must be relative to the worktree`);
  const abs = normalize(join(root, relPath));
  if (!isInside(root, abs)) throw new RuntimeError("INVALID_PATH", `path '${relPath}' escapes the worktree`);
  if (!exists(abs)) throw new RuntimeError("FILE_NOT_FOUND", `file '${relPath}' not found in the worktree`);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    throw new RuntimeError("FILE_NOT_FOUND", `file '${relPath}' not found in the worktree (dangling symlink)`);
  }
  if (!isInside(root, real)) throw new RuntimeError("INVALID_PATH", `path '${relPath}' resolves outside the worktree`);
  if (!statSync(real).isFile()) throw new RuntimeError("INVALID_PATH", `path '${relPath}' is not a regular file`);
  return { abs: real, rel: toRelative(root, abs) };
}

export class ConfinementError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Resolves a sandbox path (relative to the worktree, or absolute inside it).
 * followFinal: whether the operation follows a symlink in the last component
 * (read/write do; rm removes the link itself).
 */
export function confine(root: string, userPath: string, followFinal: boolean): string {
  if (userPath.includes("\0")) throw new ConfinementError("EINVAL", `invalid path '${userPath}'`);
  const abs = normalize(isAbsolute(userPath) ? userPath : join(root, userPath));
  if (!isInside(root, abs)) throw new ConfinementError("EACCES", `path '${userPath}' is outside the worktree`);
  let existing = abs;
  while (!exists(existing)) existing = dirname(existing);
  let real: string;
  try {
    real = existing === abs && !followFinal
      ? join(realpathSync(dirname(abs)), basename(abs))
      : realpathSync(existing);
  } catch {
    throw new ConfinementError("EACCES", `path '${userPath}' is a dangling symlink`);
  }
  if (!isInside(root, real)) throw new ConfinementError("EACCES", `path '${userPath}' resolves outside the worktree`);
  return abs;
}
