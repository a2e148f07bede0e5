/**
 * Small training settings for the taxonomy tests and bench: a synthetic C-class problem (Gaussian clusters in R^d,
 * optional label noise) and MLPs d → h → C (ReLU) trained from seeded initialisations with the project's engine and
 * SGD, written as ONNX files. Load-like knobs: width h, number of samples, label noise.
 */
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { writeOnnxModel } from '../../../src/io/onnx-model.js';
import { makeDataset, type Dataset } from '../../../src/runtime/dataset.js';
import { createEngine } from '../../../src/runtime/engine.js';
import { sgd } from '../../../src/runtime/optim.js';
import { storeParams } from '../../../src/runtime/params.js';
import { train } from '../../../src/runtime/train.js';
import { writeSafetensors } from '../../../src/io/safetensors-writer.js';
import { Rng } from '../../../src/util/random.js';

const { onnx } = onnxProto;

export interface Problem {
  readonly d: number;
  readonly classes: number;
  /** Class centres ~ N(0, spread²) per coordinate; samples = centre + N(0, noise²). */
  readonly spread: number;
  readonly noise: number;
}

/** n samples of the problem (seeded); a share `flip` of the labels replaced by uniformly random other classes. */
export function sampleData(p: Problem, n: number, seed: number, flip = 0, centresSeed = 1): Dataset {
  const c = new Rng(centresSeed);
  const centres = Array.from({ length: p.classes }, () => Array.from({ length: p.d }, () => p.spread * c.normal()));
  const r = new Rng(seed);
  const x = new Float32Array(n * p.d);
  const y = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % p.classes;
    for (let j = 0; j < p.d; j++) x[i * p.d + j] = centres[k][j] + p.noise * r.normal();
    y[i] = BigInt(r.uniform() < flip ? (k + 1 + r.int(p.classes - 1)) % p.classes : k);
  }
  return makeDataset({ type: 'float32', data: x, dims: [n, p.d] }, y);
}

/** An MLP d → h → C as ONNX (Gemm, Relu, Gemm; torch.nn.Linear layout and its default uniform initialisation). */
export function mlp(d: number, h: number, C: number, seed: number): onnxProto.onnx.ModelProto {
  const r = new Rng(seed);
  const init = (fanIn: number, n: number) => Float32Array.from({ length: n }, () => (2 * r.uniform() - 1) / Math.sqrt(fanIn));
  const t = (name: string, dims: number[], v: Float32Array) => ({ name, dataType: 1, dims, rawData: new Uint8Array(v.buffer) });
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((v) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v })) } } },
  });
  const transB = [{ name: 'transB', type: 2, i: 1 }];
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'mlp',
      node: [
        { opType: 'Gemm', input: ['input', 'fc1.weight', 'fc1.bias'], output: ['h1'], attribute: transB },
        { opType: 'Relu', input: ['h1'], output: ['a1'] },
        { opType: 'Gemm', input: ['a1', 'fc2.weight', 'fc2.bias'], output: ['logits'], attribute: transB },
      ],
      input: [vi('input', ['batch', d])],
      output: [vi('logits', ['batch', C])],
      initializer: [
        t('fc1.weight', [h, d], init(d, h * d)),
        t('fc1.bias', [h], init(d, h)),
        t('fc2.weight', [C, h], init(h, C * h)),
        t('fc2.bias', [C], init(h, C)),
      ],
    },
  });
}

export interface Training {
  readonly width: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly weightDecay?: number;
}

/** Trains one model per seed on `data`, writes each as `<dir>/<tag>_<seed>.onnx`; returns the paths. */
export async function trainModels(
  p: Problem,
  data: Dataset,
  t: Training,
  seeds: readonly number[],
  dir: string,
  tag: string,
): Promise<string[]> {
  const out: string[] = [];
  for (const seed of seeds) {
    const model = mlp(p.d, t.width, p.classes, 1000 + seed);
    const engine = await createEngine(model, { loss: 'classification' });
    const params = engine.initialParams();
    await train(engine, params, data, {
      epochs: t.epochs,
      batchSize: t.batchSize,
      seed,
      optimizer: sgd({ lr: t.lr, momentum: 0.9, weightDecay: t.weightDecay ?? 0 }),
    });
    await engine.dispose();
    const path = join(dir, `${tag}_${seed}.onnx`);
    await writeOnnxModel(path, storeParams(model, params));
    out.push(path);
  }
  return out;
}

/** A dataset as the CLI reads it (x float32, y int64). */
export async function writeData(path: string, ds: Dataset): Promise<string> {
  const x = ds.x.data as Float32Array;
  await writeSafetensors(path, [
    { name: 'x', dtype: 'F32', shape: [...ds.x.dims], data: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) },
    { name: 'y', dtype: 'I64', shape: [ds.n], data: new Uint8Array(ds.y!.buffer, ds.y!.byteOffset, ds.y!.byteLength) },
  ]);
  return path;
}
