/**
 * bench/gpu/table.ts on a results folder as run.sh leaves it, with a part that timed out, one skipped, one failed:
 * the table must still come out, with the ratios, the observed GPU-vs-CPU agreement and a note per missing part —
 * a crash here would cost a GPU run its summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTable, partProblem } from '../../bench/gpu/table.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'ws-gpu-table-'));
mkdirSync(join(dir, 'vec'));

function part(name: string, json: unknown, rc = 0, seconds = 1, limit = 90, err = ''): void {
  if (json !== undefined) writeFileSync(join(dir, `${name}.json`), typeof json === 'string' ? json : JSON.stringify(json) + '\n');
  writeFileSync(join(dir, `${name}.status`), JSON.stringify({ rc, seconds, limit }) + '\n');
  if (err) writeFileSync(join(dir, `${name}.err`), `Warning: noise\n${err}\n`);
}
const vec = (name: string, values: number[]) =>
  writeSafetensors(join(dir, 'vec', `${name}.safetensors`), [
    { name: 'w', dtype: 'F32', shape: [values.length], data: Float64Array.from(values) },
  ]);

test('table: times, ratios, agreement, the 7B estimate and a note for each part that did not run', async () => {
  writeFileSync(
    join(dir, 'env.json'),
    JSON.stringify({
      gpu: 'Test GPU, 580.1, 81559 MiB',
      cpu: 'Test CPU (16 cores)',
      torch: '2.11.0+cu130 CUDA 13.0',
      vulkan_setup: 'system Vulkan loader',
    }),
  );
  part('adapter', { vulkan: [{ name: 'Test GPU', type: 'discrete GPU', vendor: '0x10de', api: '1.4.312' }], webgpu: 'ok' });
  const t = (g: number, h: number, loss = 0.3357) => ({
    grad_ms: g,
    grad_best_ms: g * 0.9,
    hvp_ms: h,
    hvp_best_ms: h * 0.9,
    loss,
    first_grad_ms: 1500,
    first_hvp_ms: 2500,
  });
  part('cnn-webgpu', t(2, 4));
  part('cnn-cpu', t(10, 20));
  part('cnn-torch', t(1, 2, 0.3358));
  await vec('cnn-webgpu.grad', [3, 4.05]);
  await vec('cnn-cpu.grad', [3, 4]);
  await vec('cnn-webgpu.hv', [1, 0]);
  await vec('cnn-cpu.hv', [1, 0]);
  part(
    'gpt2s-webgpu',
    `${JSON.stringify({ first_grad_ms: 9000 })}\n${JSON.stringify({ first_grad_ms: 9000, grad_ms: 30, grad_best_ms: 29 })}\n`,
    124,
    150,
    150,
  );
  part('gpt2s-torch', `some log line\n${JSON.stringify(t(20, 50, 10.83))}\n`);
  part('lanczos-webgpu', { top_eigenvalues: [27.182, 17.9774, 17.6902], seconds: 3.5 });
  part('lanczos-cpu', { top_eigenvalues: [27.1822, 17.9772, 17.6902], seconds: 7 });
  part('curve-webgpu', { seconds_per_epoch: 0.8, last_loss: 0.93794 });
  part('curve-cpu', { seconds_per_epoch: 1.6, last_loss: 0.93795 });
  part('curve-torch', undefined, 1, 2, 60, 'RuntimeError: CUDA error: out of memory');
  // analyze's JSON is pretty-printed over many lines.
  part(
    'analyze-cuda',
    JSON.stringify(
      {
        layers: [
          { name: 'a', alpha: 2 },
          { name: 'b', alpha: 3 },
        ],
      },
      null,
      1,
    ),
    0,
    10,
    120,
  );
  part(
    'analyze-cpu',
    JSON.stringify(
      {
        layers: [
          { name: 'a', alpha: 2.0000001 },
          { name: 'b', alpha: 3 },
        ],
      },
      null,
      1,
    ),
    0,
    40,
    150,
  );
  part('read-llama', { seconds: 6.5 });
  part('auto', undefined, 2, 0.5, 30, 'weightscope: --device must be one of cpu, webgpu, cuda');

  const { text, summary } = await buildTable(dir);
  const lines = text.split('\n');
  const line = (start: string) => lines.find((l) => l.startsWith(start)) ?? assert.fail(`no line "${start}" in\n${text}`);
  assert.match(lines[0], /GPU: Test GPU, 580\.1, 81559 MiB; CPU: Test CPU \(16 cores\); PyTorch 2\.11\.0\+cu130/);
  assert.match(lines[1], /Vulkan: Test GPU \(discrete GPU, Vulkan 1\.4\.312\); onnxruntime WebGPU EP: ok/);
  assert.match(line('fmnist CNN, batch 1000: gradient'), /2\.00 \(1\.80\)\s+10\.0 \(9\.00\)\s+1\.00 \(0\.90\)\s+2\.00\s+1\.0e-2$/);
  assert.match(line('fmnist CNN, batch 1000: Hv'), /4\.00 \(3\.60\)\s+20\.0 \(18\.0\)\s+2\.00 \(1\.80\)\s+2\.00\s+0\.0e\+0$/);
  assert.match(line('GPT-2-small-shaped LM, 8×128: gradient'), /30\.0 \(29\.0\)\s+skipped\s+20\.0 \(18\.0\)\s+1\.50\s+n\/a$/);
  assert.match(line('GPT-2-small-shaped LM, 8×128: Hv'), /timeout\s+skipped\s+50\.0 \(45\.0\)\s+n\/a\s+n\/a$/);
  assert.match(text, /goal: GPT-2-small-shaped Hv on WebGPU ≤ 2× PyTorch CUDA: not measured/);
  assert.match(line('gpt2-tiny Hessian top-3'), /3\.50\s+7\.00 .* 1\.1e-5 ≤ 1e-3 ✓$/);
  assert.match(line('fmnist-backdoor curve-training epoch'), /0\.80\s+1\.60\s+failed\s+n\/a\s+\|Δ epoch loss\| 1\.0e-5$/);
  assert.match(line('TinyLlama-1.1B-shaped (2 layers)'), /10\.0\s+40\.0\s+6\.50\s+4\.00\s+1\.0e-7 ≤ 1e-6 ✓$/);
  assert.match(text, /estimate from the 1\.1B run × flop ratio 13\.30 .*: 133 s; read floor × parameter ratio 6\.13; goal ≤ 60 s/);
  assert.match(line('Llama-2-7B-shaped'), /~133 est\.\s+—\s+~39\.8 est\./);
  assert.match(text, /\n {2}gpt2s-webgpu: timed out after 150 s \(its partial results are shown\)\n/);
  assert.match(text, /\n {2}gpt2s-cpu: skipped \(time box or an earlier step\)\n/);
  assert.match(text, /\n {2}curve-torch: exit 1: RuntimeError: CUDA error: out of memory\n/);
  assert.match(text, /\n {2}--device auto: exit 2 — weightscope: --device must be one of cpu, webgpu, cuda\n/);
  const checks = summary.checks as Record<string, number | null>;
  assert.ok(Math.abs(checks.cnn_grad_rel_l2! - 0.01) < 1e-6);
  assert.ok(Math.abs(checks.cnn_loss_ours_minus_torch! - -1e-4) < 1e-9);
  assert.equal(checks.gpt2s_hvp_webgpu_over_torch, null);
});

test('partProblem: exit codes of timeout(1) read as time-outs, a missing status as skipped', () => {
  const p = (rc: number | null) => ({ name: 'x', json: {}, status: rc === null ? null : { rc, seconds: 1, limit: 60 }, err: 'boom' });
  assert.equal(partProblem(p(0)), null);
  assert.equal(partProblem(p(124)), 'timed out after 60 s (its partial results are shown)');
  assert.equal(partProblem({ ...p(137), json: null }), 'timed out after 60 s');
  assert.equal(partProblem(p(3)), 'exit 3: boom');
  assert.match(partProblem(p(null))!, /^skipped/);
  assert.equal(partProblem({ ...p(0), json: null }), 'ran but printed no JSON');
});
