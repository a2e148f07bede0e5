/**
 * Runtime modes: 'worker' (sessions in the session worker thread) and 'inline' (sessions on the calling thread) give
 * the same bits, the same caching and resident-feed behaviour, and the same errors; WEIGHTSCOPE_RUNTIME wins over
 * setRuntimeMode; a worker_threads Worker and the CLI process run inline by default.
 * node --test runs each file in its own process; the mode is still restored to 'worker' at the end.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  getSession,
  releaseSession,
  residentStats,
  runtimeMode,
  sessionsBuilt,
  setResidentLimit,
  setRuntimeMode,
  shutdownRuntime,
  type RuntimeMode,
} from '../../src/runtime/session.js';
import { createEngine } from '../../src/runtime/engine.js';
import { loadDataset, sliceBatch, type Dataset } from '../../src/runtime/dataset.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import type { HostTensor } from '../../src/runtime/wire.js';
import { fixture } from '../helpers/fixtures.js';
import { chain, mat, matmul, residentDelta as delta, values } from './graphs.js';

// This file tests the switch itself: a WEIGHTSCOPE_RUNTIME set by whoever runs the suite would pin the mode.
delete process.env.WEIGHTSCOPE_RUNTIME;
// One intra-op thread here and in every child process: the same arithmetic on both sides of each comparison, and a
// single data-parallel lane (no lane worker threads), so where sessions run is what the mode alone says.
process.env.WEIGHTSCOPE_THREADS = '1';

const MLP = fixture('fmnist-hessian', 'mlp48.onnx');
const MLP_DATA = fixture('fmnist-hessian', 'batch.safetensors');
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SESSION_URL = new URL('../../src/runtime/session.ts', import.meta.url).href;
const TSX_API = import.meta.resolve('tsx/esm/api');

after(async () => {
  await setRuntimeMode('worker');
  await shutdownRuntime();
});

const EYE = mat(1, 0, 0, 0, 1, 0, 0, 0, 1);
const bits = (m: ReadonlyMap<string, Float32Array>) =>
  [...m].map(([k, a]) => [k, Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')]);

let mlpData: Dataset | null = null;
async function dataset(): Promise<Dataset> {
  mlpData ??= await loadDataset(MLP_DATA);
  return mlpData;
}

/** grad, Hv and the mean over two batches of mlp48 in the current mode, as comparable bits. */
async function mlpResults() {
  const e = await createEngine(MLP, { loss: 'classification' });
  try {
    const ds = await dataset();
    const batch = sliceBatch(ds, 0, 200);
    const p = e.initialParams();
    const v = new Map(e.params.map((s) => [s.name, Float32Array.from({ length: s.size }, (_, i) => Math.sin(i))]));
    const g = await e.grad(p, batch);
    const h = await e.hvp(p, batch, v);
    const gm = await e.gradMean(p, [sliceBatch(ds, 0, 80), sliceBatch(ds, 80, 200)]);
    // What `weightscope grad --batch 200` computes: the mean over one chunk of 200.
    const cli = await e.gradMean(p, [sliceBatch(ds, 0, 200)]);
    return {
      gLoss: g.loss,
      g: bits(g.grads),
      hLoss: h.loss,
      h: bits(h.hv),
      gmLoss: gm.loss,
      gm: bits(gm.grads),
      cliLoss: cli.loss,
      cli: bits(cli.grads),
    };
  } finally {
    await e.dispose();
  }
}

let workerMlp: Awaited<ReturnType<typeof mlpResults>> | null = null;

test('runtime mode: the main thread defaults to worker; setRuntimeMode switches', async () => {
  assert.equal(runtimeMode(), 'worker');
  await setRuntimeMode('inline');
  assert.equal(runtimeMode(), 'inline');
  await setRuntimeMode('worker');
  assert.equal(runtimeMode(), 'worker');
});

test('runtime mode: mlp48 grad and Hv are bit-identical in worker and inline mode', async () => {
  await setRuntimeMode('worker');
  const w = await mlpResults();
  workerMlp = w;
  await setRuntimeMode('inline');
  assert.equal(runtimeMode(), 'inline');
  const i = await mlpResults();
  assert.ok(Number.isFinite(w.gLoss) && w.gLoss > 0.1, `loss ${w.gLoss}`);
  assert.equal(i.gLoss, w.gLoss);
  assert.deepEqual(i.g, w.g);
  assert.equal(i.hLoss, w.hLoss);
  assert.deepEqual(i.h, w.h);
  assert.equal(i.gmLoss, w.gmLoss);
  assert.deepEqual(i.gm, w.gm);
  assert.equal(i.cliLoss, w.cliLoss);
  assert.deepEqual(i.cli, w.cli);
  // The comparison can see a difference: grad and Hv differ from each other.
  assert.notDeepEqual(
    i.g.map(([, b]) => b),
    i.h.map(([, b]) => b),
  );
});

/** Timer ticks (every 2 ms) during one long run in mode `m`, and how long the run took. */
async function ticksDuringRun(m: RuntimeMode): Promise<{ ticks: number; ms: number }> {
  await setRuntimeMode(m);
  const n = 512;
  const s = await getSession(chain(n, 16));
  const a: HostTensor = { type: 'float32', data: new Float32Array(n * n).fill(1 / n), dims: [n, n] };
  await s.run({ a, b: a }); // warm-up: first-run allocations stay out of the timing
  let ticks = 0;
  const timer = setInterval(() => ticks++, 2);
  const t0 = performance.now();
  const out = await s.run({ a, b: a });
  const ms = performance.now() - t0;
  clearInterval(timer);
  assert.ok(Math.abs((out.c.data as Float32Array)[0] - 1 / n) < 1e-6);
  return { ticks, ms };
}

test('runtime mode: inline runs on this thread (timers wait for the run), worker mode does not', async () => {
  const inline = await ticksDuringRun('inline');
  const worker = await ticksDuringRun('worker');
  assert.ok(
    inline.ms >= 20 && worker.ms >= 20,
    `runs of ${inline.ms.toFixed(1)} / ${worker.ms.toFixed(1)} ms show nothing: enlarge the graph`,
  );
  // onnxruntime-node starts a run from setImmediate, so one tick already due may fire just before the run begins
  // (seen once in CI); none can fire while it blocks this thread — a run off this thread gives ~ms/2 ticks.
  assert.ok(inline.ticks <= 1, `${inline.ticks} timer ticks during a ${inline.ms.toFixed(0)} ms inline run`);
  assert.ok(worker.ticks >= 3, `only ${worker.ticks} timer ticks during a ${worker.ms.toFixed(0)} ms worker run`);
});

test('inline mode: sessions are cached, released and rebuilt after a shutdown', async () => {
  await setRuntimeMode('inline');
  const s = await getSession(matmul());
  const built = sessionsBuilt();
  const a = mat(1, 2, 3, 4, 5, 6, 7, 8, 9);
  for (let k = 0; k < 3; k++) {
    assert.equal((await getSession(matmul())).key, s.key); // equal bytes, new buffer
    assert.deepEqual(values(await s.run({ a, b: EYE })), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
  assert.equal(sessionsBuilt(), built);

  // Each getSession is given back by one releaseSession: until the last one the session stays (another holder may
  // still use it); after it the old handle no longer runs (a WeightscopeError, not a crash), and asking again builds anew.
  for (let k = 0; k < 3; k++) await releaseSession(s);
  assert.deepEqual(values(await s.run({ a, b: EYE })), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await releaseSession(s);
  await assert.rejects(s.run({ a, b: EYE }), { name: 'WeightscopeError', code: 'invalid-input', message: /no session/ });
  const s2 = await getSession(matmul());
  assert.equal(sessionsBuilt(), built + 1);
  assert.deepEqual(values(await s2.run({ a, b: mat(2, 0, 0, 0, 2, 0, 0, 0, 2) })), [2, 4, 6, 8, 10, 12, 14, 16, 18]);

  // Shut down: rebuilt cleanly on the next call, still inline.
  await shutdownRuntime();
  assert.equal(runtimeMode(), 'inline');
  const s3 = await getSession(matmul());
  assert.equal(sessionsBuilt(), built + 2);
  assert.deepEqual(values(await s3.run({ a, b: mat(0, 0, 1, 0, 1, 0, 1, 0, 0) })), [3, 2, 1, 6, 5, 4, 9, 8, 7]);
  assert.equal(sessionsBuilt(), built + 2);
});

test('inline mode: resident feeds after a limit of 0 is lifted, and after a shutdown', async () => {
  // Sent once / evicted / limit 0 in both modes: resident.test.ts.
  await setRuntimeMode('inline');
  const s = await getSession(matmul());
  const a = mat(1, 2, 3, 4, 5, 6, 7, 8, 9);
  const a2 = mat(2, 2, 2, 2, 2, 2, 2, 2, 2);
  await s.run({ a: a2, b: EYE }, undefined, { resident: ['a'] });
  await setResidentLimit(0);
  try {
    assert.deepEqual(values(await s.run({ a: a2, b: EYE }, undefined, { resident: ['a'] })), Array(9).fill(2));
  } finally {
    await setResidentLimit(256 * 2 ** 20);
  }
  // The limit is restored: a2 (kept nowhere under 0) goes by reference, is resent once, and is kept from then on.
  const back = residentStats();
  await s.run({ a: a2, b: EYE }, undefined, { resident: ['a'] });
  assert.deepEqual(delta(back), { uploads: 1, reuses: 1, resends: 1 });
  const kept = residentStats();
  assert.deepEqual(values(await s.run({ a: a2, b: EYE }, undefined, { resident: ['a'] })), Array(9).fill(2));
  assert.deepEqual(delta(kept), { uploads: 0, reuses: 1, resends: 0 });

  // A shut-down host has lost its store: the feed goes again with its bytes, no resend round trip.
  await shutdownRuntime();
  const s2 = await getSession(matmul());
  const restarted = residentStats();
  assert.deepEqual(values(await s2.run({ a, b: EYE }, undefined, { resident: ['a'] })), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(delta(restarted), { uploads: 1, reuses: 0, resends: 0 });
});

test('inline mode: a limit set before the host starts applies to it', async () => {
  await setRuntimeMode('inline');
  await shutdownRuntime(); // no host now: the limit is only remembered
  await setResidentLimit(0);
  try {
    const s = await getSession(matmul());
    const a = mat(3, 3, 3, 3, 3, 3, 3, 3, 3);
    const before = residentStats();
    await s.run({ a, b: EYE }, undefined, { resident: ['a'] });
    assert.deepEqual(values(await s.run({ a, b: EYE }, undefined, { resident: ['a'] })), Array(9).fill(3));
    assert.deepEqual(delta(before), { uploads: 2, reuses: 1, resends: 1 });
  } finally {
    await setResidentLimit(256 * 2 ** 20);
  }
});

/** What a promise settles to: a comparable value, or the error's class, code and message. */
async function outcome(p: Promise<unknown>): Promise<{ ok: true } | { ok: false; name: string; code: unknown; message: string }> {
  try {
    await p;
    return { ok: true };
  } catch (e) {
    const err = e as Error & { code?: unknown };
    return { ok: false, name: err.name, code: err.code, message: err.message };
  }
}

async function errorCases(m: RuntimeMode) {
  await setRuntimeMode(m);
  assert.equal(runtimeMode(), m);
  const s = await getSession(matmul());
  const a = mat(1, 2, 3, 4, 5, 6, 7, 8, 9);
  const cases = {
    missing: await outcome(s.run({ a })),
    shape: await outcome(s.run({ a, b: { type: 'float32', data: new Float32Array(8), dims: [2, 2, 2] } })),
    dtype: await outcome(s.run({ a, b: { type: 'int32', data: new Int32Array(9), dims: [3, 3] } })),
    size: await outcome(s.run({ a, b: { type: 'float32', data: new Float32Array(4), dims: [3, 3] } })),
    badGraph: await outcome(getSession(Uint8Array.from([1, 2, 3, 4, 5]))),
    cuda: await outcome(getSession(matmul(), { device: 'cuda' })),
  };
  // Still usable after every failure.
  assert.deepEqual(values(await s.run({ a, b: EYE })), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return cases;
}

test('inline mode: bad feeds, bad graphs and a missing device are the same WeightscopeErrors as in worker mode', async () => {
  const w = await errorCases('worker');
  const i = await errorCases('inline');
  assert.deepEqual(i, w);
  for (const k of ['missing', 'shape', 'dtype', 'size', 'badGraph'] as const) {
    const r = i[k];
    assert.ok(!r.ok, `${k} should fail`);
    assert.equal(r.name, 'WeightscopeError', `${k}: ${r.message}`);
    assert.doesNotMatch(r.message, /\n/, k);
  }
  assert.deepEqual(i.missing, { ok: false, name: 'WeightscopeError', code: 'invalid-input', message: "graph input 'b' was not given" });
  assert.ok(!i.shape.ok && i.shape.code === 'shape-mismatch', JSON.stringify(i.shape));
  assert.ok(!i.dtype.ok && i.dtype.code === 'invalid-input', JSON.stringify(i.dtype));
  assert.ok(!i.dtype.ok && /type/i.test(i.dtype.message), JSON.stringify(i.dtype));
  // A machine with CUDA builds the session in both modes; elsewhere both say device-unavailable.
  if (!i.cuda.ok) {
    assert.equal(i.cuda.code, 'device-unavailable');
    assert.match(i.cuda.message, /device 'cuda' is not available/);
  }
});

test('inline mode: a session built in worker mode and used after the switch is a clear error', async () => {
  await setRuntimeMode('worker');
  const s = await getSession(matmul());
  await setRuntimeMode('inline');
  const a = mat(1, 2, 3, 4, 5, 6, 7, 8, 9);
  await assert.rejects(s.run({ a, b: EYE }), { name: 'WeightscopeError', code: 'invalid-input' });
  // Asking again gives a session of the new mode.
  assert.deepEqual(values(await (await getSession(matmul())).run({ a, b: EYE })), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('runtime mode: WEIGHTSCOPE_RUNTIME wins over setRuntimeMode (in this process)', async () => {
  await setRuntimeMode('worker');
  process.env.WEIGHTSCOPE_RUNTIME = 'inline';
  try {
    await setRuntimeMode('worker');
    assert.equal(runtimeMode(), 'inline');
    process.env.WEIGHTSCOPE_RUNTIME = 'worker';
    await setRuntimeMode('inline');
    assert.equal(runtimeMode(), 'worker');
    process.env.WEIGHTSCOPE_RUNTIME = 'bogus'; // not a mode: ignored
    await setRuntimeMode('inline');
    assert.equal(runtimeMode(), 'inline');
  } finally {
    delete process.env.WEIGHTSCOPE_RUNTIME;
    await setRuntimeMode('worker');
  }
  assert.equal(runtimeMode(), 'worker');
});

type Child = { code: number; out: string; err: string };

function node(args: string[], env: Record<string, string | undefined>): Promise<Child> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', env: childEnv, maxBuffer: 1 << 24 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

test('runtime mode: WEIGHTSCOPE_RUNTIME sets the starting mode and wins in a fresh process', async () => {
  const script = `import { runtimeMode, setRuntimeMode } from ${JSON.stringify(SESSION_URL)};
const start = runtimeMode();
await setRuntimeMode(start === 'inline' ? 'worker' : 'inline');
console.log(JSON.stringify({ start, after: runtimeMode() }));`;
  const run = (env: string | undefined) => node(['--import', 'tsx', '--input-type=module', '-e', script], { WEIGHTSCOPE_RUNTIME: env });
  const [inline, worker, unset] = await Promise.all([run('inline'), run('worker'), run(undefined)]);
  for (const r of [inline, worker, unset]) assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(inline.out), { start: 'inline', after: 'inline' });
  assert.deepEqual(JSON.parse(worker.out), { start: 'worker', after: 'worker' });
  assert.deepEqual(JSON.parse(unset.out), { start: 'worker', after: 'inline' }); // the control: unset, the switch works
});

/** Starts a worker thread under tsx (as session.ts does for its own worker) that reports its mode and runs a graph. */
function inWorker(env: NodeJS.ProcessEnv): Promise<{ mode: RuntimeMode; c: number[]; built: number }> {
  const body = `const { parentPort } = await import('node:worker_threads');
const s = await import(${JSON.stringify(SESSION_URL)});
const { default: onnxProto } = await import('onnx-proto');
const { onnx } = onnxProto;
const vi = (name) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }, { dimValue: 2 }] } } } });
const m = onnx.ModelProto.create({ irVersion: 7, opsetImport: [{ domain: '', version: 14 }],
  graph: { name: 'add', node: [{ opType: 'Add', input: ['a', 'b'], output: ['c'] }], input: [vi('a'), vi('b')], output: [vi('c')] } });
const sess = await s.getSession(onnx.ModelProto.encode(m).finish());
const t = (x, y) => ({ type: 'float32', data: Float32Array.from([x, y]), dims: [1, 2] });
const out = await sess.run({ a: t(1, 2), b: t(10, 20) });
const mode = s.runtimeMode();
await s.shutdownRuntime();
parentPort.postMessage({ mode, c: [...out.c.data], built: s.sessionsBuilt() });`;
  const code = `import(${JSON.stringify(TSX_API)}).then(async (tsx) => { tsx.register(); ${body} });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, env });
    let got: { mode: RuntimeMode; c: number[]; built: number } | null = null;
    w.on('message', (msg) => {
      got = msg as typeof got;
    });
    w.on('error', reject);
    w.on('exit', (code) => (got ? resolve(got) : reject(new Error(`worker exited (code ${code}) without an answer`))));
  });
}

test('runtime mode: a worker_threads Worker runs inline by default, and WEIGHTSCOPE_RUNTIME=worker overrides', async () => {
  const base: NodeJS.ProcessEnv = { ...process.env };
  const plain = await inWorker(base);
  assert.deepEqual(plain, { mode: 'inline', c: [11, 22], built: 1 });
  const forced = await inWorker({ ...base, WEIGHTSCOPE_RUNTIME: 'worker' });
  assert.deepEqual(forced, { mode: 'worker', c: [11, 22], built: 1 });
});

/**
 * The CLI as a user runs it, with a preload that prints the mode and sessions built at exit (it imports the same
 * session module the CLI does), and NODE_DEBUG=worker, under which Node logs every Worker it starts.
 */
function cliWithProbe(env: Record<string, string | undefined>, ...argv: string[]): Promise<Child> {
  const probe =
    `import { runtimeMode, sessionsBuilt } from ${JSON.stringify(SESSION_URL)};` +
    `process.on('exit', () => process.stderr.write('PROBE ' + JSON.stringify({ mode: runtimeMode(), built: sessionsBuilt() }) + '\\n'));`;
  const preload = `data:text/javascript,${encodeURIComponent(probe)}`;
  return node(['--import', 'tsx', '--import', preload, MAIN, ...argv], { NODE_DEBUG: 'worker', ...env });
}

function probeOf(err: string): { mode: RuntimeMode; built: number } {
  const line = err.split('\n').find((l) => l.startsWith('PROBE '));
  assert.ok(line, `no probe line in stderr:\n${err.slice(-2000)}`);
  return JSON.parse(line.slice(6)) as { mode: RuntimeMode; built: number };
}

/** Workers started by user code (Node's own module-loader thread is logged with 'doEval: internal'). */
const userWorkers = (err: string) => err.split('\n').filter((l) => /instantiating Worker\./.test(l) && !/doEval: internal/.test(l)).length;

test('cli: grad runs inline (no session worker thread) and gives the worker-mode bits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-runtime-mode-'));
  const out = join(dir, 'g.safetensors');
  const args = ['grad', MLP, '--data', MLP_DATA, '--batch', '200', '--json'];
  const [cli, forced] = await Promise.all([
    cliWithProbe({ WEIGHTSCOPE_RUNTIME: undefined }, ...args, '--out', out),
    cliWithProbe({ WEIGHTSCOPE_RUNTIME: 'worker' }, ...args),
  ]);
  assert.equal(cli.code, 0, cli.err);
  assert.equal(forced.code, 0, forced.err);
  assert.deepEqual(probeOf(cli.err), { mode: 'inline', built: 2 }); // forward and grad sessions
  assert.equal(userWorkers(cli.err), 0, cli.err);
  // The control: forced to worker mode, the probe and the Worker log see the session worker.
  assert.deepEqual(probeOf(forced.err), { mode: 'worker', built: 2 });
  assert.equal(userWorkers(forced.err), 1, forced.err);

  // Same numbers as this process in worker mode (grad of the first 200 samples, one chunk).
  if (!workerMlp) {
    await setRuntimeMode('worker'); // this test run alone (--test-name-pattern)
    workerMlp = await mlpResults();
  }
  const ref = workerMlp;
  const res = JSON.parse(cli.out) as { loss: number; n: number };
  assert.equal(res.n, 200);
  assert.equal(res.loss, ref.cliLoss);
  assert.equal((JSON.parse(forced.out) as { loss: number }).loss, ref.cliLoss);
  const written = await openSafetensors(out);
  try {
    const got: [string, string][] = [];
    for (const [name] of ref.cli) {
      const a = Float32Array.from(await written.readFloat64(name));
      got.push([name, Buffer.from(a.buffer).toString('base64')]);
    }
    assert.deepEqual(got, ref.cli);
  } finally {
    await written.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
