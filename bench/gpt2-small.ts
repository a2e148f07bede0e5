/**
 * Speed bench (issue 2): a GPT-2-small-shaped checkpoint (124,439,808 float32 parameters, HF GPT-2 names,
 * Gaussian N(0, 0.02²) weights, 498 MB) analysed by the whole `weightscope analyze` process, with the LAPACK and the
 * pure-TypeScript eigen backends. Prints wall time and peak RSS and their ratios to WeightWatcher 0.7.5.5's anchor on
 * the same kind of 2-core machine: 19.7 s whole process (PL only, 49 layers), peak RSS 836 MB.
 *
 *   node --import tsx bench/gpt2-small.ts [--dir DIR] [--backends lapack,ts] [--fits pl] [--runner dist|tsx]
 *
 * The checkpoint is generated once into DIR (default .bench-out/gpt2-small, git-ignored) and reused. The 'dist'
 * runner (default) compiles the sources with tsc into .bench-out/dist first, so the timed process is the plain-JS
 * CLI a user gets from `npm install`, not tsx compiling TypeScript at startup.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/util/random.js';
import { streamSafetensors } from './random-checkpoint.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ANCHOR_SECONDS = 19.7;
const ANCHOR_RSS_MB = 836;

/** HF GPT-2's tensor names and shapes; the default is GPT-2 small (vocab 50257, context 1024, d 768, 12 layers). */
export function gpt2Tensors({ d = 768, layers = 12, vocab = 50257, context = 1024 } = {}): { name: string; shape: number[] }[] {
  const out: { name: string; shape: number[] }[] = [
    { name: 'transformer.wte.weight', shape: [vocab, d] },
    { name: 'transformer.wpe.weight', shape: [context, d] },
    { name: 'transformer.ln_f.weight', shape: [d] },
    { name: 'transformer.ln_f.bias', shape: [d] },
  ];
  for (let i = 0; i < layers; i++) {
    const p = `transformer.h.${i}.`;
    out.push(
      { name: `${p}ln_1.weight`, shape: [d] },
      { name: `${p}ln_1.bias`, shape: [d] },
      { name: `${p}attn.c_attn.weight`, shape: [d, 3 * d] },
      { name: `${p}attn.c_attn.bias`, shape: [3 * d] },
      { name: `${p}attn.c_proj.weight`, shape: [d, d] },
      { name: `${p}attn.c_proj.bias`, shape: [d] },
      { name: `${p}ln_2.weight`, shape: [d] },
      { name: `${p}ln_2.bias`, shape: [d] },
      { name: `${p}mlp.c_fc.weight`, shape: [d, 4 * d] },
      { name: `${p}mlp.c_fc.bias`, shape: [4 * d] },
      { name: `${p}mlp.c_proj.weight`, shape: [4 * d, d] },
      { name: `${p}mlp.c_proj.bias`, shape: [d] },
    );
  }
  return out;
}

/** Box–Muller normals from the project's seeded xoshiro128** (src/util/random.ts); one 32-bit draw per uniform. */
export function gaussianFiller(seed: number): (out: Float32Array, sd: number) => void {
  const rng = new Rng(seed);
  const u = (): number => (rng.nextUint32() + 0.5) / 4294967296;
  return (out, sd) => {
    for (let i = 0; i < out.length; i += 2) {
      const r = sd * Math.sqrt(-2 * Math.log(u()));
      const t = 2 * Math.PI * u();
      out[i] = r * Math.cos(t);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
    }
  };
}

/** Streams the checkpoint to disk one chunk at a time (never the whole 498 MB in memory). */
export async function writeGpt2Small(path: string, seed = 1): Promise<number> {
  return writeCheckpoint(path, gpt2Tensors(), seed);
}

/** A safetensors file of these tensors: N(0, 0.02²) matrices, norms 1/0; streamed one chunk at a time. */
export async function writeCheckpoint(path: string, shapes: readonly { name: string; shape: number[] }[], seed = 1): Promise<number> {
  const tensors = [...shapes].sort((a, b) => (a.name < b.name ? -1 : 1));
  const fill = gaussianFiller(seed);
  return streamSafetensors(path, tensors, 'F32', (t, c) => {
    if (t.shape.length === 1) c.fill(t.name.endsWith('.weight') ? 1 : 0);
    else fill(c, 0.02);
  }, 'weightscope bench/gpt2-small.ts');
}

interface Run {
  backend: string;
  seconds: number;
  rssMb: number;
  layers: number;
  code: number;
}

export const DIST = join(ROOT, '.bench-out', 'dist');

/** tsc → .bench-out/dist (type errors elsewhere in the tree do not stop the emit). */
export function buildDist(): void {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json'), '--outDir', DIST, '--declaration', 'false', '--sourceMap', 'false'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (!existsSync(join(DIST, 'cli', 'main.js'))) throw new Error(`tsc did not produce ${DIST}/cli/main.js:\n${r.stdout}`);
}

function cliCommand(runner: string): string[] {
  if (runner === 'dist') return [join(DIST, 'cli', 'main.js')];
  return ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
}

function runOnce(model: string, backend: string, fits: string, runner: string): Run {
  const useTime = existsSync('/usr/bin/time');
  const cli = cliCommand(runner);
  const args = ['analyze', model, '--json', '--fits', fits, '--eigen-backend', backend];
  const [cmd, argv] = useTime
    ? ['/usr/bin/time', ['-v', process.execPath, ...cli, ...args]]
    : [process.execPath, [...cli.slice(0, -1), join(ROOT, 'bench', 'rss-wrapper.mjs'), cli[cli.length - 1], ...args]];
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = (performance.now() - t0) / 1000;
  const m = useTime ? /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr) : /maxrss_kb=(\d+)/.exec(r.stderr);
  let layers = -1;
  try {
    layers = (JSON.parse(r.stdout) as { layers: unknown[] }).layers.length;
  } catch {
    process.stderr.write(r.stderr.split('\n').slice(-20).join('\n') + '\n');
  }
  return { backend, seconds, rssMb: m ? Number(m[1]) / 1024 : NaN, layers, code: r.status ?? -1 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: join(ROOT, '.bench-out', 'gpt2-small') },
      backends: { type: 'string', default: 'lapack,ts' },
      fits: { type: 'string', default: 'pl' },
      runner: { type: 'string', default: 'dist' },
    },
  });
  const dir = values.dir!;
  mkdirSync(dir, { recursive: true });
  const model = join(dir, 'model.safetensors');
  if (!existsSync(model)) {
    const t0 = performance.now();
    const params = await writeGpt2Small(model);
    console.log(`generated ${model}: ${params} parameters, ${(statSync(model).size / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  if (values.runner === 'dist') buildDist();
  console.log(`model ${model} (${(statSync(model).size / 1e6).toFixed(1)} MB), fits ${values.fits}, runner ${values.runner}`);
  console.log(`anchor: WeightWatcher 0.7.5.5 whole process ${ANCHOR_SECONDS} s, peak RSS ${ANCHOR_RSS_MB} MB (PL only, 49 layers)`);
  for (const backend of values.backends!.split(',')) {
    const r = runOnce(model, backend, values.fits!, values.runner!);
    console.log(
      `${backend.padEnd(6)} exit ${r.code}, ${r.layers} layers: ${r.seconds.toFixed(2)} s (${(r.seconds / ANCHOR_SECONDS).toFixed(3)}× WW), ` +
        `peak RSS ${r.rssMb.toFixed(0)} MB (${(r.rssMb / ANCHOR_RSS_MB).toFixed(3)}× WW)`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
