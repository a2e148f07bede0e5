/** Public API of src/runtime: sessions, datasets, parameters, the gradient/Hv engine, optimisers and training. */
export { getSession, graphKey, parseDevice, releaseSession, resolveDevice, sessionsBuilt, shutdownRuntime } from './session.js';
export type { RuntimeSession, SessionOptions } from './session.js';
export { DEVICES, DEVICE_CHOICES, DEFAULT_DEVICE, cudaBinariesInstalled } from './devices.js';
export type { Device, DeviceChoice } from './devices.js';
export type { HostTensor, TensorType } from './wire.js';
export {
  loadDataset,
  makeDataset,
  inferLossKind,
  takeBatch,
  sliceBatch,
  epochOrder,
  batchesOf,
  sequentialBatches,
  batchCount,
} from './dataset.js';
export type { Dataset, Batch, LossKind, LoadDatasetOptions, EpochOptions } from './dataset.js';
export {
  loadParams,
  storeParams,
  floatInitializerNames,
  checkParams,
  flatten,
  unflatten,
  dot,
  norm,
  axpy,
  scale,
  clone,
  zerosLike,
  combine,
  specOf,
  totalSize,
} from './params.js';
export type { ParamSpec, ParamMap } from './params.js';
export { createEngine, createEngineWith, datasetBatches } from './engine.js';
export type { Engine, EngineOptions, GradResult, HvpResult, DiffGraph, GraphSource, L2Option } from './engine.js';
export { createForward } from './forward.js';
export type { EvalResult, ForwardRunner } from './forward.js';
export { sgd, adam } from './optim.js';
export type { Optimizer, SgdOptions, AdamOptions } from './optim.js';
export { train, engineObjective } from './train.js';
export type { TrainOptions, TrainResult, StepInfo, EpochInfo, Objective } from './train.js';
