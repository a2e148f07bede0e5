/**
 * The file-facing edge of the Hessian diagnostics, shared by the CLI and the service: a model argument (an .onnx
 * file, a Hugging Face folder or id; src/model-io/open.ts) plus a dataset file or a text file for a language model
 * (src/data/model-data.ts). The result names the route the model took and its architecture.
 */
import type { Criterion } from '../../graph/criteria.js';
import type { ProgressHook } from '../../util/progress.js';
import { loadModelData, type DataSource } from '../../data/model-data.js';
import { lossFor, modelEngine } from '../../model-io/engine.js';
import { describeModel, openModel, type ModelDescription } from '../../model-io/open.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import { runHessian, type HessianOptionsInput, type HessianResult } from './run.js';

export type { DataSource } from '../../data/model-data.js';

export interface EngineChoice {
  readonly device?: DeviceChoice;
  /** Keep exported copies of tied weights as separate parameters. */
  readonly untie?: boolean;
  /** A folder with both: 'config' (default) builds the graph from config.json, 'onnx' runs its ONNX export. */
  readonly graph?: 'config' | 'onnx';
  /** The loss criterion (default cross-entropy). */
  readonly criterion?: Criterion;
}

export type HessianFileResult = HessianResult & ModelDescription;

export async function hessianOnFiles(
  modelPath: string,
  src: DataSource,
  options: HessianOptionsInput,
  engineChoice: EngineChoice = {},
  onProgress?: ProgressHook,
): Promise<HessianFileResult> {
  const m = await openModel(modelPath, engineChoice.graph ? { graph: engineChoice.graph } : {});
  const dataset = await loadModelData(m, src);
  const engine = await modelEngine(m, lossFor(m, dataset), {
    ...(engineChoice.device ? { device: engineChoice.device } : {}),
    ...(engineChoice.untie ? { untie: true } : {}),
    ...(engineChoice.criterion ? { criterion: engineChoice.criterion } : {}),
  });
  try {
    const r = await runHessian({ engine, model: m.model, dataset }, options, onProgress);
    return { ...r, ...describeModel(m) };
  } finally {
    await engine.dispose();
  }
}
