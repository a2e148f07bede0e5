/**
 * What the gradient CLI commands (grad, hvp, eval, export-graph) share: parsing and zod validation of their flags,
 * loading a model and dataset, choosing the loss, batching, and writing parameter-keyed tensors. Kept out of
 * src/cli/commands so the command registry only sees commands.
 */
import { z } from 'zod';
import type { ParseArgsConfig } from 'node:util';
import { parseArgsOrPrintHelp } from './args.js';
import { WeightscopeError } from '../errors.js';
import { CriterionSchema, parseCriterion } from '../graph/criteria.js';
import { writeSafetensors } from '../io/safetensors-writer.js';
import type { ModelProto } from '../io/onnx-model.js';
import { inferLossKind, loadDataset, sliceBatch, type Batch, type Dataset, type LossKind } from '../runtime/dataset.js';
import { createEngine, type Engine } from '../runtime/engine.js';
import type { ParamMap, ParamSpec } from '../runtime/params.js';
import { DEVICE_CHOICES, type Device, type DeviceChoice } from '../runtime/devices.js';

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
  criterion: CriterionSchema.optional(),
  device: z.enum(DEVICE_CHOICES, { error: `--device must be one of ${DEVICE_CHOICES.join(', ')}` }).optional(),
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

/** parseArgs options for a flag schema: boolean fields are switches, every other field takes a value. */
function argOptions(schema: z.ZodObject): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const inner = field instanceof z.ZodOptional ? field.unwrap() : field;
    options[key] = { type: inner instanceof z.ZodBoolean ? 'boolean' : 'string' };
  }
  return options;
}

/**
 * `weightscope CMD MODEL.onnx [flags]`: exactly the flags of `schema` (plus --help), validated by it, and one model
 * path. Null when --help printed `help`.
 */
export function parseModelCommand<S extends z.ZodObject>(
  argv: string[],
  schema: S,
  usage: string,
  help: string,
): { modelPath: string; flags: z.infer<S> } | null {
  const parsed = parseArgsOrPrintHelp(argv, argOptions(schema), usage, help);
  if (!parsed) return null;
  const modelPath = onePositional(parsed.positionals, 'MODEL.onnx', usage);
  return { modelPath, flags: validateFlags(schema, parsed.values, usage) };
}

/**
 * The dataset at --data, the loss for it (--loss or implied) and the autodiff engine of the model with that loss
 * and --criterion.
 */
export async function engineForData(
  modelPath: string,
  f: Pick<z.infer<typeof CommonFlags>, 'data' | 'loss' | 'device' | 'untie' | 'criterion'>,
): Promise<{ ds: Dataset; loss: LossKind; engine: Engine }> {
  const ds = await loadDataset(f.data);
  const loss = chooseLoss(f.loss, ds);
  const criterion = f.criterion !== undefined ? parseCriterion(f.criterion) : undefined;
  const engine = await createEngine(modelPath, { loss, device: f.device, untie: f.untie, ...(criterion ? { criterion } : {}) });
  reportDevice(f.device, engine.device);
  return { ds, loss, engine };
}

/** With --device auto, one line on stderr saying which device it chose (stdout stays the result). */
export function reportDevice(asked: DeviceChoice | undefined, chosen: Device): void {
  if (asked === 'auto') process.stderr.write(`weightscope: --device auto chose ${chosen}\n`);
}

/** The first `n` samples as batches of at most `chunk`. */
export function leadingBatches(ds: { n: number }, n: number | undefined, chunk: number): { count: number; batches: () => Batch[] } {
  const count = n ?? ds.n;
  if (count > ds.n) throw new WeightscopeError('invalid-input', `--batch ${count} is more than the dataset's ${ds.n} samples`);
  return {
    count,
    batches: () => {
      const out: Batch[] = [];
      for (let s = 0; s < count; s += chunk) out.push(sliceBatch(ds as Parameters<typeof sliceBatch>[0], s, Math.min(count, s + chunk)));
      return out;
    },
  };
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
