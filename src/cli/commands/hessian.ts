/** `weightscope hessian MODEL --data D`: PyHessian's top eigenvalues, trace, density and the input Hessian. */
import { WeightscopeError, formatZodError } from '../../errors.js';
import { parseCriterion, type Criterion } from '../../graph/criteria.js';
import { hessianOnFiles } from '../../landscape/hessian/files.js';
import type { HessianFileResult } from '../../landscape/hessian/files.js';
import { HessianOptionsSchema, type HessianOptionsInput, type HessianResult } from '../../landscape/hessian/run.js';
import { DEVICE_HELP, parseDevice } from '../../runtime/devices.js';
import { graphFlag, intFlag, parseArgsOrPrintHelp } from '../args.js';
import { PROGRESS_FLAG, PROGRESS_HELP, progressReporter } from '../progress.js';

export const name = 'hessian';
export const summary = 'Hessian of the loss on data: top eigenvalues, trace, spectral density, input Hessian (PyHessian)';

const USAGE =
  'weightscope hessian MODEL (--data D | --text FILE --seq S [--tokenizer DIR]) [--graph config|onnx] [--batch N] [--samples N] ' +
  '[--top-k K] [--tol T] [--max-iter N] [--lanczos] [--trace] [--trace-exact] [--density] [--density-steps N] ' +
  '[--density-runs N] [--bins N] [--input] [--seed S] [--criterion ce|ls:A|focal:G|mse] [--device D] [--untie] [--json] [--progress]';

const HELP = `Usage: ${USAGE}

MODEL             an ONNX model whose first output is the logits ([B, C] classification, [B, S, V] language model), a
                  Hugging Face folder (config.json + safetensors / pytorch_model.bin, or an onnx/ export), or an HF id
                  found in the HF cache or models/
--data FILE       safetensors with x and y (classification) or int64 token ids x [N, S] (language model); for an
                  encoder input_ids (attention_mask, token_type_ids) and y, or JSONL / CSV rows {text, label}
--text FILE       a text file tokenized with the model folder's tokenizer.json, cut into --seq tokens per row
--tokenizer DIR   tokenizer folder (default: beside the model, or its parent for HF onnx/model.onnx)
--graph G         config (default): the graph built from config.json; onnx: the folder's ONNX export
--batch N         samples per Hv batch (default 256); Hv over batches is their size-weighted mean
--samples N       use only the first N samples
--top-k K         top eigenvalues (default 1; 0 for none). Power iteration (PyHessian) finds the largest in
                  MAGNITUDE, which may be negative (gpt2-tiny: −174.8, −75.5, −37.4); --lanczos the largest algebraic
--tol T           power iteration: relative change of the Rayleigh quotient (default 1e-3, PyHessian)
--max-iter N      power iteration: Hv per eigenvalue; Lanczos: steps in total (default 100)
--lanczos         Lanczos with full re-orthogonalisation instead of power iteration
--trace           Hutchinson trace with its standard error (PyHessian's stopping rule, at least 10 probes)
--trace-exact     Σ eᵢᵀHeᵢ, one Hv per parameter (small models only)
--density         SLQ spectral density (--density-steps, default 100; --density-runs, default 1; --bins, default 10000)
--input           top eigenvalue of the Hessian with respect to the input
--seed S          random seed (default 0); the same seed gives the same numbers
--criterion C     the loss: ce (default), ls:ALPHA, focal:GAMMA or mse (as in \`weightscope grad\`)
--device D        ${DEVICE_HELP}
--untie           keep exported copies of tied weights as separate parameters
--json            print the result as JSON
${PROGRESS_HELP}
`;

function numFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (String(value).trim() === '' || !Number.isFinite(n)) {
    throw new WeightscopeError('invalid-input', `${flag} needs a number, got ${JSON.stringify(value)}`, { usage: true });
  }
  return n;
}

/** CLI flags → the shared options object (validated by the library's zod schema). */
export function optionsFromFlags(values: Record<string, unknown>): HessianOptionsInput {
  const raw: Record<string, unknown> = {};
  const ints: [string, string][] = [
    ['batch', 'batchSize'],
    ['samples', 'samples'],
    ['top-k', 'topK'],
    ['max-iter', 'maxIter'],
    ['density-steps', 'densitySteps'],
    ['density-runs', 'densityRuns'],
    ['bins', 'densityBins'],
    ['seed', 'seed'],
  ];
  for (const [flag, key] of ints) {
    const v = intFlag(values[flag], `--${flag}`);
    if (v !== undefined) raw[key] = v;
  }
  const tol = numFlag(values.tol, '--tol');
  if (tol !== undefined) raw.tol = tol;
  for (const [flag, key] of [
    ['lanczos', 'lanczos'],
    ['trace', 'trace'],
    ['trace-exact', 'traceExact'],
    ['density', 'density'],
    ['input', 'input'],
  ]) {
    if (values[flag]) raw[key] = true;
  }
  const r = HessianOptionsSchema.safeParse(raw);
  if (!r.success) throw new WeightscopeError('invalid-input', `${formatZodError(r.error)}. Usage: ${USAGE}`, { usage: true });
  return raw as HessianOptionsInput;
}

/** --criterion's value; a bad one is a usage error (exit 2). */
function criterionFlag(spec: string): Criterion {
  try {
    return parseCriterion(spec);
  } catch (e) {
    throw new WeightscopeError('invalid-input', `--criterion: ${(e as Error).message}. Usage: ${USAGE}`, { usage: true });
  }
}

const fmt = (x: number): string => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(4) : x.toFixed(6));

/** A short human-readable summary (the density itself only with --json). */
export function formatHessian(r: HessianResult | HessianFileResult): string {
  const lines = [
    ...('route' in r
      ? [
          `${r.architecture}, ${r.route === 'config.json' ? 'graph built from config.json' : r.route === 'onnx-export' ? 'its ONNX export' : 'ONNX graph'}`,
        ]
      : []),
    `parameters ${r.num_params}, samples ${r.samples} in ${r.batches} batch(es), loss ${fmt(r.loss)}`,
  ];
  if (r.top_eigenvalues) {
    lines.push(`top eigenvalues (${r.eigen_method}):`);
    r.top_eigenvalues.forEach((v, i) =>
      lines.push(`  λ${i + 1} = ${fmt(v)}   Hv ${r.eigen_iterations![i]}, residual ${fmt(r.residuals![i])}`),
    );
  }
  if (r.trace?.mean !== undefined)
    lines.push(`trace (Hutchinson, ${r.trace.samples} probes): ${fmt(r.trace.mean)} ± ${fmt(r.trace.stderr!)}`);
  if (r.trace?.exact !== undefined) lines.push(`trace (exact): ${fmt(r.trace.exact)}`);
  if (r.density) {
    const nodes = r.density.nodes.flat();
    lines.push(
      `density (SLQ, ${r.density.nodes.length} run(s) × ${r.density.nodes[0]?.length ?? 0} nodes): Ritz values in [${fmt(Math.min(...nodes))}, ${fmt(Math.max(...nodes))}]`,
    );
  }
  if (r.input_hessian)
    lines.push(
      `input Hessian top eigenvalue: ${fmt(r.input_hessian.top_eigenvalue)} (dim ${r.input_hessian.dim}, Hv ${r.input_hessian.iterations})`,
    );
  lines.push(`${r.hv_products} Hv products in ${r.seconds.toFixed(1)} s (seed ${r.seed})`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      data: { type: 'string' },
      text: { type: 'string' },
      seq: { type: 'string' },
      tokenizer: { type: 'string' },
      batch: { type: 'string' },
      samples: { type: 'string' },
      'top-k': { type: 'string' },
      tol: { type: 'string' },
      'max-iter': { type: 'string' },
      lanczos: { type: 'boolean' },
      trace: { type: 'boolean' },
      'trace-exact': { type: 'boolean' },
      density: { type: 'boolean' },
      'density-steps': { type: 'string' },
      'density-runs': { type: 'string' },
      bins: { type: 'string' },
      input: { type: 'boolean' },
      seed: { type: 'string' },
      device: { type: 'string' },
      untie: { type: 'boolean' },
      criterion: { type: 'string' },
      graph: { type: 'string' },
      json: { type: 'boolean' },
      ...PROGRESS_FLAG,
    },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length !== 1) {
    throw new WeightscopeError('invalid-input', `expected one MODEL, got ${positionals.length}. Usage: ${USAGE}`, { usage: true });
  }
  const graph = graphFlag(values.graph);
  const options = optionsFromFlags(values);
  const device = values.device === undefined ? undefined : parseDevice(String(values.device));
  const criterion = values.criterion === undefined ? undefined : criterionFlag(String(values.criterion));
  const seq = intFlag(values.seq, '--seq');
  const src = {
    ...(typeof values.data === 'string' ? { data: values.data } : {}),
    ...(typeof values.text === 'string' ? { text: values.text } : {}),
    ...(seq !== undefined ? { seq } : {}),
    ...(typeof values.tokenizer === 'string' ? { tokenizer: values.tokenizer } : {}),
  };
  const bar = progressReporter({ json: values.progress === true, command: 'hessian' });
  let result: HessianFileResult;
  try {
    const choice = {
      ...(device ? { device } : {}),
      ...(values.untie ? { untie: true } : {}),
      ...(criterion ? { criterion } : {}),
      ...(graph ? { graph } : {}),
    };
    result = await hessianOnFiles(positionals[0], src, options, choice, bar.hook);
  } finally {
    bar.done();
  }
  process.stdout.write(values.json ? JSON.stringify(result) + '\n' : formatHessian(result));
  return 0;
}
