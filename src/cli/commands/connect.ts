/** `weightscope connect A B --data CLEAN`: train a curve between two models and evaluate it along t. */
import { basename, extname } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import {
  connect,
  connectOptionsSchema,
  parseConnectOptions,
  type ConnectOptionsInput,
  type ConnectResult,
} from '../../landscape/connectivity/connect.js';
import { pointAt } from '../../landscape/connectivity/points.js';
import type { OpenedModel } from '../../model-io/open.js';
import { checkOutput, outputEntry, roundToStorage, writeModelLike, type WrittenModel } from '../../model-io/write.js';
import { CURVE_FLAGS, curveFlagsHelp, curveOptionsFromFlags, formatFlag, usageError } from '../curve-flags.js';
import type { RobustnessAlong } from '../../landscape/robustness/probe.js';
import { ATTACK_FLAGS, ATTACK_HELP, attackOptionsFromFlags } from '../attack-flags.js';
import { graphFlag, intFlag, parseArgsOrPrintHelp } from '../args.js';
import { PROGRESS_FLAG, PROGRESS_HELP, progressReporter } from '../progress.js';

export const name = 'connect';
export const summary = 'mode connectivity: train a Bezier/PolyChain curve between two models, loss and accuracy along t, mc';

const USAGE =
  'weightscope connect A B (--data CLEAN | --text FILE --seq S) [--graph config|onnx] [--curve bezier|polychain] [--bends K] [--epochs E] ' +
  '[--samples-per-epoch N] [--batch B] [--lr LR] [--l2 C] [--seed S] [--eval T1,T2,..] [--eval-data D] [--triggered TRIG] ' +
  '[--attack pgd|fgsm --eps E --steps S --alpha A] [--out OUT --at T [--format hf|onnx]] [--json] [--progress]';

const HELP = `Usage: ${USAGE}

A B              two models of the same graph (the curve's fixed endpoints): .onnx files, Hugging Face folders with
                 the same config, or HF ids; the curve runs over every parameter
--data CLEAN     labelled data (safetensors x, y; JSONL / CSV {text, label} for a text classifier; tokens for a
                 language model): trains the curve (and gives BatchNorm statistics at each t)
--text F --seq S for language models: a text file tokenized with tokenizer.json into rows of S tokens (loss and token
                 accuracy along t)
--graph G        config (default) or onnx: which graph of a Hugging Face folder runs
--out OUT --at T write the curve's point w(T) in A's own format (a new Hugging Face folder OUT, or OUT.onnx)
--format F       hf or onnx: override the format of --out
--eval-data D    further safetensors sets to evaluate along t (repeatable or comma-separated)
--triggered TRIG a triggered set (x, y = target, y_true): its accuracy among non-target images is the ASR
--json           print the whole result as JSON
${PROGRESS_HELP}
${curveFlagsHelp(connectOptionsSchema.parse({}))}
Robustness along the path (Zhao et al. 2020): with --attack, at every evaluated t the clean and adversarial loss and
accuracy on the first --eval-data set (else --data) and the input Hessian's top eigenvalue, and their Pearson and
Spearman correlation along t.
${ATTACK_HELP}
Defaults follow Garipov et al. / Zhao et al.: quadratic Bezier, 100 epochs, batch 128, lr 0.01, L2 1e-4.
With --epochs 0 (or --bends 2) the curve is the straight line between A and B.
`;

function table(r: ConnectResult): string {
  const names = r.sets.map((s) => s.name);
  const head = [
    't',
    ...names.flatMap((n) => (r.sets.find((s) => s.name === n)?.role === 'triggered' ? [`${n} ASR%`] : [`${n} acc%`, `${n} loss`])),
  ];
  const rows = r.along.map((p) => [
    p.t.toFixed(3),
    ...names.flatMap((n) => {
      const m = p.sets[n];
      return r.sets.find((s) => s.name === n)?.role === 'triggered'
        ? [(100 * m.accuracy).toFixed(2)]
        : [(100 * m.accuracy).toFixed(2), m.loss.toFixed(4)];
    }),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(w[i])).join('  ');
  const out = [line(head), ...rows.map(line)];
  out.push(
    '',
    `curve: ${r.curve.kind}, ${r.curve.bends} control points; ${r.training.steps} steps in ${r.training.seconds.toFixed(1)} s` +
      (r.training.secondsPerEpoch !== null ? ` (${r.training.secondsPerEpoch.toFixed(2)} s/epoch)` : ''),
  );
  for (const [n, v] of Object.entries(r.summary.mc)) out.push(`mc(${n}) = ${v.toFixed(2)} (error points; < 0: a barrier)`);
  if (r.routes) out.push(`models: ${r.routes.map((d) => `${d.architecture} (${d.route})`).join(', ')}`);
  if (r.robustness) out.push('', robustnessTable(r.robustness));
  return out.join('\n') + '\n';
}

function robustnessTable(r: RobustnessAlong): string {
  const o = r.options;
  const out = [
    `${o.attack.toUpperCase()} ε = ${o.eps}${o.attack === 'pgd' ? `, ${o.steps} steps` : ''} on ${r.samples} samples of ${r.set}`,
    '    t  clean acc%  clean loss  adv acc%  adv loss  input-Hessian λmax',
  ];
  for (const p of r.along) {
    out.push(
      `${p.t.toFixed(3).padStart(5)}  ${(100 * p.clean.accuracy).toFixed(2).padStart(10)}  ${p.clean.loss.toFixed(4).padStart(10)}  ${(100 * p.adversarial.accuracy).toFixed(2).padStart(8)}  ${p.adversarial.loss.toFixed(4).padStart(8)}  ${p.inputHessian ? p.inputHessian.topEigenvalue.toPrecision(5).padStart(18) : '-'.padStart(18)}`,
    );
  }
  const c = r.correlation;
  if (c) {
    const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
    out.push(
      `correlation with λmax along t (${r.along.length} points): adversarial loss Pearson ${f(c.adversarialLoss.pearson)}, Spearman ${f(c.adversarialLoss.spearman.value)}; robust error Pearson ${f(c.robustError.pearson)}, Spearman ${f(c.robustError.spearman.value)}`,
    );
  }
  return out.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      ...CURVE_FLAGS,
      ...ATTACK_FLAGS,
      data: { type: 'string' },
      text: { type: 'string' },
      seq: { type: 'string' },
      'eval-data': { type: 'string', multiple: true },
      triggered: { type: 'string' },
      json: { type: 'boolean' },
      graph: { type: 'string' },
      out: { type: 'string' },
      at: { type: 'string' },
      format: { type: 'string' },
      ...PROGRESS_FLAG,
    },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length !== 2)
    throw new WeightscopeError('invalid-input', `expected two models A.onnx B.onnx, got ${positionals.length} (usage: ${USAGE})`, {
      usage: true,
    });
  if ((typeof values.data === 'string') === (typeof values.text === 'string')) {
    throw new WeightscopeError('invalid-input', `--data CLEAN (or --text FILE --seq S for language models) is required (usage: ${USAGE})`, {
      usage: true,
    });
  }
  const seq = intFlag(values.seq, '--seq');
  const graph = graphFlag(values.graph);
  const format = formatFlag(values.format);
  const at = values.at === undefined ? undefined : Number(values.at);
  if ((values.out === undefined) !== (at === undefined))
    throw new WeightscopeError('invalid-input', '--out and --at go together (write the point w(T) to OUT)', { usage: true });
  if (at !== undefined && !(at >= 0 && at <= 1))
    throw new WeightscopeError('invalid-input', `--at needs a number in [0, 1], got ${JSON.stringify(values.at)}`, { usage: true });
  const out = typeof values.out === 'string' ? values.out : undefined;
  const fmt = out ? await checkOutput(positionals[0], out, format, graph) : undefined;
  const attack = attackOptionsFromFlags(values, false);
  const options = { ...curveOptionsFromFlags(values), ...(attack ? { attack } : {}) } as ConnectOptionsInput;
  try {
    parseConnectOptions(options);
  } catch (e) {
    usageError(e);
  }
  const evalPaths = ((values['eval-data'] as string[] | undefined) ?? []).flatMap((v) => v.split(',')).filter((s) => s.length > 0);
  const evalData = evalPaths.map((p, i) => ({ name: uniqueName(basename(p, extname(p)), evalPaths.slice(0, i)), path: p }));
  const bar = progressReporter({ json: values.progress === true, command: 'connect' });
  let result: ConnectResult;
  let written: WrittenModel | null = null;
  try {
    const r = await connect(
      {
        modelA: positionals[0],
        modelB: positionals[1],
        ...(typeof values.data === 'string' ? { data: values.data } : {}),
        ...(typeof values.text === 'string' ? { text: values.text, ...(seq !== undefined ? { seq } : {}) } : {}),
        evalData,
        ...(typeof values.triggered === 'string' ? { triggered: values.triggered } : {}),
        ...(graph ? { graph } : {}),
      },
      options,
      { progress: (d, t, m) => bar.hook(Math.round(100 * (d / t)), 100, m) },
    );
    result = r.result;
    if (out && at !== undefined) {
      const source = r.endpoints.opened as OpenedModel;
      const w = roundToStorage(source, pointAt(r.curve, at));
      const params = new Map([...w, ...(await r.evaluator.bnStats(w))]);
      written = await writeModelLike(source, params, out, { format: fmt, metadata: { source: 'weightscope connect', t: String(at) } });
    }
  } finally {
    bar.done();
  }
  const shown = written ? { ...result, output: outputEntry(written) } : result;
  process.stdout.write(
    values.json ? JSON.stringify(shown, null, 1) + '\n' : table(result) + (written ? `wrote w(${at}) to ${written.path}\n` : ''),
  );
  return 0;
}

function uniqueName(base: string, before: string[]): string {
  const taken = new Set(['train', 'triggered', ...before.map((p) => basename(p, extname(p)))]);
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
  return n;
}
