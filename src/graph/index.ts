/**
 * Public API of src/graph: loss graphs, gradient and exact Hessian-vector-product graphs over ONNX models, built
 * from standard ONNX ops only (run them with a plain onnxruntime session).
 *
 *   const lg = buildLossGraph(model, { loss: 'classification' });   // or 'lm'; params default to float initializers
 *   const g = buildGradGraph(lg);   // inputs: data inputs (+ 'y'), params;  outputs: loss, grad.NAME…
 *   const h = buildHvpGraph(lg);    // + inputs v.NAME;                      outputs: loss, grad.NAME…, hv.NAME…
 *   const w = await loadParamValues(lg, dirname(modelPath));               // initial parameter values
 *
 * What the project knows about each op (shapes, gradient, batch axis) lives in its family's file under ops/; the
 * passes read that table: infer.ts (shapes), autodiff.ts (gradients), decompose.ts (composite ops such as
 * LayerNormalization are rewritten first), lower.ts (private ops) and batch-axis.ts (sharding). Tied weight copies
 * are re-tied (tie.ts).
 */
export { buildLossGraph, LOSS, LABELS } from './losses.js';
export type { LossGraph, LossKind, LossOptions, ParamInfo, ParamDType } from './losses.js';
export {
  buildGradGraph,
  buildHvpGraph,
  buildInputGradGraph,
  buildInputHessianVectorGraph,
  lossModel,
  paramTensors,
  loadParamValues,
} from './grad.js';
export type { DerivedGraph, DerivedParam, HvpOptions } from './grad.js';
export { gradients, GradientRuleError } from './autodiff.js';
export type { GradRule, GradCtx, GradContext, Thunk } from './autodiff.js';
export { Builder } from './builder.js';
export { graphFromModel, graphToModel, cloneGraph, prune, tensorValues, makeTensor, DT } from './ir.js';
export type { Graph, GNode, ValueInfo, Dim } from './ir.js';
export { ruleOps, opTable } from './ops/index.js';
export type { OpDef } from './ops/types.js';
export type { OpName } from './op-names.js';
export type { TiedWeight } from './tie.js';
