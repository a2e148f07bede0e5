/** `weightscope attack MODEL.onnx --data D --eps E`: clean vs adversarial (PGD/FGSM) metrics and the input Hessian's λmax. */
import { WeightscopeError } from '../../errors.js';
import { attackModel, attackRunSchema, type AttackResult, type AttackRunOptionsInput } from '../../landscape/robustness/attack-model.js';
import { parseOptions } from '../../util/options.js';
import { ATTACK_FLAGS, ATTACK_HELP, attackOptionsFromFlags } from '../attack-flags.js';
import { parseArgsOrPrintHelp } from '../args.js';
import { usageError } from '../curve-flags.js';
import { DEVICE_HELP } from '../../runtime/devices.js';

export const name = 'attack';
export const summary = 'adversarial robustness of one model: PGD/FGSM (L∞) accuracy and loss, input-Hessian top eigenvalue';

const USAGE =
  'weightscope attack MODEL.onnx --data D [--attack pgd|fgsm] [--eps E] [--steps S] [--alpha A] [--attack-samples N] [--device D] [--json]';

const HELP = `Usage: ${USAGE}

MODEL.onnx       a classifier (float input, logits output); BatchNorm keeps its own running statistics
--data D         safetensors with x (float) and y (labels): the inputs attacked
--device D       ${DEVICE_HELP}
--seed S         seed of PGD's random start and the power iteration (default 1)
--json           print the result as JSON
${ATTACK_HELP}`;

function text(r: AttackResult): string {
  const o = r.options;
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const lines = [
    `${o.attack.toUpperCase()} L∞ ε = ${o.eps}${o.attack === 'pgd' ? `, ${o.steps} steps of ${o.alpha ?? o.eps / 4}${o.randomStart ? ', random start' : ''}` : ''} on ${r.samples} samples`,
    `clean:       accuracy ${pct(r.clean.accuracy)}, loss ${r.clean.loss.toFixed(4)}`,
    `adversarial: accuracy ${pct(r.adversarial.accuracy)} (robust accuracy), loss ${r.adversarial.loss.toFixed(4)}`,
  ];
  if (r.inputHessian)
    lines.push(
      `input Hessian: top eigenvalue ${r.inputHessian.topEigenvalue.toPrecision(6)} (${r.inputHessian.iterations} power steps on ${r.inputHessian.samples} samples, residual ${r.inputHessian.residual.toExponential(2)})`,
    );
  lines.push(`${r.seconds.toFixed(1)} s`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    { ...ATTACK_FLAGS, data: { type: 'string' }, device: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length !== 1)
    throw new WeightscopeError('invalid-input', `expected one model, got ${positionals.length} (usage: ${USAGE})`, { usage: true });
  if (typeof values.data !== 'string')
    throw new WeightscopeError('invalid-input', `--data D is required (usage: ${USAGE})`, { usage: true });
  const options: Record<string, unknown> = { ...attackOptionsFromFlags(values, true) };
  if (values.device !== undefined) options.device = String(values.device);
  if (values.seed !== undefined) {
    const s = Number(values.seed);
    if (!Number.isInteger(s))
      throw new WeightscopeError('invalid-input', `--seed needs an integer, got ${JSON.stringify(values.seed)}`, { usage: true });
    options.seed = s;
  }
  try {
    parseOptions(attackRunSchema, options, 'attack');
  } catch (e) {
    usageError(e);
  }
  const r = await attackModel({ model: positionals[0], data: values.data }, options as AttackRunOptionsInput);
  process.stdout.write(values.json ? JSON.stringify(r, null, 1) + '\n' : text(r));
  return 0;
}
