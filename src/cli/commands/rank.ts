/** `weightscope rank PATH_OR_ID...`: rank checkpoints by a metric's mean over layers, optionally vs scores. */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { METRIC_INFO, RANKING_METRICS, isRankingMetric, metricMean, type Direction } from '../../ranking/metrics.js';
import { rankModels, type RankCorrelation, type RankRow, type RankingResult } from '../../ranking/rank.js';
import { analyze } from '../../report/analyze.js';
import { parseArgsOrPrintHelp } from '../args.js';
import { PROGRESS_FLAG, PROGRESS_HELP, progressReporter } from '../progress.js';
import { EXIT_OK } from '../types.js';
import { cacheDirFromFlags, optionsFromFlags } from './analyze.js';

export const name = 'rank';
export const summary = 'rank checkpoints by an HT-SR metric (mean over layers); Spearman/Kendall vs given scores';

const USAGE =
  'weightscope rank PATH_OR_ID... [--metric M] [--direction asc|desc] [--scores scores.json] [--json] [--workers N] [--all-layers] [--no-cache] [--progress]';

const HELP = `Usage: ${USAGE}

PATH_OR_ID      checkpoint files, HF folders, ORG/NAME in the HF cache, or ids of models stored by the service
                (looked up in $WEIGHTSCOPE_DATA/models, default ./data)
--metric M      ${RANKING_METRICS.join(', ')} (default alpha)
--direction D   asc (smaller ranks first) or desc; default per metric:
${RANKING_METRICS.map((m) => `                  ${m.padEnd(18)} ${METRIC_INFO[m].direction}  ${METRIC_INFO[m].doc}`).join('\n')}
--scores FILE   JSON object {PATH_OR_ID as given: score}; adds Spearman ρ and Kendall τ-b with p-values (scipy's)
--json          print the ranking as JSON
--workers N     eigenvalue worker threads (default: number of cores)
--all-layers    lift WeightWatcher's size limits (see weightscope analyze --help)
--no-cache      do not use the per-layer cache ($WEIGHTSCOPE_DATA/cache)
${PROGRESS_HELP}

Models are grouped into families (config.json's model_type, else their layer signature) and ranked within each
family too; HT-SR metrics do not support a ranking across families, and the output says so when it mixes them.
`;

/** A service model id resolves to its stored files; anything else is passed to the readers as is. */
function locate(arg: string): string {
  if (/^[0-9a-f]{64}$/.test(arg)) {
    const dir = join(resolve(process.env.WEIGHTSCOPE_DATA ?? './data'), 'models', arg);
    if (existsSync(dir)) {
      const files = readdirSync(dir);
      return files.length === 1 ? join(dir, files[0]) : dir;
    }
  }
  return arg;
}

async function readScores(path: string): Promise<Record<string, number>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new WeightscopeError('invalid-input', `--scores ${path}: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new WeightscopeError('invalid-input', `--scores ${path}: expected a JSON object {model: number}`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new WeightscopeError('invalid-input', `--scores ${path}: score of ${JSON.stringify(k)} is not a finite number`);
    out[k] = v;
  }
  return out;
}

function tableLines(rows: readonly RankRow[], w: number): string[] {
  return rows.map((x) => `${String(x.rank).padEnd(5)} ${x.model.padEnd(w)} ${x.value === null ? '—' : x.value.toPrecision(8)}`);
}

function correlationLine(c: RankCorrelation): string {
  const f = (v: number | null): string => (v === null ? 'n/a' : v.toPrecision(6));
  return `Spearman rho ${f(c.spearman.rho)} (p ${f(c.spearman.p)}), Kendall tau-b ${f(c.kendall.tau)} (p ${f(c.kendall.p)}), n = ${c.n}`;
}

export function formatRanking(r: RankingResult): string {
  const w = Math.max(5, ...r.rows.map((x) => x.model.length));
  const lines = [
    `metric ${r.metric} (${r.direction === 'asc' ? 'smaller is better' : 'larger is better'})`,
    `${'rank'.padEnd(5)} ${'model'.padEnd(w)} value`,
  ];
  lines.push(...tableLines(r.rows, w));
  if (r.correlation) lines.push(`${r.cross_family ? 'across families: ' : ''}${correlationLine(r.correlation)}`);
  if (r.cross_family) {
    lines.push('', `note: ${r.note}`);
    for (const f of r.families) {
      lines.push('', `family ${f.family}:`, ...tableLines(f.rows, w));
      if (f.correlation) lines.push(correlationLine(f.correlation));
    }
  }
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      metric: { type: 'string' },
      direction: { type: 'string' },
      scores: { type: 'string' },
      json: { type: 'boolean' },
      workers: { type: 'string' },
      'all-layers': { type: 'boolean' },
      'no-cache': { type: 'boolean' },
      ...PROGRESS_FLAG,
    },
    USAGE,
    HELP,
  );
  if (!args) return EXIT_OK;
  const { values, positionals } = args;
  const metric = String(values.metric ?? 'alpha');
  if (!isRankingMetric(metric))
    throw new WeightscopeError(
      'invalid-input',
      `--metric: unknown metric ${JSON.stringify(metric)}; one of ${RANKING_METRICS.join(', ')}`,
      { usage: true },
    );
  const dirFlag = values.direction;
  if (dirFlag !== undefined && dirFlag !== 'asc' && dirFlag !== 'desc')
    throw new WeightscopeError('invalid-input', `--direction: asc or desc, got ${JSON.stringify(dirFlag)}`, { usage: true });
  const direction: Direction = (dirFlag as Direction | undefined) ?? METRIC_INFO[metric].direction;
  if (positionals.length < 2) throw new WeightscopeError('invalid-input', `give at least two models. Usage: ${USAGE}`, { usage: true });
  const scores = typeof values.scores === 'string' ? await readScores(values.scores) : undefined;
  const options = optionsFromFlags({ fits: METRIC_INFO[metric].fit, workers: values.workers, 'all-layers': values['all-layers'] });
  const cacheDir = cacheDirFromFlags(values);
  const inputs: { model: string; value: number | null; family?: string }[] = [];
  for (const [i, arg] of positionals.entries()) {
    const bar = progressReporter({
      json: values.progress === true,
      command: 'rank',
      context: { model: arg, model_index: i + 1, models: positionals.length },
    });
    let report;
    try {
      report = await analyze(locate(arg), options, {
        onProgress: (d, t, m, detail) => bar.hook(d, t, `[${i + 1}/${positionals.length}] ${m}`, detail),
        cacheDir,
      });
    } catch (e) {
      // Name the model: "a.safetensors: no weight matrices found (…)".
      if (e instanceof WeightscopeError) throw new WeightscopeError(e.code, `${arg}: ${e.message}`, e.details);
      throw e;
    } finally {
      bar.done();
    }
    inputs.push({ model: arg, value: metricMean(report, metric), family: report.model.family?.name });
  }
  const result = rankModels(inputs, metric, direction, scores);
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : formatRanking(result));
  return EXIT_OK;
}
