/** `weightscope eval MODEL.onnx --data D.safetensors`: mean loss and accuracy (a plain forward pass). */
import { dirname } from 'node:path';
import { readOnnxModel } from '../../io/onnx-model.js';
import { parseCommandArgs } from '../args.js';
import { loadDataset } from '../../runtime/dataset.js';
import { createForward } from '../../runtime/forward.js';
import { floatInitializerNames, loadParams } from '../../runtime/params.js';
import { CommonFlags, chooseLoss, onePositional, printResult, validateFlags } from '../../runtime/cli-common.js';

export const name = 'eval';
export const summary = 'mean loss and accuracy of a model on a dataset';

const USAGE = 'weightscope eval MODEL.onnx --data D.safetensors [--batch N] [--loss classification|lm] [--device cpu|webgpu|cuda] [--json]';

const HELP = `Usage: ${USAGE}

--data D        safetensors with x and y (classification: accuracy = argmax = y) or int64 tokens x (language model:
                next-token loss and token accuracy)
--batch N       samples per forward pass (default 256); the results are size-weighted means, independent of N
--loss KIND     classification or lm (default: lm for int64 x without y, else classification)
--device D      cpu (default), webgpu or cuda; a missing one is an error
--json          print {loss, accuracy, n} as JSON
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      data: { type: 'string' },
      batch: { type: 'string' },
      loss: { type: 'string' },
      device: { type: 'string' },
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
  const f = validateFlags(CommonFlags, values, USAGE);
  const [model, ds] = await Promise.all([readOnnxModel(modelPath), loadDataset(f.data)]);
  const loss = chooseLoss(f.loss, ds);
  const { specs, values: params } = await loadParams(model, dirname(modelPath), floatInitializerNames(model));
  const forward = await createForward(model, specs, { device: f.device as 'cpu' | undefined });
  const r = await forward.evaluate(params, ds, { batchSize: f.batch ?? 256, loss });
  printResult({ ...r }, f.json);
  return 0;
}
