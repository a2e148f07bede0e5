/** `weightscope taxonomy M1 M2 M3 … --data TRAIN [--test TEST]`: the loss-landscape phase of a set of models. */
import { WeightscopeError } from '../../errors.js';
import { optionIssues } from '../../util/options.js';
import { parseTaxonomyOptions, taxonomy, type TaxonomyOptionsInput, type TaxonomyResult } from '../../landscape/taxonomy/run.js';
import { parseArgsOrPrintHelp } from '../args.js';
import { CURVE_FLAGS, curveFlagsHelp, curveOptionsFromFlags, usageError } from '../curve-flags.js';
import { PROGRESS_FLAG, PROGRESS_HELP, withProgressBar } from '../progress.js';

export const name = 'taxonomy';
export const summary = "phase of a set of models in Yang et al.'s loss-landscape taxonomy (Hessian, mode connectivity, CKA)";

const USAGE =
  'weightscope taxonomy M1.onnx M2.onnx M3.onnx [...] --data TRAIN [--test TEST] [--pairs cyclic|all] [--hessian-samples N] ' +
  '[--cka-samples N] [--mixup-alpha A] [--mc-barrier B] [--sharp-lambda L] [--cka-similar C] [curve flags] [--json] [--progress]';

const HELP = `Usage: ${USAGE}

M1 M2 M3 …         at least 3 models of one graph, trained in one setting (seeds)
--data TRAIN       labelled training data: the Hessian batch, the curves, mc and the CKA inputs
--test TEST        labelled test data: each model's test accuracy beside its metrics
--pairs P          cyclic (default: each model with the next, the paper's --multiple-curves) or all
--hessian-samples N  training samples of the one Hessian batch (default 200, PyHessian's mini-batch)
--cka-samples N    CKA inputs: the first N training samples, mixup-ed per batch of 128 (default 768)
--mixup-alpha A    λ ~ Beta(A, A) of that mixup (default 16; 0: plain inputs)
--mc-barrier B     poorly connected when the mean mc < -B (default 2 points of training error)
--sharp-lambda L   sharp when the mean top Hessian eigenvalue > L (default 1)
--cka-similar C    IV-B (similar models) when the mean CKA >= C, else IV-A (default 0.8)
--json             the whole report as JSON (phase, verdict with reasons, thresholds, summary, models, pairs)
${PROGRESS_HELP}
${curveFlagsHelp(parseTaxonomyOptions({}))}
Curves follow the paper's released settings: quadratic Bezier, 50 epochs, lr 0.01, L2 5e-4, batch 128, evaluated at
t = 0, .25, .5, .75, 1 (--eval changes the points); mc = mean endpoint error − the error deviating most from it.
Thresholds are ours (the paper draws its boundaries by eye); the verdict lists the numbers it was read from.
`;

const THRESHOLD_FLAGS: Record<string, string> = { 'mc-barrier': 'mcBarrier', 'sharp-lambda': 'sharpLambda', 'cka-similar': 'ckaSimilar' };
const INT_FLAGS: Record<string, string> = { 'hessian-samples': 'hessianSamples', 'cka-samples': 'ckaSamples' };

function number(v: unknown, flag: string, integer = false): number {
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new WeightscopeError('invalid-input', `${flag} needs ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`, {
      usage: true,
    });
  }
  return n;
}

const f3 = (x: number | null | undefined): string =>
  x === null || x === undefined ? 'n/a' : Math.abs(x) >= 1e3 || (Math.abs(x) < 1e-2 && x !== 0) ? x.toExponential(2) : x.toFixed(3);

export function formatTaxonomy(r: TaxonomyResult): string {
  const out = [
    `phase ${r.phase}: ${r.verdict.global}, ${r.verdict.local}${r.verdict.similarity ? `, ${r.verdict.similarity} models` : ''}`,
  ];
  for (const reason of r.verdict.reasons) out.push(`  - ${reason}`);
  out.push('', 'model  train loss  train acc%  lambda_max  trace' + (r.summary.test_accuracy !== undefined ? '  test acc%' : ''));
  r.models.forEach((m, i) =>
    out.push(
      `${String(i + 1).padStart(5)}  ${f3(m.train_loss).padStart(10)}  ${(100 * m.train_accuracy).toFixed(2).padStart(10)}  ${f3(m.lambda_max).padStart(10)}  ${f3(m.trace)} ± ${f3(m.trace_stderr)}` +
        (m.test_accuracy !== undefined ? `  ${(100 * m.test_accuracy).toFixed(2).padStart(9)}` : ''),
    ),
  );
  out.push('', `pair  mc (err pts)  mc (loss)  CKA     train error % at t = ${r.pairs[0]?.ts.join(', ') ?? ''}`);
  const index = new Map(r.models.map((m, i) => [m.model, i + 1]));
  for (const p of r.pairs)
    out.push(
      `${`${index.get(p.a)}-${index.get(p.b)}`.padStart(4)}  ${f3(p.mc).padStart(12)}  ${f3(p.mc_loss).padStart(9)}  ${f3(p.cka)}   ${p.errors.map((e) => e.toFixed(1)).join(', ')}`,
    );
  const s = r.summary;
  out.push(
    '',
    `mean: mc ${f3(s.mc)}, lambda_max ${f3(s.lambda_max)} (log ${f3(s.log_lambda_max)}), trace ${f3(s.trace)}, CKA ${f3(s.cka)}, L2 distance ${f3(s.l2_distance)}` +
      (s.test_accuracy !== undefined ? `, test accuracy ${(100 * s.test_accuracy).toFixed(2)}%` : ''),
  );
  out.push(
    `thresholds: mc barrier -${r.thresholds.mcBarrier}, sharp lambda ${r.thresholds.sharpLambda}, CKA similar ${r.thresholds.ckaSimilar}; ${r.seconds.toFixed(1)} s`,
  );
  return out.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      ...CURVE_FLAGS,
      data: { type: 'string' },
      test: { type: 'string' },
      pairs: { type: 'string' },
      'mixup-alpha': { type: 'string' },
      json: { type: 'boolean' },
      ...PROGRESS_FLAG,
      ...Object.fromEntries([...Object.keys(THRESHOLD_FLAGS), ...Object.keys(INT_FLAGS)].map((k) => [k, { type: 'string' as const }])),
    },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length < 3)
    throw new WeightscopeError('invalid-input', `expected at least 3 models, got ${positionals.length} (usage: ${USAGE})`, { usage: true });
  if (typeof values.data !== 'string')
    throw new WeightscopeError('invalid-input', `--data TRAIN is required (usage: ${USAGE})`, { usage: true });
  const options: Record<string, unknown> = curveOptionsFromFlags(values);
  if (values.pairs !== undefined) options.pairs = String(values.pairs);
  if (values['mixup-alpha'] !== undefined) options.mixupAlpha = number(values['mixup-alpha'], '--mixup-alpha');
  for (const [flag, key] of Object.entries(INT_FLAGS))
    if (values[flag] !== undefined) options[key] = number(values[flag], `--${flag}`, true);
  const thresholds: Record<string, number> = {};
  for (const [flag, key] of Object.entries(THRESHOLD_FLAGS))
    if (values[flag] !== undefined) thresholds[key] = number(values[flag], `--${flag}`);
  if (Object.keys(thresholds).length) options.thresholds = thresholds;
  try {
    parseTaxonomyOptions(options);
  } catch (e) {
    const issue = optionIssues(e)?.[0];
    if (issue?.path[0] === 'thresholds' && issue.path[1]) {
      const flag = Object.entries(THRESHOLD_FLAGS).find(([, k]) => k === issue.path[1])?.[0];
      throw new WeightscopeError('invalid-input', `--${flag}: ${issue.message}`, { usage: true });
    }
    usageError(e);
  }
  const data = values.data;
  const r = await withProgressBar(
    (progress) =>
      taxonomy(
        { models: positionals, train: data, ...(typeof values.test === 'string' ? { test: values.test } : {}) },
        options as TaxonomyOptionsInput,
        { progress },
      ),
    { json: values.progress === true, command: 'taxonomy' },
  );
  process.stdout.write(values.json ? JSON.stringify(r, null, 1) + '\n' : formatTaxonomy(r));
  return 0;
}
