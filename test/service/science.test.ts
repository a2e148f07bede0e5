/**
 * The science jobs of issue 14 over HTTP: POST /v1/collapses, /v1/flatness, /v1/taxonomies (and GET of their
 * results) give the library's numbers on the same inputs (and neural_collapse.json's within 1e-6); bad input is a
 * clear 4xx (schema: 400; over a server cap: 422 naming it) or, for what only the graph shows (a language model's
 * head), a job failing at once with invalid-input; `criterion` reaches the Hessian and connectivity jobs.
 */
import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collapseOnFiles } from '../../src/landscape/collapse/run.js';
import { flatnessOnFiles } from '../../src/landscape/flatness/run.js';
import { taxonomy } from '../../src/landscape/taxonomy/run.js';
import { fixture, SHARED } from '../helpers/fixtures.js';
import { post, startTestServer, waitJob, type Json } from './helpers.js';

const NC = JSON.parse(readFileSync(join(SHARED, 'reference', 'neural_collapse.json'), 'utf8')).cases as Record<string, Json>;
const LE = JSON.parse(readFileSync(join(SHARED, 'reference', 'local_entropy.json'), 'utf8')).rows as Json[];
const NC_KEYS = ['nc1', 'nc2_etf', 'nc2_equinorm', 'nc2_equiangular', 'nc3', 'nc3_zhu'] as const;

const FILES = {
  mlp48: fixture('fmnist-hessian', 'mlp48.onnx'),
  batch: fixture('fmnist-hessian', 'batch.safetensors'),
  modelA: fixture('fmnist-backdoor', 'model_a.onnx'),
  testClean: fixture('fmnist-backdoor', 'test_clean.safetensors'),
  gpt2: fixture('gpt2-tiny', 'onnx', 'model.onnx'),
  lm: fixture('gpt2-tiny', 'lm_batch.safetensors'),
  m1: fixture('surface-mlp', 'm1.onnx'),
  m2: fixture('surface-mlp', 'm2.onnx'),
  m3: fixture('surface-mlp', 'm3.onnx'),
  m4: fixture('surface-mlp', 'm4.onnx'),
  train: fixture('surface-mlp', 'clean_subset.safetensors'),
  test: fixture('surface-mlp', 'test.safetensors'),
};

/** Relative closeness for numbers that went through the same code in another thread. */
function close(a: number | null, b: number | null, rel: number, what: string): void {
  assert.ok(a !== null && b !== null, `${what}: ${a} vs ${b} (null where a number is due)`);
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${what}: ${a} vs ${b}`);
}

describe('science API: collapse, flatness, taxonomy', () => {
  let s: Awaited<ReturnType<typeof startTestServer>>;
  const id: Record<string, string> = {};
  const result = async (path: string, body: unknown): Promise<{ job: string; r: Json }> => {
    const sub = await post(s.url, path, body);
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    const job = await waitJob(s.url, sub.body.job.id, {}, 300_000);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(job.result, `${path}/${sub.body.job.id}`);
    const r = (await (await fetch(`${s.url}${job.result}`)).json()) as Json;
    assert.ok(!JSON.stringify(r).includes(s.dataDir), 'no server paths in results');
    return { job: sub.body.job.id, r };
  };

  before(async () => {
    s = await startTestServer();
    for (const [key, file] of Object.entries(FILES)) {
      const isData = file.endsWith('.safetensors');
      const name = file.split('/').pop();
      const r = await post(s.url, `/v1/${isData ? 'datasets' : 'models'}?name=${name}`, readFileSync(file), true);
      assert.ok(r.status === 201 || r.status === 200, `${key}: ${JSON.stringify(r.body)}`);
      id[key] = r.body.id;
    }
  });
  after(async () => {
    await s.cleanup();
  });

  test('POST /v1/collapses: mlp48 on its batch and model_a on test_clean equal neural_collapse.json (1e-6) and the library; cached', async () => {
    const cases = [
      ['mlp48', 'batch', 'fmnist-hessian/mlp48 on batch'],
      ['modelA', 'testClean', 'fmnist-backdoor/model_a on test_clean'],
    ] as const;
    for (const [m, d, name] of cases) {
      const body = { model: id[m], dataset: id[d], options: { batchSize: 1000 } };
      const { job, r } = await result('/v1/collapses', body);
      const ref = NC[name];
      for (const k of NC_KEYS) close(r[k], ref[k], 1e-6, `${name} ${k}`);
      assert.equal(r.nc4, ref.nc4_ncc_mismatch);
      assert.equal(r.num_classes, ref.num_classes);
      assert.equal(r.feature_dim, ref.feature_dim);
      assert.equal(r.samples, ref.samples);
      assert.equal(r.model, id[m]);
      assert.equal(r.dataset, id[d]);
      const lib = await collapseOnFiles(FILES[m], FILES[d], { batchSize: 1000 });
      for (const k of [...NC_KEYS, 'nc4', 'accuracy', 'ncc_accuracy'] as const) close(r[k], lib[k], 1e-12, `${name} ${k} vs library`);
      assert.equal(r.mean_cosines.length, 10);
      r.mean_cosines.forEach((row: number[], i: number) =>
        row.forEach((v, j) => close(v, lib.mean_cosines[i][j], 1e-12, `cos[${i}][${j}]`)),
      );
      const again = await post(s.url, '/v1/collapses', { ...body, options: { ...body.options, device: 'cpu' } });
      assert.equal(again.status, 200, 'the device is not part of the cache key');
      assert.equal(again.body.job.id, job);
    }
  });

  test('POST /v1/flatness: rows equal the library on the same options and agree with local_entropy.json within 4 combined stderr', async () => {
    const options = { gamma: [1e3, 1e4, 1e5], draws: 64, seed: 7, trace: 'hutchinson' as const, traceMinIter: 10, traceMaxIter: 10 };
    const { r } = await result('/v1/flatness', { model: id.mlp48, dataset: id.batch, options });
    const lib = await flatnessOnFiles(FILES.mlp48, FILES.batch, options);
    assert.equal(r.rows.length, 3);
    assert.equal(r.draws, 64);
    r.rows.forEach((row: Json, g: number) => {
      for (const k of ['gamma', 'local_entropy', 'stderr', 'second_order', 'second_order_stderr', 'loss', 'mean_perturbed_loss'] as const) {
        close(row[k], lib.rows[g][k] as number, 1e-9, `γ=${row.gamma} ${k} vs library`);
      }
      const ref = LE[g];
      assert.equal(row.gamma, ref.gamma);
      const se = Math.hypot(row.stderr, ref.stderr);
      assert.ok(
        Math.abs(row.local_entropy - ref.local_entropy) <= 4 * se,
        `γ=${row.gamma}: ${row.local_entropy} vs ${ref.local_entropy} ± ${se}`,
      );
      close(row.loss, ref.loss, 1e-5, 'loss');
    });
    assert.equal(r.trace.method, 'hutchinson');
    assert.equal(r.trace.probes, 10);
  });

  test("POST /v1/taxonomies: the library's report with models named by id; a test set adds test accuracy", async () => {
    const options = { epochs: 1, samplesPerEpoch: 256, hessianSamples: 100, ckaSamples: 256, thresholds: { sharpLambda: 5 } };
    const { r } = await result('/v1/taxonomies', { models: [id.m1, id.m2, id.m3], data: id.train, test: id.test, options });
    const lib = await taxonomy({ models: [FILES.m1, FILES.m2, FILES.m3], train: FILES.train, test: FILES.test }, options);
    assert.equal(r.phase, lib.phase);
    assert.deepEqual(r.verdict, lib.verdict);
    assert.deepEqual(
      r.models.map((m: Json) => m.model),
      [id.m1, id.m2, id.m3],
    );
    assert.deepEqual(
      r.pairs.map((p: Json) => [p.a, p.b]),
      [
        [id.m1, id.m2],
        [id.m2, id.m3],
        [id.m3, id.m1],
      ],
    );
    r.models.forEach((m: Json, i: number) => {
      for (const k of ['train_loss', 'train_accuracy', 'lambda_max', 'trace', 'test_accuracy'] as const)
        close(m[k], lib.models[i][k] as number, 1e-9, `model ${i} ${k}`);
    });
    r.pairs.forEach((p: Json, i: number) => {
      for (const k of ['mc', 'mc_loss', 'cka'] as const) close(p[k], lib.pairs[i][k] as number, 1e-9, `pair ${i} ${k}`);
      assert.equal(p.errors.length, 5);
    });
    assert.equal(r.thresholds.sharpLambda, 5);
    assert.equal(r.data, id.train);
    assert.equal(r.test, id.test);
  });

  test('bad input: 400 for the schema, 422 over a cap (named), 404 for unknown ids; token ids refused, a head over maxClasses fails the job at once', async () => {
    const cases: [string, Json, number, RegExp][] = [
      ['/v1/taxonomies', { models: [id.m1, id.m2], data: id.train }, 400, /models/],
      ['/v1/taxonomies', { models: [id.m1, id.m1, id.m2], data: id.train }, 400, /distinct/],
      ['/v1/taxonomies', { models: Array.from({ length: 17 }, () => id.m1), data: id.train }, 400, /models/],
      ['/v1/taxonomies', { models: [id.m1, id.m2, id.m3], data: id.train, options: { epochs: 50_000 } }, 422, /taxonomy\.epochs/],
      ['/v1/taxonomies', { models: [id.m1, id.m2, id.m3], data: id.train, options: { pairs: 'few' } }, 400, /pairs/],
      ['/v1/taxonomies', { models: [id.m1, id.m2, '0'.repeat(64)], data: id.train }, 404, /no model/],
      ['/v1/flatness', { model: id.mlp48, dataset: id.batch, options: { draws: 500_000 } }, 422, /flatness\.draws/],
      [
        '/v1/flatness',
        { model: id.mlp48, dataset: id.batch, options: { gamma: Array.from({ length: 20 }, (_, i) => 10 ** (i / 4)) } },
        422,
        /flatness\.gamma/,
      ],
      ['/v1/flatness', { model: id.mlp48, dataset: id.batch, options: { draws: 1 } }, 400, /draws/],
      ['/v1/flatness', { model: id.mlp48, dataset: id.batch, options: { criterion: 'hinge' } }, 400, /criterion must be/],
      ['/v1/collapses', { model: id.mlp48, dataset: id.batch, options: { batchSize: 100_000 } }, 422, /collapse\.batchSize/],
      ['/v1/collapses', { model: id.mlp48, dataset: '/etc/passwd' }, 400, /dataset/],
      ['/v1/collapses', { model: id.mlp48, dataset: 'f'.repeat(64) }, 404, /no dataset/],
      ['/v1/hessians', { model: id.mlp48, dataset: id.batch, criterion: 'ls:2' }, 400, /label smoothing/],
    ];
    for (const [path, body, status, msg] of cases) {
      const r = await post(s.url, path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body).slice(0, 120)}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), msg);
    }
    // Only the graph tells a vocabulary-sized head from a classifier's: the job fails at once with a clear message.
    // A language model's data (token ids, no labels) is refused at submission.
    const lm = await post(s.url, '/v1/collapses', { model: id.gpt2, dataset: id.lm });
    assert.equal(lm.status, 400, JSON.stringify(lm.body));
    assert.match(lm.body.detail, /needs labelled data/);
    for (const [model, dataset, options, msg] of [[id.mlp48, id.batch, { maxClasses: 4 }, /vocabulary-sized/]] as const) {
      const sub = await post(s.url, '/v1/collapses', { model, dataset, options });
      assert.equal(sub.status, 202, JSON.stringify(sub.body));
      const job = await waitJob(s.url, sub.body.job.id);
      assert.equal(job.state, 'failed');
      assert.equal(job.error?.code, 'invalid-input');
      assert.match(job.error!.message, msg);
      const res = await fetch(`${s.url}/v1/collapses/${sub.body.job.id}`);
      assert.equal(res.status, 409);
    }
  });

  test('criterion reaches the Hessian (its own cache entry) and the connectivity jobs', async () => {
    const base = { model: id.mlp48, dataset: id.batch, options: { topK: 0, samples: 200, batchSize: 200 } };
    const [ce, ls] = [await result('/v1/hessians', base), await result('/v1/hessians', { ...base, criterion: 'ls:0.1' })];
    assert.notEqual(ce.job, ls.job);
    assert.equal(ls.r.criterion, 'ls:0.1');
    assert.ok(ls.r.loss > ce.r.loss + 0.05, `label smoothing raises the loss of a confident model: ${ls.r.loss} vs ${ce.r.loss}`);
    const c = await result('/v1/connectivity', {
      models: [id.m1, id.m2],
      data: id.test,
      options: { epochs: 0, ts: [0, 1], criterion: 'focal:2' },
    });
    assert.equal(c.r.options.criterion, 'focal:2');
    const plain = await result('/v1/connectivity', { models: [id.m1, id.m2], data: id.test, options: { epochs: 0, ts: [0, 1] } });
    assert.ok(c.r.along[0].sets.train.loss < plain.r.along[0].sets.train.loss, 'the focal loss is below cross-entropy');
  });
});
