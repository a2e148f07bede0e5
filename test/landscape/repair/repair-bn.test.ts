/**
 * Repair of a graph with BatchNorm (synthetic two-BN model, 2 epochs × 96 samples, polish 1 epoch): the exported
 * model carries running statistics recomputed at the chosen point on the clean training part, as update_bn would;
 * trigger reversal (unlearning) is skipped by a recipe and refused when asked for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnxModel, tensorProtoToFloat64, writeOnnxModel } from '../../../src/io/onnx-model.js';
import { writeSafetensors } from '../../../src/io/safetensors-writer.js';
import { loadDataset } from '../../../src/runtime/dataset.js';
import { createBnStatsRunner } from '../../../src/landscape/connectivity/bn.js';
import { curveParamSpecs } from '../../../src/landscape/connectivity/connect.js';
import { splitClean } from '../../../src/landscape/connectivity/split.js';
import { repair, writeRepaired } from '../../../src/landscape/repair/repair.js';
import { Rng } from '../../../src/util/random.js';
import { isCode } from '../../helpers/errors.js';
import { bnModel, C, HW, K } from '../connectivity/bn-model.js';

test('repair of a BatchNorm model exports the statistics recomputed at the chosen t (2 epochs × 96 samples)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-repair-bn-'));
  try {
    const rng = new Rng(9);
    const rand = (n: number, s = 1, o = 0) => Float32Array.from({ length: n }, () => o + s * rng.normal());
    const params = () => ({
      'bn1.weight': rand(C, 0.3, 1),
      'bn1.bias': rand(C, 0.3),
      'bn2.weight': rand(C, 0.3, 1),
      'bn2.bias': rand(C, 0.3),
      'fc.weight': rand(K * C * HW, 0.2),
      'fc.bias': rand(K, 0.1),
    });
    await writeOnnxModel(join(dir, 'a.onnx'), bnModel(params()));
    await writeOnnxModel(join(dir, 'b.onnx'), bnModel(params()));
    const N = 120;
    const x = rand(N * C * HW, 1.5, 0.5);
    // Labels from a fixed linear rule, so the data is learnable.
    const w = rand(K * C * HW);
    const y = BigInt64Array.from({ length: N }, (_, n) => {
      let best = 0;
      let bv = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let j = 0; j < C * HW; j++) s += w[k * C * HW + j] * x[n * C * HW + j];
        if (s > bv) [bv, best] = [s, k];
      }
      return BigInt(best);
    });
    const data = join(dir, 'clean.safetensors');
    await writeSafetensors(data, [
      { name: 'x', dtype: 'F32', shape: [N, C, 4, 4], data: new Uint8Array(x.buffer) },
      { name: 'y', dtype: 'I64', shape: [N], data: new Uint8Array(y.buffer) },
    ]);
    const r = await repair(
      { modelA: join(dir, 'a.onnx'), modelB: join(dir, 'b.onnx'), data },
      {
        epochs: 2,
        samplesPerEpoch: 96,
        batchSize: 32,
        ts: [0, 0.5, 1],
        heldOut: 0.25,
        polishEpochs: 1,
        baseline: false,
        seed: 2,
      },
    );
    assert.equal(r.report.data.train, 90);
    assert.equal(r.report.choice.t, 0.5);
    // Recompute update_bn at the exported parameters on the same training part.
    const model = await readOnnxModel(join(dir, 'a.onnx'));
    const specs = curveParamSpecs(model);
    const { train } = splitClean(await loadDataset(data), 0.25, 2);
    const runner = await createBnStatsRunner(model, specs);
    const want = await runner!.compute(r.params, train, 500);
    const out = join(dir, 'fixed.onnx');
    await writeRepaired(r, out);
    const written = await readOnnxModel(out);
    for (const name of ['bn1.running_mean', 'bn1.running_var', 'bn2.running_mean', 'bn2.running_var']) {
      const t = (written.graph?.initializer ?? []).find((i) => i.name === name)!;
      const got = await tensorProtoToFloat64(t, dir);
      assert.deepEqual([...got], [...want.get(name)!].map(Number), name);
      assert.ok(
        got.some((v) => v !== (name.endsWith('var') ? 1 : 0)),
        `${name} was recomputed`,
      );
    }
    // Trigger reversal cannot run with BatchNorm: the transformer recipe skips it with the reason in the report; an
    // explicit unlearn is refused with a clear error before the curve trains.
    const short = { epochs: 1, samplesPerEpoch: 32, batchSize: 32, ts: [0, 0.5, 1], heldOut: 0.25, polishEpochs: 0, baseline: false };
    const pair = { modelA: join(dir, 'a.onnx'), modelB: join(dir, 'b.onnx'), data };
    const skipped = await repair(pair, { ...short, recipe: 'transformer' });
    assert.equal(skipped.report.options.unlearn, 0.2);
    assert.match(skipped.report.cleanse?.skipped ?? '', /without BatchNormalization, so the recipe's unlearning was skipped/);
    assert.deepEqual(skipped.report.cleanse?.endpoints, []);
    await assert.rejects(repair(pair, { ...short, unlearn: 0.2 }), isCode('invalid-input', /BatchNormalization: set unlearn 0/));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
