/**
 * The service under load. Not a test. Run: node --import tsx bench/service.bench.ts [N=50]
 * A real server (child process, temp data folder) gets N concurrent POST /v1/analyses on the fixtures (distinct
 * options so the result cache cannot merge them), while /healthz is polled every 20 ms. Prints: all jobs' final
 * states, wall time, /healthz latency p50/p99 during the run (goal p99 < 100 ms), the server's peak RSS.
 */
import { readFileSync } from 'node:fs';
import { fixture } from '../test/helpers/fixtures.js';
import { spawnServer, tempDataDir, waitJob } from '../test/service/helpers.js';

const N = Number(process.argv[2] ?? 50);
const FILES = [
  fixture('stories260k', 'model.safetensors'),
  fixture('gpt2-tiny', 'model.safetensors'),
  fixture('fmnist-hessian', 'mlp48.safetensors'),
  fixture('fmnist-backdoor', 'model_a.safetensors'),
  fixture('fmnist-backdoor', 'model_b.safetensors'),
];

function peakRss(pid: number): number {
  // VmHWM: the process's peak resident set (Linux).
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const q = (a: number[], p: number): number => a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];

const data = tempDataDir();
const { child, url } = await spawnServer({
  WEIGHTSCOPE_DATA: data.dir,
  WEIGHTSCOPE_JOB_CONCURRENCY: process.env.WEIGHTSCOPE_JOB_CONCURRENCY ?? '2',
});
try {
  const ids: string[] = [];
  for (const f of FILES)
    ids.push(((await (await fetch(`${url}/v1/models`, { method: 'POST', body: readFileSync(f) })).json()) as { id: string }).id);
  const lat: number[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t = performance.now();
      await (await fetch(`${url}/healthz`)).text();
      lat.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const t0 = performance.now();
  const jobs = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const body = { model: ids[i % ids.length], fits: ['pl'], options: { minEvals: 10 + Math.floor(i / ids.length) } };
      const r = await fetch(`${url}/v1/analyses`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      return ((await r.json()) as { job: { id: string } }).job.id;
    }),
  );
  const ends = await Promise.all(jobs.map((id) => waitJob(url, id, {}, 3_600_000)));
  const wall = (performance.now() - t0) / 1000;
  polling = false;
  await poller;
  const states: Record<string, number> = {};
  for (const e of ends) states[e.state] = (states[e.state] ?? 0) + 1;
  console.log(`jobs ${N} (${new Set(jobs).size} distinct): ${JSON.stringify(states)} in ${wall.toFixed(1)} s`);
  console.log(
    `/healthz during the run: n=${lat.length} p50 ${q(lat, 0.5).toFixed(1)} ms, p99 ${q(lat, 0.99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`,
  );
  console.log(`server peak RSS ${(peakRss(child.pid!) / 2 ** 20).toFixed(0)} MiB`);
} finally {
  child.kill('SIGKILL');
  data.cleanup();
}
