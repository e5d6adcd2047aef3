/**
 * The worktree boundary as the services see it: ../runtime/paths.ts holds the
 * one check; this file only turns its PathError into the DomainError the
 * transport maps (INVALID_PATH, FILE_NOT_FOUND) with the request's field.
 */
import { lexicalTarget, PathError, readWorktreeFile, relativeStaysInside, resolveWorktree, type WorktreeFile } from "../runtime/paths";
import { clip, DomainError } from "./errors";

export type { WorktreeFile };

function domainError(e: unknown, field: string, path: string): unknown {
  if (!(e instanceof PathError)) return e;
  // FILE_NOT_FOUND names the missing path, as NOT_FOUND errors name what is missing.
  if (e.code === "FILE_NOT_FOUND") return new DomainError("FILE_NOT_FOUND", e.message, { [field]: clip(path) });
  return new DomainError("INVALID_PATH", e.message, { field });
}

/** A session's worktree (absolute, an existing directory, not `/` or a system tree, under an allowed root): its real path. */
export async function checkWorktree(path: string, allowedRoots: string[]): Promise<string> {
  try {
    return await resolveWorktree(path, allowedRoots);
  } catch (e) {
    throw domainError(e, "worktree_path", path);
  }
}

/** The checks that need no file system: a relative path that stays inside the worktree. */
export function checkRelativePath(worktree: string, path: string, field = "path"): void {
  if (path === "") throw new DomainError("VALIDATION_ERROR", `${field}: is required`, { field });
  try {
    lexicalTarget(worktree, path);
  } catch (e) {
    throw domainError(e, field, path);
  }
}

/** A run-file target, checked and read once, before any record exists. */
export async function readRunFile(worktree: string, path: string, field = "path"): Promise<WorktreeFile> {
  checkRelativePath(worktree, path, field);
  try {
    return await readWorktreeFile(worktree, path);
  } catch (e) {
    throw domainError(e, field, path);
  }
}

/** A relative path that does not climb out of its base ("a/b", not "/a", "../a" or "a/../../b"). */
export const isRelativeInside = relativeStaysInside;
