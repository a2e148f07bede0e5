/**
 * The soak run (bench/soak.ts; a short version in test/service/soak.test.ts): a real `weightscope serve` (child
 * process, 127.0.0.1, temp data folder) driven for a bounded time by concurrent client loops — uploads (good and
 * hostile), analyses, rankings, SSE subscribers that come and go, downloads of results — while /healthz latency,
 * the server's RSS, open file descriptors and temp files are sampled. Then kill -9 in the middle of the traffic and
 * a restart on the same folder: every upload that was answered 200/201 must still be listed and whole, and every
 * result that was served before must be served again byte for byte.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { fixture } from '../test/helpers/fixtures.js';
import { spawnServer, tempDataDir, waitJob } from '../test/service/helpers.js';

export interface SoakOptions {
  seconds: number;
  /** Concurrent client loops of each kind. */
  clients: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  seconds: number;
  requests: number;
  byStatus: Record<string, number>;
  /** 5xx answers that are not a stated limit (503 busy is one). */
  unexpected5xx: string[];
  healthz: { n: number; p50: number; p99: number; max: number };
  rssMiB: { start: number; max: number; end: number };
  fds: { start: number; max: number; end: number };
  tmpFilesAtEnd: number;
  jobs: Record<string, number>;
  acceptedUploads: number;
  servedResults: number;
  afterRestart: { uploadsMissing: string[]; resultsChanged: string[]; jobsNotTerminal: string[]; restartSeconds: number };
}

const MODELS = [
  fixture('stories260k', 'model.safetensors'),
  fixture('fmnist-hessian', 'mlp48.safetensors'),
  fixture('fmnist-backdoor', 'model_a.safetensors'),
  fixture('fmnist-backdoor', 'model_b.safetensors'),
  fixture('gpt2-tiny', 'model.safetensors'),
];

/** Files no server may store, each with what it tries. */
function hostileFiles(): { name: string; body: Uint8Array }[] {
  const st = readFileSync(fixture('stories260k', 'model.safetensors'));
  const evil = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from('cos\nsystem\n'),
    Buffer.from([0x58, 4, 0, 0, 0]),
    Buffer.from('true'),
    Buffer.from([0x85, 0x52, 0x2e]),
  ]);
  const long4 = Buffer.alloc(2 + 5 + 200_000 + 1, 0x55);
  long4.set([0x80, 2, 0x8b, 0x40, 0x0d, 0x03, 0x00]);
  long4[long4.length - 1] = 0x2e;
  const dicts = Buffer.alloc(3 + 2 * 2_000_000 + 1);
  dicts.set([0x80, 2, 0x5d]);
  for (let i = 0; i < 2_000_000; i++) dicts.set([0x7d, 0x61], 3 + 2 * i);
  dicts[dicts.length - 1] = 0x2e;
  const header = Buffer.alloc(8);
  header.writeBigUInt64LE(2n ** 40n);
  return [
    { name: 'truncated.safetensors', body: st.subarray(0, 300_000) },
    { name: 'garbage.bin', body: Buffer.from('this is not a checkpoint at all') },
    { name: 'evil.pt', body: zipSync({ 'archive/data.pkl': evil, 'archive/version': Buffer.from('3\n') }, { level: 0 }) },
    { name: 'long4.pt', body: zipSync({ 'archive/data.pkl': long4 }, { level: 6 }) },
    { name: 'dicts.pt', body: zipSync({ 'archive/data.pkl': dicts }, { level: 9 }) },
    { name: 'bomb.pt', body: zipSync({ 'archive/data.pkl': new Uint8Array(80 * 2 ** 20) }, { level: 9 }) },
    { name: 'huge-header.safetensors', body: Buffer.concat([header, Buffer.from('{}')]) },
  ];
}

const q = (a: number[], p: number): number =>
  a.length ? a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))] : NaN;
const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const fdsOf = (pid: number): number =>
  readdirSync(`/proc/${pid}/fd`).filter((f) => {
    try {
      readlinkSync(`/proc/${pid}/fd/${f}`);
      return true;
    } catch {
      return false;
    }
  }).length;
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => undefined);
  const data = tempDataDir();
  const env = {
    WEIGHTSCOPE_DATA: data.dir,
    WEIGHTSCOPE_JOB_CONCURRENCY: '2',
    WEIGHTSCOPE_MAX_UPLOAD: '64MiB',
    WEIGHTSCOPE_INSPECT_HEAP: '256MiB',
  };
  let { child, url } = await spawnServer(env);
  const report: SoakReport = {
    seconds: o.seconds,
    requests: 0,
    byStatus: {},
    unexpected5xx: [],
    healthz: { n: 0, p50: 0, p99: 0, max: 0 },
    rssMiB: { start: 0, max: 0, end: 0 },
    fds: { start: 0, max: 0, end: 0 },
    tmpFilesAtEnd: 0,
    jobs: {},
    acceptedUploads: 0,
    servedResults: 0,
    afterRestart: { uploadsMissing: [], resultsChanged: [], jobsNotTerminal: [], restartSeconds: 0 },
  };
  const accepted = new Map<string, string[]>(); // model id → file sha256s
  const served = new Map<string, string>(); // result URL → sha256 of the body
  const jobIds = new Set<string>();
  const call = async (method: string, path: string, body?: Uint8Array | string, type?: string): Promise<Response | null> => {
    try {
      const r = await fetch(`${url}${path}`, {
        method,
        ...(body !== undefined ? { body, headers: { 'content-type': type ?? 'application/json' } } : {}),
      });
      report.requests++;
      report.byStatus[r.status] = (report.byStatus[r.status] ?? 0) + 1;
      if (r.status >= 500 && r.status !== 503)
        report.unexpected5xx.push(`${method} ${path}: ${r.status} ${(await r.clone().text()).slice(0, 200)}`);
      return r;
    } catch {
      return null; // the server is being killed
    }
  };
  const deadline = Date.now() + o.seconds * 1000;
  const running = (): boolean => Date.now() < deadline;
  const lat: number[] = [];
  report.rssMiB.start = rssOf(child.pid!);
  report.fds.start = fdsOf(child.pid!);
  const sample = (): void => {
    try {
      const rss = rssOf(child.pid!);
      const fds = fdsOf(child.pid!);
      report.rssMiB.max = Math.max(report.rssMiB.max, rss);
      report.fds.max = Math.max(report.fds.max, fds);
    } catch {
      /* restarting */
    }
  };
  const ids: string[] = [];
  const upload = async (file: string): Promise<void> => {
    const bytes = readFileSync(file);
    const r = await call('POST', `/v1/models?name=${file.split('/').pop()}`, bytes, 'application/octet-stream');
    if (r && (r.status === 201 || r.status === 200)) {
      const m = (await r.json()) as { id: string; files: { sha256: string }[] };
      accepted.set(
        m.id,
        m.files.map((f) => f.sha256),
      );
      if (!ids.includes(m.id)) ids.push(m.id);
    }
  };
  for (const f of MODELS) await upload(f);
  const hostile = hostileFiles();
  let round = 0;
  const loops: Promise<void>[] = [];
  // /healthz every 100 ms, and the process samples.
  loops.push(
    (async () => {
      while (running()) {
        const t = performance.now();
        const r = await call('GET', '/healthz');
        if (r) {
          await r.text();
          lat.push(performance.now() - t);
        }
        sample();
        await new Promise((res) => setTimeout(res, 100));
      }
    })(),
  );
  for (let c = 0; c < o.clients; c++) {
    // Uploads, good and hostile.
    loops.push(
      (async () => {
        for (let i = 0; running(); i++) {
          if (i % 2) await upload(MODELS[(i + c) % MODELS.length]);
          else {
            const h = hostile[(i / 2 + c) % hostile.length];
            const r = await call('POST', `/v1/models?name=${h.name}`, h.body, 'application/octet-stream');
            if (r && r.status < 400) report.unexpected5xx.push(`hostile ${h.name} was accepted: ${r.status}`);
            await r?.text();
          }
        }
      })(),
    );
    // Analyses (distinct options, so the cache cannot answer them all) and rankings, with SSE subscribers.
    loops.push(
      (async () => {
        while (running()) {
          const n = ++round;
          const model = ids[n % ids.length];
          const r =
            n % 3 === 0
              ? await call(
                  'POST',
                  '/v1/rankings',
                  JSON.stringify({
                    models: [ids[0], ids[1 + (n % (ids.length - 1))]],
                    metric: 'alpha',
                    options: { minEvals: 10 + (n % 50) },
                  }),
                )
              : await call('POST', '/v1/analyses', JSON.stringify({ model, fits: ['pl'], options: { minEvals: 10 + (n % 200) } }));
          if (!r || r.status >= 400) {
            await r?.text();
            continue;
          }
          const { job } = (await r.json()) as { job: { id: string } };
          jobIds.add(job.id);
          // An SSE subscriber that sometimes leaves early.
          const ac = new AbortController();
          const sse = fetch(`${url}/v1/jobs/${job.id}/events`, { signal: ac.signal })
            .then((s) => s.text())
            .catch(() => '');
          if (n % 2) setTimeout(() => ac.abort(), 200);
          const end = await waitJob(url, job.id, {}, 600_000).catch(() => null);
          ac.abort();
          await sse;
          if (end) report.jobs[end.state] = (report.jobs[end.state] ?? 0) + 1;
          if (end?.state === 'succeeded' && end.result) {
            const body = await call('GET', end.result);
            if (body?.ok) served.set(end.result, sha(new Uint8Array(await body.arrayBuffer())));
          }
        }
      })(),
    );
  }
  await Promise.all(loops);
  report.healthz = { n: lat.length, p50: q(lat, 0.5), p99: q(lat, 0.99), max: lat.length ? Math.max(...lat) : NaN };
  await new Promise((r) => setTimeout(r, 1000));
  report.rssMiB.end = rssOf(child.pid!);
  report.fds.end = fdsOf(child.pid!);
  report.tmpFilesAtEnd = readdirSync(join(data.dir, 'tmp')).length;
  report.acceptedUploads = accepted.size;
  report.servedResults = served.size;
  log(`soak: ${report.requests} requests in ${o.seconds} s; kill -9 with traffic in flight`);

  // kill -9 mid-traffic: two jobs queued and an upload on its way.
  for (const id of ids.slice(0, 2)) {
    const r = await call('POST', '/v1/analyses', JSON.stringify({ model: id, fits: ['pl', 'exp'], options: { minEvals: 7 } }));
    if (r?.ok) jobIds.add(((await r.json()) as { job: { id: string } }).job.id);
  }
  void upload(MODELS[0]);
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const t0 = performance.now();
  ({ child, url } = await spawnServer(env));
  report.afterRestart.restartSeconds = (performance.now() - t0) / 1000;
  try {
    const { models } = (await (await fetch(`${url}/v1/models`)).json()) as { models: { id: string; files: { sha256: string }[] }[] };
    for (const [id, shas] of accepted) {
      const m = models.find((x) => x.id === id);
      if (!m || JSON.stringify(m.files.map((f) => f.sha256)) !== JSON.stringify(shas)) report.afterRestart.uploadsMissing.push(id);
    }
    for (const [path, hash] of served) {
      const r = await fetch(`${url}${path}`);
      if (!r.ok || sha(new Uint8Array(await r.arrayBuffer())) !== hash) report.afterRestart.resultsChanged.push(path);
    }
    for (const id of jobIds) {
      const end = await waitJob(url, id, {}, 600_000).catch(() => null);
      if (!end || !['succeeded', 'failed', 'cancelled'].includes(end.state)) report.afterRestart.jobsNotTerminal.push(id);
    }
  } finally {
    child.kill('SIGKILL');
    data.cleanup();
  }
  return report;
}
