/**
 * The curve-training command-line flags shared by `weightscope connect` and `weightscope repair`, mapped onto the
 * zod option objects of connect.ts / repair.ts (the same objects the service accepts).
 */
import { WeightscopeError } from '../errors.js';
import { DEVICE_HELP } from '../runtime/devices.js';
import { optionIssues } from '../util/options.js';
import { parseTs } from '../landscape/connectivity/points.js';

/** node:util parseArgs option specs of the shared flags. */
export const CURVE_FLAGS = {
  curve: { type: 'string' },
  bends: { type: 'string' },
  epochs: { type: 'string' },
  'samples-per-epoch': { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  l2: { type: 'string' },
  seed: { type: 'string' },
  schedule: { type: 'string' },
  eval: { type: 'string' },
  device: { type: 'string' },
  criterion: { type: 'string' },
} as const;

/** Help lines of the shared flags, with the defaults of the command's own schema (connect and repair differ). */
export function curveFlagsHelp(d: {
  epochs: number;
  /** A number, or a phrase where the default depends on the model (repair's recipes). */
  l2: number | string;
  lr: number;
  batchSize: number;
  seed: number;
  samplesPerEpoch?: number;
}): string {
  return `--curve K        bezier (default) or polychain
--bends K        control points including both endpoints (default 3: quadratic Bezier)
--epochs E       curve-training epochs (default ${d.epochs})
--samples-per-epoch N  the clean data tiled to N samples per epoch (default: ${d.samplesPerEpoch ?? 'its size'})
--batch B        mini-batch size (default ${d.batchSize})
--lr LR          initial learning rate of SGD with momentum 0.9 (default ${d.lr})
--momentum M     (default 0.9)
--l2 C           L2 coefficient on the point: loss + 0.5*C*|w(t)|^2 (default ${d.l2})
--seed S         seed of the batch order and of the t drawn per batch (default ${d.seed})
--schedule S     garipov (default: lr constant to 50%, linear to 1% at 90%) or constant
--eval T1,T2,..  evaluation points in [0,1], or a count N for N evenly spaced points (default 11)
--device D       ${DEVICE_HELP}
--criterion C    training loss: ce (default), ls:ALPHA, focal:GAMMA or mse (as in \`weightscope grad\`)
`;
}

/** A number flag (integer when asked), or undefined when unset; anything else is a usage error naming the flag. */
export function num(v: unknown, flag: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v).trim();
  const n = Number(s);
  if (s === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new WeightscopeError('invalid-input', `${flag} needs ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(s)}`, {
      usage: true,
    });
  }
  return n;
}

/** Flags → option fields (unset flags are left out so schema defaults apply). */
export function curveOptionsFromFlags(values: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const set = (key: string, v: unknown) => {
    if (v !== undefined) o[key] = v;
  };
  if (values.curve !== undefined) {
    const c = String(values.curve);
    if (c !== 'bezier' && c !== 'polychain')
      throw new WeightscopeError('invalid-input', `--curve must be bezier or polychain, got ${JSON.stringify(c)}`, { usage: true });
    o.curve = c;
  }
  set('bends', num(values.bends, '--bends', true));
  set('epochs', num(values.epochs, '--epochs', true));
  set('samplesPerEpoch', num(values['samples-per-epoch'], '--samples-per-epoch', true));
  set('batchSize', num(values.batch, '--batch', true));
  set('lr', num(values.lr, '--lr'));
  set('momentum', num(values.momentum, '--momentum'));
  set('l2', num(values.l2, '--l2'));
  set('seed', num(values.seed, '--seed', true));
  if (values.schedule !== undefined) o.schedule = String(values.schedule);
  if (values.device !== undefined) o.device = String(values.device);
  if (values.criterion !== undefined) o.criterion = String(values.criterion);
  if (values.eval !== undefined) {
    try {
      o.ts = parseTs(String(values.eval));
    } catch (e) {
      throw new WeightscopeError('invalid-input', `--eval: ${(e as Error).message}`, { usage: true });
    }
  }
  return o;
}

/** Option paths whose flag is not the kebab-case of the key. */
const FLAG_OF: Record<string, string> = {
  ts: '--eval',
  batchSize: '--batch',
  'attack.attack': '--attack',
  'attack.eps': '--eps',
  'attack.steps': '--steps',
  'attack.alpha': '--alpha',
  'attack.samples': '--attack-samples',
  'attack.batchSize': '--attack-batch',
  samples: '--samples',
  grid: '--grid',
};

/** An option failure (src/util/options.ts) re-labelled with the flag the user typed. */
export function usageError(e: unknown): never {
  const issue = optionIssues(e)?.[0];
  if (issue) {
    const key = issue.path[0] ?? '';
    const flag = FLAG_OF[issue.path.join('.')] ?? FLAG_OF[key] ?? `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
    throw new WeightscopeError('invalid-input', `${flag}: ${issue.message}`, { usage: true });
  }
  throw e;
}

/** --format hf|onnx (the format a model is written in; default its own). */
export function formatFlag(value: unknown): 'hf' | 'onnx' | undefined {
  if (value === undefined) return undefined;
  const f = String(value);
  if (f !== 'hf' && f !== 'onnx')
    throw new WeightscopeError('invalid-input', `--format must be hf or onnx, got ${JSON.stringify(f)}`, { usage: true });
  return f;
}
