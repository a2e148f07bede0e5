import { Worker } from 'node:worker_threads';
const api = import.meta.resolve('tsx/esm/api');
const target = new URL('./w2.ts', import.meta.url).href;
console.log(api);
const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`;
const w = new Worker(code, { eval: true, execArgv: [] });
w.on('error', (e) => console.log('err', e.message)); w.on('message', (m) => { console.log('msg', m); w.terminate(); });
