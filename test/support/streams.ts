import type { ClientReadableStream, ServiceError } from "@grpc/grpc-js";

export interface Collected<T> {
  messages: T[];
  /** Resolves when the stream ends: OK, or the error it failed with. */
  done: Promise<{ ok: true } | { ok: false; error: ServiceError }>;
  call: ClientReadableStream<T>;
}

/** Reads a server stream into an array as messages arrive. */
export function collect<T>(call: ClientReadableStream<T>, onMessage?: (m: T) => void): Collected<T> {
  const messages: T[] = [];
  call.on("data", (m: T) => {
    messages.push(m);
    onMessage?.(m);
  });
  const done = new Promise<{ ok: true } | { ok: false; error: ServiceError }>((resolve) => {
    call.on("error", (error: ServiceError) => resolve({ ok: false, error }));
    call.on("end", () => resolve({ ok: true }));
  });
  return { messages, done, call };
}

/** Waits until `predicate` holds, polling (for conditions with no event to await). */
export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Asserts seqs are exactly 1..n (or from..n): no gaps, no duplicates, ascending. */
export function contiguous(seqs: number[], from = 1): boolean {
  return seqs.every((seq, i) => seq === from + i);
}
