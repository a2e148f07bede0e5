/** `weightscope hessian` and `weightscope compare` as users run them: child process, JSON on stdout, exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const ref = JSON.parse(readFileSync(fixture('fmnist-hessian', 'reference.json'), 'utf8')).mlp48 as {
  top_eigenvalues: number[];
  trace_exact: number;
};

test('hessian --json on mlp48: Lanczos top-3, Hutchinson trace, SLQ density in the documented shape', async () => {
  const r = await cli([
    'hessian',
    fixture('fmnist-hessian', 'mlp48.onnx'),
    '--data',
    fixture('fmnist-hessian', 'batch.safetensors'),
    '--batch',
    '1000',
    '--top-k',
    '3',
    '--lanczos',
    '--tol',
    '1e-6',
    '--trace',
    '--density',
    '--density-steps',
    '12',
    '--bins',
    '300',
    '--seed',
    '7',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  out.top_eigenvalues.forEach((v: number, i: number) =>
    assert.ok(Math.abs(v - ref.top_eigenvalues[i]) < 1e-4 * ref.top_eigenvalues[i], `λ${i + 1} ${v}`),
  );
  assert.equal(out.eigen_iterations.length, 3);
  assert.equal(out.residuals.length, 3);
  assert.ok(Math.abs(out.trace.mean - ref.trace_exact) < 3 * out.trace.stderr);
  assert.equal(out.trace.samples, out.trace.sample_values.length);
  assert.equal(out.density.grid.length, 300);
  assert.equal(out.density.values.length, 300);
  assert.equal(out.density.nodes[0].length, 12);
  assert.equal(out.density.weights[0].length, 12);
  assert.equal(out.input_hessian, undefined);
  assert.equal(out.seed, 7);
});

test('hessian: bad flags and missing data are one-line errors with exit code 2; compare prints CKA and L2', async () => {
  const model = fixture('fmnist-hessian', 'mlp48.onnx');
  const a = await cli(['hessian', model, '--data', fixture('fmnist-hessian', 'batch.safetensors'), '--tol', 'abc']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--tol needs a number/);
  const b = await cli(['hessian', model]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /exactly one of a dataset file/);
  const c = await cli(['hessian', model, '--data', fixture('fmnist-hessian', 'batch.safetensors'), '--top-k', '0', '--samples', '5000']);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /5000 samples, the data has 1000/);
  const d = await cli(['compare', model, model, '--data', fixture('fmnist-hessian', 'batch.safetensors'), '--samples', '200', '--json']);
  assert.equal(d.code, 0, d.stderr);
  const cmp = JSON.parse(d.stdout);
  assert.ok(Math.abs(cmp.cka - 1) < 1e-12);
  assert.equal(cmp.l2_distance, 0);
  assert.equal(cmp.rows, 200);
});
