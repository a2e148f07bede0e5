/** `weightscope connect A.onnx B.onnx --data CLEAN`: train a curve between two models and evaluate it along t. */
import { basename, extname } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { connect, connectOptionsSchema, parseConnectOptions, type ConnectOptionsInput, type ConnectResult } from '../../landscape/connectivity/connect.js';
import type { RobustnessAlong } from '../../landscape/robustness/probe.js';
import { CURVE_FLAGS, curveFlagsHelp, curveOptionsFromFlags, usageError } from '../curve-flags.js';
import { ATTACK_FLAGS, ATTACK_HELP, attackOptionsFromFlags } from '../attack-flags.js';
import { parseArgsOrPrintHelp } from '../args.js';
import { progressBar } from '../progress.js';

export const name = 'connect';
export const summary = 'mode connectivity: train a Bezier/PolyChain curve between two models, loss and accuracy along t, mc';

const USAGE =
  'weightscope connect A.onnx B.onnx --data CLEAN [--curve bezier|polychain] [--bends K] [--epochs E] ' +
  '[--samples-per-epoch N] [--batch B] [--lr LR] [--l2 C] [--seed S] [--eval T1,T2,..] [--eval-data D] [--triggered TRIG] ' +
  '[--attack pgd|fgsm --eps E --steps S --alpha A] [--json]';

const HELP = `Usage: ${USAGE}

A.onnx B.onnx    two models of the same graph (the curve's fixed endpoints)
--data CLEAN     safetensors with x, y: trains the curve (and gives BatchNorm statistics at each t)
--eval-data D    further safetensors sets to evaluate along t (repeatable or comma-separated)
--triggered TRIG a triggered set (x, y = target, y_true): its accuracy among non-target images is the ASR
--json           print the whole result as JSON
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
  const head = ['t', ...names.flatMap((n) => (r.sets.find((s) => s.name === n)?.role === 'triggered' ? [`${n} ASR%`] : [`${n} acc%`, `${n} loss`]))];
  const rows = r.along.map((p) => [
    p.t.toFixed(3),
    ...names.flatMap((n) => {
      const m = p.sets[n];
      return r.sets.find((s) => s.name === n)?.role === 'triggered' ? [(100 * m.accuracy).toFixed(2)] : [(100 * m.accuracy).toFixed(2), m.loss.toFixed(4)];
    }),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(w[i])).join('  ');
  const out = [line(head), ...rows.map(line)];
  out.push('', `curve: ${r.curve.kind}, ${r.curve.bends} control points; ${r.training.steps} steps in ${r.training.seconds.toFixed(1)} s` +
    (r.training.secondsPerEpoch !== null ? ` (${r.training.secondsPerEpoch.toFixed(2)} s/epoch)` : ''));
  for (const [n, v] of Object.entries(r.summary.mc)) out.push(`mc(${n}) = ${v.toFixed(2)} (error points; < 0: a barrier)`);
  if (r.robustness) out.push('', robustnessTable(r.robustness));
  return out.join('\n') + '\n';
}

function robustnessTable(r: RobustnessAlong): string {
  const o = r.options;
  const out = [`${o.attack.toUpperCase()} ε = ${o.eps}${o.attack === 'pgd' ? `, ${o.steps} steps` : ''} on ${r.samples} samples of ${r.set}`, '    t  clean acc%  clean loss  adv acc%  adv loss  input-Hessian λmax'];
  for (const p of r.along) {
    out.push(`${p.t.toFixed(3).padStart(5)}  ${(100 * p.clean.accuracy).toFixed(2).padStart(10)}  ${p.clean.loss.toFixed(4).padStart(10)}  ${(100 * p.adversarial.accuracy).toFixed(2).padStart(8)}  ${p.adversarial.loss.toFixed(4).padStart(8)}  ${p.inputHessian ? p.inputHessian.topEigenvalue.toPrecision(5).padStart(18) : '-'.padStart(18)}`);
  }
  const c = r.correlation;
  if (c) {
    const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
    out.push(`correlation with λmax along t (${r.along.length} points): adversarial loss Pearson ${f(c.adversarialLoss.pearson)}, Spearman ${f(c.adversarialLoss.spearman.value)}; robust error Pearson ${f(c.robustError.pearson)}, Spearman ${f(c.robustError.spearman.value)}`);
  }
  return out.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    { ...CURVE_FLAGS, ...ATTACK_FLAGS, data: { type: 'string' }, 'eval-data': { type: 'string', multiple: true }, triggered: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length !== 2) throw new WeightscopeError('invalid-input', `expected two models A.onnx B.onnx, got ${positionals.length} (usage: ${USAGE})`, { usage: true });
  if (typeof values.data !== 'string') throw new WeightscopeError('invalid-input', `--data CLEAN is required (usage: ${USAGE})`, { usage: true });
  const attack = attackOptionsFromFlags(values, false);
  const options = { ...curveOptionsFromFlags(values), ...(attack ? { attack } : {}) } as ConnectOptionsInput;
  try {
    parseConnectOptions(options);
  } catch (e) {
    usageError(e);
  }
  const evalPaths = ((values['eval-data'] as string[] | undefined) ?? []).flatMap((v) => v.split(',')).filter((s) => s.length > 0);
  const evalData = evalPaths.map((p, i) => ({ name: uniqueName(basename(p, extname(p)), evalPaths.slice(0, i)), path: p }));
  const bar = progressBar();
  let result: ConnectResult;
  try {
    ({ result } = await connect(
      { modelA: positionals[0], modelB: positionals[1], data: values.data, evalData, ...(typeof values.triggered === 'string' ? { triggered: values.triggered } : {}) },
      options,
      { progress: (d, t, m) => bar.hook(Math.round(100 * (d / t)), 100, m) },
    ));
  } finally {
    bar.done();
  }
  process.stdout.write(values.json ? JSON.stringify(result, null, 1) + '\n' : table(result));
  return 0;
}

function uniqueName(base: string, before: string[]): string {
  const taken = new Set(['train', 'triggered', ...before.map((p) => basename(p, extname(p)))]);
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}_${i}`;
  return n;
}
