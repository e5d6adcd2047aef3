import { invalidField } from "./errors";

/** A required, non-blank string of at most `max` characters. */
export function requireText(field: string, value: string | undefined, max = 200): string {
  if (value === undefined || value.trim() === "") throw invalidField(field, "is required");
  if (value.length > max) throw invalidField(field, `must be at most ${max} characters`);
  if (value.includes("\u0000")) throw invalidField(field, "must not contain NUL characters");
  return value;
}

/**
 * An id field. A well-formed id that matches nothing is the caller's NOT_FOUND
 * to raise; a malformed one can match nothing either, so it gets the same
 * answer as an unknown id rather than a validation error (ids are opaque).
 */
export function requireId(field: string, value: string | undefined): string {
  if (value === undefined || value === "") throw invalidField(field, "is required");
  // Ids are UUIDs; anything this long or with a NUL is no id of ours.
  if (value.length > 100 || value.includes("\u0000")) throw invalidField(field, "is not a valid id");
  return value;
}

/** Text that is stored as given: NUL characters cannot be stored in PostgreSQL text, so no backend takes them. */
export function rejectNul(field: string, value: string | undefined): void {
  if (value?.includes("\u0000")) throw invalidField(field, "must not contain NUL characters (write \\0 in source code)");
}

/** seq columns are 32-bit integers: an after_seq past them simply has nothing after it. */
export function clampSeq(afterSeq: number | undefined): number {
  return Math.min(afterSeq ?? 0, 2_147_483_647);
}
