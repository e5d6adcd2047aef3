import { invalidField } from "./errors";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/** Where a newest-first listing resumes: strictly after (createdAt, id). */
export interface Cursor {
  key: number;
  id: string;
}

export interface PageRequest {
  pageSize?: number;
  pageToken?: string;
}

export function pageSize(requested: number | undefined): number {
  if (requested === undefined || requested === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(requested) || requested < 0) throw invalidField("page_size", "must not be negative");
  return Math.min(requested, MAX_PAGE_SIZE);
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.key, cursor.id])).toString("base64url");
}

/** Opaque tokens: anything that does not decode to our own shape is rejected. */
export function decodeCursor(token: string | undefined): Cursor | undefined {
  if (!token) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      parsed[0] >= 0 &&
      typeof parsed[1] === "string" &&
      parsed[1].length <= 100 &&
      !parsed[1].includes("\u0000")
    ) {
      return { key: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through
  }
  throw invalidField("page_token", "is not a token this server issued");
}
