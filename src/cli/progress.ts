/** A one-line progress bar on stderr, drawn only when stderr is a terminal (so logs and pipes stay clean). */
import type { ProgressHook } from '../util/progress.js';

export function progressBar(stream: NodeJS.WriteStream = process.stderr): { hook: ProgressHook; done(): void } {
  if (!stream.isTTY) return { hook: () => {}, done: () => {} };
  let drawn = false;
  const width = 30;
  return {
    hook(done, total, message) {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const fill = Math.round(frac * width);
      const cols = stream.columns ?? 80;
      let line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${message}`;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      stream.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** Runs f with a progress bar's hook, clearing the bar however f ends. */
export async function withProgressBar<T>(f: (hook: ProgressHook) => Promise<T>): Promise<T> {
  const bar = progressBar();
  try {
    return await f(bar.hook);
  } finally {
    bar.done();
  }
}
