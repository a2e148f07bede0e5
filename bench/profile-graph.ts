/**
 * Per-op profile of the generated gradient and Hv graphs (default: fmnist-backdoor CNN, batch 128) on onnxruntime-node in
 * this thread (not the engine's worker): total ms per op type and the slowest nodes. Not a test.
 *
 *   node --import tsx bench/profile-graph.ts [--model M --data D --batch B (paths under fixtures/, or absolute; M may be an
 *     .onnx file, a Hugging Face folder or an HF id)] [--graph config|onnx] [--threads T] [--reps N] [--opt all|extended|basic|disabled] [--dump DIR]
 *     [--no-spin (intra-op threads sleep instead of spinning)] [--no-profile (timings only)]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { isAbsolute } from 'node:path';
import { loadModelData } from '../src/data/model-data.js';
import { lossFor, modelEngine } from '../src/model-io/engine.js';
import { openModel } from '../src/model-io/open.js';
import { sliceBatch } from '../src/runtime/dataset.js';
import { shutdownRuntime } from '../src/runtime/session.js';

const { onnx } = onnxProto;
const FIX = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'fmnist-backdoor/model_a.onnx' },
    data: { type: 'string', default: 'fmnist-backdoor/clean_subset.safetensors' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string', default: '1' },
    reps: { type: 'string', default: '20' },
    opt: { type: 'string', default: 'all' },
    dump: { type: 'string' },
    'no-spin': { type: 'boolean' },
    'no-profile': { type: 'boolean' },
    graph: { type: 'string' },
  },
});
const reps = Number(values.reps);
const at = (p: string): string => (isAbsolute(p) ? p : FIX + p);
const opened = await openModel(at(values.model!), values.graph === 'onnx' ? { graph: 'onnx' } : {});
const ds = await loadModelData(opened, { data: at(values.data!) });
const engine = await modelEngine(opened, lossFor(opened, ds));
const batch = sliceBatch(ds, 0, Math.min(ds.n, Number(values.batch)));
const p = engine.initialParams();

interface Ev {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

for (const what of ['grad', 'hvp'] as const) {
  const model = await engine.graph(what);
  const bytes = onnx.ModelProto.encode(model).finish();
  if (values.dump) writeFileSync(join(values.dump, `${what}.onnx`), bytes);
  const ops = new Map<string, number>();
  for (const n of model.graph?.node ?? []) ops.set(n.opType!, (ops.get(n.opType!) ?? 0) + 1);
  const dir = join(tmpdir(), `ws-prof-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const s = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: Number(values.threads),
    interOpNumThreads: Number(process.env.INTER ?? 1),
    executionMode: process.env.INTER ? 'parallel' : 'sequential',
    graphOptimizationLevel: values.opt as 'all',
    enableProfiling: !values['no-profile'],
    profileFilePrefix: join(dir, what),
    ...(values['no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of s.inputNames) {
    if (name === 'y') feeds[name] = new ort.Tensor('int64', batch.y!.data as BigInt64Array, batch.y!.dims as number[]);
    else if (name.startsWith('v.')) {
      const t = p.get(name.slice(2))!;
      feeds[name] = new ort.Tensor(
        'float32',
        t.map(() => Math.random() - 0.5),
        [...engine.params.find((q) => q.name === name.slice(2))!.dims],
      );
    } else if (p.has(name)) feeds[name] = new ort.Tensor('float32', p.get(name)!, [...engine.params.find((q) => q.name === name)!.dims]);
    else
      feeds[name] =
        batch.x.type === 'int64'
          ? new ort.Tensor('int64', batch.x.data as BigInt64Array, batch.x.dims as number[])
          : new ort.Tensor('float32', batch.x.data as Float32Array, batch.x.dims as number[]);
  }
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    ts.push(performance.now() - t0);
  }
  if (values['no-profile']) {
    console.log(`${what}: best ${ts.sort((a, b) => a - b)[0].toFixed(2)} median ${ts[Math.floor(ts.length / 2)].toFixed(2)}`);
    await s.release();
    continue;
  }
  s.endProfiling();
  await s.release();
  ts.sort((a, b) => a - b);
  const file = readdirSync(dir)
    .map((f) => join(dir, f))
    .find((f) => f.includes(what))!;
  const evs = JSON.parse(readFileSync(file, 'utf8')) as Ev[];
  rmSync(dir, { recursive: true, force: true });
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  for (const e of evs) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    const nn = `${op} ${e.name.replace(/_kernel_time$/, '')}`;
    byNode.set(nn, (byNode.get(nn) ?? 0) + e.dur);
  }
  const runs = reps + 3;
  const total = [...byOp.values()].reduce((a, c) => a + c, 0) / runs / 1000;
  console.log(
    `\n== ${what}: ${model.graph?.node?.length} nodes; run ms best ${ts[0].toFixed(2)} median ${ts[Math.floor(ts.length / 2)].toFixed(2)}; kernel sum ${total.toFixed(2)} ms/run`,
  );
  console.log(
    '   ops emitted: ' +
      [...ops]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}×${v}`)
        .join(' '),
  );
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 14))
    console.log(`   ${op.padEnd(22)} ${(us / runs / 1000).toFixed(3)} ms`);
  console.log('   slowest nodes:');
  for (const [n, us] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOPN ?? 14)))
    console.log(`     ${(us / runs / 1000).toFixed(3)} ms  ${n}`);
}
await shutdownRuntime();
