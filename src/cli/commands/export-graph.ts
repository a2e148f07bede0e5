/** `weightscope export-graph MODEL.onnx --what grad|hvp --out G.onnx`: write the generated gradient or Hv graph. */
import { z } from 'zod';
import { CriterionSchema, parseCriterion } from '../../graph/criteria.js';
import { readOnnxModel, writeOnnxModel } from '../../io/onnx-model.js';
import { lossFromModel, parseModelCommand } from '../model-command.js';

export const name = 'export-graph';
export const summary = 'write the generated gradient or Hessian-vector-product ONNX graph of a model';

const USAGE = 'weightscope export-graph MODEL.onnx --what grad|hvp --out G.onnx [--loss classification|lm] [--criterion ce|ls:A|focal:G|mse] [--untie] [--l2 C]';

const HELP = `Usage: ${USAGE}

The graph takes the model's input (and int64 labels y for classification), then every parameter as an input (and
v.<param> for hvp); it returns loss and grad.<param> (or hv.<param>). Only default-domain ONNX ops: any
onnxruntime (or other ONNX runtime) can run it.
--what          grad or hvp
--loss KIND     classification (labels y) or lm (next-token); default lm when the model's input is int64
--criterion C   ce (default), ls:ALPHA, focal:GAMMA or mse (as in \`weightscope grad\`)
--untie         keep constant-folded copies of tied weights as separate parameters
--l2 C          add 0.5·C·‖θ‖² to the loss
`;

const Flags = z.object({
  what: z.enum(['grad', 'hvp'], { error: '--what must be grad or hvp' }),
  out: z.string({ error: '--out G.onnx is required' }).min(1),
  loss: z.enum(['classification', 'lm'], { error: '--loss must be classification or lm' }).optional(),
  criterion: CriterionSchema.optional(),
  untie: z.boolean().optional(),
  l2: z
    .string()
    .transform(Number)
    .refine((c) => Number.isFinite(c) && c >= 0, '--l2 needs a non-negative number')
    .optional(),
});

export async function run(argv: string[]): Promise<number> {
  const cmd = parseModelCommand(argv, Flags, USAGE, HELP);
  if (!cmd) return 0;
  const { modelPath, flags: f } = cmd;
  const model = await readOnnxModel(modelPath);
  const g = await import('../../graph/index.js');
  const lossGraph = g.buildLossGraph(model, {
    loss: f.loss ?? lossFromModel(model),
    ...(f.untie !== undefined ? { untie: f.untie } : {}),
    ...(f.l2 !== undefined ? { l2: { coef: f.l2 } } : {}),
    ...(f.criterion !== undefined ? { criterion: parseCriterion(f.criterion) } : {}),
  });
  const built = f.what === 'grad' ? g.buildGradGraph(lossGraph) : g.buildHvpGraph(lossGraph);
  await writeOnnxModel(f.out, built.model);
  process.stdout.write(`${f.out}: ${built.model.graph?.node?.length ?? 0} nodes, inputs ${built.inputs.length}, outputs ${built.outputs.length}\n`);
  return 0;
}
