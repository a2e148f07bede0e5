/** `weightscope repair A [B] --data CLEAN --out OUT`: backdoor repair by path connection, written in A's own format. */
import { WeightscopeError } from '../../errors.js';
import { CURVE_FLAGS, curveFlagsHelp, curveOptionsFromFlags, formatFlag, usageError } from '../curve-flags.js';
import {
  parseRepairOptions,
  repair,
  repairOptionsSchema,
  type RepairOptionsInput,
  type RepairReport,
} from '../../landscape/repair/repair.js';
import { checkOutput, outputEntry, writeModelLike } from '../../model-io/write.js';
import { graphFlag, parseArgsOrPrintHelp, writeReportFile } from '../args.js';
import { PROGRESS_FLAG, PROGRESS_HELP, progressReporter } from '../progress.js';

export const name = 'repair';
export const summary = "backdoor repair by path connection: the model at a t chosen on clean data, in the input's own format";

const USAGE =
  'weightscope repair A [B] --data CLEAN --out OUT [--format hf|onnx] [--graph config|onnx] [--eval-data D] [--triggered TRIG] [--targets T] [--held-out F] [--delta D] ' +
  '[--recipe auto|convnet|transformer] [--polish-epochs N] [--polish-lr LR] [--polish-mixup P] [--unlearn S] [--cleanse-steps N] [--verify-tries N] [--no-baseline] [--curve bezier|polychain] [--bends K] [--epochs E] [--samples-per-epoch N] [--batch B] [--lr LR] [--l2 C] [--seed S] [--eval T1,..] [--report FILE] [--json] [--progress]';

const HELP = `Usage: ${USAGE}

A [B]            one or two backdoored models of the same graph (.onnx files, Hugging Face folders or HF ids); with
                 one, the second endpoint is A fine-tuned on the clean data with the curve's budget
--data CLEAN     clean data (safetensors x, y; or for a text classifier JSONL / CSV {text, label}); split into
                 training and held-out parts unless --eval-data is given
--out OUT        the repaired model in A's own format: for a Hugging Face folder a new folder OUT (must not exist or
                 be empty) with A's non-weight files and model.safetensors (A's tensor names and dtypes); for an ONNX
                 model OUT.onnx (same graph, new initializers) and OUT.safetensors beside it
--format F       hf or onnx: override the output format (onnx writes the graph built from config.json)
--graph G        config (default) or onnx: which graph of a Hugging Face folder runs
--eval-data D    clean held-out data for choosing t
--triggered TRIG triggered set (x, y = target, y_true), for reporting the ASR only: it never changes the result
--targets T      error-injection targets (x, y = the wrong labels the attack wants, y_true), for reporting the
                 attack success only: it never changes the result
--held-out F     share of --data held out to choose t (default 0.2)
--delta D        tolerance on held-out clean accuracy, a fraction (default 0.02 = 2 points)
--fine-tune-lr LR  learning rate of the fine-tuning (baseline / one-model endpoint); default --lr
--recipe R       which family's defaults fill --l2 and the --polish-* options: auto (default; transformer for a
                 Hugging Face folder, convnet for an ONNX file), convnet (L2 0.05; 20 polishing epochs at lr 0.05) or
                 transformer (L2 0.01; 40 epochs at lr 0.005, mixup 0.5 on real-valued inputs; --unlearn 0.2); a
                 flag given wins
--polish-epochs N  fine-tune the point at t on the clean training part for N epochs before export (0: export w(t))
--polish-lr LR   learning rate of the polishing (Garipov schedule)
--polish-mixup P share of each polishing batch's rows blended with another row (mixup; images and features only)
--polish-tries N with polishing, how many points nearest 0.5 may be polished while looking for one within --delta
--unlearn S      reverse-engineer each endpoint's trigger per class from the clean data (Neural Cleanse); if a class
                 is flagged, stamp its trigger on share S of the curve's training rows (labels kept) and take t as the
                 best held-out point, among those the trained curve weighs ≥ 1/4, whose own reversal no longer flags
                 it (0: off; convnet 0, transformer 0.2)
--cleanse-steps N  Adam steps per class of each trigger reversal (default 300)
--verify-tries N how many points (best held-out first) a new reversal may check (default 3); none passing: the
                 polishing rule below
--no-baseline    skip the fine-tuning baseline when two models are given
--report FILE    also write the JSON report to FILE
--json           print the JSON report on stdout
${PROGRESS_HELP}
${curveFlagsHelp({ ...repairOptionsSchema.parse({}), l2: "the recipe's: 0.05 convnet, 0.01 transformer" })}
t rule (clean data only): the --polish-tries evaluated points nearest 0.5 are polished; t is, among those within one
standard error of the best polished held-out accuracy, the one nearest 0.5 (--select one-se, the default), the best
(--select best) or the first within --delta of the endpoints' mean (--select first); then w(t) is polished again on
all of --data (--no-refit: not). Without polishing: the interior t nearest 0.5 within --delta, else the best one.
--select one-se|best|first  how t is taken among the polished points
--no-refit       export the polished point as chosen, without polishing again on the held-out part too
`;

function text(r: RepairReport): string {
  const attack = r.data.triggered !== null ? 'triggered' : r.data.targets !== null ? 'targets' : null;
  const label = attack === 'triggered' ? 'ASR%' : 'attack%';
  const pct = (v: number | undefined) => (v === undefined ? '' : (100 * v).toFixed(2));
  const out = [`   t  held-out acc%${attack ? `  ${label}` : ''}   polished: held-out acc%${attack ? `  ${label}` : ''}`];
  for (const x of r.tradeoff) {
    const cols = [x.t.toFixed(3).padStart(5), pct(x.curve.heldOut.accuracy).padStart(13)];
    if (attack) cols.push(pct(x.curve[attack]?.accuracy).padStart(label.length + 1));
    if (x.polished) {
      cols.push(pct(x.polished.heldOut.accuracy).padStart(24));
      if (attack) cols.push(pct(x.polished[attack]?.accuracy).padStart(label.length + 1));
    }
    out.push(cols.join(' ') + (x.t === r.choice.t ? '  <- chosen' : ''));
  }
  out.push('', `method: ${r.method}`, `chosen t = ${r.choice.t}: ${r.choice.reason}`);
  const m = (name: string, x: RepairReport['repaired'] | null) => {
    if (!x) return;
    const parts = [`held-out ${pct(x.heldOut.accuracy)}%`];
    if (x.triggered) parts.push(`ASR ${pct(x.triggered.accuracy)}%`);
    if (x.targets)
      parts.push(`attack success ${pct(x.targets.accuracy)}% (${Math.round(x.targets.accuracy * x.targets.n)} of ${x.targets.n})`);
    for (const [k, v] of Object.entries(x.report ?? {})) parts.push(`${k} ${pct(v.accuracy)}%`);
    out.push(`${name}: ${parts.join(', ')}`);
  };
  m('repaired', r.repaired);
  if (r.polishSeconds !== null) m('w(t) before polishing', r.atT);
  m('fine-tuning baseline (same budget)', r.baseline);
  m('endpoint A', r.endpoints[0]);
  m(r.secondEndpoint === 'model' ? 'endpoint B' : 'endpoint B (A fine-tuned)', r.endpoints[1]);
  if (r.output)
    out.push(
      'folder' in r.output
        ? `wrote the folder ${r.output.folder} (${r.output.safetensors})`
        : `wrote ${r.output.onnx} and ${r.output.safetensors}`,
    );
  return out.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      ...CURVE_FLAGS,
      data: { type: 'string' },
      'eval-data': { type: 'string' },
      triggered: { type: 'string' },
      targets: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string' },
      graph: { type: 'string' },
      'held-out': { type: 'string' },
      delta: { type: 'string' },
      'fine-tune-lr': { type: 'string' },
      'polish-epochs': { type: 'string' },
      'polish-lr': { type: 'string' },
      'polish-mixup': { type: 'string' },
      unlearn: { type: 'string' },
      'cleanse-steps': { type: 'string' },
      'verify-tries': { type: 'string' },
      recipe: { type: 'string' },
      'polish-tries': { type: 'string' },
      'no-baseline': { type: 'boolean' },
      select: { type: 'string' },
      'no-refit': { type: 'boolean' },
      report: { type: 'string' },
      json: { type: 'boolean' },
      ...PROGRESS_FLAG,
    },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length < 1 || positionals.length > 2)
    throw new WeightscopeError('invalid-input', `expected one or two models, got ${positionals.length} (usage: ${USAGE})`, { usage: true });
  if (typeof values.data !== 'string')
    throw new WeightscopeError('invalid-input', `--data CLEAN is required (usage: ${USAGE})`, { usage: true });
  if (typeof values.out !== 'string')
    throw new WeightscopeError('invalid-input', `--out OUT is required (usage: ${USAGE})`, { usage: true });
  const format = formatFlag(values.format);
  const graph = graphFlag(values.graph);
  const options = curveOptionsFromFlags(values);
  const extra: Record<string, [string, string]> = {
    heldOut: ['held-out', '--held-out'],
    delta: ['delta', '--delta'],
    fineTuneLr: ['fine-tune-lr', '--fine-tune-lr'],
    polishEpochs: ['polish-epochs', '--polish-epochs'],
    polishLr: ['polish-lr', '--polish-lr'],
    polishMixup: ['polish-mixup', '--polish-mixup'],
    polishTries: ['polish-tries', '--polish-tries'],
    unlearn: ['unlearn', '--unlearn'],
    cleanseSteps: ['cleanse-steps', '--cleanse-steps'],
    verifyTries: ['verify-tries', '--verify-tries'],
  };
  for (const [key, [flag, label]] of Object.entries(extra)) {
    if (values[flag] === undefined) continue;
    const n = Number(values[flag]);
    if (!Number.isFinite(n))
      throw new WeightscopeError('invalid-input', `${label} needs a number, got ${JSON.stringify(values[flag])}`, { usage: true });
    options[key] = n;
  }
  if (values['no-baseline']) options.baseline = false;
  if (values['no-refit']) options.refit = false;
  if (values.select !== undefined) options.select = String(values.select);
  if (values.recipe !== undefined) options.recipe = String(values.recipe);
  try {
    parseRepairOptions(options as RepairOptionsInput);
  } catch (e) {
    usageError(e);
  }
  const fmt = await checkOutput(positionals[0], values.out, format, graph);
  const bar = progressReporter({ json: values.progress === true, command: 'repair' });
  let report: RepairReport;
  try {
    const r = await repair(
      {
        modelA: positionals[0],
        ...(positionals[1] ? { modelB: positionals[1] } : {}),
        ...(graph ? { graph } : {}),
        data: values.data,
        ...(typeof values['eval-data'] === 'string' ? { evalData: values['eval-data'] } : {}),
        ...(typeof values.triggered === 'string' ? { triggered: values.triggered } : {}),
        ...(typeof values.targets === 'string' ? { targets: values.targets } : {}),
      },
      options as RepairOptionsInput,
      { progress: (d, t, m) => bar.hook(Math.round(100 * (d / t)), 100, m) },
    );
    const output = await writeModelLike(r.source, r.params, values.out, {
      format: fmt,
      metadata: { source: 'weightscope repair', t: String(r.report.choice.t) },
    });
    report = { ...r.report, output: outputEntry(output) };
  } finally {
    bar.done();
  }
  const json = JSON.stringify(report, null, 1) + '\n';
  if (typeof values.report === 'string') await writeReportFile(values.report, json);
  process.stdout.write(values.json ? json : text(report));
  return 0;
}
