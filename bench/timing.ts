/** What the benchmarks share for timing calls. */

/** Median and best wall time in ms of `reps` calls of fn, after `warmups` untimed ones. */
export async function timed(fn: () => Promise<unknown>, reps: number, warmups = 2): Promise<{ median: number; best: number }> {
  for (let i = 0; i < warmups; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)], best: ts[0] };
}
