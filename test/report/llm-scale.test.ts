/**
 * Acceptance (issue 13): sharded BF16 and F16 folders give the same rows as one F32 file of the same weights; FP8
 * with per-tensor, per-row and block scales gives the rows of its dequantised values; WeightWatcher's size limits
 * skip and list a >50,000-row embedding by default and analyse it with allLayers; the per-layer cache serves an
 * unchanged model without a single eigensolve; a file without weight matrices is an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { analyze } from '../../src/report/analyze.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { toFloat64 } from '../../src/io/dtype.js';
import { gaussian } from '../linalg/linalg-fixtures.js';
import { fixture } from '../helpers/fixtures.js';
import { isCode } from '../helpers/errors.js';
import { withTmpDir } from '../helpers/tmp.js';
import { TINY, llamaWeights, writeSharded, writeSingleFile } from '../helpers/llm-folder.js';

const withTmp = (body: (dir: string) => Promise<void>): Promise<void> => withTmpDir('ws-llm-', body);

for (const [dtype, shards] of [
  ['BF16', 3],
  ['F16', 2],
] as const) {
  test(`${dtype} in ${shards} shards gives the rows of one F32 file of the same weights`, () =>
    withTmp(async (dir) => {
      const w = llamaWeights(TINY, dtype);
      const single = await writeSingleFile(join(dir, 'f32'), w, 'F32');
      const sharded = await writeSharded(join(dir, 'sharded'), w, dtype, shards);
      const a = await analyze(single, { workers: 1 });
      const b = await analyze(sharded, { workers: 1 });
      assert.equal(a.layers.length, 2 + 7 * TINY.layers);
      assert.deepEqual(b.layers, a.layers);
      assert.deepEqual(b.skipped, a.skipped);
      assert.equal(b.model.family?.name, 'llama');
      // the worker pool, each worker streaming its layers from the shards: the same rows up to BLAS threading
      const c = await analyze(sharded, { workers: 2, fits: ['pl'] });
      const ap = await analyze(single, { workers: 1, fits: ['pl'] });
      c.layers.forEach((r, i) => {
        assert.equal(r.name, ap.layers[i].name);
        for (const k of ['alpha', 'lambda_max', 'log_norm', 'stable_rank'] as const) {
          assert.ok(
            Math.abs((r[k] as number) - (ap.layers[i][k] as number)) <= 1e-9 * Math.abs(ap.layers[i][k] as number),
            `${r.name} ${k}`,
          );
        }
      });
      assert.equal(c.work?.layers_computed, c.layers.length);
    }));
}

/** The FP8 E4M3 value nearest to v (brute force over the 256 codes; ties: the first found). */
const E4M3 = toFloat64(
  'F8_E4M3',
  Uint8Array.from({ length: 256 }, (_, i) => i),
);
function toE4M3(v: number): number {
  let best = 0;
  for (let b = 0; b < 256; b++) if (Number.isFinite(E4M3[b]) && Math.abs(E4M3[b] - v) < Math.abs(E4M3[best] - v)) best = b;
  return best;
}

test('FP8 E4M3 with per-tensor, per-row and block scales: the rows of the dequantised weights', () =>
  withTmp(async (dir) => {
    const shapes: Record<string, [number, number]> = { 'a.weight': [64, 40], 'b.weight': [30, 70], 'c.weight': [50, 33] };
    const fp8: Parameters<typeof writeSafetensors>[1][number][] = [];
    const f64: Parameters<typeof writeSafetensors>[1][number][] = [];
    let seed = 1;
    for (const [name, [r, c]] of Object.entries(shapes)) {
      const v = gaussian(r * c, seed++).map((x) => 0.02 * x);
      // scales: one (a), one per row (b), one per 16×16 block (c, as DeepSeek's weight_scale_inv)
      const kind = name[0];
      const br = kind === 'c' ? 16 : kind === 'b' ? 1 : r;
      const bc = kind === 'c' ? 16 : c;
      const gr = Math.ceil(r / br);
      const gc = Math.ceil(c / bc);
      const scales = new Float64Array(gr * gc);
      for (let i = 0; i < gr; i++) {
        for (let j = 0; j < gc; j++) {
          let amax = 0;
          for (let y = i * br; y < Math.min(r, (i + 1) * br); y++)
            for (let x = j * bc; x < Math.min(c, (j + 1) * bc); x++) amax = Math.max(amax, Math.abs(v[y * c + x]));
          scales[i * gc + j] = Math.fround(amax / 448);
        }
      }
      const q = new Uint8Array(r * c);
      const deq = new Float64Array(r * c);
      for (let y = 0; y < r; y++) {
        for (let x = 0; x < c; x++) {
          const s = scales[Math.floor(y / br) * gc + Math.floor(x / bc)];
          q[y * c + x] = toE4M3(v[y * c + x] / s);
          deq[y * c + x] = E4M3[q[y * c + x]] * s; // exact in float64
        }
      }
      fp8.push({ name, dtype: 'F8_E4M3', shape: [r, c], data: q });
      const scaleShape = kind === 'a' ? [] : kind === 'b' ? [r, 1] : [gr, gc];
      fp8.push({ name: `${name}${kind === 'c' ? '_scale_inv' : '_scale'}`, dtype: 'F32', shape: scaleShape, data: scales });
      f64.push({ name, dtype: 'F64', shape: [r, c], data: deq });
    }
    await writeSafetensors(join(dir, 'fp8.safetensors'), fp8);
    await writeSafetensors(join(dir, 'f64.safetensors'), f64);
    const a = await analyze(join(dir, 'fp8.safetensors'), { workers: 1 });
    const b = await analyze(join(dir, 'f64.safetensors'), { workers: 1 });
    assert.deepEqual(
      a.layers.map((l) => l.name),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(a.layers, b.layers);
    // a scale that fits no rule is refused, not guessed
    await writeSafetensors(join(dir, 'bad.safetensors'), [fp8[0], { ...fp8[1], shape: [3, 5], data: new Float64Array(15).fill(1) }]);
    await assert.rejects(analyze(join(dir, 'bad.safetensors')), isCode('unsupported-dtype'));
  }));

test('skip rules: a 50,001-row embedding is skipped and listed with its cost by default, analysed with allLayers', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'emb.safetensors');
    await writeSafetensors(path, [
      { name: 'embed.weight', dtype: 'BF16', shape: [50001, 16], data: gaussian(50001 * 16, 2) },
      { name: 'proj.weight', dtype: 'BF16', shape: [32, 16], data: gaussian(32 * 16, 3) },
    ]);
    const def = await analyze(path, { fits: ['pl'] });
    assert.deepEqual(
      def.layers.map((l) => l.name),
      ['proj'],
    );
    const skip = def.skipped!.find((s) => s.name === 'embed')!;
    assert.match(skip.reason, /N = 50001 > max_N 50000 \(WeightWatcher's default\); --all-layers analyses it/);
    assert.equal(skip.flops, 50001 * 16 * 16 + (4 / 3) * 16 ** 3);
    const all = await analyze(path, { fits: ['pl'], allLayers: true });
    assert.deepEqual(
      all.layers.map((l) => [l.name, l.N, l.M, l.num_evals]),
      [
        ['embed', 50001, 16, 16],
        ['proj', 32, 16, 16],
      ],
    );
    assert.equal(all.skipped!.length, 0);
  }));

test('the per-layer cache: a second analysis solves no eigenproblem and gives the same rows; other fits reuse it', () =>
  withTmp(async (dir) => {
    const model = await writeSharded(join(dir, 'm'), llamaWeights(TINY, 'BF16', 7), 'BF16', 2);
    const cacheDir = join(dir, 'cache');
    const first = await analyze(model, { workers: 1 }, { cacheDir });
    assert.equal(first.work?.layers_computed, first.layers.length);
    assert.equal(first.work?.layers_cached, 0);
    const second = await analyze(model, { workers: 1 }, { cacheDir });
    assert.equal(second.work?.layers_computed, 0);
    assert.equal(second.work?.layers_cached, first.layers.length);
    assert.deepEqual(second.layers, first.layers);
    const plOnly = await analyze(model, { workers: 1, fits: ['pl'] }, { cacheDir });
    assert.equal(plOnly.work?.layers_computed, 0);
    // a changed tensor is recomputed (its file changed), the others are not
    const w = llamaWeights(TINY, 'BF16', 7);
    w.get('model.layers.0.mlp.up_proj.weight')!.values.reverse();
    await writeSharded(join(dir, 'm'), w, 'BF16', 2);
    const third = await analyze(model, { workers: 1 }, { cacheDir });
    // both shards were rewritten (new mtimes, so every tensor is hashed again), but only one tensor's content changed
    assert.equal(third.work?.layers_computed, 1);
    const fourth = await analyze(model, { workers: 1 }, { cacheDir });
    assert.equal(fourth.work?.layers_computed, 0);
    assert.notDeepEqual(
      third.layers.find((l) => l.name.endsWith('0.mlp.up_proj')),
      first.layers.find((l) => l.name.endsWith('0.mlp.up_proj')),
    );
  }));

test('a file without weight matrices is an error naming its tensors, not an empty report', async () => {
  await assert.rejects(analyze(fixture('fmnist-hessian', 'batch.safetensors')), (e: unknown) => {
    assert.ok(isCode('no-weight-matrices')(e));
    assert.match((e as Error).message, /^no weight matrices found \(2 tensors: x \[1000, 1, 28, 28\] F32, y \[1000\] I64\)$/);
    return true;
  });
  // weight matrices that the filters skip are not "no weight matrices": the report lists why
  const r = await analyze(fixture('stories260k'), { minEvals: 1000, fits: ['pl'] });
  assert.equal(r.layers.length, 0);
  assert.ok(r.skipped!.some((s) => /min_evals 1000/.test(s.reason)));
});
