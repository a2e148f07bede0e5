/**
 * LLM-scale analysis benchmark (issue 13). Writes Hugging Face folders with a streaming writer (BF16, shards ≤ 2 GiB,
 * Gaussian N(0, 0.02²) weights, deterministic) and analyses them with the whole `weightscope analyze` process:
 *  - tinyllama: TinyLlama-1.1B-shaped (vocab 32000, hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 kv heads,
 *    separate lm_head), against WeightWatcher 0.7.5.5's CPU path on the same folder, back to back. Goal: ≤ 1.3× the
 *    flop limit, far below WW's time, the same layers and alphas to 1e-6, peak RSS ≤ 1 GB.
 *  - llama7b: Llama-2-7B-shaped (4096 / 11008 / 32 layers / 32 heads / 32 kv heads). Goal: ≤ 1.5× the flop limit,
 *    peak RSS ≤ 2 GB. Needs ~14 GB under .bench-out/ (deleted afterwards with --delete).
 * The flop limit = the Gram and tridiagonal-reduction flops of the layers WW's skip rules keep (N·M² + 4/3·M³ each)
 * over this machine's DGEMM rate with every core, measured first. All runs use --no-cache.
 *
 *   node --import tsx bench/llm.ts [--models tinyllama,llama7b] [--dir DIR] [--fits pl] [--runner dist|tsx] [--delete]
 *                                  [--generate-only]
 *
 * WeightWatcher side by side: set WEIGHTSCOPE_WW_PATH to a PYTHONPATH holding WeightWatcher 0.7.5.5's
 * `weightwatcher/` (github.com/CalculatedContent/WeightWatcher), powerlaw 1.5 (`powerlaw.py`, the version WW was built
 * against) and a `safetensors` module (Debian 12 does not package it; a reader exposing safe_open(path,
 * framework='pt') with keys() and get_tensor() does), installed outside this repository; Debian's python3 with
 * python3-torch, -numpy, -scipy, -pandas, -matplotlib, -sklearn and -tqdm runs it. Without it, WW is not run.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, buildDist, checkpointFlops, compareAlphas, dgemmRate, loadLine, runAnalyze, runWeightWatcher } from './analyze-run.js';
import { writeHfFolder } from './checkpoint-writer.js';
import { SHAPES, llamaConfig, llamaTensors, type LlamaShape } from './gpu/llama-folder.js';

const MODELS: Record<string, { shape: LlamaShape; goal: number; rssGoalMb: number }> = {
  tinyllama: { shape: SHAPES['tinyllama-1.1b'], goal: 1.3, rssGoalMb: 1024 },
  llama7b: { shape: SHAPES['llama2-7b'], goal: 1.5, rssGoalMb: 2048 },
};

const s = (x: number): string => `${x.toFixed(1)} s`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'tinyllama' },
      dir: { type: 'string', default: join(ROOT, '.bench-out', 'llm') },
      fits: { type: 'string', default: 'pl' },
      runner: { type: 'string', default: 'dist' },
      delete: { type: 'boolean', default: false },
      'generate-only': { type: 'boolean', default: false },
    },
  });
  if (values.runner === 'dist' && !values['generate-only']) buildDist();
  const rate = values['generate-only'] ? { gflops: NaN, threads: 0 } : dgemmRate();
  console.log(`${loadLine()}; DGEMM ${rate.gflops.toFixed(1)} GFLOP/s with ${rate.threads} threads (3072³, best of 3)`);
  for (const name of values.models!.split(',')) {
    const model = MODELS[name];
    if (!model) throw new Error(`unknown model ${name}; one of ${Object.keys(MODELS).join(', ')}`);
    const dir = join(values.dir!, name);
    const tensors = llamaTensors(model.shape);
    if (!existsSync(join(dir, 'config.json'))) {
      const t0 = performance.now();
      const { parameters, files } = await writeHfFolder(dir, tensors, {
        dtype: 'BF16',
        maxShardBytes: 2 ** 31,
        seed: 13,
        config: llamaConfig(model.shape),
      });
      console.log(
        `${name}: wrote ${parameters} BF16 parameters in ${files.length} shards to ${dir} in ${s((performance.now() - t0) / 1000)}`,
      );
    }
    if (values['generate-only']) continue;
    const { flops, layers } = checkpointFlops(tensors);
    const limit = flops / (rate.gflops * 1e9);
    console.log(`${name}: ${layers} layers, ${flops.toExponential(3)} flops → flop limit ${s(limit)} at ${rate.gflops.toFixed(1)} GFLOP/s`);
    const r = runAnalyze(dir, ['--fits', values.fits!], values.runner);
    const st = r.work?.stages ?? {};
    const stageLine = Object.entries(st)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
    console.log(
      `${name}: weightscope exit ${r.code}, ${r.layers.length} layers, ${s(r.seconds)} = ${(r.seconds / limit).toFixed(2)}× the flop limit (goal ≤ ${model.goal}×), ` +
        `CPU ${s(r.cpuSeconds)} = ${(r.cpuSeconds / (rate.threads * limit)).toFixed(2)}× the limit's ${rate.threads} cores; peak RSS ${r.rssMb.toFixed(0)} MB (goal ≤ ${model.rssGoalMb}); ${loadLine()}`,
    );
    if (r.work) {
      const eig = (st.reduce ?? 0) + (st.band ?? 0) + (st.solve ?? 0);
      console.log(
        `  worker seconds: ${stageLine}; band→tridiagonal ${((100 * (st.band ?? 0)) / Math.max(eig, 1e-9)).toFixed(1)}% of the eigen time, ` +
          `${(
            (100 * (st.band ?? 0)) /
              Math.max(
                Object.values(st).reduce((a, b) => a + b, 0),
                1e-9,
              )
          ).toFixed(1)}% of all worker time; effective ${r.work.gflops.toFixed(1)} GFLOP/s`,
      );
    }
    if (name === 'tinyllama') {
      const ww = runWeightWatcher(dir);
      if (!ww) console.log('  WeightWatcher not run: set WEIGHTSCOPE_WW_PATH (see the header of bench/llm.ts)');
      else {
        const cmp = compareAlphas(r.layers, ww.layers);
        console.log(
          `  WeightWatcher 0.7.5.5: exit ${ww.code}, ${ww.layers.length} layers, ${s(ww.seconds)} (CPU ${s(ww.cpuSeconds)}), peak RSS ${ww.rssMb.toFixed(0)} MB; ` +
            `weightscope/WW time ${(r.seconds / ww.seconds).toFixed(3)}, CPU ${(r.cpuSeconds / ww.cpuSeconds).toFixed(3)}, RSS ${(r.rssMb / ww.rssMb).toFixed(3)}; ` +
            `alphas: max rel diff ${cmp.maxRel.toExponential(2)}; layers only in weightscope ${cmp.onlyA.length}, only in WW ${cmp.onlyB.length}; ${loadLine()}`,
        );
      }
    }
    if (values.delete) {
      rmSync(dir, { recursive: true, force: true });
      console.log(`  deleted ${dir}`);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
