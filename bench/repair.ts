/**
 * Backdoor-repair benchmark on fmnist-backdoor (never run by tests). Modes:
 *   curve  — the faithful Zhao et al. protocol (quadratic Bezier between model_a and model_b, clean subset tiled to
 *            --samples per epoch, batch 128, lr 0.01, momentum 0.9, L2 --l2, Garipov schedule) for each --seeds;
 *            prints clean accuracy / ASR on test_clean / test_triggered at t = 0, 0.1, …, 1 beside reference.json
 *            and the seconds per curve-training epoch.
 *   repair — the default `repair` recipe (or flags overriding it) on model_a + model_b; prints the choice, the test
 *            clean accuracy and ASR of the output, and the fine-tuning baseline.
 *   cases  — the acceptance protocol of issue 15 on three cases: fmnist-backdoor, fmnist-injected (attack success
 *            on injected.safetensors) and an unseen backdoor case built by test/helpers/backdoor-case.ts (another
 *            trigger, target and seeds, 2000 clean samples); per case and seed the repaired model's test accuracy
 *            against the endpoints' mean − 2 points and its ASR / attack success against 10%. --options JSON overrides
 *            repair options (e.g. '{"l2":1e-4,"epochs":30,"polishEpochs":0}' for Zhao et al.'s protocol).
 * Usage: npx tsx bench/repair.ts curve [--epochs 100] [--samples 10000] [--l2 1e-4] [--seeds 29,30,31] [--json]
 *        npx tsx bench/repair.ts repair [--epochs E] [--samples N] [--l2 C] [--delta D] [--seeds S] [--one-model]
 *        npx tsx bench/repair.ts cases [--cases backdoor,injected,unseen] [--seeds 1,2,3] [--options JSON] [--json]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect } from '../src/landscape/connectivity/connect.js';
import { repair, type RepairInputs, type RepairOptionsInput } from '../src/landscape/repair/repair.js';
import { setRuntimeMode } from '../src/runtime/session.js';
import { buildBackdoorCase } from '../test/helpers/backdoor-case.js';

const FIX = fileURLToPath(new URL('../../shared/fixtures/fmnist-backdoor/', import.meta.url));
const ref = JSON.parse(readFileSync(FIX + 'reference.json', 'utf8')) as {
  pytorch_path_connection: {
    along_t: { t: number; clean_acc: number; asr: number }[];
    fine_tune_baseline: { clean_acc: number; asr: number };
  };
  l2_sweep: { runs: Record<string, { t: number; clean_acc: number; asr: number }[]> };
};
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: 'string' },
    samples: { type: 'string' },
    l2: { type: 'string' },
    seeds: { type: 'string' },
    delta: { type: 'string' },
    lr: { type: 'string' },
    batch: { type: 'string' },
    'one-model': { type: 'boolean' },
    'no-baseline': { type: 'boolean' },
    'polish-epochs': { type: 'string' },
    curve: { type: 'string' },
    bends: { type: 'string' },
    json: { type: 'boolean' },
    cases: { type: 'string' },
    options: { type: 'string' },
  },
});
const mode = positionals[0] ?? 'curve';
const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const seeds = (values.seeds ?? (mode === 'curve' ? '29' : '1')).split(',').map(Number);
const pct = (v: number | undefined) => (v === undefined ? '   -  ' : (100 * v).toFixed(2).padStart(6));
const common = {
  ...(values.epochs ? { epochs: Number(values.epochs) } : {}),
  ...(values.samples ? { samplesPerEpoch: Number(values.samples) } : {}),
  ...(values.l2 ? { l2: Number(values.l2) } : {}),
  ...(values.lr ? { lr: Number(values.lr) } : {}),
  ...(values.batch ? { batchSize: Number(values.batch) } : {}),
  ...(values.curve ? { curve: values.curve as 'bezier' | 'polychain' } : {}),
  ...(values.bends ? { bends: Number(values.bends) } : {}),
};

if (mode === 'curve') {
  const l2 = num(values.l2) ?? 1e-4;
  const refRows = l2 === 1e-4 ? ref.pytorch_path_connection.along_t : (ref.l2_sweep.runs[String(l2)] ?? null);
  const all: unknown[] = [];
  for (const seed of seeds) {
    const { result } = await connect(
      {
        modelA: FIX + 'model_a.onnx',
        modelB: FIX + 'model_b.onnx',
        data: FIX + 'clean_subset.safetensors',
        evalData: [{ name: 'test', path: FIX + 'test_clean.safetensors' }],
        triggered: FIX + 'test_triggered.safetensors',
      },
      { epochs: 100, samplesPerEpoch: 10_000, batchSize: 128, lr: 0.01, momentum: 0.9, l2, seed, ...common },
      {
        progress: (d, t, m) => {
          if (process.stderr.isTTY) process.stderr.write(`\r${((100 * d) / t).toFixed(1)}% ${m}   `);
        },
      },
    );
    all.push(result);
    console.log(
      `seed ${seed}: ${result.training.epochs.length} epochs × ${result.options.samplesPerEpoch} samples, ` +
        `${result.training.secondsPerEpoch?.toFixed(2)} s/epoch, L2 ${l2}, ${result.training.steps} steps`,
    );
    console.log('   t   clean%   ASR%   | ref clean%  ref ASR%');
    for (const r of result.along) {
      const rr = refRows?.find((x) => Math.abs(x.t - r.t) < 1e-9);
      console.log(
        `${r.t.toFixed(1).padStart(4)} ${pct(r.sets.test.accuracy)} ${pct(r.sets.triggered.accuracy)}   | ${pct(rr?.clean_acc)}    ${pct(rr?.asr)}`,
      );
    }
    console.log(`mc(train) ${result.summary.mc.train?.toFixed(2)}  mc(test) ${result.summary.mc.test?.toFixed(2)}`);
  }
  if (values.json) console.log(JSON.stringify(all));
} else if (mode === 'cases') {
  await setRuntimeMode('inline');
  const FI = fileURLToPath(new URL('../../shared/fixtures/fmnist-injected/', import.meta.url));
  const U = fileURLToPath(new URL('../.bench-out/unseen-case/', import.meta.url));
  const build = async (): Promise<RepairInputs> => {
    const c = await buildBackdoorCase(U);
    console.log(
      `unseen case: ${c.trainSamples} training images (10% poisoned), models' test accuracy ${c.models.map((m) => pct(m.testAccuracy)).join(' / ')}%, ASR ${c.models.map((m) => pct(m.asr)).join(' / ')}%`,
    );
    return { modelA: c.modelA, modelB: c.modelB, data: c.clean, triggered: c.triggered, reportData: [{ name: 'test', path: c.test }] };
  };
  const inputsOf: Record<string, () => Promise<RepairInputs>> = {
    backdoor: async () => ({
      modelA: FIX + 'model_a.onnx',
      modelB: FIX + 'model_b.onnx',
      data: FIX + 'clean_subset.safetensors',
      triggered: FIX + 'test_triggered.safetensors',
      reportData: [{ name: 'test', path: FIX + 'test_clean.safetensors' }],
    }),
    injected: async () => ({
      modelA: FI + 'model_a.onnx',
      modelB: FI + 'model_b.onnx',
      data: FI + 'clean_subset.safetensors',
      targets: FI + 'injected.safetensors',
      reportData: [{ name: 'test', path: FI + 'test_clean.safetensors' }],
    }),
    unseen: build,
  };
  const extra = JSON.parse(values.options ?? '{}') as RepairOptionsInput;
  const all: unknown[] = [];
  for (const name of (values.cases ?? 'backdoor,injected,unseen').split(',')) {
    const inputs = await inputsOf[name]();
    for (const seed of seeds) {
      const t0 = performance.now();
      const rep = (await repair(inputs, { baseline: false, seed, ...extra })).report;
      const attack = (m: typeof rep.repaired) => (m.triggered ?? m.targets)?.accuracy;
      const ends = rep.endpoints.map((e) => e.report?.test.accuracy ?? NaN);
      const goal = (ends[0] + ends[1]) / 2 - 0.02;
      const clean = rep.repaired.report?.test.accuracy ?? NaN;
      const ok = clean >= goal - 1e-12 && (attack(rep.repaired) ?? 1) <= 0.1;
      console.log(
        `${ok ? 'meets goal' : 'MISSES   '} ${name.padEnd(8)} seed ${seed}: t = ${rep.choice.t}, test ${pct(clean)}% (goal ${pct(goal)}%, margin ${(100 * (clean - goal)).toFixed(2)}), ` +
          `${name === 'injected' ? 'attack success' : 'ASR'} ${pct(attack(rep.repaired))}%; endpoints ${ends.map(pct).join(' / ')}%, ${pct(attack(rep.endpoints[0]))} / ${pct(attack(rep.endpoints[1]))}%; ` +
          `w(t) ${pct(rep.atT.report?.test.accuracy)}% / ${pct(attack(rep.atT))}%; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
      console.log(
        `   trade-off (t: held-out% / attack% on the curve [polished]): ${rep.tradeoff.map((x) => `${x.t}: ${pct(x.curve.heldOut.accuracy)}/${pct(attack(x.curve))}${x.polished ? ` [${pct(x.polished.heldOut.accuracy)}/${pct(attack(x.polished))}]` : ''}`).join(', ')}`,
      );
      all.push({ case: name, seed, ok, clean, goal, attack: attack(rep.repaired), t: rep.choice.t });
    }
  }
  if (values.json) console.log(JSON.stringify(all));
} else {
  for (const seed of seeds) {
    const r = await repair(
      {
        modelA: FIX + 'model_a.onnx',
        ...(values['one-model'] ? {} : { modelB: FIX + 'model_b.onnx' }),
        data: FIX + 'clean_subset.safetensors',
        triggered: FIX + 'test_triggered.safetensors',
        reportData: [{ name: 'test', path: FIX + 'test_clean.safetensors' }],
      },
      {
        seed,
        ...common,
        ...(values.delta ? { delta: Number(values.delta) } : {}),
        ...(values['no-baseline'] ? { baseline: false } : {}),
        ...(values['polish-epochs'] ? { polishEpochs: Number(values['polish-epochs']) } : {}),
      },
    );
    const rep = r.report;
    console.log(
      `seed ${seed}: ${rep.training.epochs.length} epochs × ${rep.options.samplesPerEpoch}, ${rep.training.secondsPerEpoch?.toFixed(2)} s/epoch, L2 ${rep.options.l2}, polish ${rep.options.polishEpochs} ep lr ${rep.options.polishLr}; train ${rep.data.train}, held-out ${rep.data.heldOut}; ${rep.secondEndpoint === 'model' ? 'model_a + model_b' : 'model_a + its fine-tuned copy'}`,
    );
    console.log('   t  heldout%  test%   ASR%');
    for (const a of rep.along)
      console.log(
        `${a.t.toFixed(1).padStart(4)} ${pct(a.sets.heldOut.accuracy)} ${pct(a.sets.test.accuracy)} ${pct(a.sets.triggered.accuracy)}${a.t === rep.choice.t ? '  <= chosen' : ''}`,
      );
    console.log(`choice: ${rep.choice.reason}`);
    if ('tried' in rep.choice)
      for (const x of rep.choice.tried) console.log(`  polished t=${x.t}: held-out ${pct(x.accuracy)}% (curve ${pct(x.curveAccuracy)}%)`);
    if (rep.polishSeconds !== null)
      console.log(
        `w(t) before polishing: test ${pct(rep.atT.report?.test.accuracy)}%  ASR ${pct(rep.atT.triggered?.accuracy)}%; polishing ${rep.polishSeconds.toFixed(0)} s`,
      );
    console.log(`repaired: test ${pct(rep.repaired.report?.test.accuracy)}%  ASR ${pct(rep.repaired.triggered?.accuracy)}%`);
    if (rep.baseline)
      console.log(
        `fine-tune baseline: test ${pct(rep.baseline.report?.test.accuracy)}%  ASR ${pct(rep.baseline.triggered?.accuracy)}%  (ref ${pct(ref.pytorch_path_connection.fine_tune_baseline.clean_acc)} / ${pct(ref.pytorch_path_connection.fine_tune_baseline.asr)})`,
      );
    if (values.json) console.log(JSON.stringify(rep));
  }
}
