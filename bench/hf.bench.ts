/**
 * Speed of the Hugging Face routes (issue 12) against PyTorch (Debian's python3-torch, bench/hf_torch.py, the same
 * thread count on both sides, OpenBLAS's pool included). Not a test.
 *
 *   hvp    H·v of the mean next-token cross-entropy of a GPT-2-small-shaped LM (124,439,808 parameters, an HF
 *          folder: config.json + model.safetensors, N(0, 0.02²) weights from bench/gpt2-small.ts) on a batch of
 *          4 × 128 random tokens, by the config.json route; each side in its own process under /usr/bin/time for
 *          its peak RSS. Goal: ≤ 1.0× PyTorch's time per Hv, peak RSS ≤ 2.5×.
 *   curve  one curve-training epoch on vit-fmnist-backdoor (quadratic Bezier between model_a and model_b, 10,000
 *          tiled clean samples, batch 128, SGD momentum 0.9, L2 on the point). Goal: ≤ 1.0×.
 *
 *   node --import tsx bench/hf.bench.ts hvp|curve [--threads T] [--reps N] [--epochs N] [--rounds R] [--no-torch]
 *
 * Prints `uptime` before each round: the machine is shared, so read best-of figures beside the load.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSafetensors } from '../src/io/safetensors-writer.js';
import { openModel } from '../src/model-io/open.js';
import { loadModelData } from '../src/data/model-data.js';
import { curveEngine, curveParamSpecs } from '../src/landscape/connectivity/connect.js';
import { linearCurve } from '../src/landscape/connectivity/points.js';
import { trainCurve } from '../src/landscape/connectivity/train-curve.js';
import { loadParams } from '../src/runtime/params.js';
import { intraOpThreads, shutdownRuntime } from '../src/runtime/session.js';
import { writeCheckpoint } from './checkpoint-writer.js';
import { gpt2Tensors } from './gpt2-small.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIX = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url));
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string' },
    reps: { type: 'string', default: '3' },
    epochs: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '1' },
    'no-torch': { type: 'boolean' },
    dir: { type: 'string', default: join(ROOT, '.bench-out', 'gpt2-small-hf') },
  },
});
if (values.threads) process.env.WEIGHTSCOPE_THREADS = values.threads;
const threads = intraOpThreads();
const mode = positionals[0] ?? 'hvp';
const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();

interface Timed {
  json: Record<string, number>;
  rssMb: number;
}

/** A command under /usr/bin/time -v: its last JSON stdout line and its peak RSS. */
function measured(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Timed {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { cwd: ROOT, encoding: 'utf8', env, maxBuffer: 1 << 26 });
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.split('\n').slice(-15).join('\n')}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { json: JSON.parse(line) as Record<string, number>, rssMb: m ? Number(m[1]) / 1024 : NaN };
}

async function gpt2Folder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'model.safetensors'))) await writeCheckpoint(join(dir, 'model.safetensors'), gpt2Tensors());
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      vocab_size: 50257,
      n_positions: 1024,
      n_ctx: 1024,
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
      tie_word_embeddings: true,
    }),
  );
  // 4 × 128 tokens from a fixed LCG: the same batch for both sides.
  let s = 12345;
  const ids = BigInt64Array.from({ length: 4 * 128 }, () => BigInt((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 50257));
  await writeSafetensors(join(dir, 'batch.safetensors'), [{ name: 'x', dtype: 'I64', shape: [4, 128], data: new Uint8Array(ids.buffer) }]);
}

async function hvp(): Promise<void> {
  const dir = values.dir!;
  await gpt2Folder(dir);
  console.log(`GPT-2-small-shaped HF folder ${dir}; batch 4 × 128; ${threads} thread(s) each side; ${values.reps} timed Hv after warm-up`);
  for (let r = 0; r < Number(values.rounds); r++) {
    console.log(`round ${r + 1}: ${uptime()}`);
    const ours = measured(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'hf-hvp-run.ts'), dir, '--reps', values.reps!], {
      ...process.env,
      WEIGHTSCOPE_THREADS: String(threads),
    });
    console.log(
      `  ours : Hv ${ours.json.hv_ms.toFixed(0)} ms median, ${ours.json.hv_best_ms.toFixed(0)} ms best; peak RSS ${ours.rssMb.toFixed(0)} MB; loss ${ours.json.loss.toFixed(6)}; setup ${ours.json.setup_s.toFixed(1)} s`,
    );
    if (values['no-torch']) continue;
    const torch = measured('/usr/bin/python3', [
      join(ROOT, 'bench', 'hf_torch.py'),
      'gpt2-hvp',
      dir,
      '--threads',
      String(threads),
      '--reps',
      values.reps!,
    ]);
    console.log(
      `  torch: Hv ${torch.json.hv_ms.toFixed(0)} ms median, ${torch.json.hv_best_ms.toFixed(0)} ms best; peak RSS ${torch.rssMb.toFixed(0)} MB; loss ${torch.json.loss.toFixed(6)}`,
    );
    console.log(
      `  ratio ours/torch: time ${(ours.json.hv_ms / torch.json.hv_ms).toFixed(2)} (median) / ${(ours.json.hv_best_ms / torch.json.hv_best_ms).toFixed(2)} (best); peak RSS ${(ours.rssMb / torch.rssMb).toFixed(2)}`,
    );
  }
}

async function curve(): Promise<void> {
  const a = join(FIX, 'vit-fmnist-backdoor', 'model_a');
  const b = join(FIX, 'vit-fmnist-backdoor', 'model_b');
  const ma = await openModel(a);
  const mb = await openModel(b);
  const specs = curveParamSpecs(ma.model);
  const A = (
    await loadParams(
      ma.model,
      ROOT,
      specs.map((s) => s.name),
    )
  ).values;
  const B = (
    await loadParams(
      mb.model,
      ROOT,
      specs.map((s) => s.name),
    )
  ).values;
  const train = await loadModelData(ma, { data: join(FIX, 'fmnist-backdoor', 'clean_subset.safetensors') });
  const engine = await curveEngine(ma.model, specs, 'cpu');
  const epochs = Number(values.epochs);
  console.log(`vit-fmnist-backdoor curve epoch: 10,000 samples, batch 128 (79 steps), ${threads} thread(s) each side`);
  for (let r = 0; r < Number(values.rounds); r++) {
    console.log(`round ${r + 1}: ${uptime()}`);
    const curveAB = linearCurve('bezier', 3, specs, A, B);
    // One warm-up step outside the timing (session creation).
    await trainCurve(engine, curveAB, train, { epochs: 1, batchSize: 128, samplesPerEpoch: 128, lr: 0.01, l2: 1e-4, seed: 29 });
    const res = await trainCurve(engine, linearCurve('bezier', 3, specs, A, B), train, {
      epochs,
      batchSize: 128,
      samplesPerEpoch: 10_000,
      lr: 0.01,
      l2: 1e-4,
      seed: 29,
    });
    const per = res.seconds / epochs;
    console.log(`  ours : ${per.toFixed(2)} s / epoch (${epochs} epochs, ${res.steps} steps)`);
    if (values['no-torch']) continue;
    const torch = measured('/usr/bin/python3', [
      join(ROOT, 'bench', 'hf_torch.py'),
      'vit-curve',
      a,
      b,
      '--threads',
      String(threads),
      '--epochs',
      String(epochs),
    ]);
    console.log(
      `  torch: ${torch.json.epoch_s.toFixed(2)} s / epoch median, ${torch.json.epoch_best_s.toFixed(2)} s best (${epochs} epochs)`,
    );
    console.log(
      `  ratio ours/torch: ${(per / torch.json.epoch_s).toFixed(2)} (median) / ${(per / torch.json.epoch_best_s).toFixed(2)} (best)`,
    );
  }
  await engine.dispose();
}

if (mode === 'hvp') await hvp();
else if (mode === 'curve') await curve();
else throw new Error('mode is hvp or curve');
await shutdownRuntime();
