/**
 * Starts a job worker. Compiled, the worker is ./worker.js. Under tsx (tests, `tsx src/...`) it is ./worker.ts, and
 * a Node 20 worker does not inherit the tsx loader, so a small eval bootstrap registers tsx's ESM hooks first.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerInput } from './types.js';

const SELF = import.meta.url;
const IS_TS = SELF.endsWith('.ts');

function tsxApiUrl(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return 'tsx/esm/api';
  }
}

export function spawnJobWorker(input: WorkerInput): Worker {
  if (!IS_TS) return new Worker(new URL('./worker.js', SELF), { workerData: input });
  const entry = new URL('./worker.ts', SELF).href;
  const boot = `import(${JSON.stringify(tsxApiUrl())}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: input, execArgv: [] });
}
