/**
 * Speed bench (issues 2, 13): a GPT-2-small-shaped checkpoint (124,439,808 float32 parameters, HF GPT-2 names,
 * Gaussian N(0, 0.02²) weights, 498 MB) analysed by the whole `weightscope analyze` process, with the LAPACK and the
 * pure-TypeScript eigen backends. Prints wall time and peak RSS against
 *  - the flop limit: Gram + tridiagonal-reduction flops (WW's skip rules applied) over this machine's DGEMM rate,
 *    measured first (goal ≤ 1.5×: at this size the fixed costs — reading, widening, scheduling — are what remains);
 *  - WeightWatcher 0.7.5.5 run side by side when WEIGHTSCOPE_WW_PATH is set (see bench/llm.ts), else its recorded
 *    anchor on the same kind of 2-core machine: 19.7 s whole process (PL only, 49 layers), peak RSS 836 MB.
 *
 *   node --import tsx bench/gpt2-small.ts [--dir DIR] [--backends lapack,ts] [--fits pl] [--runner dist|tsx] [--reps N]
 *
 * The checkpoint is generated once into DIR (default .bench-out/gpt2-small, git-ignored) and reused. The 'dist'
 * runner (default) compiles the sources with tsc into .bench-out/dist first, so the timed process is the plain-JS
 * CLI a user gets from `npm install`, not tsx compiling TypeScript at startup.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, buildDist, checkpointFlops, compareAlphas, dgemmRate, loadLine, runAnalyze, runWeightWatcher } from './analyze-run.js';
import { writeCheckpoint } from './checkpoint-writer.js';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: join(ROOT, '.bench-out', 'gpt2-small') },
      backends: { type: 'string', default: 'lapack,ts' },
      fits: { type: 'string', default: 'pl' },
      runner: { type: 'string', default: 'dist' },
      reps: { type: 'string', default: '1' },
    },
  });
  const dir = values.dir!;
  const model = join(dir, 'model.safetensors');
  const tensors = gpt2Tensors();
  if (!existsSync(model)) {
    const t0 = performance.now();
    mkdirSync(dir, { recursive: true });
    const parameters = await writeCheckpoint(model, tensors);
    console.log(
      `generated ${model}: ${parameters} parameters, ${(statSync(model).size / 1e6).toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  if (values.runner === 'dist') buildDist();
  const { flops, layers } = checkpointFlops(tensors);
  const rate = dgemmRate();
  const limit = flops / (rate.gflops * 1e9);
  console.log(
    `model ${model} (${(statSync(model).size / 1e6).toFixed(1)} MB), fits ${values.fits}, runner ${values.runner}; ${loadLine()}`,
  );
  console.log(
    `flop limit: ${layers} layers, ${flops.toExponential(3)} flops / DGEMM ${rate.gflops.toFixed(1)} GFLOP/s (${rate.threads} threads) = ${limit.toFixed(2)} s`,
  );
  const ww = runWeightWatcher(model);
  const wwSeconds = ww && ww.code === 0 ? ww.seconds : ANCHOR_SECONDS;
  const wwRss = ww && ww.code === 0 ? ww.rssMb : ANCHOR_RSS_MB;
  if (ww)
    console.log(
      `WeightWatcher 0.7.5.5 side by side: exit ${ww.code}, ${ww.layers.length} layers, ${ww.seconds.toFixed(2)} s (CPU ${ww.cpuSeconds.toFixed(2)} s), peak RSS ${ww.rssMb.toFixed(0)} MB`,
    );
  else
    console.log(
      `WeightWatcher 0.7.5.5 recorded anchor: ${ANCHOR_SECONDS} s, peak RSS ${ANCHOR_RSS_MB} MB (set WEIGHTSCOPE_WW_PATH to run it side by side)`,
    );
  for (const backend of values.backends!.split(',')) {
    for (let rep = 0; rep < Number(values.reps); rep++) {
      const r = runAnalyze(model, ['--fits', values.fits!, '--eigen-backend', backend], values.runner);
      const cmp = ww?.layers.length ? compareAlphas(r.layers, ww.layers) : null;
      console.log(
        `${backend.padEnd(6)} exit ${r.code}, ${r.layers.length} layers: ${r.seconds.toFixed(2)} s = ${(r.seconds / limit).toFixed(2)}× the flop limit ` +
          `(CPU ${r.cpuSeconds.toFixed(2)} s = ${(r.cpuSeconds / (rate.threads * limit)).toFixed(2)}× its ${rate.threads} cores), ` +
          `${(r.seconds / wwSeconds).toFixed(3)}× WW; peak RSS ${r.rssMb.toFixed(0)} MB (${(r.rssMb / wwRss).toFixed(3)}× WW)` +
          (cmp
            ? `; alphas vs WW: max rel diff ${cmp.maxRel.toExponential(2)}, layers only here ${cmp.onlyA.length}, only in WW ${cmp.onlyB.length}`
            : ''),
      );
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
