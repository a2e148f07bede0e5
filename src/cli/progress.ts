/**
 * The CLI's progress, one design for every long command: on a terminal a one-line bar on stderr (steps done/total,
 * percent, elapsed, ETA, the step's message); with `--progress`, JSON lines on stderr instead, for scripts and logs:
 *   {"type":"progress","command":"analyze","done":3,"total":224,"fraction":0.018,"message":"…","elapsed_s":4.1,
 *    "eta_s":221.7, …the step's detail (e.g. "gflops")}
 * and a final {"type":"done",…}. Neither when stderr is not a terminal and --progress is not given, so logs and
 * pipes stay clean. Terminal redraws are limited to 10 a second; JSON lines to 10 a second except each last step.
 */
import type { ProgressDetail, ProgressHook } from '../util/progress.js';

export interface ProgressReporter {
  hook: ProgressHook;
  /** Clears the bar (terminal) or writes the final JSON line. */
  done(): void;
}

export interface ProgressOptions {
  /** JSON lines (the --progress flag). */
  json?: boolean;
  /** Named in every JSON line. */
  command?: string;
  stream?: NodeJS.WriteStream;
  /** Fields added to every JSON line (e.g. the model of a ranking). */
  context?: Record<string, unknown>;
}

/** The flag every long command accepts (node:util parseArgs syntax). */
export const PROGRESS_FLAG = { progress: { type: 'boolean' } } as const;

export const PROGRESS_HELP = '--progress      progress as JSON lines on stderr (on a terminal a progress bar is shown anyway)';

function clock(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** Seconds left at a constant rate: elapsed · (1 − f)/f; undefined until some work is done. */
export function etaSeconds(elapsed: number, fraction: number): number | undefined {
  return fraction > 0 && fraction <= 1 ? (elapsed * (1 - fraction)) / fraction : undefined;
}

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

export function progressReporter(opts: ProgressOptions = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  let last = -Infinity;
  if (opts.json) {
    const write = (o: Record<string, unknown>): void => void stream.write(JSON.stringify(o) + '\n');
    return {
      hook(done, total, message, detail?: ProgressDetail) {
        const now = performance.now();
        if (done < total && now - last < 100) return;
        last = now;
        const e = elapsed();
        const fraction = Math.min(1, Math.max(0, detail?.fraction ?? (total > 0 ? done / total : 1)));
        const eta = done < total ? etaSeconds(e, fraction) : undefined;
        write({
          type: 'progress',
          ...(opts.command ? { command: opts.command } : {}),
          ...opts.context,
          ...detail,
          done,
          total,
          fraction: round(fraction, 4),
          message,
          elapsed_s: round(e, 2),
          ...(eta !== undefined ? { eta_s: round(eta, 1) } : {}),
        });
      },
      done() {
        write({ type: 'done', ...(opts.command ? { command: opts.command } : {}), ...opts.context, elapsed_s: round(elapsed(), 2) });
      },
    };
  }
  if (!stream.isTTY) return { hook: () => {}, done: () => {} };
  let drawn = false;
  const width = 24;
  return {
    hook(done, total, message, detail?: ProgressDetail) {
      const now = performance.now();
      if (done < total && now - last < 100) return;
      last = now;
      const fraction = Math.min(1, Math.max(0, detail?.fraction ?? (total > 0 ? done / total : 1)));
      const fill = Math.round(fraction * width);
      const e = elapsed();
      const eta = etaSeconds(e, fraction);
      const cols = stream.columns ?? 80;
      const rate = typeof detail?.gflops === 'number' ? ` ${detail.gflops.toFixed(1)} GFLOP/s` : '';
      let line =
        `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${Math.floor(fraction * 100)}% ${clock(e)}` +
        `${eta !== undefined && done < total ? ` ETA ${clock(eta)}` : ''} ${message}${rate}`;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      stream.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** Runs f with a progress reporter's hook (a bar, or JSON lines with `json`), finishing it however f ends. */
export async function withProgressBar<T>(f: (hook: ProgressHook) => Promise<T>, opts: ProgressOptions = {}): Promise<T> {
  const bar = progressReporter(opts);
  try {
    return await f(bar.hook);
  } finally {
    bar.done();
  }
}
