/** Library entry: `import { analyze } from 'weightscope'`. Same options and result as the CLI and the service. */
export { analyze, valueProblem } from './report/analyze.js';
export { AnalyzeOptionsSchema, parseAnalyzeOptions, FIT_KINDS } from './report/options.js';
export type { AnalyzeOptions, AnalyzeOptionsInput, FitKind } from './report/options.js';
export { reportToCsv } from './report/csv.js';
export { formatTable } from './report/table.js';
export { WW_COLUMNS } from './report/columns.js';
export type { AnalysisReport, LayerRow, LayerType, EtplFit, ExpFit, FitStatus, Summary, SkippedLayer, ProgressHook } from './report/types.js';
export { planLayers } from './layers/plan.js';
export type { LayerPlan, LayerFilters } from './layers/types.js';
export { WeightscopeError, isWeightscopeError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { TensorReader, TensorInfo, DType, CheckpointFormat } from './io/types.js';
