/** `weightscope surface`, `weightscope attack` and `connect --attack` as users run them (child processes), CI-sized. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const S = (f: string) => fixture('surface-mlp', f);
const FB = (f: string) => fixture('fmnist-backdoor', f);

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('surface: the untrained 2 × 2 patch on a 3 × 3 grid; --out writes the best interior point (ONNX + safetensors); text mode draws the grid', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ws-surface-cli-'));
  try {
    const models = [1, 2, 3, 4].map((i) => S(`m${i}.onnx`));
    const out = join(dir, 'avg.onnx');
    const [j, t] = await Promise.all([
      cli([
        'surface',
        ...models,
        '--data',
        S('clean_subset.safetensors'),
        '--test',
        S('test.safetensors'),
        '--epochs',
        '0',
        '--grid',
        '3',
        '--ensemble',
        '2',
        '--out',
        out,
        '--json',
      ]),
      cli(['surface', ...models.slice(0, 3), '--data', S('clean_subset.safetensors'), '--epochs', '0', '--grid', '3', '--ensemble', '2']),
    ]);
    assert.equal(j.code, 0, j.stderr);
    const r = JSON.parse(j.stdout) as {
      grid: { u: number; v: number; accuracy: number }[];
      center: { accuracy: number };
      output: { onnx: string; safetensors: string };
      best: { u: number; v: number };
    };
    assert.equal(r.grid.length, 9);
    assert.equal(r.center.accuracy, 0.4015, 'the plain average of the four (reference.json bilinear_center)');
    assert.deepEqual(r.output, { onnx: out, safetensors: join(dir, 'avg.safetensors') });
    assert.ok((await stat(out)).size > 100_000 && (await stat(r.output.safetensors)).size > 100_000);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /triangular Bezier patch of degree 2: 6 control points, 3 trained/);
    assert.match(t.stdout, /accuracy \(%\) on heldOut over the grid/);
    assert.match(t.stdout, /corner M3: accuracy/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('attack and connect --attack: robust accuracy, λmax and correlations from the command line', async () => {
  const [a, c] = await Promise.all([
    cli([
      'attack',
      FB('model_a.onnx'),
      '--data',
      FB('test_clean.safetensors'),
      '--attack-samples',
      '100',
      '--hessian-samples',
      '50',
      '--hessian-iters',
      '10',
      '--json',
    ]),
    cli([
      'connect',
      FB('model_a.onnx'),
      FB('model_b.onnx'),
      '--data',
      FB('clean_subset.safetensors'),
      '--eval-data',
      FB('test_clean.safetensors'),
      '--epochs',
      '0',
      '--eval',
      '0,0.5,1',
      '--attack',
      'fgsm',
      '--eps',
      '0.05',
      '--attack-samples',
      '50',
      '--hessian-samples',
      '50',
      '--hessian-iters',
      '5',
    ]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  const r = JSON.parse(a.stdout) as {
    samples: number;
    clean: { accuracy: number };
    adversarial: { accuracy: number };
    inputHessian: { topEigenvalue: number };
    options: { eps: number; steps: number };
  };
  assert.equal(r.samples, 100);
  assert.deepEqual([r.options.eps, r.options.steps], [0.1, 10]);
  assert.ok(r.adversarial.accuracy < r.clean.accuracy && r.inputHessian.topEigenvalue > 0);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /FGSM ε = 0\.05 on 50 samples of test_clean/);
  assert.match(c.stdout, /correlation with λmax along t \(3 points\): adversarial loss Pearson -?\d\.\d{3}/);
});

test('surface / attack / connect --attack: bad command lines exit 2 with one line naming the flag', async () => {
  const models = [1, 2, 3, 4].map((i) => S(`m${i}.onnx`));
  const cases: [string[], RegExp][] = [
    [['surface', ...models.slice(0, 2), '--data', S('test.safetensors')], /expected three or four models, got 2/],
    [['surface', ...models, '--data', S('test.safetensors'), '--degree', '0'], /--degree: /],
    [['surface', ...models, '--data', S('test.safetensors'), '--degree', '2,2,2'], /--degree takes N or N,M/],
    [['surface', ...models, '--data', S('test.safetensors'), '--out', 'x.bin'], /--out must end in \.onnx/],
    [['attack', FB('model_a.onnx')], /--data D is required/],
    [['attack', FB('model_a.onnx'), '--data', FB('test_clean.safetensors'), '--eps=-1'], /--eps: /],
    [['attack', FB('model_a.onnx'), '--data', FB('test_clean.safetensors'), '--attack', 'cw'], /--attack must be pgd or fgsm/],
    [
      ['connect', FB('model_a.onnx'), FB('model_b.onnx'), '--data', FB('clean_subset.safetensors'), '--eps', '0.1'],
      /attack flags need --attack pgd\|fgsm/,
    ],
  ];
  const runs = await Promise.all(cases.map(([args]) => cli(args)));
  runs.forEach((r, i) => {
    assert.equal(r.code, 2, `${cases[i][0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i][1]);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

test('library entry exports surfaces, attacks and their option schemas', async () => {
  const lib = await import('../../src/index.js');
  for (const f of [
    lib.connectSurface,
    lib.attackModel,
    lib.writeModelPoint,
    lib.parseSurfaceOptions,
    lib.parseAttackOptions,
    lib.buildInputGradGraph,
  ])
    assert.equal(typeof f, 'function');
  assert.equal(lib.surfaceOptionsSchema.parse({}).grid, 11);
  assert.equal(lib.attackOptionsSchema.parse({}).eps, 0.1);
  assert.equal(lib.attackRunSchema.parse({}).device, 'cpu');
});
