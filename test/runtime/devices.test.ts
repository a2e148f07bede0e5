/**
 * One list of devices (src/runtime/devices.ts): 'auto' resolves to a device that really runs, CUDA only when its
 * provider libraries are installed, and the engine reports the device it chose; a named device that is missing
 * stays a device-unavailable error; no other source file spells the device names out.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaBinariesInstalled, DEVICE_CHOICES, DEVICES, parseDevice } from '../../src/runtime/devices.js';
import { createEngine } from '../../src/runtime/engine.js';
import { getSession, resolveDevice, shutdownRuntime } from '../../src/runtime/session.js';
import { fixture } from '../helpers/fixtures.js';
import { chain } from './graphs.js';

after(async () => {
  await shutdownRuntime();
});

test("'auto' resolves to a device whose sessions run (CUDA only with its libraries), and the engine reports it", async () => {
  const chosen = await resolveDevice('auto');
  assert.ok((DEVICES as readonly string[]).includes(chosen), chosen);
  if (!cudaBinariesInstalled()) assert.notEqual(chosen, 'cuda');
  assert.equal(await resolveDevice('auto'), chosen, 'resolved once per process');
  const s = await getSession(chain(2, 1), { device: 'auto' });
  assert.equal(s.device, chosen);
  assert.ok(s.key.includes(`:${chosen}:`), s.key);
  const a = { type: 'float32' as const, data: new Float32Array(4).fill(1), dims: [2, 2] };
  assert.ok((await s.run({ a, b: a })).c);
  const engine = await createEngine(fixture('fmnist-hessian', 'mlp48.onnx'), { loss: 'classification', device: 'auto' });
  try {
    assert.equal(engine.device, chosen);
  } finally {
    await engine.dispose();
  }
});

test('cuda without its provider libraries is device-unavailable, naming the install command', async (t) => {
  if (cudaBinariesInstalled()) {
    t.skip('onnxruntime-node has its CUDA libraries here');
    return;
  }
  await assert.rejects(getSession(chain(2, 1), { device: 'cuda' }), {
    code: 'device-unavailable',
    message:
      /device 'cuda' is not available: onnxruntime-node's CUDA provider libraries are not installed .*ONNXRUNTIME_NODE_INSTALL=cuda12/,
  });
});

test("parseDevice takes the choices and only them; 'auto' is one", () => {
  assert.deepEqual([...DEVICE_CHOICES], ['cpu', 'webgpu', 'cuda', 'auto']);
  assert.equal(parseDevice(undefined), 'cpu');
  assert.equal(parseDevice('auto'), 'auto');
  assert.throws(() => parseDevice('gpu'), {
    code: 'invalid-input',
    message: /unknown device 'gpu' \(expected one of cpu, webgpu, cuda, auto\)/,
  });
});

test('the CLI takes --device auto and says on stderr which device it chose', async () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'eval',
        fixture('fmnist-hessian', 'mlp48.onnx'),
        '--data',
        fixture('fmnist-hessian', 'batch.safetensors'),
        '--batch',
        '500',
        '--device',
        'auto',
        '--json',
      ],
      { cwd: root },
      (e, out, err) => (e ? reject(new Error(`${e.message}\n${err}`)) : resolve({ stdout: out, stderr: err })),
    );
  });
  assert.match(stderr, /^weightscope: --device auto chose (cpu|webgpu|cuda)$/m);
  assert.ok(Number.isFinite(JSON.parse(stdout).loss));
});

/** Lines owned by the service refactor running alongside; they move to DEVICE_CHOICES when it lands. */

test('no source file but devices.ts spells out the device list', () => {
  const src = fileURLToPath(new URL('../../src/', import.meta.url));
  const files = (function walk(d: string): string[] {
    return readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.ts') ? [join(d, n)] : []));
  })(src);
  const spelled = files
    .map((f) => relative(src, f))
    .filter((f) => f !== 'runtime/devices.ts')
    .filter((f) => /'cpu',\s*'webgpu'|cpu\|webgpu|webgpu or cuda/.test(readFileSync(join(src, f), 'utf8')));
  assert.deepEqual(spelled, []);
});
