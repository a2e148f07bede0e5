/** `weightscope rank PATH_OR_ID...`: rank checkpoints by a metric's mean over layers, optionally vs scores. */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { METRIC_INFO, RANKING_METRICS, isRankingMetric, metricMean, type Direction } from '../../ranking/metrics.js';
import { rankModels, type RankingResult } from '../../ranking/rank.js';
import { analyze } from '../../report/analyze.js';
import { parseArgsOrPrintHelp } from '../args.js';
import { progressBar } from '../progress.js';
import { EXIT_OK } from '../types.js';
import { optionsFromFlags } from './analyze.js';

export const name = 'rank';
export const summary = 'rank checkpoints by an HT-SR metric (mean over layers); Spearman/Kendall vs given scores';

const USAGE = 'weightscope rank PATH_OR_ID... [--metric M] [--direction asc|desc] [--scores scores.json] [--json] [--workers N]';

const HELP = `Usage: ${USAGE}

PATH_OR_ID      checkpoint files, HF folders, ORG/NAME in the HF cache, or ids of models stored by the service
                (looked up in $WEIGHTSCOPE_DATA/models, default ./data)
--metric M      ${RANKING_METRICS.join(', ')} (default alpha)
--direction D   asc (smaller ranks first) or desc; default per metric:
${RANKING_METRICS.map((m) => `                  ${m.padEnd(18)} ${METRIC_INFO[m].direction}  ${METRIC_INFO[m].doc}`).join('\n')}
--scores FILE   JSON object {PATH_OR_ID as given: score}; adds Spearman ρ and Kendall τ-b with p-values (scipy's)
--json          print the ranking as JSON
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
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new WeightscopeError('invalid-input', `--scores ${path}: expected a JSON object {model: number}`);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new WeightscopeError('invalid-input', `--scores ${path}: score of ${JSON.stringify(k)} is not a finite number`);
    out[k] = v;
  }
  return out;
}

export function formatRanking(r: RankingResult): string {
  const w = Math.max(5, ...r.rows.map((x) => x.model.length));
  const lines = [`metric ${r.metric} (${r.direction === 'asc' ? 'smaller is better' : 'larger is better'})`, `${'rank'.padEnd(5)} ${'model'.padEnd(w)} value`];
  for (const x of r.rows) lines.push(`${String(x.rank).padEnd(5)} ${x.model.padEnd(w)} ${x.value === null ? '—' : x.value.toPrecision(8)}`);
  if (r.correlation) {
    const c = r.correlation;
    const f = (v: number | null): string => (v === null ? 'n/a' : v.toPrecision(6));
    lines.push(`Spearman rho ${f(c.spearman.rho)} (p ${f(c.spearman.p)}), Kendall tau-b ${f(c.kendall.tau)} (p ${f(c.kendall.p)}), n = ${c.n}`);
  }
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    { metric: { type: 'string' }, direction: { type: 'string' }, scores: { type: 'string' }, json: { type: 'boolean' }, workers: { type: 'string' } },
    USAGE,
    HELP,
  );
  if (!args) return EXIT_OK;
  const { values, positionals } = args;
  const metric = String(values.metric ?? 'alpha');
  if (!isRankingMetric(metric)) throw new WeightscopeError('invalid-input', `--metric: unknown metric ${JSON.stringify(metric)}; one of ${RANKING_METRICS.join(', ')}`, { usage: true });
  const dirFlag = values.direction;
  if (dirFlag !== undefined && dirFlag !== 'asc' && dirFlag !== 'desc') throw new WeightscopeError('invalid-input', `--direction: asc or desc, got ${JSON.stringify(dirFlag)}`, { usage: true });
  const direction: Direction = (dirFlag as Direction | undefined) ?? METRIC_INFO[metric].direction;
  if (positionals.length < 2) throw new WeightscopeError('invalid-input', `give at least two models. Usage: ${USAGE}`, { usage: true });
  const scores = typeof values.scores === 'string' ? await readScores(values.scores) : undefined;
  const options = optionsFromFlags({ fits: METRIC_INFO[metric].fit, workers: values.workers });
  const inputs: { model: string; value: number | null }[] = [];
  for (const [i, arg] of positionals.entries()) {
    const bar = progressBar();
    const report = await analyze(locate(arg), options, (d, t, m) => bar.hook(d, t, `[${i + 1}/${positionals.length}] ${m}`));
    bar.done();
    inputs.push({ model: arg, value: metricMean(report, metric) });
  }
  const result = rankModels(inputs, metric, direction, scores);
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : formatRanking(result));
  return EXIT_OK;
}
