/**
 * What the gradient CLI commands (grad, hvp, eval, export-graph) share: zod validation of their flags, loading a
 * model and dataset, choosing the loss, and writing parameter-keyed tensors. Kept out of src/cli/commands so the
 * command registry only sees commands.
 */
import { z } from 'zod';
import { WeightscopeError } from '../errors.js';
import { writeSafetensors } from '../io/safetensors-writer.js';
import type { ModelProto } from '../io/onnx-model.js';
import { inferLossKind, type Dataset, type LossKind } from './dataset.js';
import type { ParamMap, ParamSpec } from './params.js';
import { DEVICES } from './wire.js';

const posInt = (flag: string) =>
  z
    .string()
    .regex(/^\d+$/, `${flag} needs a positive integer`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n > 0, `${flag} needs a positive integer`);

/** Flags shared by the data-driven commands. */
export const CommonFlags = z.object({
  data: z.string({ error: '--data D.safetensors is required' }).min(1, '--data needs a path'),
  batch: posInt('--batch').optional(),
  chunk: posInt('--chunk').optional(),
  loss: z.enum(['classification', 'lm'], { error: '--loss must be classification or lm' }).optional(),
  device: z.enum(DEVICES as [string, ...string[]], { error: `--device must be one of ${DEVICES.join(', ')}` }).optional(),
  untie: z.boolean().optional(),
  json: z.boolean().optional(),
});

export function formatIssues(e: z.ZodError): string {
  return e.issues.map((i) => i.message).join('; ');
}

/** zod-validate parsed flag values; failures are usage errors (exit 2) with one line naming the flag. */
export function validateFlags<T extends z.ZodType>(schema: T, values: Record<string, unknown>, usage: string): z.infer<T> {
  const r = schema.safeParse(values);
  if (!r.success) throw new WeightscopeError('invalid-input', `${formatIssues(r.error)}. Usage: ${usage}`, { usage: true });
  return r.data;
}

export function onePositional(positionals: string[], what: string, usage: string): string {
  if (positionals.length !== 1) {
    const msg = positionals.length === 0 ? `missing ${what}` : `expected one ${what}, got ${positionals.length}`;
    throw new WeightscopeError('invalid-input', `${msg}. Usage: ${usage}`, { usage: true });
  }
  return positionals[0];
}

/** --loss if given (checked against the data), else what the dataset implies. */
export function chooseLoss(flag: LossKind | undefined, ds: Dataset): LossKind {
  const implied = inferLossKind(ds);
  if (flag === 'classification' && !ds.y) throw new WeightscopeError('invalid-input', '--loss classification needs labels y in the dataset');
  if (flag === 'lm' && ds.x.type !== 'int64') throw new WeightscopeError('invalid-input', '--loss lm needs int64 tokens x in the dataset');
  return flag ?? implied;
}

/** Without data: an int64 model input means tokens (language model), anything else classification. */
export function lossFromModel(model: ModelProto): LossKind {
  const init = new Set((model.graph?.initializer ?? []).map((t) => t.name ?? ''));
  const input = (model.graph?.input ?? []).find((i) => !init.has(i.name ?? ''));
  return input?.type?.tensorType?.elemType === 7 ? 'lm' : 'classification';
}

/** Write a parameter-keyed float32 tensor set (keys = prefix + parameter name). */
export async function writeParamTensors(
  path: string,
  specs: readonly ParamSpec[],
  values: ParamMap,
  metadata: Record<string, string>,
  prefix = '',
): Promise<void> {
  await writeSafetensors(
    path,
    specs.map((s) => {
      const v = values.get(s.name) as Float32Array;
      return { name: prefix + s.name, dtype: 'F32' as const, shape: s.dims, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
    }),
    metadata,
  );
}

/** Print a result object as JSON, or as `key value` lines. */
export function printResult(result: Record<string, unknown>, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  for (const [k, v] of Object.entries(result)) process.stdout.write(`${k} ${typeof v === 'number' ? formatNumber(v) : String(v)}\n`);
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(8);
}
