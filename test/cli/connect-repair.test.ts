/** `weightscope connect` and `weightscope repair` as users run them (child processes), with CI-sized budgets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const F = (f: string) => fixture('fmnist-backdoor', f);

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

interface Row {
  t: number;
  sets: Record<string, { loss: number; accuracy: number; n: number }>;
}

test('connect: a 3-epoch × 512-sample quadratic Bezier (batch 64) lowers the midpoint test loss below the straight line; endpoints fixed', async () => {
  const common = [
    F('model_a.onnx'),
    F('model_b.onnx'),
    '--data',
    F('clean_subset.safetensors'),
    '--eval-data',
    F('test_clean.safetensors'),
    '--eval',
    '0,0.5,1',
    '--json',
  ];
  const [line, curve] = await Promise.all([
    cli(['connect', ...common, '--epochs', '0']),
    cli(['connect', ...common, '--epochs', '3', '--samples-per-epoch', '512', '--batch', '64', '--seed', '4']),
  ]);
  assert.equal(line.code, 0, line.stderr);
  assert.equal(curve.code, 0, curve.stderr);
  const L = JSON.parse(line.stdout) as { along: Row[]; training: { steps: number }; summary: { mc: Record<string, number> } };
  const C = JSON.parse(curve.stdout) as {
    along: Row[];
    training: { steps: number; epochs: { lr: number }[] };
    summary: { mc: Record<string, number> };
  };
  assert.equal(L.training.steps, 0);
  assert.equal(C.training.steps, 24);
  assert.deepEqual(
    C.training.epochs.map((e) => e.lr),
    [0.01, 0.01 * (1 - (0.99 * (2 / 3 - 0.5)) / 0.4), 0.0001],
  );
  const mid = (r: Row[]) => r.find((x) => x.t === 0.5)!.sets.test_clean;
  assert.ok(mid(C.along).loss < mid(L.along).loss - 0.1, `midpoint loss ${mid(C.along).loss} vs line ${mid(L.along).loss}`);
  assert.ok(mid(C.along).accuracy > mid(L.along).accuracy);
  assert.equal(mid(L.along).accuracy, 0.3605, 'the straight line at t = 0.5 (reference.json linear_path)');
  for (const t of [0, 1])
    assert.deepEqual(
      C.along.find((x) => x.t === t),
      L.along.find((x) => x.t === t),
    );
  // Yang et al.'s mc: the trained curve's barrier is smaller (less negative) than the straight line's.
  assert.ok(C.summary.mc.test_clean > L.summary.mc.test_clean, `mc ${C.summary.mc.test_clean} vs ${L.summary.mc.test_clean}`);
});

test('repair: writes X.onnx and X.safetensors and a JSON report (2 epochs × 256 samples, no polishing); bad flags exit 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-cli-repair-'));
  try {
    const out = join(dir, 'fixed.onnx');
    const r = await cli([
      'repair',
      F('model_a.onnx'),
      F('model_b.onnx'),
      '--data',
      F('clean_subset.safetensors'),
      '--triggered',
      F('test_triggered.safetensors'),
      '--out',
      out,
      '--epochs',
      '2',
      '--samples-per-epoch',
      '256',
      '--batch',
      '64',
      '--eval',
      '0,0.25,0.5,0.75,1',
      '--no-baseline',
      '--polish-epochs',
      '0',
      '--report',
      join(dir, 'r.json'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as {
      choice: { t: number; reason: string };
      output: { onnx: string; safetensors: string };
      along: Row[];
      baseline: unknown;
    };
    assert.deepEqual(rep.output, { onnx: out, safetensors: join(dir, 'fixed.safetensors') });
    assert.ok((await stat(out)).size > 200_000);
    assert.ok((await stat(rep.output.safetensors)).size > 200_000);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'r.json'), 'utf8')), rep);
    assert.equal(rep.along.length, 5);
    assert.ok(rep.along.every((a) => a.sets.triggered.n === 2000 && a.sets.heldOut.n === 600));
    assert.equal(rep.baseline, null);
    assert.ok([0.25, 0.5, 0.75].includes(rep.choice.t), rep.choice.reason);

    const bad = await cli(['repair', F('model_a.onnx'), '--data', F('clean_subset.safetensors'), '--out', out, '--bends', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--bends needs an integer/);
    const noOut = await cli(['repair', F('model_a.onnx'), '--data', F('clean_subset.safetensors')]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /--out OUT is required/);
    const lr = await cli(['connect', F('model_a.onnx'), F('model_b.onnx'), '--data', F('clean_subset.safetensors'), '--momentum', '1.5']);
    assert.equal(lr.code, 2);
    assert.match(lr.stderr, /--momentum/);
    const mismatch = await cli([
      'connect',
      F('model_a.onnx'),
      fixture('fmnist-hessian', 'mlp48.onnx'),
      '--data',
      F('clean_subset.safetensors'),
      '--epochs',
      '0',
    ]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /not the same graph/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('repair --targets (fmnist-injected, 2 epochs × 256 samples, short polishing): reports attack success before and after; the files are byte-identical without --targets', async () => {
  const I = (f: string) => fixture('fmnist-injected', f);
  const dir = await mkdtemp(join(tmpdir(), 'ws-cli-targets-'));
  try {
    const common = [
      I('model_a.onnx'),
      I('model_b.onnx'),
      '--data',
      I('clean_subset.safetensors'),
      '--epochs',
      '2',
      '--samples-per-epoch',
      '256',
      '--batch',
      '64',
      '--eval',
      '0,0.25,0.5,0.75,1',
      '--no-baseline',
      '--polish-epochs',
      '1',
      '--polish-tries',
      '2',
    ];
    const [withT, without] = await Promise.all([
      cli(['repair', ...common, '--targets', I('injected.safetensors'), '--out', join(dir, 'a.onnx')]),
      cli(['repair', ...common, '--out', join(dir, 'b.onnx'), '--json']),
    ]);
    assert.equal(withT.code, 0, withT.stderr);
    assert.equal(without.code, 0, without.stderr);
    assert.match(withT.stdout, /endpoint A: held-out [\d.]+%, attack success 100\.00% \(10 of 10\)/);
    assert.match(withT.stdout, /^repaired: held-out [\d.]+%, attack success [\d.]+% \(\d+ of 10\)$/m);
    assert.match(withT.stdout, /method: path connection \(Zhao et al\., ICLR 2020/);
    assert.match(withT.stdout, /<- chosen/);
    assert.deepEqual(await readFile(join(dir, 'a.onnx')), await readFile(join(dir, 'b.onnx')));
    assert.deepEqual(await readFile(join(dir, 'a.safetensors')), await readFile(join(dir, 'b.safetensors')));
    const rep = JSON.parse(without.stdout) as { data: { targets: number | null }; tradeoff: { t: number; polished: unknown }[] };
    assert.equal(rep.data.targets, null);
    assert.equal(rep.tradeoff.filter((x) => x.polished !== null).length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
