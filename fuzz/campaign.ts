/**
 * Runs fuzz targets and reports, per target: inputs run, how the readers answered (no error, or which
 * WeightscopeError code), crashes (any other exception, an uncaught error, running out of the heap limit) and hangs
 * (an input still running after `hangMs`), with each failing input saved under `crashDir` and named by seed and index.
 * The loop runs in a worker thread; after a crash or a hang the campaign goes on from the next input.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorkerThread } from '../src/service/threads.js';
import { inputAt } from './inputs.js';
import { TARGETS } from './targets.js';
import type { FuzzWorkerInput, FuzzWorkerMessage } from './worker.js';

export interface CampaignOptions {
  execs: number;
  seed: number;
  /** An input still running after this long is a hang (ms). */
  hangMs: number;
  /** Heap limit of the fuzzing thread (MiB): an input that needs more is a crash (unbounded memory). */
  heapMb: number;
  crashDir: string;
}

export interface Failure {
  index: number;
  kind: 'crash' | 'hang' | 'out-of-memory';
  message: string;
  file: string;
}

export interface TargetReport {
  target: string;
  execs: number;
  seconds: number;
  ok: number;
  errors: Record<string, number>;
  failures: Failure[];
  /** Inputs that ran over the hang limit once but finished when run again alone (the machine stalled, not them). */
  stalls: number;
  peakHeapMb: number;
}

export const TARGET_NAMES = TARGETS.map((t) => t.name);

/** Saves input `index` (regenerated from the seed) for a failure seen from outside the thread. */
async function saveInput(target: string, seed: number, index: number, crashDir: string): Promise<string> {
  const t = TARGETS.find((x) => x.name === target)!;
  const dir = mkdtempSync(join(tmpdir(), 'ws-fuzz-replay-'));
  try {
    const file = join(crashDir, `${target}-${seed}-${index}.bin`);
    writeFileSync(file, inputAt(t, await t.setup(dir), seed, index));
    return file;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SliceEnd {
  /** The next input to run. */
  next: number;
  /** The index of an input that ran over the hang limit, if one did. */
  hungAt: number | null;
  ok: number;
  errors: Record<string, number>;
}

/** Runs inputs [from, to) in a fresh thread until the end, a crash of the thread, or an input over `hangMs`. */
function runSlice(
  target: string,
  o: CampaignOptions,
  from: number,
  to: number,
  hangMs: number,
  report: TargetReport,
  onProgress?: (done: number) => void,
): Promise<SliceEnd> {
  const heartbeat = new SharedArrayBuffer(16);
  const beat = new Float64Array(heartbeat);
  const input: FuzzWorkerInput = { target, seed: o.seed, from, to, crashDir: o.crashDir, heartbeat };
  const w = startWorkerThread(import.meta.url, 'worker', { workerData: input, resourceLimits: { maxOldGenerationSizeMb: o.heapMb } });
  let slice = { ok: 0, errors: {} as Record<string, number>, done: from };
  return new Promise<SliceEnd>((resolve) => {
    let settled = false;
    const finish = (next: number, hungAt: number | null = null): void => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      void w.terminate().then(() => resolve({ next, hungAt, ok: slice.ok, errors: slice.errors }));
    };
    const watch = setInterval(() => {
      if (beat[1] > 0 && Date.now() - beat[1] > hangMs) finish(beat[0] + 1, beat[0]);
    }, 100);
    w.on('message', (m: FuzzWorkerMessage) => {
      if (m.type === 'progress') {
        slice = { ok: m.ok, errors: m.errors, done: m.done };
        report.peakHeapMb = Math.max(report.peakHeapMb, m.peakHeapMb);
        onProgress?.(m.done);
      } else if (m.type === 'crash') report.failures.push({ index: m.index, kind: 'crash', message: m.message, file: m.file });
      else finish(to);
    });
    w.on('error', (e: Error & { code?: string }) => {
      const index = beat[0];
      if (settled) return;
      settled = true;
      clearInterval(watch);
      void saveInput(target, o.seed, index, o.crashDir).then((file) => {
        report.failures.push({
          index,
          kind: e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out-of-memory' : 'crash',
          message: `${e.name}: ${e.message}`,
          file,
        });
        resolve({ next: index + 1, hungAt: null, ok: slice.ok, errors: slice.errors });
      });
    });
    w.on('exit', () => setTimeout(() => finish(Math.max(slice.done, from + 1)), 50));
  });
}

export async function runTarget(target: string, o: CampaignOptions, onProgress?: (done: number) => void): Promise<TargetReport> {
  mkdirSync(o.crashDir, { recursive: true });
  const report: TargetReport = { target, execs: 0, seconds: 0, ok: 0, errors: {}, failures: [], stalls: 0, peakHeapMb: 0 };
  const t0 = performance.now();
  const add = (end: SliceEnd): void => {
    report.ok += end.ok;
    for (const [k, n] of Object.entries(end.errors)) report.errors[k] = (report.errors[k] ?? 0) + n;
  };
  for (let from = 0; from < o.execs; ) {
    const end = await runSlice(target, o, from, o.execs, o.hangMs, report, onProgress);
    add(end);
    if (end.hungAt !== null) {
      // Run the input again alone, with three times the time: a shared machine can stall a thread for seconds.
      // Only an input that runs over again is a hang; one that finishes was a stall of the machine.
      const again = await runSlice(target, o, end.hungAt, end.hungAt + 1, 3 * o.hangMs, report);
      add(again);
      if (again.hungAt !== null) {
        report.failures.push({
          index: end.hungAt,
          kind: 'hang',
          message: `still running after ${o.hangMs} ms, and after ${3 * o.hangMs} ms alone`,
          file: await saveInput(target, o.seed, end.hungAt, o.crashDir),
        });
      } else report.stalls++;
    }
    from = end.next;
  }
  report.execs = o.execs;
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
