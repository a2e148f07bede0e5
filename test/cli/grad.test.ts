import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { run as gradRun } from '../../src/cli/commands/grad.js';
import { run as evalRun } from '../../src/cli/commands/eval.js';
import { run as exportRun } from '../../src/cli/commands/export-graph.js';
import { openSafetensors } from '../../src/io/safetensors.js';
import { loadDataset, sliceBatch } from '../../src/runtime/dataset.js';
import { fixture } from '../helpers/fixtures.js';

const { onnx } = onnxProto;
const dir = mkdtempSync(join(tmpdir(), 'ws-cli-grad-'));

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Run the CLI as a separate process (as a user would), capturing stdout, stderr and the exit code. */
function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...argv], { encoding: 'utf8' }, (e, out, err) => {
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      resolve({ code, out, err });
    });
  });
}

/** Only weightscope's own stderr lines (onnxruntime's native logging may add its own). */
function ownLines(err: string): string[] {
  return err.split('\n').filter((l) => l.startsWith('weightscope:'));
}

/** Relative L2 distance over every `prefix+name` of the reference against `name` (or `outPrefix+name`) in `got`. */
async function relL2(refPath: string, prefix: string, gotPath: string, outPrefix = ''): Promise<number> {
  const ref = await openSafetensors(refPath);
  const got = await openSafetensors(gotPath);
  let num = 0;
  let den = 0;
  try {
    const names = ref.tensors.filter((t) => t.name.startsWith(prefix)).map((t) => t.name.slice(prefix.length));
    assert.ok(names.length > 0);
    assert.equal(got.tensors.length, names.length);
    for (const n of names) {
      const r = await ref.readFloat64(prefix + n);
      const g = await got.readFloat64(outPrefix + n);
      for (let i = 0; i < r.length; i++) {
        num += (g[i] - r[i]) ** 2;
        den += r[i] ** 2;
      }
    }
  } finally {
    await ref.close();
    await got.close();
  }
  return Math.sqrt(num / den);
}

const MLP = fixture('fmnist-hessian', 'mlp48.onnx');
const MLP_DATA = fixture('fmnist-hessian', 'batch.safetensors');
const MLP_REF = fixture('fmnist-hessian', 'grad_hvp.safetensors');

test('cli grad: mlp48 on the first 256 samples equals the PyTorch gradient (chunking changes nothing)', async () => {
  const out = join(dir, 'g.safetensors');
  const r = await cli('grad', MLP, '--data', MLP_DATA, '--batch', '256', '--chunk', '100', '--out', out, '--json');
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { loss: number; grad_norm: number; n: number; params: number };
  const ref = await openSafetensors(MLP_REF);
  const refLoss = Number(ref.metadata.loss);
  await ref.close();
  assert.ok(Math.abs(res.loss - refLoss) < 1e-5 * refLoss, `${res.loss} vs ${refLoss}`);
  assert.equal(res.n, 256);
  assert.equal(res.params, 38170);
  assert.ok((await relL2(MLP_REF, 'grad.', out)) < 1e-4);
  const written = await openSafetensors(out);
  assert.equal(Number(written.metadata.loss), res.loss);
  await written.close();
});

test('cli hvp: mlp48 H·v equals the PyTorch double-backprop reference', async () => {
  const out = join(dir, 'hv.safetensors');
  const r = await cli('hvp', MLP, '--data', MLP_DATA, '--batch', '256', '--vector', MLP_REF, '--prefix', 'v.', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^loss 0\.3729/m);
  assert.match(r.out, /^vHv /m);
  assert.ok((await relL2(MLP_REF, 'hv.', out)) < 1e-4);
  const missing = await cli('hvp', MLP, '--data', MLP_DATA, '--vector', MLP_REF, '--out', join(dir, 'x.safetensors'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no tensor 'layers\.0\.weight'/);
});

test('cli eval: model_a on test_clean gives the reference clean accuracy', async () => {
  const ref = JSON.parse(readFileSync(fixture('fmnist-backdoor', 'reference.json'), 'utf8')) as {
    models: { model_a: { clean_acc: number } };
  };
  const r = await cli(
    'eval',
    fixture('fmnist-backdoor', 'model_a.onnx'),
    '--data',
    fixture('fmnist-backdoor', 'test_clean.safetensors'),
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { loss: number; accuracy: number; n: number };
  assert.equal(res.accuracy, ref.models.model_a.clean_acc);
  assert.equal(res.n, 2000);
  assert.ok(res.loss > 0.2 && res.loss < 0.6);
});

test('cli export-graph: the grad and hvp graphs hold only default-domain ops and run in a plain onnxruntime session', async () => {
  for (const what of ['grad', 'hvp'] as const) {
    const out = join(dir, `${what}.onnx`);
    const r = await cli('export-graph', MLP, '--what', what, '--out', out);
    assert.equal(r.code, 0, r.err);
    const m = onnx.ModelProto.decode(readFileSync(out));
    assert.ok((m.graph?.node?.length ?? 0) > 10);
    for (const n of m.graph?.node ?? [])
      assert.ok(n.domain === '' || n.domain === 'ai.onnx' || !n.domain, `${n.opType} in domain ${n.domain}`);
    for (const o of m.opsetImport ?? []) assert.ok(!o.domain || o.domain === 'ai.onnx', `opset import ${o.domain}`);
    // A plain session (no weightscope runtime) runs it on the fixture batch and gives the reference numbers.
    const session = await ort.InferenceSession.create(readFileSync(out));
    const batch = sliceBatch(await loadDataset(MLP_DATA), 0, 256);
    const refFile = await openSafetensors(MLP_REF);
    const feeds: Record<string, ort.Tensor> = {
      input: new ort.Tensor('float32', batch.x.data as Float32Array, batch.x.dims as number[]),
      y: new ort.Tensor('int64', batch.y!.data as BigInt64Array, [256]),
    };
    const st = await openSafetensors(fixture('fmnist-hessian', 'mlp48.safetensors'));
    for (const t of st.tensors) {
      feeds[t.name] = new ort.Tensor('float32', Float32Array.from(await st.readFloat64(t.name)), [...t.shape]);
      if (what === 'hvp')
        feeds[`v.${t.name}`] = new ort.Tensor('float32', Float32Array.from(await refFile.readFloat64(`v.${t.name}`)), [...t.shape]);
    }
    await st.close();
    assert.deepEqual(new Set(session.inputNames), new Set(Object.keys(feeds)));
    const res = await session.run(feeds);
    const key = what === 'grad' ? 'grad.layers.0.weight' : 'hv.layers.0.weight';
    const want = await refFile.readFloat64(key);
    const got = res[key].data as Float32Array;
    let num = 0;
    let den = 0;
    for (let i = 0; i < want.length; i++) {
      num += (got[i] - want[i]) ** 2;
      den += want[i] ** 2;
    }
    assert.ok(Math.sqrt(num / den) < 1e-4, `${key}: ${Math.sqrt(num / den)}`);
    await refFile.close();
  }
});

/** Whether this machine really has the execution provider (probed with the runtime's own check). */
async function hasDevice(device: 'webgpu' | 'cuda'): Promise<boolean> {
  const { getSession } = await import('../../src/runtime/session.js');
  return getSession(readFileSync(MLP), { device }).then(
    () => true,
    () => false,
  );
}

test('cli: bad flags and missing devices are one-line errors with a non-zero exit', async () => {
  // exit codes and the one-line format, through the real entry point
  const [noData, gpu] = await Promise.all([cli('grad', MLP), cli('eval', MLP, '--data', MLP_DATA, '--device', 'webgpu')]);
  assert.equal(noData.code, 2);
  assert.deepEqual(ownLines(noData.err).length, 1);
  assert.match(noData.err, /--data D \(or --text FILE --seq S\) is required/);
  // On a machine with the provider the command succeeds; without it, one line and exit 1 (never a CPU fallback).
  if (!(await hasDevice('webgpu'))) {
    assert.equal(gpu.code, 1);
    assert.equal(ownLines(gpu.err).length, 1);
    assert.match(ownLines(gpu.err)[0], /device 'webgpu' is not available/);
  } else assert.equal(gpu.code, 0);
  // the other cases in-process: each throws the WeightscopeError that main prints as one line
  const usage = { code: 'invalid-input', details: { usage: true } };
  await assert.rejects(gradRun([MLP, '--data', MLP_DATA, '--batch', '0']), { ...usage, message: /--batch needs a positive integer/ });
  await assert.rejects(gradRun([MLP, '--data', MLP_DATA, '--bogus']), { ...usage, message: /bogus/ });
  await assert.rejects(gradRun([MLP, '--data', MLP_DATA, '--batch', '5000']), {
    code: 'invalid-input',
    message: /more than the dataset's 1000 samples/,
  });
  await assert.rejects(exportRun([MLP, '--what', 'jacobian', '--out', join(dir, 'j.onnx')]), {
    ...usage,
    message: /--what must be grad or hvp/,
  });
  if (!(await hasDevice('cuda'))) {
    await assert.rejects(gradRun([MLP, '--data', MLP_DATA, '--device', 'cuda', '--batch', '8']), {
      code: 'device-unavailable',
      message: /device 'cuda' is not available/,
    });
  }
  await assert.rejects(evalRun([MLP, '--data', MLP_DATA, '--device', 'tpu']), {
    ...usage,
    message: /--device must be one of cpu, webgpu, cuda/,
  });
  await assert.rejects(evalRun([MLP, '--data', MLP_DATA, '--loss', 'lm']), {
    code: 'invalid-input',
    message: /--loss lm needs int64 tokens/,
  });
  await assert.rejects(evalRun([join(dir, 'none.onnx'), '--data', MLP_DATA]), { code: 'not-found', message: /none\.onnx/ });
  await assert.rejects(evalRun([MLP, MLP, '--data', MLP_DATA]), { ...usage, message: /expected one MODEL, got 2/ });
});
