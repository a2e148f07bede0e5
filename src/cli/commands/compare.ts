/** `weightscope compare A B --data D`: linear CKA of the two models' softmax outputs and their L2 distance. */
import { WeightscopeError, formatZodError } from '../../errors.js';
import { CompareOptionsSchema, compareFiles, type CompareOptionsInput } from '../../landscape/similarity/compare.js';
import { parseDevice } from '../../runtime/devices.js';
import { graphFlag, intFlag, parseArgsOrPrintHelp } from '../args.js';

export const name = 'compare';
export const summary = 'similarity of two models on the same inputs: CKA of softmax outputs, L2 distance of weights';

const USAGE =
  'weightscope compare A B (--data D | --text FILE --seq S [--tokenizer DIR]) [--graph config|onnx] [--batch N] [--samples N] [--device D] [--json]';

export async function run(argv: string[]): Promise<number> {
  const args = parseArgsOrPrintHelp(
    argv,
    {
      data: { type: 'string' },
      text: { type: 'string' },
      seq: { type: 'string' },
      tokenizer: { type: 'string' },
      batch: { type: 'string' },
      samples: { type: 'string' },
      device: { type: 'string' },
      json: { type: 'boolean' },
      graph: { type: 'string' },
    },
    USAGE,
    `Usage: ${USAGE}\n\nA, B: .onnx files, Hugging Face folders or HF ids (the data is read for A's input form).\nCKA: linear CKA (Kornblith et al.) of the softmax outputs, as Yang et al. 2021; 1 = identical up to rotation and scale.\nL2: ‖θ_A − θ_B‖₂ over the parameters (null when the models' parameters differ).\n`,
  );
  if (!args) return 0;
  const { values, positionals } = args;
  if (positionals.length !== 2) {
    throw new WeightscopeError('invalid-input', `expected two models, got ${positionals.length}. Usage: ${USAGE}`, { usage: true });
  }
  const raw: Record<string, unknown> = {};
  const batch = intFlag(values.batch, '--batch');
  if (batch !== undefined) raw.batchSize = batch;
  const samples = intFlag(values.samples, '--samples');
  if (samples !== undefined) raw.samples = samples;
  const parsed = CompareOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new WeightscopeError('invalid-input', `${formatZodError(parsed.error)}. Usage: ${USAGE}`, { usage: true });
  const device = values.device === undefined ? undefined : parseDevice(String(values.device));
  const seq = intFlag(values.seq, '--seq');
  const graph = graphFlag(values.graph);
  const src = {
    ...(typeof values.data === 'string' ? { data: values.data } : {}),
    ...(typeof values.text === 'string' ? { text: values.text } : {}),
    ...(seq !== undefined ? { seq } : {}),
    ...(typeof values.tokenizer === 'string' ? { tokenizer: values.tokenizer } : {}),
  };
  const r = await compareFiles(positionals[0], positionals[1], src, raw as CompareOptionsInput, device, graph ? { graph } : {});
  if (values.json)
    process.stdout.write(
      JSON.stringify({ cka: r.cka, l2_distance: r.l2_distance, rows: r.rows, outputs: r.outputs, routes: r.routes }) + '\n',
    );
  else
    process.stdout.write(
      `CKA (softmax outputs, ${r.rows} rows): ${r.cka.toFixed(6)}\nL2 distance: ${r.l2_distance === null ? 'n/a (parameters differ)' : r.l2_distance.toPrecision(8)}\n`,
    );
  return 0;
}
