/**
 * One target's fuzz loop, in a worker thread (with a heap limit) so a hang can be cut off and an out-of-memory
 * kills only this thread. Input i is a pure function of (seed, i): the first inputs are the corpus as it is, then
 * mutations of a corpus entry picked by input i's own generator — so any case is reproduced from its index alone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { isWeightscopeError } from '../src/errors.js';
import { inputAt } from './inputs.js';
import { TARGETS } from './targets.js';

export interface FuzzWorkerInput {
  target: string;
  seed: number;
  from: number;
  to: number;
  crashDir: string;
  /** [current input index, its start time in ms (0: idle)], shared with the campaign for hang detection. */
  heartbeat: SharedArrayBuffer;
}

export type FuzzWorkerMessage =
  | { type: 'progress'; done: number; errors: Record<string, number>; ok: number; peakHeapMb: number }
  | { type: 'crash'; index: number; message: string; file: string }
  | { type: 'done' };

const input = workerData as FuzzWorkerInput;
const port = parentPort!;
const beat = new Float64Array(input.heartbeat);

async function main(): Promise<void> {
  const target = TARGETS.find((t) => t.name === input.target);
  if (!target) throw new Error(`no fuzz target ${input.target}`);
  const dir = mkdtempSync(join(tmpdir(), `ws-fuzz-${target.name}-`));
  try {
    const corpus = await target.setup(dir);
    const errors: Record<string, number> = {};
    let ok = 0;
    let peak = 0;
    for (let i = input.from; i < input.to; i++) {
      const bytes = inputAt(target, corpus, input.seed, i);
      beat[0] = i;
      beat[1] = Date.now();
      try {
        await target.exec(bytes, dir);
        ok++;
      } catch (e) {
        if (isWeightscopeError(e)) errors[e.code] = (errors[e.code] ?? 0) + 1;
        else {
          const file = join(input.crashDir, `${target.name}-${input.seed}-${i}.bin`);
          writeFileSync(file, bytes);
          const err = e as Error;
          port.postMessage({
            type: 'crash',
            index: i,
            message: `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}\n${(err?.stack ?? '').split('\n').slice(1, 6).join('\n')}`,
            file,
          } satisfies FuzzWorkerMessage);
        }
      }
      beat[1] = 0;
      // After every input, so the counts are exact wherever the campaign stops this thread.
      if (i % 64 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed / 2 ** 20);
      port.postMessage({ type: 'progress', done: i + 1, errors, ok, peakHeapMb: peak } satisfies FuzzWorkerMessage);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  port.postMessage({ type: 'done' } satisfies FuzzWorkerMessage);
}

void main();
