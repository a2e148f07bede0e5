/**
 * Public API of src/graph: loss graphs, gradient and exact Hessian-vector-product graphs over ONNX models, built
 * from standard ONNX ops only (run them with a plain onnxruntime session).
 *
 *   const lg = buildLossGraph(model, { loss: 'classification' });   // or 'lm'; params default to float initializers
 *   const g = buildGradGraph(lg);   // inputs: data inputs (+ 'y'), params;  outputs: loss, grad.NAME…
 *   const h = buildHvpGraph(lg);    // + inputs v.NAME;                      outputs: loss, grad.NAME…, hv.NAME…
 *   const w = await loadParamValues(lg, dirname(modelPath));               // initial parameter values
 *
 * Rules live in rules/<family>.ts; composite ops are decomposed first (decompose.ts); tied weight copies are
 * re-tied (tie.ts). Static facts the rules need (ranks, conv/pool spatial sizes) come from infer.ts.
 */
export { buildLossGraph, LOSS, LABELS } from './losses.js';
export type { LossGraph, LossKind, LossOptions, ParamInfo, ParamDType } from './losses.js';
export { buildGradGraph, buildHvpGraph, buildInputGradGraph, buildInputHessianVectorGraph, lossModel, paramTensors, loadParamValues } from './grad.js';
export type { DerivedGraph, HvpOptions } from './grad.js';
export { gradients } from './autodiff.js';
export type { GradRule, GradContext } from './autodiff.js';
export { Builder } from './builder.js';
export { graphFromModel, graphToModel, cloneGraph, prune, tensorValues, makeTensor, DT } from './ir.js';
export type { Graph, GNode, ValueInfo, Dim } from './ir.js';
export { ruleOps } from './rules/index.js';
export type { TiedWeight } from './tie.js';
