/**
 * Repair of Hugging Face folders written back as Hugging Face folders (a short run; bench/hf-repair.ts runs the full
 * protocol and checks the ASR / clean-accuracy goals): the output holds every non-weight file of the input and a
 * model.safetensors with the input's tensor names and dtypes; reopened, it evaluates to exactly the report's numbers
 * (also for a float16 checkpoint, whose report is computed on the rounded weights); t is chosen without the triggered
 * data; an existing non-empty output folder is refused before any training; --format onnx writes the ONNX graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repair, type RepairOptionsInput } from '../../src/landscape/repair/repair.js';
import { loadModelData } from '../../src/data/model-data.js';
import { modelForward } from '../../src/model-io/engine.js';
import { openModel } from '../../src/model-io/open.js';
import { writeModelLike } from '../../src/model-io/write.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { fixture } from '../helpers/fixtures.js';
import { readAllTensors, writeHfFolder } from '../helpers/hf-folders.js';

const VIT = fixture('vit-fmnist-backdoor');
const D = (f: string) => fixture('fmnist-backdoor', f);
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const SHORT: RepairOptionsInput = {
  epochs: 1,
  samplesPerEpoch: 384,
  polishEpochs: 1,
  polishSamplesPerEpoch: 256,
  polishTries: 1,
  ts: [0, 0.5, 1],
  baseline: false,
  l2: 0.03,
  polishLr: 0.01,
  // Trigger reversal (minutes at its default steps) is checked in test/landscape/repair/cleanse.test.ts and run on
  // this pair in full by bench/hf-repair.ts.
  unlearn: 0,
};

function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 }, (e, out, err) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err }),
    );
  });
}

async function tensorTable(path: string): Promise<string[]> {
  const r = await openSafetensors(path);
  try {
    return r.tensors.map((t) => `${t.name} ${t.dtype} [${t.shape.join(',')}]`).sort();
  } finally {
    await r.close();
  }
}

/** The reopened folder's test-clean accuracy/loss and ASR, as the report computes them (batches of 500, repair's evalBatchSize). */
async function reopened(dir: string) {
  const m = await openModel(dir);
  const { forward, values } = await modelForward(m);
  const test = await forward.evaluate(values, await loadModelData(m, { data: D('test_clean.safetensors') }), {
    loss: 'classification',
    batchSize: 500,
  });
  const trig = await forward.evaluate(values, await loadModelData(m, { data: D('test_triggered.safetensors') }, { triggered: true }), {
    loss: 'classification',
    batchSize: 500,
  });
  return { m, test, trig };
}

test("repair of two ViT folders → a new HF folder that reopens to the report's numbers; t chosen without triggered data", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-repair-hf-'));
  try {
    const inputs = {
      modelA: join(VIT, 'model_a'),
      modelB: join(VIT, 'model_b'),
      data: D('clean_subset.safetensors'),
      reportData: [{ name: 'test', path: D('test_clean.safetensors') }],
    };
    const r = await repair({ ...inputs, triggered: D('test_triggered.safetensors') }, SHORT);
    const blind = await repair(inputs, SHORT);
    assert.equal(r.report.choice.t, blind.report.choice.t);
    // A Hugging Face folder takes the transformer recipe: what SHORT leaves unset (polishing mixup) comes from it.
    assert.equal(r.report.options.recipe, 'transformer');
    assert.equal(r.report.options.polishMixup, 0.5);
    assert.match(r.report.method, /transformer recipe: .* with mixup on 0\.5 of the rows/);
    for (const [k, v] of r.params) assert.deepEqual(blind.params.get(k), v, k);
    assert.deepEqual(r.report.routes, [
      { route: 'config.json', architecture: 'ViTForImageClassification' },
      { route: 'config.json', architecture: 'ViTForImageClassification' },
    ]);
    const out = join(dir, 'fixed');
    const w = await writeModelLike(r.source, r.params, out);
    assert.equal(w.format, 'hf');
    assert.deepEqual([...(w.copied ?? [])].sort(), ['config.json', 'preprocessor_config.json', 'reference.json', 'training.json']);
    assert.deepEqual((await readdir(out)).sort(), [
      'config.json',
      'model.safetensors',
      'preprocessor_config.json',
      'reference.json',
      'training.json',
    ]);
    assert.deepEqual(await tensorTable(join(out, 'model.safetensors')), await tensorTable(join(VIT, 'model_a', 'model.safetensors')));
    const st = await openSafetensors(join(out, 'model.safetensors'));
    assert.equal(st.metadata.format, 'pt');
    await st.close();
    const { m, test: t, trig } = await reopened(out);
    assert.equal(m.route, 'config.json');
    assert.equal(t.accuracy, r.report.repaired.report!.test.accuracy);
    assert.equal(t.loss, r.report.repaired.report!.test.loss);
    assert.equal(trig.accuracy, r.report.repaired.triggered!.accuracy);
    // A second write into the now non-empty folder is refused.
    await assert.rejects(writeModelLike(r.source, r.params, out), /exists and is not empty/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a float16 checkpoint: the repaired weights are written as float16 and the report is computed on them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-repair-hf-'));
  try {
    for (const name of ['model_a', 'model_b']) {
      const t = await readAllTensors(join(VIT, name, 'model.safetensors'));
      const cfg = JSON.parse(await readFile(join(VIT, name, 'config.json'), 'utf8'));
      await writeHfFolder(
        join(dir, name),
        { ...cfg, torch_dtype: 'float16' },
        new Map([...t].map(([k, v]) => [k, { ...v, dtype: 'F16' as const }])),
      );
    }
    const r = await repair(
      {
        modelA: join(dir, 'model_a'),
        modelB: join(dir, 'model_b'),
        data: D('clean_subset.safetensors'),
        triggered: D('test_triggered.safetensors'),
        reportData: [{ name: 'test', path: D('test_clean.safetensors') }],
      },
      { ...SHORT, polishEpochs: 0 },
    );
    await writeModelLike(r.source, r.params, join(dir, 'fixed'));
    assert.ok((await tensorTable(join(dir, 'fixed', 'model.safetensors'))).every((l) => l.includes(' F16 ')));
    const { test: t, trig } = await reopened(join(dir, 'fixed'));
    assert.equal(t.accuracy, r.report.repaired.report!.test.accuracy);
    assert.equal(t.loss, r.report.repaired.report!.test.loss);
    assert.equal(trig.accuracy, r.report.repaired.triggered!.accuracy);
    // w(t) itself is not representable in float16: the report's `repaired` is the rounded model, not the curve's row.
    const row = r.report.along.find((p) => p.t === r.report.choice.t)!;
    assert.notEqual(row.sets.test.loss, t.loss);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CLI repair of HF folders: --out DIR writes a folder (a non-empty one is refused before training), --format onnx an ONNX file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-repair-hf-'));
  try {
    const common = [
      '--data',
      D('clean_subset.safetensors'),
      '--epochs',
      '1',
      '--samples-per-epoch',
      '256',
      '--polish-epochs',
      '0',
      '--eval',
      '0,0.5,1',
      '--no-baseline',
      '--json',
    ];
    const full = join(dir, 'taken');
    await mkdir(full);
    await writeFile(join(full, 'x'), '');
    const refused = await cli('repair', join(VIT, 'model_a'), join(VIT, 'model_b'), '--out', full, ...common);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /taken exists and is not empty/);
    const onnx = await cli(
      'repair',
      join(VIT, 'model_a'),
      join(VIT, 'model_b'),
      '--out',
      join(dir, 'fixed.onnx'),
      '--format',
      'onnx',
      ...common,
    );
    assert.equal(onnx.code, 0, onnx.err);
    const rep = JSON.parse(onnx.out) as { output: { onnx: string; safetensors: string }; routes: { route: string }[] };
    assert.deepEqual(rep.output, { onnx: join(dir, 'fixed.onnx'), safetensors: join(dir, 'fixed.safetensors') });
    assert.equal(rep.routes[0].route, 'config.json');
    const m = await openModel(join(dir, 'fixed.onnx'));
    assert.equal(m.route, 'onnx');
    const bad = await cli('repair', join(VIT, 'model_a'), '--out', join(dir, 'x.onnx'), '--format', 'hf2', ...common);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--format must be hf or onnx/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
