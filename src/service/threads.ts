/**
 * Starts a worker thread on a module beside the caller. Compiled, that is `<name>.js`. Under tsx (tests,
 * `tsx src/...`) it is `<name>.ts`, and a Node 20 worker does not inherit the tsx loader, so a small eval bootstrap
 * registers tsx's ESM hooks first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

function tsxApiUrl(): string {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return 'tsx/esm/api';
  }
}

/** `callerUrl`: the caller's import.meta.url; `name`: the entry module's name without extension. */
export function startWorkerThread(callerUrl: string, name: string, options: WorkerOptions): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const boot = `import(${JSON.stringify(tsxApiUrl())}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true, execArgv: [] });
}
