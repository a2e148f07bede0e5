/** Public API of src/graph: loss graphs, gradient and Hessian-vector-product graphs over ONNX models. */
export { buildLossGraph, LOSS, LABELS } from './losses.js';
export type { LossGraph, LossKind, LossOptions, ParamInfo, ParamDType } from './losses.js';
export { buildGradGraph, buildHvpGraph, buildInputHessianVectorGraph, lossModel, paramTensors, loadParamValues } from './grad.js';
export type { DerivedGraph, HvpOptions } from './grad.js';
export { gradients } from './autodiff.js';
export type { GradRule, GradContext } from './autodiff.js';
export { Builder } from './builder.js';
export { graphFromModel, graphToModel, cloneGraph, prune, tensorValues, makeTensor, DT } from './ir.js';
export type { Graph, GNode, ValueInfo, Dim } from './ir.js';
export { ruleOps } from './rules/index.js';
export type { TiedWeight } from './tie.js';
