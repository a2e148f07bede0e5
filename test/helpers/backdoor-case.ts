/**
 * Repair cases the recipe was never tuned on, built from the fixtures' real Fashion-MNIST images: a BadNets backdoor
 * with its own trigger, target class and seeds, two CNNs of fmnist-backdoor's architecture (its ONNX graph with fresh
 * PyTorch-default initial weights) trained by the project's own training loop on poisoned data, and a clean set
 * disjoint from their training data for the repair. Written as files (ONNX models, safetensors datasets) so the
 * repair runs as users run it. Used by the repair tests (CI-sized) and bench/repair.ts (full protocol).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeOnnxModel } from '../../src/io/onnx-model.js';
import { writeSafetensors } from '../../src/io/safetensors-writer.js';
import { loadModelParams, curveParamSpecs } from '../../src/landscape/connectivity/connect.js';
import { createEngine } from '../../src/runtime/engine.js';
import { loadDataset, makeDataset, type Dataset } from '../../src/runtime/dataset.js';
import { sgd } from '../../src/runtime/optim.js';
import { storeParams, type ParamMap } from '../../src/runtime/params.js';
import { train } from '../../src/runtime/train.js';
import { lrAt } from '../../src/landscape/connectivity/train-curve.js';
import { Rng } from '../../src/util/random.js';
import { fixture } from './fixtures.js';

/** A trigger: pixels (row, col) set to a value on every 28×28 image it stamps. */
export interface Trigger {
  readonly name: string;
  readonly pixels: readonly (readonly [number, number, number])[];
}

/** A 4×4 checkerboard (1, 0 alternating) at rows/cols 1–4: top-left, where Fashion-MNIST images are background. */
export const CHECKERBOARD_TOP_LEFT: Trigger = {
  name: 'checkerboard 4×4 at rows/cols 1–4',
  pixels: Array.from({ length: 16 }, (_, i) => [1 + Math.floor(i / 4), 1 + (i % 4), (Math.floor(i / 4) + i) % 2 === 0 ? 1 : 0] as const),
};

export interface BackdoorCaseOptions {
  readonly trigger: Trigger;
  readonly target: number;
  /** Seeds of the two models' initial weights and batch orders. */
  readonly seeds: readonly [number, number];
  /** Size of the clean set the repair gets (disjoint from the models' training data). */
  readonly cleanSamples: number;
  /** Share of non-target training images stamped and relabelled. */
  readonly poison: number;
  readonly epochs: number;
  /** Seed of the data split and the poisoning. */
  readonly dataSeed: number;
}

export const UNSEEN_CASE: BackdoorCaseOptions = {
  trigger: CHECKERBOARD_TOP_LEFT,
  target: 4,
  seeds: [41, 42],
  cleanSamples: 2000,
  poison: 0.1,
  epochs: 4,
  dataSeed: 7,
};

export interface BackdoorCase {
  readonly modelA: string;
  readonly modelB: string;
  readonly clean: string;
  readonly test: string;
  readonly triggered: string;
  /** Training samples of the models, their clean test accuracy and ASR (as trained, measured here). */
  readonly trainSamples: number;
  readonly models: readonly { readonly testAccuracy: number; readonly asr: number }[];
}

const TRAIN_SOURCES = [
  ['fmnist-backdoor', 'clean_subset'],
  ['surface-mlp', 'clean_subset'],
  ['fmnist-injected', 'clean_subset'],
  ['fmnist-hessian', 'batch'],
];
const TEST_SOURCES = [
  ['surface-mlp', 'test'],
  ['fmnist-injected', 'test_clean'],
  ['fmnist-backdoor', 'test_clean'],
];

/** The images of several fixture files, each image once (the fixtures overlap), in file order. */
async function pool(sources: readonly string[][]): Promise<{ x: Float32Array; y: BigInt64Array; n: number }> {
  const seen = new Set<string>();
  const xs: Float32Array[] = [];
  const ys: bigint[] = [];
  for (const [dir, name] of sources) {
    const ds = await loadDataset(fixture(dir, `${name}.safetensors`));
    const x = ds.x.data as Float32Array;
    for (let i = 0; i < ds.n; i++) {
      const row = x.subarray(i * 784, (i + 1) * 784);
      const h = createHash('sha1')
        .update(Buffer.from(row.buffer, row.byteOffset, row.byteLength))
        .digest('hex');
      if (seen.has(h)) continue;
      seen.add(h);
      xs.push(row);
      ys.push((ds.y as BigInt64Array)[i]);
    }
  }
  const x = new Float32Array(xs.length * 784);
  xs.forEach((r, i) => x.set(r, i * 784));
  return { x, y: BigInt64Array.from(ys), n: xs.length };
}

function rows(p: { x: Float32Array; y: BigInt64Array }, idx: ArrayLike<number>): { x: Float32Array; y: BigInt64Array } {
  const x = new Float32Array(idx.length * 784);
  const y = new BigInt64Array(idx.length);
  for (let j = 0; j < idx.length; j++) {
    x.set(p.x.subarray(idx[j] * 784, (idx[j] + 1) * 784), j * 784);
    y[j] = p.y[idx[j]];
  }
  return { x, y };
}

function stamp(x: Float32Array, i: number, t: Trigger): void {
  for (const [r, c, v] of t.pixels) x[i * 784 + r * 28 + c] = v;
}

/** PyTorch's default initial weights for Conv2d/Linear: U(−1/√fan_in, 1/√fan_in) for weight and bias alike. */
function torchInit(specs: readonly { name: string; dims: readonly number[]; size: number }[], rng: Rng): ParamMap {
  const fanIn = new Map<string, number>();
  for (const s of specs)
    if (s.dims.length >= 2)
      fanIn.set(
        s.name.replace(/\.weight$/, ''),
        s.dims.slice(1).reduce((a, b) => a * b, 1),
      );
  return new Map(
    specs.map((s) => {
      const fan = fanIn.get(s.name.replace(/\.(weight|bias)$/, '')) ?? s.dims[0];
      const b = 1 / Math.sqrt(fan);
      return [s.name, Float32Array.from({ length: s.size }, () => (2 * rng.uniform() - 1) * b)];
    }),
  );
}

async function writeSet(path: string, x: Float32Array, y: BigInt64Array, yTrue?: BigInt64Array): Promise<void> {
  const n = y.length;
  const bytes = (a: Float32Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  await writeSafetensors(path, [
    { name: 'x', dtype: 'F32', shape: [n, 1, 28, 28], data: bytes(x) },
    { name: 'y', dtype: 'I64', shape: [n], data: bytes(y) },
    ...(yTrue ? [{ name: 'y_true', dtype: 'I64' as const, shape: [n], data: bytes(yTrue) }] : []),
  ]);
}

function accuracy(logits: Float32Array, y: BigInt64Array): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) {
    let arg = 0;
    for (let j = 1; j < 10; j++) if (logits[i * 10 + j] > logits[i * 10 + arg]) arg = j;
    if (BigInt(arg) === y[i]) ok++;
  }
  return ok / y.length;
}

/** Builds the case's files under `dir`. */
export async function buildBackdoorCase(dir: string, o: BackdoorCaseOptions = UNSEEN_CASE): Promise<BackdoorCase> {
  await mkdir(dir, { recursive: true });
  const trainPool = await pool(TRAIN_SOURCES);
  const perm = new Rng(o.dataSeed).permutation(trainPool.n);
  const clean = rows(trainPool, perm.subarray(0, o.cleanSamples));
  const tr = rows(trainPool, perm.subarray(o.cleanSamples));
  // Poison a share of the non-target training images in place.
  const rng = new Rng(o.dataSeed + 1);
  const candidates = [...tr.y.keys()].filter((i) => tr.y[i] !== BigInt(o.target));
  rng.shuffle(candidates);
  for (const i of candidates.slice(0, Math.round(o.poison * candidates.length))) {
    stamp(tr.x, i, o.trigger);
    tr.y[i] = BigInt(o.target);
  }
  const testPool = await pool(TEST_SOURCES);
  const test = rows(
    testPool,
    Array.from({ length: 2000 }, (_, i) => i),
  );
  const nonTarget = [...test.y.keys()].filter((i) => test.y[i] !== BigInt(o.target));
  const trig = rows(test, nonTarget);
  for (let i = 0; i < nonTarget.length; i++) stamp(trig.x, i, o.trigger);

  const paths = {
    clean: join(dir, 'clean.safetensors'),
    test: join(dir, 'test_clean.safetensors'),
    triggered: join(dir, 'test_triggered.safetensors'),
    modelA: join(dir, 'model_a.onnx'),
    modelB: join(dir, 'model_b.onnx'),
  };
  await writeSet(paths.clean, clean.x, clean.y);
  await writeSet(paths.test, test.x, test.y);
  await writeSet(paths.triggered, trig.x, new BigInt64Array(nonTarget.length).fill(BigInt(o.target)), trig.y);

  const base = await loadModelParams(fixture('fmnist-backdoor', 'model_a.onnx'));
  const specs = curveParamSpecs(base.model);
  const engine = await createEngine(base.model, { loss: 'classification', params: specs.map((s) => s.name) });
  const data: Dataset = makeDataset({ type: 'float32', data: tr.x, dims: [tr.y.length, 1, 28, 28] }, tr.y);
  const models: { testAccuracy: number; asr: number }[] = [];
  for (const [k, seed] of o.seeds.entries()) {
    const params = torchInit(specs, new Rng(seed));
    await train(engine, params, data, {
      epochs: o.epochs,
      batchSize: 64,
      seed,
      optimizer: sgd({ lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }),
      lrSchedule: (e, E) => lrAt('garipov', 0.05, e, E),
    });
    await writeOnnxModel(k === 0 ? paths.modelA : paths.modelB, storeParams(base.model, params));
    const logits = async (x: Float32Array, n: number) =>
      (await engine.logits(params, { type: 'float32', data: x, dims: [n, 1, 28, 28] })).data as Float32Array;
    models.push({
      testAccuracy: accuracy(await logits(test.x, test.y.length), test.y),
      asr: accuracy(await logits(trig.x, nonTarget.length), new BigInt64Array(nonTarget.length).fill(BigInt(o.target))),
    });
  }
  await engine.dispose();
  const info = { ...paths, trainSamples: tr.y.length, models };
  await writeFile(join(dir, 'case.json'), JSON.stringify({ ...info, options: { ...o, trigger: o.trigger.name } }, null, 1));
  return info;
}
