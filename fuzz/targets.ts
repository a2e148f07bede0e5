/**
 * What the fuzzer feeds: one target per reader the service exposes to uploads and imports. Each has a corpus built
 * from ../shared/fixtures (datasets cut to their first rows, ONNX models also with their weights moved to external
 * data) and an `exec` that writes the mutated bytes where the reader expects a file and reads everything the service
 * would: the header, every tensor's values (within a size bound), a dataset's rows, a folder's config.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCheckpoint } from '../src/io/open.js';
import { decodeOnnxModel, onnx, readOnnxModel } from '../src/io/onnx-model.js';
import { openOnnx } from '../src/io/onnx.js';
import { openPytorch } from '../src/io/pytorch.js';
import { openSafetensors, openSafetensorsIndex } from '../src/io/safetensors.js';
import { writeSafetensors } from '../src/io/safetensors-writer.js';
import type { TensorReader } from '../src/io/types.js';
import { ZipArchive, writeZipStored } from '../src/io/zip.js';
import { loadDataset } from '../src/runtime/dataset.js';

export const FIXTURES = new URL('../../shared/fixtures/', import.meta.url).pathname;
const fx = (...p: string[]): string => join(FIXTURES, ...p);

export interface Target {
  readonly name: string;
  /** The input is JSON text (for the JSON-aware mutations). */
  readonly json?: boolean;
  /** Builds the corpus (and any fixed files the target reads beside its input) in `dir`. */
  setup(dir: string): Promise<Uint8Array[]>;
  /** Reads one input; throws what the reader throws. */
  exec(input: Uint8Array, dir: string): Promise<void>;
}

/** Tensors read per input, and the largest tensor read (a mutated shape may claim gigabytes). */
const MAX_TENSORS = 64;
const MAX_TENSOR_BYTES = 16 << 20;

async function readAll(r: TensorReader): Promise<void> {
  try {
    for (const t of r.tensors.slice(0, MAX_TENSORS)) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (n * 8 <= MAX_TENSOR_BYTES) await r.readFloat64(t.name);
    }
  } finally {
    await r.close();
  }
}

const files = (...paths: string[]): Uint8Array[] => paths.filter((p) => existsSync(p)).map((p) => readFileSync(p));

/** The first `rows` samples of a dataset fixture, as a small safetensors file. */
async function smallDataset(src: string, dest: string, rows: number): Promise<Uint8Array> {
  const r = await openSafetensors(src);
  try {
    const tensors = [];
    for (const t of r.tensors) {
      const bytes = await r.readBytes(t.name);
      const per = bytes.length / t.shape[0];
      const n = Math.min(rows, t.shape[0]);
      tensors.push({ name: t.name, dtype: t.dtype, shape: [n, ...t.shape.slice(1)], data: bytes.slice(0, n * per) });
    }
    await writeSafetensors(dest, tensors);
  } finally {
    await r.close();
  }
  return readFileSync(dest);
}

/** An ONNX model with every initializer over 256 bytes moved to `model.onnx_data` beside it (the large-model layout). */
function externalize(bytes: Uint8Array, dataPath: string): Uint8Array {
  const model = decodeOnnxModel(bytes);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph?.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.length <= 256) continue;
    chunks.push(raw);
    t.externalData = [
      { key: 'location', value: 'model.onnx_data' },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.rawData = new Uint8Array(0);
    offset += raw.length;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  writeFileSync(dataPath, data);
  return onnx.ModelProto.encode(model).finish();
}

/** model_a.pt's storages, read once per thread (the pickle target zips each input with them). */
let storages: { name: string; data: Uint8Array }[] | undefined;

const ONNX_FIXTURES = ['fmnist-backdoor/model_a.onnx', 'fmnist-hessian/mlp48.onnx', 'gpt2-tiny/onnx/model.onnx', 'surface-mlp/m1.onnx'];

export const TARGETS: readonly Target[] = [
  {
    name: 'safetensors',
    async setup() {
      return files(
        fx('fmnist-hessian', 'mlp48.safetensors'),
        fx('fmnist-injected', 'injected.safetensors'),
        fx('hf-archs', 'qwen2-tiny', 'model.safetensors'),
        fx('gpt2-tiny', 'lm_batch.safetensors'),
        fx('fmnist-backdoor', 'model_a.safetensors'),
      );
    },
    async exec(input, dir) {
      const p = join(dir, 'model.safetensors');
      await writeFile(p, input);
      await readAll(await openSafetensors(p));
    },
  },
  {
    name: 'shard-index',
    json: true,
    async setup(dir) {
      // Two shards of stories260k's tensors, and their index: the index is what is mutated.
      const r = await openSafetensors(fx('stories260k', 'model.safetensors'));
      const shards: Record<string, { name: string; dtype: string; shape: number[]; data: Uint8Array }[]> = {
        'model-00001-of-00002.safetensors': [],
        'model-00002-of-00002.safetensors': [],
      };
      const map: Record<string, string> = {};
      try {
        for (const [i, t] of r.tensors.entries()) {
          const shard = i % 2 ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors';
          shards[shard].push({ name: t.name, dtype: t.dtype, shape: [...t.shape], data: await r.readBytes(t.name) });
          map[t.name] = shard;
        }
      } finally {
        await r.close();
      }
      for (const [name, tensors] of Object.entries(shards)) await writeSafetensors(join(dir, name), tensors as never);
      return [new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 1040000 }, weight_map: map }, null, 1))];
    },
    async exec(input, dir) {
      const p = join(dir, 'model.safetensors.index.json');
      await writeFile(p, input);
      await readAll(await openSafetensorsIndex(p));
    },
  },
  {
    name: 'pytorch-zip',
    async setup() {
      return files(fx('fmnist-backdoor', 'model_a.pt'), fx('fmnist-backdoor', 'model_b.pt'), fx('gpt2-tiny', 'pytorch_model.bin'));
    },
    async exec(input, dir) {
      const p = join(dir, 'pytorch_model.bin');
      await writeFile(p, input);
      await readAll(await openPytorch(p));
    },
  },
  {
    name: 'pickle',
    async setup(dir) {
      // The pickles of the fixtures; each input is zipped with model_a.pt's storages as data.pkl.
      const out: Uint8Array[] = [];
      const base = await ZipArchive.open(fx('fmnist-backdoor', 'model_a.pt'));
      try {
        const entries: { name: string; data: Uint8Array }[] = [];
        for (const name of base.entries.keys())
          if (!name.endsWith('data.pkl')) entries.push({ name: name.replace(/^[^/]+\//, 'archive/'), data: await base.read(name) });
        writeFileSync(
          join(dir, 'storages.json'),
          JSON.stringify(entries.map((e) => ({ name: e.name, data: Buffer.from(e.data).toString('base64') }))),
        );
      } finally {
        await base.close();
      }
      for (const f of ['fmnist-backdoor/model_a.pt', 'fmnist-backdoor/model_b.pt', 'gpt2-tiny/pytorch_model.bin']) {
        const z = await ZipArchive.open(fx(...f.split('/')));
        try {
          const pkl = [...z.entries.keys()].find((n) => n.endsWith('/data.pkl'));
          if (pkl) out.push(await z.read(pkl));
        } finally {
          await z.close();
        }
      }
      return out;
    },
    async exec(input, dir) {
      storages ??= (JSON.parse(readFileSync(join(dir, 'storages.json'), 'utf8')) as { name: string; data: string }[]).map((e) => ({
        name: e.name,
        data: Buffer.from(e.data, 'base64'),
      }));
      const p = join(dir, 'pickled.pt');
      await writeZipStored(p, [{ name: 'archive/data.pkl', data: input }, ...storages]);
      await readAll(await openPytorch(p));
    },
  },
  {
    name: 'onnx',
    async setup(dir) {
      // The fixtures as they are, and with their weights in external data (written beside, read by reference).
      const plain = files(...ONNX_FIXTURES.map((f) => fx(...f.split('/'))));
      const ext = externalize(plain[0], join(dir, 'model.onnx_data'));
      return [...plain, ext];
    },
    async exec(input, dir) {
      const p = join(dir, 'model.onnx');
      await writeFile(p, input);
      await readAll(await openOnnx(p));
      await readOnnxModel(p);
    },
  },
  {
    name: 'onnx-external-data',
    async setup(dir) {
      // A fixed graph whose initializers live in model.onnx_data; the data file is what is mutated.
      writeFileSync(
        join(dir, 'model.onnx'),
        externalize(readFileSync(fx('fmnist-backdoor', 'model_a.onnx')), join(dir, 'model.onnx_data')),
      );
      return [readFileSync(join(dir, 'model.onnx_data'))];
    },
    async exec(input, dir) {
      await writeFile(join(dir, 'model.onnx_data'), input);
      await readAll(await openOnnx(join(dir, 'model.onnx')));
    },
  },
  {
    name: 'hf-config',
    json: true,
    async setup(dir) {
      mkdirSync(join(dir, 'hf'), { recursive: true });
      writeFileSync(join(dir, 'hf', 'model.safetensors'), readFileSync(fx('fmnist-hessian', 'mlp48.safetensors')));
      return files(
        fx('gpt2-tiny', 'config.json'),
        fx('stories260k', 'config.json'),
        fx('hf-archs', 'qwen2-tiny', 'config.json'),
        fx('hf-archs', 'bert-tiny-cls', 'config.json'),
      );
    },
    async exec(input, dir) {
      await writeFile(join(dir, 'hf', 'config.json'), input);
      const { reader } = await openCheckpoint(join(dir, 'hf'));
      await readAll(reader);
    },
  },
  {
    name: 'dataset',
    async setup(dir) {
      return [
        await smallDataset(fx('fmnist-hessian', 'batch.safetensors'), join(dir, 'c1.safetensors'), 16),
        await smallDataset(fx('fmnist-backdoor', 'test_triggered.safetensors'), join(dir, 'c2.safetensors'), 16),
        ...files(
          fx('gpt2-tiny', 'lm_batch.safetensors'),
          fx('hf-archs', 'bert-tiny-cls', 'batch.safetensors'),
          fx('fmnist-injected', 'injected.safetensors'),
        ),
      ];
    },
    async exec(input, dir) {
      const p = join(dir, 'data.safetensors');
      await writeFile(p, input);
      await loadDataset(p);
    },
  },
];
