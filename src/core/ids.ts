import { randomUUID } from "node:crypto";

/**
 * A UUID of version 7 (RFC 9562): the first 48 bits are the time in ms, the
 * rest random. Executions get these: their rows' keys (the primary key, the
 * event pages') then grow at the end of their B-trees instead of landing on
 * random pages, so a group commit dirties a few pages, not one per execution
 * and index (at 32 calls in flight, measured with strace: about half the
 * WAL writes of random UUIDs). They also sort by creation time.
 */
export function timeOrderedUuid(now = Date.now()): string {
  const ms = now.toString(16).padStart(12, "0");
  // randomUUID's "xxxxxxxx-xxxx-4xxx-yxxx-…": its variant and random bits are kept, its version replaced.
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${randomUUID().slice(15)}`;
}
