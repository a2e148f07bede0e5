/**
 * The file-facing edge of the Hessian diagnostics, shared by the CLI and the service: an ONNX model path plus a
 * dataset file (safetensors x, y) or a text file tokenized with the model folder's tokenizer.
 */
import { WeightscopeError } from '../../errors.js';
import type { Criterion } from '../../graph/criteria.js';
import { readOnnxModel } from '../../io/onnx-model.js';
import type { ProgressHook } from '../../util/progress.js';
import { inferLossKind, loadDataset, type Dataset } from '../../runtime/dataset.js';
import { createEngine } from '../../runtime/engine.js';
import type { DeviceChoice } from '../../runtime/devices.js';
import { findTokenizerDir, textDataset } from '../text.js';
import { runHessian, type HessianOptionsInput, type HessianResult } from './run.js';

export interface DataSource {
  /** A safetensors dataset (x, and y for classification). */
  readonly data?: string;
  /** Or a UTF-8 text file for a language model, cut into rows of `seq` tokens. */
  readonly text?: string;
  readonly seq?: number;
  /** Tokenizer folder (default: beside the model or its parent folder). */
  readonly tokenizer?: string;
}

/** The dataset a source names (exactly one of data / text). */
export async function loadSource(modelPath: string, src: DataSource): Promise<Dataset> {
  if ((src.data === undefined) === (src.text === undefined)) {
    throw new WeightscopeError('invalid-input', 'give exactly one of a dataset file (--data) or a text file (--text)', { usage: true });
  }
  if (src.data !== undefined) return loadDataset(src.data);
  if (src.seq === undefined) throw new WeightscopeError('invalid-input', '--text needs --seq (tokens per sequence)', { usage: true });
  return textDataset(src.text!, src.tokenizer ?? findTokenizerDir(modelPath), src.seq);
}

export interface EngineChoice {
  readonly device?: DeviceChoice;
  /** Keep exported copies of tied weights as separate parameters. */
  readonly untie?: boolean;
  /** The loss criterion (default cross-entropy). */
  readonly criterion?: Criterion;
}

export async function hessianOnFiles(
  modelPath: string,
  src: DataSource,
  options: HessianOptionsInput,
  engineChoice: EngineChoice = {},
  onProgress?: ProgressHook,
): Promise<HessianResult> {
  const dataset = await loadSource(modelPath, src);
  const model = await readOnnxModel(modelPath);
  const engine = await createEngine(modelPath, {
    loss: inferLossKind(dataset),
    ...(engineChoice.device ? { device: engineChoice.device } : {}),
    ...(engineChoice.untie ? { untie: true } : {}),
    ...(engineChoice.criterion ? { criterion: engineChoice.criterion } : {}),
  });
  return runHessian({ engine, model, dataset }, options, onProgress);
}
