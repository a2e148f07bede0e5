/**
 * The distributed mode under load (issue 17). Not a test. Every process is the compiled CLI (tsc → .bench-out/dist),
 * on loopback, against a throwaway PostgreSQL (test/helpers/postgres.ts).
 *
 *   node --import tsx bench/scale-out.bench.ts [--parts ranking,roundtrip,upload] [--models 8] [--upload-gib 2] [--jobs 100]
 *
 * ranking   — 8 GPT-2-small-shaped checkpoints (bench/gpt2-small.ts, distinct seeds) ranked by mean alpha with one
 *             worker process, then with two (each job: one eigen thread, one BLAS thread, one onnxruntime thread).
 *             Goal: ≥ 1.8× the throughput with two on a 2-core machine.
 * roundtrip — empty jobs one after another: POST → SSE `end` on the client, p50/p90; and the queue's share of it
 *             (the round trip minus the job's own started→finished time on the worker). Goal ≤ 20 ms p50. The
 *             embedded server is measured the same way beside it.
 * upload    — a 2 GiB and a 256 MiB checkpoint POSTed to an API node of each store: the embedded data folder,
 *             `file://` and `s3://` (s3rver, an S3 protocol stand-in on loopback, not AWS): MB/s of the whole POST
 *             (stream + hash + store + inspection on a worker) and the API process's peak RSS (goal: independent of
 *             the file's size).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { startPostgres, type PgCluster } from '../test/helpers/postgres.js';
import { startS3StandIn } from '../test/helpers/s3.js';
import { openPool } from '../src/service/cluster/pg.js';
import { openSharedBlobs } from '../src/service/store/shared-blobs.js';
import { ROOT, buildDist, DIST } from './analyze-run.js';
import { writeCheckpoint } from './checkpoint-writer.js';
import { gpt2Tensors } from './gpt2-small.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OUT = join(ROOT, '.bench-out');
const { values } = parseArgs({
  options: {
    parts: { type: 'string', default: 'ranking,roundtrip,upload' },
    models: { type: 'string', default: '8' },
    'upload-gib': { type: 'string', default: '2' },
    jobs: { type: 'string', default: '100' },
  },
});
const parts = new Set(values.parts!.split(','));
const procs: ChildProcess[] = [];
const scratch: string[] = [];
const tmp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p));
  scratch.push(d);
  return d;
};
const q = (a: number[], p: number): number => a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(p * a.length))];
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

/** One thread per job everywhere, so two workers on two cores is the whole story. */
const ONE_THREAD = { WEIGHTSCOPE_THREADS: '1', OPENBLAS_NUM_THREADS: '1' };

async function node(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [join(DIST, 'cli', 'main.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start: ${err}`)), 120_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = ready.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)));
  });
}

const api = async (env: Record<string, string>, workers = false): Promise<{ child: ChildProcess; url: string }> => {
  const { child, match } = await node(
    workers ? ['serve'] : ['serve', '--no-workers'],
    { PORT: '0', HOST: '127.0.0.1', WEIGHTSCOPE_DATA: tmp('ws-api-'), WEIGHTSCOPE_MAX_UPLOAD: '8GiB', ...env },
    /serving (http:\/\/\S+)/,
  );
  return { child, url: match[1] };
};
const worker = async (env: Record<string, string>): Promise<ChildProcess> =>
  (await node(['worker', '--concurrency', '1'], { WEIGHTSCOPE_DATA: tmp('ws-worker-'), ...env }, /worker \S+ running/)).child;

async function postJson(base: string, path: string, body: unknown): Promise<Json> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return (await r.json()) as Json;
}

async function waitJob(base: string, id: string): Promise<Json> {
  for (;;) {
    const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as Json;
    if (['succeeded', 'failed', 'cancelled'].includes(j.state)) return j;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function uploadFile(base: string, file: string): Promise<{ status: number; body: Json; seconds: number }> {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/models?name=model.safetensors`, {
    method: 'POST',
    body: Readable.toWeb(createReadStream(file, { highWaterMark: 1 << 20 })) as ReadableStream,
    headers: { 'content-length': String(statSync(file).size) },
    duplex: 'half',
  } as RequestInit);
  const body = (await r.json()) as Json;
  return { status: r.status, body, seconds: (performance.now() - t0) / 1000 };
}

const peakRssMb = (pid: number): number => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

function stop(children: ChildProcess[]): void {
  for (const c of children) c.kill('SIGKILL');
}

async function rankingPart(pgc: PgCluster): Promise<void> {
  const n = Number(values.models);
  const dir = join(OUT, 'gpt2-small-set');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, `model-${i + 1}.safetensors`);
    if (!existsSync(f)) await writeCheckpoint(f, gpt2Tensors(), 1000 + i);
    files.push(f);
  }
  console.log(`ranking: ${n} GPT-2-small-shaped checkpoints (${(statSync(files[0]).size / 1e6).toFixed(0)} MB each), one thread per job`);
  const env = { WEIGHTSCOPE_DATABASE_URL: await pgc.database(), WEIGHTSCOPE_BLOB_URL: `file://${tmp('ws-blobs-')}`, ...ONE_THREAD };
  const pool = openPool(env.WEIGHTSCOPE_DATABASE_URL, 1);
  const a = await api(env);
  const workers = [await worker(env)];
  const ids: string[] = [];
  for (const f of files) {
    const up = await uploadFile(a.url, f);
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
    ids.push(up.body.id as string);
  }
  const times: number[] = [];
  for (const w of [1, 2]) {
    if (w === 2) workers.push(await worker(env));
    // Other options each time: no result cache between the runs.
    const t0 = performance.now();
    const job = (
      await postJson(a.url, '/v1/rankings', { models: ids, metric: 'alpha', options: { fits: ['pl'], workers: 1, minEvals: 50 + w } })
    ).job;
    const end = await waitJob(a.url, job.id);
    const s = (performance.now() - t0) / 1000;
    if (end.state !== 'succeeded') throw new Error(`ranking with ${w} worker(s): ${JSON.stringify(end)}`);
    times.push(s);
    // How busy the queue kept the workers (Σ analysis time / (workers × wall)), and how long one analysis took:
    // a shortfall in the ratio with full workers and slower analyses is CPU contention, not the queue.
    const kids = (
      await pool.query<{ started_at: number; finished_at: number }>(
        `SELECT c.started_at, c.finished_at FROM weightscope.job_deps d JOIN weightscope.jobs c ON c.id = d.dep_id WHERE d.job_id = $1`,
        [job.id],
      )
    ).rows;
    const busy = kids.reduce((a, k) => a + (k.finished_at - k.started_at) / 1000, 0);
    console.log(
      `  ${w} worker process(es): ${s.toFixed(1)} s, ${((n / s) * 60).toFixed(2)} models/min; one analysis ${(busy / n).toFixed(1)} s on average, ` +
        `workers busy ${((100 * busy) / (w * s)).toFixed(0)}% of the time (load avg ${load()})`,
    );
  }
  console.log(`  throughput 2 vs 1 workers: ${(times[0] / times[1]).toFixed(2)}× (goal ≥ 1.8×)`);
  await pool.end();
  stop([a.child, ...workers]);
}

async function roundTrips(base: string, n: number): Promise<{ total: number[]; queue: number[]; delivery: number[] }> {
  const total: number[] = [];
  const queue: number[] = [];
  const delivery: number[] = [];
  for (let i = 0; i < n + 5; i++) {
    const t0 = performance.now();
    const job = (await postJson(base, '/v1/debug/jobs', { steps: 1, ms: 0, cache: false })).job;
    const text = await (await fetch(`${base}/v1/jobs/${job.id}/events`)).text();
    const t = performance.now() - t0;
    const end = JSON.parse([...text.matchAll(/^data: (.*)$/gm)].at(-1)![1]) as Json;
    if (end.state !== 'succeeded') throw new Error(JSON.stringify(end));
    if (i < 5) continue; // warm-up
    total.push(t);
    queue.push(t - (Date.parse(end.finished_at) - Date.parse(end.started_at)));
    delivery.push(Date.parse(end.started_at) - Date.parse(end.created_at));
  }
  return { total, queue, delivery };
}

async function roundtripPart(pgc: PgCluster): Promise<void> {
  const n = Number(values.jobs);
  console.log(`round trip of an empty job (POST → SSE end), ${n} in a row; "queue" = minus the job's own started→finished`);
  const env = {
    WEIGHTSCOPE_DATABASE_URL: await pgc.database(),
    WEIGHTSCOPE_BLOB_URL: `file://${tmp('ws-blobs-')}`,
    WEIGHTSCOPE_DEBUG_JOBS: '1',
    ...ONE_THREAD,
  };
  const a = await api(env);
  const w = await worker(env);
  const e = await api({ WEIGHTSCOPE_DEBUG_JOBS: '1', ...ONE_THREAD }, true);
  for (const [name, base] of [
    ['distributed (API node + worker node, Postgres)', a.url],
    ['embedded (one process, SQLite)', e.url],
  ] as const) {
    const r = await roundTrips(base, n);
    console.log(
      `  ${name}: total p50 ${q(r.total, 0.5).toFixed(1)} ms, p90 ${q(r.total, 0.9).toFixed(1)} ms; queue p50 ${q(r.queue, 0.5).toFixed(1)} ms, p90 ${q(r.queue, 0.9).toFixed(1)} ms, of which stored → claimed by a worker p50 ${q(r.delivery, 0.5).toFixed(0)} ms (load avg ${load()})`,
    );
  }
  stop([a.child, w, e.child]);
}

async function uploadPart(pgc: PgCluster): Promise<void> {
  const gib = Number(values['upload-gib']);
  const big = join(OUT, `upload-${gib}g.safetensors`);
  const small = join(OUT, 'upload-256m.safetensors');
  // [8192, 4096] float32 = 128 MiB a tensor.
  if (!existsSync(big))
    await writeCheckpoint(
      big,
      Array.from({ length: gib * 8 }, (_, i) => ({ name: `w${i}`, shape: [8192, 4096] })),
      7,
    );
  if (!existsSync(small))
    await writeCheckpoint(
      small,
      Array.from({ length: 2 }, (_, i) => ({ name: `w${i}`, shape: [8192, 4096] })),
      8,
    );
  const s3 = await startS3StandIn('bench');
  try {
    const stores: [string, () => Promise<{ url: string; pid: number; others: ChildProcess[] }>][] = [
      [
        'embedded data folder',
        async () => {
          const a = await api({}, true);
          return { url: a.url, pid: a.child.pid!, others: [a.child] };
        },
      ],
      [
        'file:// shared store',
        async () => {
          const env = { WEIGHTSCOPE_DATABASE_URL: await pgc.database(), WEIGHTSCOPE_BLOB_URL: `file://${tmp('ws-blobs-')}` };
          const a = await api(env);
          return { url: a.url, pid: a.child.pid!, others: [a.child, await worker(env)] };
        },
      ],
      [
        's3:// (s3rver stand-in)',
        async () => {
          const env = { WEIGHTSCOPE_DATABASE_URL: await pgc.database(), WEIGHTSCOPE_BLOB_URL: `s3://${s3.bucket}/bench/`, ...s3.env };
          const a = await api(env);
          return { url: a.url, pid: a.child.pid!, others: [a.child, await worker(env)] };
        },
      ],
    ];
    console.log(`upload: POST of a checkpoint to an API node (stream, sha256, store, inspection on a worker); API process peak RSS`);
    for (const [name, start] of stores) {
      const line: string[] = [];
      for (const file of [small, big]) {
        // A fresh API process per file, so its peak RSS is this upload's.
        const s = await start();
        const up = await uploadFile(s.url, file);
        if (up.status !== 201) throw new Error(`${name}: ${up.status} ${JSON.stringify(up.body)}`);
        const mb = statSync(file).size / 1e6;
        line.push(
          `${(statSync(file).size / 2 ** 30).toFixed(2)} GiB: ${(mb / up.seconds).toFixed(0)} MB/s (${up.seconds.toFixed(1)} s), peak RSS ${peakRssMb(s.pid).toFixed(0)} MiB`,
        );
        stop(s.others);
      }
      console.log(`  ${name}: ${line.join('; ')} (load avg ${load()})`);
    }
    // The stores alone (in this process, no HTTP, no inspection): where the POST's time goes.
    for (const [name, url, env] of [
      ['file://', `file://${tmp('ws-raw-')}`, {}],
      ['s3:// (s3rver)', `s3://${s3.bucket}/raw/`, s3.env],
    ] as const) {
      const { blobs } = openSharedBlobs(url, '/nonexistent', { ...process.env, ...env });
      const t0 = performance.now();
      const part = await blobs.ingest(createReadStream(big, { highWaterMark: 1 << 20 }), { limit: Number.MAX_SAFE_INTEGER, used: 0 });
      const t1 = performance.now();
      await blobs.commit(part);
      const t2 = performance.now();
      const mb = statSync(big).size / 1e6;
      console.log(
        `  ${name} store alone, ${gib} GiB: stream + sha256 ${(mb / ((t1 - t0) / 1000)).toFixed(0)} MB/s, commit (server-side copy or rename) ${((t2 - t1) / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    await s3.close();
  }
}

console.log(`building ${DIST} …`);
buildDist();
const pgc = await startPostgres();
try {
  if (parts.has('ranking')) await rankingPart(pgc);
  if (parts.has('roundtrip')) await roundtripPart(pgc);
  if (parts.has('upload')) await uploadPart(pgc);
} finally {
  stop(procs);
  await pgc.stop();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
}
