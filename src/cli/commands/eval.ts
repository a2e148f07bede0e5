/** `weightscope eval MODEL.onnx --data D.safetensors`: mean loss and accuracy (a plain forward pass). */
import { dirname } from 'node:path';
import { readOnnxModel } from '../../io/onnx-model.js';
import { loadDataset } from '../../runtime/dataset.js';
import { createForward } from '../../runtime/forward.js';
import { floatInitializerNames, loadParams } from '../../runtime/params.js';
import { parseCriterion } from '../../graph/criteria.js';
import { DEVICE_HELP } from '../../runtime/devices.js';
import { CommonFlags, chooseLoss, parseModelCommand, printResult, reportDevice } from '../model-command.js';

export const name = 'eval';
export const summary = 'mean loss and accuracy of a model on a dataset';

const USAGE = 'weightscope eval MODEL.onnx --data D.safetensors [--batch N] [--loss classification|lm] [--criterion ce|ls:A|focal:G|mse] [--device D] [--json]';

const HELP = `Usage: ${USAGE}

--data D        safetensors with x and y (classification: accuracy = argmax = y) or int64 tokens x (language model:
                next-token loss and token accuracy)
--batch N       samples per forward pass (default 256); the results are size-weighted means, independent of N
--loss KIND     classification or lm (default: lm for int64 x without y, else classification)
--criterion C   the loss reported: ce (default), ls:ALPHA, focal:GAMMA or mse (as in \`weightscope grad\`)
--device D      ${DEVICE_HELP}; a missing one is an error
--json          print {loss, accuracy, n} as JSON
`;

// a plain forward pass: no --chunk (--batch already bounds memory) and nothing to untie
const Flags = CommonFlags.omit({ chunk: true, untie: true });

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const [model, ds] = await Promise.all([readOnnxModel(modelPath), loadDataset(f.data)]);
  const loss = chooseLoss(f.loss, ds);
  const { specs, values: params } = await loadParams(model, dirname(modelPath), floatInitializerNames(model));
  const forward = await createForward(model, specs, { device: f.device });
  reportDevice(f.device, forward.session.device);
  const r = await forward.evaluate(params, ds, { batchSize: f.batch ?? 256, loss, ...(f.criterion !== undefined ? { criterion: parseCriterion(f.criterion) } : {}) });
  printResult({ ...r }, f.json);
  return 0;
}
