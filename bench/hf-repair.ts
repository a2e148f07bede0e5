/**
 * Repair of vit-fmnist-backdoor (two HF ViT folders, no ONNX) by path connection, end to end as a user runs it, with
 * the acceptance of issue 12: t chosen on held-out clean data only, then on fmnist-backdoor's test files ASR ≤ 10 %
 * and clean accuracy ≥ the endpoints' mean − 2 points; the written HF folder reopens and evaluates identically. Not a
 * test (minutes of training); test/model-io/repair-hf.test.ts runs a short version.
 *
 *   node --import tsx bench/hf-repair.ts [--l2 C] [--epochs E] [--samples N] [--polish-epochs P] [--polish-lr LR] [--polish-mixup P]
 *     [--recipe auto|convnet|transformer] [--polish-samples N] [--polish-tries K] [--unlearn S] [--cleanse-steps N] [--lr LR]
 *     [--seed S] [--out DIR] [--json]
 * Unset options keep `repair`'s defaults (src/landscape/repair/repair.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { repair, type RepairOptionsInput } from '../src/landscape/repair/repair.js';
import { loadModelData } from '../src/data/model-data.js';
import { modelForward } from '../src/model-io/engine.js';
import { openModel } from '../src/model-io/open.js';
import { writeModelLike } from '../src/model-io/write.js';
import { shutdownRuntime } from '../src/runtime/session.js';

const FIX = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));
const VIT = join(FIX, 'vit-fmnist-backdoor');
const DATA = join(FIX, 'fmnist-backdoor');
const { values } = parseArgs({
  options: {
    l2: { type: 'string' },
    epochs: { type: 'string' },
    samples: { type: 'string' },
    'polish-epochs': { type: 'string' },
    'polish-lr': { type: 'string' },
    'polish-mixup': { type: 'string' },
    recipe: { type: 'string' },
    'polish-samples': { type: 'string' },
    'polish-tries': { type: 'string' },
    unlearn: { type: 'string' },
    'cleanse-steps': { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    delta: { type: 'string' },
    curve: { type: 'string' },
    bends: { type: 'string' },
    eval: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  },
});
const n = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const options: RepairOptionsInput = Object.fromEntries(
  Object.entries({
    l2: n(values.l2),
    epochs: n(values.epochs),
    samplesPerEpoch: n(values.samples),
    polishEpochs: n(values['polish-epochs']),
    polishLr: n(values['polish-lr']),
    polishMixup: n(values['polish-mixup']),
    recipe: values.recipe as RepairOptionsInput['recipe'],
    polishSamplesPerEpoch: n(values['polish-samples']),
    polishTries: n(values['polish-tries']),
    unlearn: n(values.unlearn),
    cleanseSteps: n(values['cleanse-steps']),
    lr: n(values.lr),
    seed: n(values.seed),
    delta: n(values.delta),
    curve: values.curve,
    bends: n(values.bends),
    ts: values.eval ? values.eval.split(',').map(Number) : undefined,
    baseline: false,
  }).filter(([, v]) => v !== undefined),
);
const ref = JSON.parse(readFileSync(join(VIT, 'reference.json'), 'utf8')) as {
  models: Record<'model_a' | 'model_b', { clean_acc: number; asr: number }>;
};
console.log(execFileSync('uptime', { encoding: 'utf8' }).trim());
console.log('options', JSON.stringify(options));
const t0 = performance.now();
const r = await repair(
  {
    modelA: join(VIT, 'model_a'),
    modelB: join(VIT, 'model_b'),
    data: join(DATA, 'clean_subset.safetensors'),
    triggered: join(DATA, 'test_triggered.safetensors'),
    reportData: [{ name: 'test', path: join(DATA, 'test_clean.safetensors') }],
  },
  options,
);
const seconds = (performance.now() - t0) / 1000;
const pct = (v: number) => (100 * v).toFixed(2).padStart(6);
console.log('   t   held-out  test-clean   ASR');
for (const p of r.report.along)
  console.log(
    `${p.t.toFixed(2).padStart(5)}  ${pct(p.sets.heldOut.accuracy)}   ${pct(p.sets.test.accuracy)}   ${pct(p.sets.triggered.accuracy)}${p.t === r.report.choice.t ? '  <- chosen' : ''}`,
  );
console.log(`curve training loss by epoch: ${r.report.training.epochs.map((e) => e.loss.toFixed(3)).join(' ')}`);
for (const e of r.report.cleanse?.endpoints ?? [])
  console.log(
    `trigger reversal ${e.endpoint}: L1 ${e.l1.map((v) => (v === null ? '-' : v.toFixed(1))).join(' ')}; flagged ${e.flagged.join(', ') || 'none'}` +
      e.centres.map((c) => ` (class ${c.target} mask centre row ${c.row.toFixed(1)}, col ${c.col.toFixed(1)})`).join(''),
  );
for (const v of r.report.cleanse?.verification ?? [])
  console.log(
    `verify t = ${v.t}: ${v.targets.map((x) => `class ${x.target} L1 ${x.l1?.toFixed(1) ?? '-'} (needs ≥ ${x.threshold.toFixed(1)})`).join(', ')} → ${v.pass ? 'pass' : 'fail'}`,
  );
if (r.report.cleanse) console.log(`trigger reversal ${r.report.cleanse.seconds.toFixed(0)} s`);
console.log(`choice: t = ${r.report.choice.t} (${r.report.choice.reason})`);
if ('tried' in r.report.choice)
  console.log(
    `polished (held-out): ${r.report.choice.tried.map((x) => `t ${x.t}: ${pct(x.curveAccuracy)} → ${pct(x.accuracy)}`).join('; ')}`,
  );
const rep = r.report.repaired;
const cleanMean = (ref.models.model_a.clean_acc + ref.models.model_b.clean_acc) / 2;
const clean = rep.report!.test.accuracy;
const asr = rep.triggered!.accuracy;
console.log(
  `repaired: test clean ${pct(clean)} % (goal ≥ ${pct(cleanMean - 0.02)}), ASR ${pct(asr)} % (goal ≤ 10), held-out ${pct(rep.heldOut.accuracy)}; ${seconds.toFixed(0)} s`,
);
console.log(
  `endpoints (reference): clean ${pct(ref.models.model_a.clean_acc)} / ${pct(ref.models.model_b.clean_acc)}, ASR ${pct(ref.models.model_a.asr)} / ${pct(ref.models.model_b.asr)}`,
);
console.log(`acceptance: ASR ${asr <= 0.1 ? 'met' : 'MISSED'}, clean ${clean >= cleanMean - 0.02 ? 'met' : 'MISSED'}`);
// Written as an HF folder, reopened, evaluated: the same numbers.
const out = values.out ?? (await mkdtemp(join(tmpdir(), 'ws-hf-repair-')));
try {
  await writeModelLike(r.source, r.params, values.out ? out : join(out, 'model'));
  const m = await openModel(values.out ? out : join(out, 'model'));
  const { forward, values: w } = await modelForward(m);
  // Batches of 500, repair's evalBatchSize: the same float64 sums as the report's.
  const test = await forward.evaluate(w, await loadModelData(m, { data: join(DATA, 'test_clean.safetensors') }), {
    loss: 'classification',
    batchSize: 500,
  });
  const trig = await forward.evaluate(w, await loadModelData(m, { data: join(DATA, 'test_triggered.safetensors') }, { triggered: true }), {
    loss: 'classification',
    batchSize: 500,
  });
  console.log(
    `reopened ${m.route} ${m.architecture}: test clean ${pct(test.accuracy)}, ASR ${pct(trig.accuracy)} — ${test.accuracy === clean && trig.accuracy === asr && test.loss === rep.report!.test.loss ? 'identical' : 'DIFFERENT'}`,
  );
} finally {
  if (!values.out) await rm(out, { recursive: true, force: true });
}
if (values.json)
  console.log(
    JSON.stringify({ options, seconds, choice: r.report.choice, repaired: rep, along: r.report.along, cleanse: r.report.cleanse }),
  );
await shutdownRuntime();
