/** Library entry: `import { analyze, runHessian, repair, … } from 'weightscope'`. Same options and results as the CLI and the service. */
export { analyze, valueProblem } from './report/analyze.js';
export type { AnalyzeContext } from './report/analyze.js';
export { AnalyzeOptionsSchema, parseAnalyzeOptions, FIT_KINDS } from './report/options.js';
export type { AnalyzeOptions, AnalyzeOptionsInput, FitKind } from './report/options.js';
export { reportToCsv } from './report/csv.js';
export { formatTable } from './report/table.js';
export { WW_COLUMNS } from './report/columns.js';
export type {
  AnalysisReport,
  LayerRow,
  LayerType,
  EtplFit,
  ExpFit,
  FitStatus,
  Summary,
  SkippedLayer,
  ProgressHook,
  WorkSummary,
  ModelFamily,
} from './report/types.js';
export { planLayers } from './layers/plan.js';
export type { LayerPlan, LayerFilters } from './layers/types.js';
export { WeightscopeError, isWeightscopeError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { TensorReader, TensorInfo, DType, CheckpointFormat } from './io/types.js';

// Reading checkpoints.
export { openCheckpoint } from './io/open.js';
export { openSafetensors, openSafetensorsIndex } from './io/safetensors.js';
export { writeSafetensors } from './io/safetensors-writer.js';
export { resolveModelPath } from './io/hf.js';
// Rankings.
export { rankModels } from './ranking/rank.js';
export type { RankingResult, FamilyRanking } from './ranking/rank.js';
export { RANKING_METRICS, METRIC_INFO, metricMean } from './ranking/metrics.js';
// Gradients of ONNX models, the runtime and the engine (sessions, datasets, optimisers, training).
export { buildLossGraph, buildGradGraph, buildHvpGraph, buildInputGradGraph, buildInputHessianVectorGraph } from './graph/index.js';
export * as runtime from './runtime/index.js';
export * as linalg from './linalg/index.js';
export { createEngine, loadDataset } from './runtime/index.js';
// Loss landscape: Hessian diagnostics, similarity, mode connectivity, backdoor repair.
export { runHessian, HessianOptionsSchema, parseHessianOptions } from './landscape/hessian/run.js';
export { hessianOnFiles } from './landscape/hessian/files.js';
export { compareFiles, compareModels, CompareOptionsSchema } from './landscape/similarity/compare.js';
export { connect, connectOptionsSchema, parseConnectOptions } from './landscape/connectivity/connect.js';
export type { ConnectInputs, ConnectResult, ConnectOptions, ConnectOptionsInput } from './landscape/connectivity/connect.js';
export { connectSurface, surfaceOptionsSchema, parseSurfaceOptions } from './landscape/connectivity/connect-surface.js';
export type {
  SurfaceInputs,
  SurfaceResult,
  SurfaceRun,
  SurfaceOptions,
  SurfaceOptionsInput,
  SurfaceMetrics,
} from './landscape/connectivity/connect-surface.js';
export { writeModelPoint } from './landscape/connectivity/export.js';
export { repair, writeRepaired, repairOptionsSchema, parseRepairOptions } from './landscape/repair/repair.js';
// Hugging Face Transformers straight from their folders: one model argument → route and graph; data in its input form;
// a model written back in its own format.
export { openModel, describeModel } from './model-io/open.js';
export type { OpenedModel, OpenModelOptions, ModelRoute, ModelDescription } from './model-io/open.js';
export { lossFor, modelEngine } from './model-io/engine.js';
export { writeModelLike, roundToStorage } from './model-io/write.js';
export type { WrittenModel, OutputFormat } from './model-io/write.js';
export { loadModelData } from './data/model-data.js';
export type { DataSource } from './data/model-data.js';
export { buildArchitecture, SUPPORTED_MODEL_TYPES } from './architectures/index.js';
export type { RepairInputs, RepairReport, RepairResult, RepairOptions, RepairOptionsInput } from './landscape/repair/repair.js';
// Adversarial robustness: PGD/FGSM from input gradients, the input Hessian, correlations along a path.
export { attackModel, attackRunSchema } from './landscape/robustness/attack-model.js';
export type { AttackInputs, AttackResult, AttackRunOptions, AttackRunOptionsInput } from './landscape/robustness/attack-model.js';
export { attackOptionsSchema, parseAttackOptions } from './landscape/robustness/options.js';
export type { AttackOptions, AttackOptionsInput } from './landscape/robustness/options.js';
export type { RobustnessAlong, RobustnessPoint, PathCorrelation } from './landscape/robustness/probe.js';
// Training criteria (ce | ls:α | focal:γ | mse) for every loss graph; the rest of the landscape science.
export { CriterionSchema, parseCriterion, criterionSpec, describeCriterion } from './graph/criteria.js';
export type { Criterion } from './graph/criteria.js';
export { collapse, collapseOnFiles, CollapseOptionsSchema, parseCollapseOptions } from './landscape/collapse/run.js';
export type { CollapseResult, CollapseOptionsInput } from './landscape/collapse/run.js';
export { flatness, flatnessOnFiles, flatnessParams, FlatnessOptionsSchema, parseFlatnessOptions } from './landscape/flatness/run.js';
export type { FlatnessResult, FlatnessRow, FlatnessOptionsInput } from './landscape/flatness/run.js';
export { taxonomy, TaxonomyOptionsSchema, parseTaxonomyOptions } from './landscape/taxonomy/run.js';
export type { TaxonomyResult, TaxonomyOptionsInput } from './landscape/taxonomy/run.js';
export { classifyPhase, PhaseThresholdsSchema } from './landscape/taxonomy/phase.js';
export type { Phase, PhaseVerdict, PhaseThresholds } from './landscape/taxonomy/phase.js';
