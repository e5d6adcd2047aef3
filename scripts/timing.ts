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

/**
 * `loops` loops each calling `run(i)` back to back: `sample` is read after
 * `warmUpMs` and again `timedMs` later; returns both, with the calls
 * answered and the seconds between them. A failed call ends the window at
 * once (and is thrown) rather than after it.
 */
export async function underLoad<T>(
  loops: number,
  run: (i: number) => Promise<unknown>,
  warmUpMs: number,
  timedMs: number,
  sample: () => T,
): Promise<{ calls: number; seconds: number; before: T; after: T }> {
  let running = true;
  let answered = 0;
  const all = Array.from({ length: loops }, async (_, i) => {
    while (running) {
      await run(i);
      answered++;
    }
  });
  const failed = Promise.all(all).then(() => undefined);
  try {
    await Promise.race([sleep(warmUpMs), failed]);
    const [from, at, before] = [answered, performance.now(), sample()];
    await Promise.race([sleep(timedMs), failed]);
    const after = sample();
    return { calls: answered - from, seconds: (performance.now() - at) / 1000, before, after };
  } finally {
    running = false;
    await failed;
  }
}
