/** `weightscope surface M1 M2 M3 [M4] --data CLEAN`: a Bezier surface between 3 or 4 models, evaluated on a grid. */
import { WeightscopeError } from '../../errors.js';
import {
  connectSurface,
  parseSurfaceOptions,
  surfaceOptionsSchema,
  type SurfaceOptionsInput,
  type SurfaceResult,
} from '../../landscape/connectivity/connect-surface.js';
import { writeModelPoint } from '../../landscape/connectivity/export.js';
import { parseArgsOrPrintHelp, writeReportFile } from '../args.js';
import { CURVE_FLAGS, curveFlagsHelp, curveOptionsFromFlags, num, usageError } from '../curve-flags.js';
import { PROGRESS_FLAG, PROGRESS_HELP, progressReporter } from '../progress.js';

export const name = 'surface';
export const summary = 'mode connectivity on surfaces: a Bezier patch between 3 or 4 models, loss/accuracy grid, averaging, ensembling';

const USAGE =
  'weightscope surface M1.onnx M2.onnx M3.onnx [M4.onnx] --data CLEAN [--test DATA] [--held-out-data D] [--degree N|N,M] [--grid G] ' +
  '[--ensemble K] [--held-out F] [--out X.onnx] [--epochs E] [--samples-per-epoch N] [--batch B] [--lr LR] [--l2 C] [--seed S] [--report FILE] [--json] [--progress]';

const { curve: _c, bends: _b, eval: _e, ...TRAIN_FLAGS } = CURVE_FLAGS;

const HELP = `Usage: ${USAGE}

M1..M4           three (triangular patch) or four (tensor-product patch) models of one graph: the fixed corners;
                 M1 at (u, v) = (0, 0), M2 at (1, 0), M3 at (0, 1), M4 at (1, 1)
--data CLEAN     clean safetensors (x, y): trains the surface; a share is held out unless --held-out-data is given
--test DATA      the grid, centre, corners and ensembles are reported on it (else on the held-out data)
--held-out-data D  clean held-out data (chooses the best point)
--degree N|N,M   patch degree (default 2: a 3 × 3 control grid for four corners, 6 control points for three)
--grid G         G × G evaluation grid over the patch (default 11; a triangle keeps u + v ≤ 1)
--ensemble K     points sampled uniformly on the surface for the output ensemble (default 10)
--held-out F     share of --data held out (default 0.2)
--out X.onnx     the best interior grid point by held-out accuracy ("model averaging"); X.safetensors beside it
--report FILE    also write the JSON result to FILE
--json           print the JSON result
${PROGRESS_HELP}
${curveFlagsHelp(surfaceOptionsSchema.parse({}))}
Training: one (u, v) uniform over the patch per batch, L2 on the surface point, the schedule as for curves; the
free control points start on the bilinear (triangle: linear) interpolation of the corners.
`;

function text(r: SurfaceResult): string {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const G = r.options.grid;
  const lines = [
    `${r.patch.kind === 'tensor' ? 'tensor-product' : 'triangular'} Bezier patch of degree ${r.patch.degree.join(' × ')}: ${r.patch.controlPoints} control points, ${r.patch.free} trained; ${r.training.steps} steps in ${r.training.seconds.toFixed(1)} s`,
    `accuracy (%) on ${r.gridSet} over the grid (rows u = 0..1, columns v = 0..1):`,
  ];
  for (let a = 0; a < G; a++) {
    const u = Number((a / (G - 1)).toFixed(12));
    lines.push(
      r.grid
        .filter((g) => g.u === u)
        .map((g) => (100 * g.accuracy).toFixed(1).padStart(5))
        .join(' '),
    );
  }
  r.corners.forEach((c, i) => lines.push(`corner M${i + 1}: accuracy ${pct(c.accuracy)}, loss ${c.loss.toFixed(4)}`));
  lines.push(
    `centre (${r.center.u.toFixed(3)}, ${r.center.v.toFixed(3)}): accuracy ${pct(r.center.accuracy)}, loss ${r.center.loss.toFixed(4)}`,
  );
  lines.push(
    `barrier: worst grid loss − corners' mean = ${r.barrier.loss.toFixed(4)} at (${r.barrier.worst.u}, ${r.barrier.worst.v}); worst accuracy ${pct(r.barrier.worstAccuracy.accuracy)}`,
  );
  lines.push(`best interior point: ${r.best.reason}; ${r.gridSet} accuracy ${pct(r.best.accuracy)}`);
  lines.push(
    `output ensemble of ${r.ensemble.points.length} surface points: ${pct(r.ensemble.surface.accuracy)} (loss ${r.ensemble.surface.loss.toFixed(4)}); the corners' ensemble: ${pct(r.ensemble.corners.accuracy)} (loss ${r.ensemble.corners.loss.toFixed(4)})`,
  );
  if (r.output) lines.push(`wrote ${r.output.onnx} and ${r.output.safetensors}`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      ...TRAIN_FLAGS,
      data: { type: 'string' },
      test: { type: 'string' },
      'held-out-data': { type: 'string' },
      degree: { type: 'string' },
      grid: { type: 'string' },
      ensemble: { type: 'string' },
      'held-out': { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
      json: { type: 'boolean' },
      ...PROGRESS_FLAG,
    },
    USAGE,
    HELP,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length < 3 || positionals.length > 4)
    throw new WeightscopeError('invalid-input', `expected three or four models, got ${positionals.length} (usage: ${USAGE})`, {
      usage: true,
    });
  if (typeof values.data !== 'string')
    throw new WeightscopeError('invalid-input', `--data CLEAN is required (usage: ${USAGE})`, { usage: true });
  if (typeof values.out === 'string' && !/\.onnx$/i.test(values.out))
    throw new WeightscopeError('invalid-input', `--out must end in .onnx, got ${values.out}`, { usage: true });
  const options: Record<string, unknown> = curveOptionsFromFlags(values);
  if (values.degree !== undefined) {
    const parts = String(values.degree)
      .split(',')
      .map((p) => num(p, '--degree', true) as number);
    if (parts.length > 2)
      throw new WeightscopeError('invalid-input', `--degree takes N or N,M, got ${JSON.stringify(values.degree)}`, { usage: true });
    options.degree = parts.length === 1 ? parts[0] : parts;
  }
  for (const [flag, key, integer] of [
    ['grid', 'grid', true],
    ['ensemble', 'ensemble', true],
    ['held-out', 'heldOut', false],
  ] as const) {
    const v = num(values[flag], `--${flag}`, integer);
    if (v !== undefined) options[key] = v;
  }
  try {
    parseSurfaceOptions(options as SurfaceOptionsInput);
  } catch (e) {
    usageError(e);
  }
  const bar = progressReporter({ json: values.progress === true, command: 'surface' });
  let result: SurfaceResult;
  try {
    const run = await connectSurface(
      {
        models: positionals,
        data: values.data,
        ...(typeof values.test === 'string' ? { test: values.test } : {}),
        ...(typeof values['held-out-data'] === 'string' ? { heldOutData: values['held-out-data'] } : {}),
      },
      options as SurfaceOptionsInput,
      { progress: (d, t, m) => bar.hook(Math.round(100 * (d / t)), 100, m) },
    );
    result = run.result;
    if (typeof values.out === 'string') {
      const output = await writeModelPoint(run.best.model, run.best.params, values.out, {
        source: 'weightscope surface',
        u: String(result.best.u),
        v: String(result.best.v),
      });
      result = { ...result, output };
    }
  } finally {
    bar.done();
  }
  const json = JSON.stringify(result, null, 1) + '\n';
  if (typeof values.report === 'string') await writeReportFile(values.report, json);
  process.stdout.write(values.json ? json : text(result));
  return 0;
}
