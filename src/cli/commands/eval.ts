/** `weightscope eval MODEL --data D`: mean loss and accuracy (a plain forward pass). */
import { parseCriterion } from '../../graph/criteria.js';
import { modelForward } from '../../model-io/engine.js';
import { describeModel } from '../../model-io/open.js';
import { DEVICE_HELP } from '../../runtime/devices.js';
import { CommonFlags, MODEL_DATA_HELP, modelAndData, parseModelCommand, printResult, reportDevice } from '../model-command.js';

export const name = 'eval';
export const summary = 'mean loss and accuracy of a model on a dataset';

const USAGE =
  'weightscope eval MODEL (--data D | --text FILE --seq S) [--graph config|onnx] [--batch N] [--loss classification|lm] [--criterion ce|ls:A|focal:G|mse] [--device D] [--json]';

const HELP = `Usage: ${USAGE}

Classification: accuracy = share of argmax = y; language model: next-token loss and token accuracy.
${MODEL_DATA_HELP}--batch N       samples per forward pass (default 256); the results are size-weighted means, independent of N
--loss KIND     classification or lm (default: lm for int64 x without y, else classification)
--criterion C   the loss reported: ce (default), ls:ALPHA, focal:GAMMA or mse (as in \`weightscope grad\`)
--device D      ${DEVICE_HELP}; a missing one is an error
--json          print {loss, accuracy, n, route, architecture} as JSON
`;

// a plain forward pass: no --chunk (--batch already bounds memory) and nothing to untie
const Flags = CommonFlags.omit({ chunk: true, untie: true });

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const { model, ds, loss } = await modelAndData(modelPath, f);
  const { forward, values } = await modelForward(model, f.device);
  reportDevice(f.device, forward.session.device);
  const criterion = f.criterion !== undefined ? { criterion: parseCriterion(f.criterion) } : {};
  const r = await forward.evaluate(values, ds, { batchSize: f.batch ?? 256, loss, ...criterion });
  const { route, architecture } = describeModel(model);
  printResult({ ...r, route, architecture }, f.json);
  return 0;
}
