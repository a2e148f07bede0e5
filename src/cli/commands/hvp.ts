/** `weightscope hvp MODEL --data D --vector V.safetensors --out HV.safetensors`: exact Hessian-vector product. */
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';
import { openSafetensors } from '../../io/safetensors.js';
import { FLOAT_DTYPES } from '../../io/types.js';
import { dot, norm, type ParamMap, type ParamSpec } from '../../runtime/params.js';
import { describeModel } from '../../model-io/open.js';
import {
  CommonFlags,
  engineForData,
  leadingBatches,
  MODEL_DATA_HELP,
  parseModelCommand,
  printResult,
  writeParamTensors,
} from '../model-command.js';

export const name = 'hvp';
export const summary = "exact Hessian-vector product of a model's loss on a dataset (double reverse mode)";

const USAGE =
  'weightscope hvp MODEL (--data D | --text FILE --seq S) --vector V.safetensors [--prefix v.] --out HV.safetensors ' +
  '[--graph config|onnx] [--batch N] [--chunk M] [--loss classification|lm] [--criterion ce|ls:A|focal:G|mse] [--device D] [--untie] [--json]';

const HELP = `Usage: ${USAGE}

H·v for the Hessian H of the mean loss (as \`weightscope grad\`) with respect to the model's parameters.
${MODEL_DATA_HELP}--vector V      safetensors holding v: one tensor per parameter, named PREFIX + parameter name
--prefix P      name prefix of v's tensors (e.g. v. for the fixtures' grad_hvp.safetensors; default none)
--out HV        write H·v as float32 safetensors keyed by parameter name (a checkpoint's own tensor names)
--batch/--chunk/--loss/--criterion/--device/--untie/--json as in \`weightscope grad\`
`;

const Flags = CommonFlags.extend({
  vector: z.string({ error: '--vector V.safetensors is required' }).min(1),
  prefix: z.string().optional(),
  out: z.string({ error: '--out HV.safetensors is required' }).min(1),
});

/** v from a safetensors file: every parameter as PREFIX+name, float, with the parameter's shape. */
export async function readVector(path: string, specs: readonly ParamSpec[], prefix: string): Promise<ParamMap> {
  const r = await openSafetensors(path);
  try {
    const byName = new Map(r.tensors.map((t) => [t.name, t]));
    const v: ParamMap = new Map();
    for (const s of specs) {
      const info = byName.get(prefix + s.name);
      if (!info) throw new WeightscopeError('not-found', `${path}: no tensor '${prefix}${s.name}' for parameter '${s.name}'`);
      const size = info.shape.reduce((p, d) => p * d, 1);
      if (size !== s.size) {
        throw new WeightscopeError(
          'shape-mismatch',
          `${path}: '${info.name}' has shape [${info.shape.join(', ')}], parameter is [${s.dims.join(', ')}]`,
        );
      }
      if (!FLOAT_DTYPES.has(info.dtype)) {
        throw new WeightscopeError('unsupported-dtype', `${path}: '${info.name}' is ${info.dtype}, not a float tensor`);
      }
      v.set(s.name, Float32Array.from(await r.readFloat64(info.name)));
    }
    return v;
  } finally {
    await r.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const { ds, engine, model } = await engineForData(modelPath, f);
  const v = await readVector(f.vector, engine.params, f.prefix ?? '');
  const { count, batches } = leadingBatches(ds, f.batch, f.chunk ?? 512);
  const r = await engine.hvpMean(engine.initialParams(), batches(), v);
  await writeParamTensors(f.out, engine.params, r.hv, {
    loss: String(r.loss),
    batch: `first ${count} samples of ${f.data ?? f.text}`,
    vector: f.vector,
    route: model.route,
  });
  const { route, architecture } = describeModel(model);
  printResult({ loss: r.loss, hv_norm: norm(r.hv), vHv: dot(v, r.hv), n: count, route, architecture }, f.json);
  return 0;
}
