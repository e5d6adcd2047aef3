import { realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { clip, DomainError } from "./errors";

function invalidPath(message: string, field: string): DomainError {
  return new DomainError("INVALID_PATH", message, { field });
}

const inside = (root: string, path: string) => {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

/**
 * Checks a session's worktree: absolute, an existing directory, under one of
 * the allowed roots (none configured = any). Returns its real path.
 */
export function checkWorktree(path: string, allowedRoots: string[]): string {
  if (!isAbsolute(path)) throw invalidPath(`worktree_path "${clip(path)}" must be absolute`, "worktree_path");
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw invalidPath(`worktree_path "${clip(path)}" does not exist`, "worktree_path");
  }
  if (!statSync(real).isDirectory()) throw invalidPath(`worktree_path "${clip(path)}" is not a directory`, "worktree_path");
  if (allowedRoots.length > 0 && !allowedRoots.some((root) => inside(realpathOr(root), real))) {
    throw invalidPath(`worktree_path "${clip(path)}" is outside every allowed worktree root`, "worktree_path");
  }
  return real;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * The checks that need no file system: a relative path that stays inside the
 * worktree (absolute paths and `..` escapes are INVALID_PATH). Returns the
 * resolved path.
 */
export function checkRelativePath(worktree: string, path: string, field = "path"): string {
  if (path === "") throw new DomainError("VALIDATION_ERROR", `${field}: is required`, { field });
  if (isAbsolute(path) || path.includes("\u0000")) throw invalidPath(`${field} "${clip(path)}" must be relative to the worktree`, field);
  const target = resolve(worktree, path);
  if (!inside(worktree, target)) throw invalidPath(`${field} "${clip(path)}" escapes the worktree`, field);
  return target;
}

/**
 * Resolves a file path relative to a worktree, before any code runs:
 * absolute paths and escapes (`..`, symlinks pointing out) are INVALID_PATH,
 * a missing file is FILE_NOT_FOUND.
 */
export function resolveWorktreeFile(worktree: string, path: string, field = "path"): string {
  const target = checkRelativePath(worktree, path, field);
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    throw new DomainError("FILE_NOT_FOUND", `${field} "${clip(path)}" does not exist in the worktree`, { [field]: clip(path) });
  }
  if (!inside(worktree, real)) throw invalidPath(`${field} "${clip(path)}" leads out of the worktree through a symlink`, field);
  if (!statSync(real).isFile()) throw new DomainError("FILE_NOT_FOUND", `${field} "${clip(path)}" is not a file`, { [field]: clip(path) });
  return real;
}
