/** `weightscope flatness MODEL --data D --gamma 1e3,1e4,1e5`: local entropy beside its second-order (Hessian) value. */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { CriterionSchema } from '../../graph/criteria.js';
import { flatnessOnFiles, parseFlatnessOptions, type FlatnessOptionsInput, type FlatnessResult } from '../../landscape/flatness/run.js';
import { DEVICE_CHOICES, DEVICE_HELP } from '../../runtime/devices.js';
import { intFlag, listFlag } from '../args.js';
import { usageError } from '../curve-flags.js';
import { parseModelCommand } from '../model-command.js';
import { PROGRESS_HELP, withProgressBar } from '../progress.js';

export const name = 'flatness';
export const summary = 'local entropy F(w; γ) = log E exp(−L(w + ε)), ε ~ N(0, I/γ), beside −L − tr(H)/(2γ)';

const USAGE =
  'weightscope flatness MODEL.onnx --data D.safetensors [--gamma 1e3,1e4,1e5] [--draws K] [--seed S] [--batch N] [--samples N] ' +
  '[--draws-per-run D] [--trace hutchinson|exact|none] [--criterion ce|ls:A|focal:G|mse] [--device D] [--json] [--progress]';

const HELP = `Usage: ${USAGE}

Local entropy of the model at its weights w: every parameter perturbed by ε ~ N(0, I/γ), F = log of the mean of
exp(−L(w + ε)) over K seeded draws, with its delta-method standard error; beside it the second-order value
−L(w) − tr(H)/(2γ) from the Hessian trace: where they agree, the quadratic picture holds at that scale.
--data D          safetensors with x and y (or int64 tokens for a language model)
--gamma G1,G2,..  the γ values (default 1e3,1e4,1e5)
--draws K         loss evaluations per γ (default 1000); one draw z is shared by every γ as z/√γ
--seed S          seed of the draws and of the trace probes (default 0)
--batch N         samples per forward pass (default 1000); --samples N: only the first N samples
--draws-per-run D perturbed copies per onnxruntime run (default: what fits 256 MiB, at most 16)
--trace T         hutchinson (default, at least 30 probes), exact (one Hv per parameter) or none
--criterion C     the loss: ce (default), ls:ALPHA, focal:GAMMA or mse (as in \`weightscope grad\`)
--device D        ${DEVICE_HELP}
--json            {rows: [{gamma, local_entropy, stderr, second_order, second_order_stderr, loss, mean_perturbed_loss}], …}
${PROGRESS_HELP}
`;

const Flags = z.object({
  data: z.string({ error: '--data D.safetensors is required' }).min(1),
  gamma: z.string().optional(),
  draws: z.string().optional(),
  seed: z.string().optional(),
  batch: z.string().optional(),
  samples: z.string().optional(),
  'draws-per-run': z.string().optional(),
  trace: z.enum(['hutchinson', 'exact', 'none'], { error: '--trace must be hutchinson, exact or none' }).optional(),
  criterion: CriterionSchema.optional(),
  device: z.enum(DEVICE_CHOICES, { error: `--device must be one of ${DEVICE_CHOICES.join(', ')}` }).optional(),
  json: z.boolean().optional(),
  progress: z.boolean().optional(),
});

function gammas(v: string): number[] {
  return (listFlag(v) ?? []).map((s) => {
    const n = Number(s);
    if (!Number.isFinite(n))
      throw new WeightscopeError('invalid-input', `--gamma needs numbers, got ${JSON.stringify(s)}`, { usage: true });
    return n;
  });
}

const fmt = (x: number | null, digits = 6): string => (x === null ? 'n/a' : x.toFixed(digits));
const sci = (x: number | null): string => (x === null ? 'n/a' : x.toExponential(2));

export function formatFlatness(r: FlatnessResult): string {
  const head = ['gamma', 'local entropy', '± stderr', 'second order', '± stderr', 'mean L(w+e)'];
  const rows = r.rows.map((x) => [
    x.gamma.toExponential(1),
    fmt(x.local_entropy),
    sci(x.stderr),
    fmt(x.second_order),
    sci(x.second_order_stderr),
    fmt(x.mean_perturbed_loss),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(w[i])).join('  ');
  const tr =
    r.trace.value === null
      ? 'no trace'
      : `trace ${r.trace.value.toFixed(4)}${r.trace.method === 'hutchinson' ? ` ± ${r.trace.stderr?.toFixed(4)} (Hutchinson, ${r.trace.probes} probes)` : ' (exact)'}`;
  return (
    [
      `loss L(w) = ${r.loss.toFixed(6)} (${r.criterion}) on ${r.samples} samples; ${r.num_params} parameters perturbed; ${tr}`,
      line(head),
      ...rows.map(line),
      `${r.draws} draws (seed ${r.seed}), ${r.draws_per_run} per run; ${r.seconds.local_entropy.toFixed(1)} s local entropy, ${r.seconds.trace.toFixed(1)} s trace`,
    ].join('\n') + '\n'
  );
}

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const options: FlatnessOptionsInput = {
    ...(f.gamma !== undefined ? { gamma: gammas(f.gamma) } : {}),
    ...(f.draws !== undefined ? { draws: intFlag(f.draws, '--draws') } : {}),
    ...(f.seed !== undefined ? { seed: intFlag(f.seed, '--seed') } : {}),
    ...(f.batch !== undefined ? { batchSize: intFlag(f.batch, '--batch') } : {}),
    ...(f.samples !== undefined ? { samples: intFlag(f.samples, '--samples') } : {}),
    ...(f['draws-per-run'] !== undefined ? { drawsPerRun: intFlag(f['draws-per-run'], '--draws-per-run') } : {}),
    ...(f.trace !== undefined ? { trace: f.trace } : {}),
    ...(f.criterion !== undefined ? { criterion: f.criterion } : {}),
    ...(f.device !== undefined ? { device: f.device } : {}),
  };
  try {
    parseFlatnessOptions(options);
  } catch (e) {
    usageError(e);
  }
  const r = await withProgressBar((hook) => flatnessOnFiles(modelPath, f.data, options, hook), {
    json: f.progress === true,
    command: 'flatness',
  });
  process.stdout.write(f.json ? JSON.stringify(r) + '\n' : formatFlatness(r));
  return 0;
}
