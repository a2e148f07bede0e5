/** `weightscope analyze PATH_OR_HF_ID`: the per-layer HT-SR report as a table, JSON or CSV. */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WeightscopeError, formatZodError } from '../../errors.js';
import { analyze } from '../../report/analyze.js';
import { reportToCsv } from '../../report/csv.js';
import { AnalyzeOptionsSchema, type AnalyzeOptionsInput } from '../../report/options.js';
import { formatTable } from '../../report/table.js';
import { intFlag, listFlag, parseArgsOrPrintHelp } from '../args.js';
import { ANALYSIS_DEVICES } from '../../runtime/devices.js';
import { PROGRESS_FLAG, PROGRESS_HELP, progressReporter } from '../progress.js';

export const name = 'analyze';
export const summary = 'per-layer heavy-tail (HT-SR) metrics of a checkpoint, WeightWatcher-compatible';

const USAGE =
  'weightscope analyze PATH_OR_HF_ID [--json] [--csv FILE] [--fits pl,etpl,exp] [--pl-variant ww|kdd] ' +
  '[--min-evals N] [--max-evals N] [--max-n N] [--all-layers] [--layers ID|GLOB,...] [--eigen-backend auto|lapack|ts] ' +
  `[--workers N] [--device ${ANALYSIS_DEVICES.join('|')}] [--no-cache] [--progress]`;

const HELP = `Usage: ${USAGE}

PATH_OR_HF_ID   a .safetensors/.bin/.pt/.onnx file, a Hugging Face folder, or ORG/NAME in the local HF cache
--json          print {model, layers, summary, skipped} as JSON on stdout instead of the table
--csv FILE      also write the rows as CSV (WeightWatcher's column names, then E-TPL/EXP columns)
--fits LIST     fits to run, any of pl,etpl,exp (default all three)
--pl-variant V  ww (WeightWatcher 0.7.5.5 default) or kdd (xmax = max eigenvalue, unique xmin candidates)
--min-evals N   skip layers with fewer eigenvalues (default 10)
--max-evals N   skip layers with more eigenvalues (default 15000)
--max-n N       skip layers whose long side is larger (default 50000)
--all-layers    lift WeightWatcher's size limits (--max-evals, --max-n): analyse e.g. a 128k-vocabulary embedding too;
                without it the skipped layers are listed with what each would cost
--layers LIST   only these layer ids or name globs (e.g. 0,3 or 'transformer.h.*.attn.*')
--eigen-backend auto (system LAPACK when present), lapack, or ts (pure TypeScript)
--workers N     eigenvalue worker threads (default: number of cores)
--device D      ${ANALYSIS_DEVICES.join(' or ')} (default ${ANALYSIS_DEVICES[0]}); cuda: Gram matrices and eigenvalues on an NVIDIA
                GPU (cuBLAS/cuSOLVER from the machine's CUDA or PyTorch installation; WEIGHTSCOPE_CUDA_LIBS names their folder)
--no-cache      do not use the per-layer cache ($WEIGHTSCOPE_DATA/cache, default ./data/cache), which keeps finished
                layers so an interrupted analysis resumes and an unchanged model is not solved again
${PROGRESS_HELP}
`;

const FLAG_OF: Record<string, string> = {
  fits: '--fits',
  plVariant: '--pl-variant',
  minEvals: '--min-evals',
  maxEvals: '--max-evals',
  maxN: '--max-n',
  layers: '--layers',
  eigenBackend: '--eigen-backend',
  workers: '--workers',
  allLayers: '--all-layers',
};

/** The per-layer cache folder of a CLI run: $WEIGHTSCOPE_DATA/cache (default ./data/cache), or none with --no-cache. */
export function cacheDirFromFlags(values: Record<string, unknown>): string | undefined {
  return values['no-cache'] ? undefined : join(resolve(process.env.WEIGHTSCOPE_DATA ?? './data'), 'cache');
}

/** CLI flags → the shared options object, validated by the same zod schema as the library and the service. */
export function optionsFromFlags(values: Record<string, unknown>): AnalyzeOptionsInput {
  const raw: Record<string, unknown> = {};
  const fits = listFlag(values.fits);
  if (fits) raw.fits = fits;
  if (values['pl-variant'] !== undefined) raw.plVariant = values['pl-variant'];
  const minEvals = intFlag(values['min-evals'], '--min-evals');
  if (minEvals !== undefined) raw.minEvals = minEvals;
  const maxEvals = intFlag(values['max-evals'], '--max-evals');
  if (maxEvals !== undefined) raw.maxEvals = maxEvals;
  const maxN = intFlag(values['max-n'], '--max-n');
  if (maxN !== undefined) raw.maxN = maxN;
  const layers = listFlag(values.layers);
  if (layers) raw.layers = layers.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  if (values['eigen-backend'] !== undefined) raw.eigenBackend = values['eigen-backend'];
  if (values.device !== undefined) {
    if (!(ANALYSIS_DEVICES as readonly unknown[]).includes(values.device))
      throw new WeightscopeError(
        'invalid-input',
        `--device must be ${ANALYSIS_DEVICES.join(' or ')} (got ${JSON.stringify(values.device)}); see weightscope analyze --help`,
        { usage: true },
      );
    if (values.device === 'cuda') {
      if (raw.eigenBackend !== undefined)
        throw new WeightscopeError(
          'invalid-input',
          '--device cuda and --eigen-backend exclude each other; see weightscope analyze --help',
          { usage: true },
        );
      raw.eigenBackend = 'cuda';
    }
  }
  const workers = intFlag(values.workers, '--workers');
  if (workers !== undefined) raw.workers = workers;
  if (values['all-layers']) raw.allLayers = true;
  const r = AnalyzeOptionsSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const flag = FLAG_OF[String(issue.path[0])] ?? formatZodError(r.error);
    const got = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], raw);
    throw new WeightscopeError(
      'invalid-input',
      `${flag}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}; see weightscope analyze --help`,
      { usage: true },
    );
  }
  return raw as AnalyzeOptionsInput;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      json: { type: 'boolean' },
      csv: { type: 'string' },
      fits: { type: 'string', multiple: true },
      'pl-variant': { type: 'string' },
      'min-evals': { type: 'string' },
      'max-evals': { type: 'string' },
      'max-n': { type: 'string' },
      layers: { type: 'string', multiple: true },
      'eigen-backend': { type: 'string' },
      workers: { type: 'string' },
      device: { type: 'string' },
      'all-layers': { type: 'boolean' },
      'no-cache': { type: 'boolean' },
      ...PROGRESS_FLAG,
    },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length !== 1) {
    const what = positionals.length === 0 ? 'missing PATH_OR_HF_ID' : `expected one PATH_OR_HF_ID, got ${positionals.length}`;
    throw new WeightscopeError('invalid-input', `${what} (usage: ${USAGE})`, { usage: true });
  }
  const options = optionsFromFlags(values);
  const bar = progressReporter({ json: values.progress === true, command: 'analyze' });
  let report;
  try {
    report = await analyze(positionals[0], options, { onProgress: bar.hook, cacheDir: cacheDirFromFlags(values) });
  } finally {
    bar.done();
  }
  if (typeof values.csv === 'string') {
    try {
      await writeFile(values.csv, reportToCsv(report));
    } catch (e) {
      throw new WeightscopeError('not-found', `cannot write CSV to ${values.csv}: ${(e as Error).message}`);
    }
  }
  if (values.json) {
    const { model, layers, summary: s, skipped, work } = report;
    process.stdout.write(JSON.stringify({ model, layers, summary: s, skipped, work }, null, 1) + '\n');
  } else {
    process.stdout.write(formatTable(report));
  }
  return 0;
}
