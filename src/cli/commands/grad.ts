/** `weightscope grad MODEL --data D`: loss and gradient of the mean loss, optionally written out. */
import { z } from 'zod';
import { describeCriterion } from '../../graph/criteria.js';
import { norm } from '../../runtime/params.js';
import { describeModel } from '../../model-io/open.js';
import { DEVICE_HELP } from '../../runtime/devices.js';
import {
  CommonFlags,
  engineForData,
  leadingBatches,
  MODEL_DATA_HELP,
  parseModelCommand,
  printResult,
  writeParamTensors,
} from '../model-command.js';

export const name = 'grad';
export const summary = 'loss and gradient of a model on a dataset (reverse mode on its ONNX graph)';

const USAGE =
  'weightscope grad MODEL (--data D | --text FILE --seq S) [--graph config|onnx] [--batch N] [--chunk M] [--out G.safetensors] ' +
  '[--loss classification|lm] [--criterion ce|ls:A|focal:G|mse] [--device D] [--untie] [--json]';

const HELP = `Usage: ${USAGE}

Gradient of the mean loss (softmax cross-entropy with labels y; next-token cross-entropy for a language model)
with respect to every parameter of the model (every float initializer; every tensor of a Hugging Face checkpoint).
${MODEL_DATA_HELP}--batch N       use the first N samples (default all)
--chunk M       run at most M samples at once; results are size-weighted means, so M never changes them (default 512)
--out G         write the gradient as float32 safetensors keyed by parameter name (the checkpoint's own tensor
                names for a Hugging Face model; loss in the metadata)
--loss KIND     classification or lm (default: lm for int64 x without y, else classification)
--criterion C   ce (default), ls:ALPHA (label smoothing as torch's), focal:GAMMA (-(1-p_y)^GAMMA log p_y), or mse
                (squared distance of the logits to the one-hot label, summed over classes), averaged over rows
--device D      ${DEVICE_HELP}; a missing one is an error
--untie         keep constant-folded copies of tied weights as separate parameters
--json          print {loss, grad_norm, n, params, route, architecture} as JSON
`;

const Flags = CommonFlags.extend({ out: z.string().min(1).optional() });

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const { ds, loss, engine, model } = await engineForData(modelPath, f);
  const { count, batches } = leadingBatches(ds, f.batch, f.chunk ?? 512);
  const r = await engine.gradMean(engine.initialParams(), batches());
  const gradNorm = norm(r.grads);
  if (f.out) {
    await writeParamTensors(f.out, engine.params, r.grads, {
      loss: String(r.loss),
      batch: `first ${count} samples of ${f.data ?? f.text}`,
      route: model.route,
      loss_definition: `${describeCriterion(engine.criterion)} of the logits${loss === 'lm' ? ', next-token' : ''}`,
    });
  }
  const { route, architecture } = describeModel(model);
  printResult(
    { loss: r.loss, grad_norm: gradNorm, n: count, params: engine.params.reduce((s, p) => s + p.size, 0), route, architecture },
    f.json,
  );
  return 0;
}
