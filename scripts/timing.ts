/** Timing helpers shared by the benchmark scripts. */

/** Runs `fn` once; returns its milliseconds. */
export async function timeOnce(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Runs `fn` n times in sequence; returns each run's milliseconds. */
export async function timeEach(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await timeOnce(fn));
  return out;
}

export function stats(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p99: at(0.99) };
}

export const median = (samples: number[]): number => stats(samples).median;

/**
 * Runs `rounds` rounds that visit every item once, each round starting one
 * further along, so that no item is always first after a pause (the
 * machine's speed drifts during a run: this spreads it over all alike).
 */
export async function alternate<T>(items: T[], rounds: number, visit: (item: T, index: number) => Promise<void>): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < items.length; k++) {
      const index = (round + k) % items.length;
      await visit(items[index], index);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
