/** `weightscope collapse MODEL --data D [--features NODE]`: neural-collapse metrics NC1–NC4 of a classifier. */
import { z } from 'zod';
import { collapseOnFiles, parseCollapseOptions, type CollapseOptionsInput, type CollapseResult } from '../../landscape/collapse/run.js';
import { DEVICE_CHOICES, DEVICE_HELP } from '../../runtime/devices.js';
import { PROGRESS_HELP, withProgressBar } from '../progress.js';
import { parseModelCommand } from '../model-command.js';
import { intFlag } from '../args.js';
import { usageError } from '../curve-flags.js';

export const name = 'collapse';
export const summary = 'neural collapse of a classifier on labelled data: NC1–NC4 (Papyan et al., Zhu et al.)';

const USAGE =
  'weightscope collapse MODEL.onnx --data D.safetensors [--features NODE] [--batch N] [--samples N] [--max-classes K] [--device D] [--json] [--progress]';

const HELP = `Usage: ${USAGE}

Features = the input of the last linear layer (Gemm/MatMul) that produces the logits, or the value --features
names; class means from the labels y (μ_G over all samples); metrics in float64 (definitions: docs/science.md).
--data D         safetensors with x and int64 labels y (a class absent from the data is reported and left out)
--features NODE  the graph value holding the features (NC3 needs them to be the classifier's input)
--batch N        samples per forward pass (default 500)
--samples N      use only the first N samples
--max-classes K  refuse heads wider than K (default 4096: a language model's vocabulary is not a set of classes)
--device D       ${DEVICE_HELP}
--json           print the result as JSON (nc1, nc2_etf, nc2_equinorm, nc2_equiangular, nc3, nc3_zhu, nc4 at top level)
${PROGRESS_HELP}
`;

const Flags = z.object({
  data: z.string({ error: '--data D.safetensors is required' }).min(1),
  features: z.string().min(1, '--features needs a value name').optional(),
  batch: z.string().optional(),
  samples: z.string().optional(),
  'max-classes': z.string().optional(),
  device: z.enum(DEVICE_CHOICES, { error: `--device must be one of ${DEVICE_CHOICES.join(', ')}` }).optional(),
  json: z.boolean().optional(),
  progress: z.boolean().optional(),
});

const fmt = (x: number | null): string =>
  x === null ? 'n/a' : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(4) : x.toFixed(6);

export function formatCollapse(r: CollapseResult): string {
  const lines = [
    `features '${r.features}' (d = ${r.feature_dim})${r.classifier ? ` read by '${r.classifier.node}' (W = ${r.classifier.weight})` : ''}; ${r.samples} samples, ${r.num_classes} classes` +
      (r.absent_classes.length ? ` (absent from the data, left out: ${r.absent_classes.join(', ')})` : ''),
    `NC1  tr(Sw Sb+)/C          ${fmt(r.nc1)}`,
    `NC2  ETF distance          ${fmt(r.nc2_etf)}`,
    `     equinorm (std/mean)   ${fmt(r.nc2_equinorm)}`,
    `     equiangularity        ${fmt(r.nc2_equiangular)}`,
    `NC3  |W/|W| - M/|M||^2     ${fmt(r.nc3)}`,
    `     WM^T vs ETF (Zhu)     ${fmt(r.nc3_zhu)}`,
    `NC4  NCC mismatch          ${fmt(r.nc4)}`,
    `accuracy ${(100 * r.accuracy).toFixed(2)}%, nearest-class-mean accuracy ${(100 * r.ncc_accuracy).toFixed(2)}%`,
    `forward ${r.seconds.forward.toFixed(2)} s, metrics ${r.seconds.metrics.toFixed(3)} s`,
  ];
  return lines.join('\n') + '\n';
}

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const options: CollapseOptionsInput = {
    ...(f.features !== undefined ? { features: f.features } : {}),
    ...(f.batch !== undefined ? { batchSize: intFlag(f.batch, '--batch') } : {}),
    ...(f.samples !== undefined ? { samples: intFlag(f.samples, '--samples') } : {}),
    ...(f['max-classes'] !== undefined ? { maxClasses: intFlag(f['max-classes'], '--max-classes') } : {}),
    ...(f.device !== undefined ? { device: f.device } : {}),
  };
  try {
    parseCollapseOptions(options);
  } catch (e) {
    usageError(e);
  }
  const r = await withProgressBar((hook) => collapseOnFiles(modelPath, f.data, options, hook), {
    json: f.progress === true,
    command: 'collapse',
  });
  process.stdout.write(f.json ? JSON.stringify(r) + '\n' : formatCollapse(r));
  return 0;
}
