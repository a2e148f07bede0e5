/**
 * Loss graphs: the model's graph with its float weights turned into graph inputs (parameters) and a scalar `loss`
 * output. classification: mean softmax cross-entropy of logits [B, C] against int64 labels `y` [B].
 * lm: mean next-token cross-entropy of logits [B, S, V] against the model's own int64 ids (positions 0..S−2
 * predict ids[:, 1:]). Optional L2 term 0.5·c·‖θ‖² over chosen parameters.
 */
import { WeightscopeError } from '../errors.js';
import { Builder } from './builder.js';
import { CE, meanCriterion, type Criterion } from './criteria.js';
import { decomposeAndInfer } from './decompose.js';
import { fuseConvMaxPool } from './pool-fusion.js';
import { DT, graphFromModel, isFloatType, tensorDims, type Graph, type OnnxModel, type OnnxTensor } from './ir.js';
import { retieWeights, type TiedWeight } from './tie.js';

export type LossKind = 'classification' | 'lm';

export interface LossOptions {
  loss: LossKind;
  /** Graph output holding the logits (default: the first output). */
  logitsOutput?: string;
  l2?: { coef: number; params?: string[] };
  /** The criterion averaged over rows (criteria.ts; default cross-entropy). */
  criterion?: Criterion;
  /** Parameters to differentiate (default: every float initializer the graph uses). */
  params?: string[];
  /** Keep exported copies of tied weights as separate parameters. */
  untie?: boolean;
  /** Rewrite Conv→[Relu]→MaxPool blocks into per-offset strided convs (same function, faster gradients; default true). */
  fusePools?: boolean;
}

export type ParamDType = 'float32' | 'float64';

export interface ParamInfo {
  name: string;
  dims: number[];
  dtype: ParamDType;
}

export interface LossGraph {
  kind: LossKind;
  graph: Graph;
  /** Model data inputs (by their names in the model), then `y` for classification. */
  dataInputs: string[];
  /** Name of the labels input (`y`), or undefined for lm. */
  labels: string | undefined;
  logits: string;
  params: ParamInfo[];
  /** Initial parameter values (the model's initializers). */
  paramValues: Map<string, OnnxTensor>;
  tied: TiedWeight[];
  criterion: Criterion;
}

export const LOSS = 'loss';
export const LABELS = 'y';

function paramDType(dt: number, name: string): ParamDType {
  if (dt === DT.FLOAT) return 'float32';
  if (dt === DT.DOUBLE) return 'float64';
  throw new WeightscopeError(
    'unsupported-dtype',
    `parameter '${name}' has ONNX type ${dt}; only float32/float64 parameters can be differentiated`,
  );
}

/**
 * Gradients of Gather/Slice need ScatterND with reduction 'add' (opset 16). Opsets 13–15 differ from 16 only in
 * type lists, new optional attributes/inputs with unchanged defaults, and RoiAlign's default coordinate mode; so
 * after decomposition (which read BatchNormalization with its original opset) such graphs move to 16 unless
 * they use RoiAlign, which keeps the slower one-hot fallback.
 */
function raiseOpset(g: Graph): void {
  if (g.opset >= 13 && g.opset < 16 && !g.nodes.some((n) => n.opType === 'RoiAlign' && n.domain === '')) g.opset = 16;
}

export function buildLossGraph(model: OnnxModel, opts: LossOptions): LossGraph {
  const g = graphFromModel(model);
  if (g.opset < 13) {
    throw new WeightscopeError('unsupported-op', `model opset ${g.opset} is below 13; re-export with opset ≥ 13 for gradients`);
  }
  const used = new Set(g.nodes.flatMap((n) => n.inputs));
  const floatInits = [...g.initializers].filter(([n, t]) => used.has(n) && isFloatType(t.dataType ?? 0)).map(([n]) => n);
  const tied = opts.untie ? [] : retieWeights(g);
  const paramNames = opts.params ?? floatInits.filter((n) => g.initializers.has(n));
  const paramValues = new Map<string, OnnxTensor>();
  const params: ParamInfo[] = [];
  for (const name of paramNames) {
    const t = g.initializers.get(name);
    if (!t) {
      const tiedTo = tied.find((x) => x.copy === name);
      throw new WeightscopeError(
        'not-found',
        tiedTo
          ? `parameter '${name}' is a tied copy of '${tiedTo.source}' (use untie to keep it separate)`
          : `no float initializer named '${name}' in the model`,
        { param: name },
      );
    }
    params.push({ name, dims: tensorDims(t), dtype: paramDType(t.dataType ?? 0, name) });
    paramValues.set(name, t);
    g.initializers.delete(name);
  }
  const dataInputs = [...g.inputs];
  g.inputs = [...g.inputs, ...paramNames];

  decomposeAndInfer(g);
  if (opts.fusePools !== false) fuseConvMaxPool(g);
  raiseOpset(g);
  const b = new Builder(g, 'ws_loss');
  const logits = opts.logitsOutput ?? g.outputs[0];
  if (!logits || !g.values.has(logits)) throw new WeightscopeError('not-found', `model has no output '${opts.logitsOutput ?? ''}'`);
  for (const reserved of [LOSS, ...(opts.loss === 'classification' ? [LABELS] : [])]) {
    if (g.values.has(reserved)) throw new WeightscopeError('invalid-input', `the model already has a value named '${reserved}'`);
  }
  const ls = b.shapeOf(logits);
  const criterion = opts.criterion ?? CE;
  let loss: string;
  let labels: string | undefined;
  if (opts.loss === 'classification') {
    if (ls && ls.length !== 2)
      throw new WeightscopeError('invalid-input', `classification loss needs logits [batch, classes]; '${logits}' has rank ${ls.length}`);
    labels = LABELS;
    g.inputs.splice(dataInputs.length, 0, LABELS);
    const bd = ls?.[0];
    g.values.set(LABELS, {
      dtype: DT.INT64,
      shape: [typeof bd === 'number' || (typeof bd === 'string' && !bd.startsWith('?')) ? bd : 'batch'],
    });
    dataInputs.push(LABELS);
    loss = meanCriterion(b, logits, LABELS, criterion);
  } else {
    if (ls && ls.length !== 3)
      throw new WeightscopeError('invalid-input', `lm loss needs logits [batch, seq, vocab]; '${logits}' has rank ${ls.length}`);
    const ids = dataInputs.find((n) => b.dtype(n) === DT.INT64);
    if (!ids) throw new WeightscopeError('invalid-input', 'lm loss needs an int64 token-id input');
    const big = 2 ** 62;
    const lg = b.op('Slice', [logits, b.i64([0]), b.i64([-1]), b.i64([1])]);
    const tgt = b.op('Slice', [ids, b.i64([1]), b.i64([big]), b.i64([1])]);
    loss = meanCriterion(b, lg, tgt, criterion);
  }
  if (opts.l2 && opts.l2.coef !== 0) {
    const names = opts.l2.params ?? paramNames;
    let sq: string | undefined;
    for (const n of names) {
      if (!paramValues.has(n)) throw new WeightscopeError('not-found', `L2 parameter '${n}' is not a parameter`);
      const s = b.op('ReduceSum', [b.mul(n, n)], { keepdims: 0 });
      sq = sq ? b.add(sq, s) : s;
    }
    if (sq) loss = b.add(loss, b.cast(b.mul(sq, b.scalarLike(sq, 0.5 * opts.l2.coef)), b.dtype(loss)));
  }
  b.op('Identity', [loss], undefined, LOSS);
  g.outputs = [LOSS, logits];
  return { kind: opts.loss, graph: g, dataInputs, labels, logits, params, paramValues, tied, criterion };
}
