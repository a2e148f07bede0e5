import { Worker } from 'node:worker_threads';
const api = import.meta.resolve('tsx/esm/api');
const url = new URL('./w.ts', import.meta.url).href;
const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
const w = new Worker(code, { eval: true });
w.on('message', (m) => { console.log('got', m); w.terminate(); });
w.on('error', (e) => console.log('err', String(e).slice(0, 200)));
