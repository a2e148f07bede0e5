/** `weightscope grad MODEL.onnx --data D.safetensors`: loss and gradient of the mean loss, optionally written out. */
import { parseCommandArgs } from '../args.js';
import { loadDataset, sliceBatch, type Batch } from '../../runtime/dataset.js';
import { createEngine } from '../../runtime/engine.js';
import { norm } from '../../runtime/params.js';
import { CommonFlags, chooseLoss, onePositional, printResult, validateFlags, writeParamTensors } from '../../runtime/cli-common.js';
import { z } from 'zod';
import { WeightscopeError } from '../../errors.js';

export const name = 'grad';
export const summary = 'loss and gradient of a model on a dataset (reverse mode on the ONNX graph)';

const USAGE =
  'weightscope grad MODEL.onnx --data D.safetensors [--batch N] [--chunk M] [--out G.safetensors] ' +
  '[--loss classification|lm] [--device cpu|webgpu|cuda] [--untie] [--json]';

const HELP = `Usage: ${USAGE}

Gradient of the mean loss (softmax cross-entropy with labels y; next-token cross-entropy for int64 tokens without y)
with respect to every float initializer of the model.
--data D        safetensors with x (float32 inputs or int64 tokens) and y (int64 labels; absent for a language model)
--batch N       use the first N samples (default all)
--chunk M       run at most M samples at once; results are size-weighted means, so M never changes them (default 512)
--out G         write the gradient as float32 safetensors keyed by parameter name (loss in the metadata)
--loss KIND     classification or lm (default: lm for int64 x without y, else classification)
--device D      cpu (default), webgpu or cuda; a missing one is an error
--untie         keep constant-folded copies of tied weights as separate parameters
--json          print {loss, grad_norm, n, params} as JSON
`;

const Flags = CommonFlags.extend({ out: z.string().min(1).optional() });

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

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      data: { type: 'string' },
      batch: { type: 'string' },
      chunk: { type: 'string' },
      out: { type: 'string' },
      loss: { type: 'string' },
      device: { type: 'string' },
      untie: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const modelPath = onePositional(positionals, 'MODEL.onnx', USAGE);
  const f = validateFlags(Flags, values, USAGE);
  const ds = await loadDataset(f.data);
  const loss = chooseLoss(f.loss, ds);
  const engine = await createEngine(modelPath, { loss, device: f.device as 'cpu' | undefined, untie: f.untie });
  const { count, batches } = leadingBatches(ds, f.batch, f.chunk ?? 512);
  const r = await engine.gradMean(engine.initialParams(), batches());
  const gradNorm = norm(r.grads);
  if (f.out) {
    await writeParamTensors(f.out, engine.params, r.grads, {
      loss: String(r.loss),
      batch: `first ${count} samples of ${f.data}`,
      loss_definition: loss === 'lm' ? 'mean next-token cross-entropy' : 'mean softmax cross-entropy of the logits',
    });
  }
  printResult({ loss: r.loss, grad_norm: gradNorm, n: count, params: engine.params.reduce((s, p) => s + p.size, 0) }, f.json);
  return 0;
}
