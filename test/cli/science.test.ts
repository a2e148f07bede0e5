/**
 * `weightscope collapse | flatness | taxonomy` and `--criterion` as users run them: a child process, JSON on stdout,
 * one line on stderr and the exit code for bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture, SHARED } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const own = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('weightscope:'));
const MLP = fixture('fmnist-hessian', 'mlp48.onnx');
const BATCH = fixture('fmnist-hessian', 'batch.safetensors');

test("collapse --json: the NC numbers at top level under the issue's names; the text table names them", async () => {
  const ref = JSON.parse(readFileSync(join(SHARED, 'reference', 'neural_collapse.json'), 'utf8')).cases['fmnist-hessian/mlp48 on batch'];
  const r = await cli('collapse', MLP, '--data', BATCH, '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  for (const k of ['nc1', 'nc2_etf', 'nc2_equinorm', 'nc2_equiangular', 'nc3', 'nc3_zhu'])
    assert.ok(Math.abs(out[k] - ref[k]) < 1e-6 * ref[k], k);
  assert.equal(out.nc4, ref.nc4_ncc_mismatch);
  assert.equal(out.mean_cosines.length, 10);
  const t = await cli('collapse', MLP, '--data', BATCH, '--samples', '500');
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /NC1 .*\n.*NC2/s);
  assert.match(t.stdout, /500 samples, 10 classes/);
});

test('flatness --json: rows of {gamma, local_entropy, stderr, second_order, loss}; the trace can be switched off', async () => {
  const r = await cli('flatness', MLP, '--data', BATCH, '--gamma', '1e4,1e5', '--draws', '24', '--trace', 'none', '--seed', '3', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(
    out.rows.map((x: { gamma: number }) => x.gamma),
    [1e4, 1e5],
  );
  for (const row of out.rows) {
    assert.ok(row.local_entropy < -0.37 && row.local_entropy > -0.4 && row.stderr > 0 && row.second_order === null, JSON.stringify(row));
    assert.ok(Math.abs(row.loss - 0.37512) < 1e-4);
  }
  assert.equal(out.draws, 24);
  assert.equal(out.trace.value, null);
});

test("--criterion: grad, eval and hessian use it (the graph's loss equals the forward pass's); connect trains and reports with it", async () => {
  const g = await cli('grad', MLP, '--data', BATCH, '--criterion', 'mse', '--json');
  const e = await cli('eval', MLP, '--data', BATCH, '--criterion', 'mse', '--json');
  const ce = await cli('grad', MLP, '--data', BATCH, '--json');
  assert.equal(g.code, 0, g.stderr);
  assert.equal(e.code, 0, e.stderr);
  const [gl, el, cl] = [JSON.parse(g.stdout).loss, JSON.parse(e.stdout).loss, JSON.parse(ce.stdout).loss];
  assert.ok(Math.abs(gl - el) < 1e-5 * el, `graph ${gl} vs forward ${el}`);
  assert.ok(el > 5 && Math.abs(cl - 0.37512) < 1e-4, `mse ${el}, ce ${cl}`);
  const h = await cli(
    'hessian',
    MLP,
    '--data',
    BATCH,
    '--criterion',
    'ls:0.1',
    '--samples',
    '200',
    '--batch',
    '200',
    '--top-k',
    '1',
    '--json',
  );
  assert.equal(h.code, 0, h.stderr);
  assert.ok(JSON.parse(h.stdout).loss > 0.4, 'label smoothing raises the loss of a confident model');
  const m = [fixture('surface-mlp', 'm1.onnx'), fixture('surface-mlp', 'm2.onnx')];
  const c = await cli(
    'connect',
    ...m,
    '--data',
    fixture('surface-mlp', 'test.safetensors'),
    '--epochs',
    '0',
    '--eval',
    '0,1',
    '--criterion',
    'focal:2',
    '--json',
  );
  assert.equal(c.code, 0, c.stderr);
  const fe = await cli('eval', m[0], '--data', fixture('surface-mlp', 'test.safetensors'), '--criterion', 'focal:2', '--json');
  const along = JSON.parse(c.stdout).along;
  assert.ok(Math.abs(along[0].sets.train.loss - JSON.parse(fe.stdout).loss) < 1e-9, 'the curve reports the focal loss');
  assert.equal(JSON.parse(c.stdout).options.criterion, 'focal:2');
});

test('taxonomy on three fixture MLPs: the report, its verdict and evidence (short curves)', async () => {
  const m = ['m1', 'm2', 'm3'].map((n) => fixture('surface-mlp', `${n}.onnx`));
  const r = await cli(
    'taxonomy',
    ...m,
    '--data',
    fixture('surface-mlp', 'clean_subset.safetensors'),
    '--test',
    fixture('surface-mlp', 'test.safetensors'),
    '--epochs',
    '1',
    '--samples-per-epoch',
    '256',
    '--hessian-samples',
    '100',
    '--cka-samples',
    '256',
    '--sharp-lambda',
    '5',
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.ok(['I', 'II', 'III', 'IV-A', 'IV-B'].includes(out.phase));
  assert.equal(out.thresholds.sharpLambda, 5);
  assert.equal(out.models.length, 3);
  assert.equal(out.pairs.length, 3);
  for (const p of out.pairs) assert.equal(p.errors.length, 5);
  for (const x of out.models) assert.ok(x.test_accuracy > 0.7 && x.lambda_max > 0, JSON.stringify(x));
  assert.ok(out.verdict.reasons.length >= 2);
});

test('bad input: one line on stderr, exit 2 for the command line, 1 for the data', async () => {
  const cases: [string[], number, RegExp][] = [
    [['grad', MLP, '--data', BATCH, '--criterion', 'hinge'], 2, /criterion must be ce, ls:ALPHA, focal:GAMMA or mse/],
    [['hessian', MLP, '--data', BATCH, '--criterion', 'ls:2'], 2, /--criterion: label smoothing α must be in \[0, 1\)/],
    [['connect', MLP, MLP, '--data', BATCH, '--criterion', 'focal:x'], 2, /--criterion: focal γ must be a number, got "x"/],
    [['collapse', fixture('gpt2-tiny', 'onnx', 'model.onnx'), '--data', BATCH], 1, /language model's head is not a classifier/],
    [['collapse', MLP, '--data', BATCH, '--max-classes', '4'], 1, /vocabulary-sized/],
    [['collapse', MLP], 2, /--data D.safetensors is required/],
    [['flatness', MLP, '--data', BATCH, '--gamma', '1e3,x'], 2, /--gamma needs numbers/],
    [['flatness', MLP, '--data', BATCH, '--draws', '1'], 2, /--draws: Too small/],
    [['flatness', MLP, '--data', BATCH, '--trace', 'fast'], 2, /--trace must be hutchinson, exact or none/],
    [['taxonomy', MLP, MLP, '--data', BATCH], 2, /at least 3 models/],
    [['taxonomy', MLP, MLP, MLP, '--data', BATCH, '--sharp-lambda', '0'], 2, /--sharp-lambda: /],
    [['taxonomy', MLP, MLP, MLP, '--data', BATCH, '--pairs', 'few'], 2, /--pairs: /],
    [['taxonomy', MLP, MLP, fixture('fmnist-backdoor', 'model_a.onnx'), '--data', BATCH], 1, /not the same graph/],
  ];
  for (const [args, code, msg] of cases) {
    const r = await cli(...args);
    const lines = own(r.stderr);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], msg);
  }
});
