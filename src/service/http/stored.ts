/**
 * Stored models and datasets as job payloads name them (by id: the node that runs the job finds the files), looked up (unknown →
 * 404) while their work (bytes, parameters, samples: the job's time budget) is added up. Before a job is queued
 * every dataset must fit every model's graph input (store/fit.ts: 422 shape-mismatch), and a task on classes must
 * have labelled data (400).
 */
import { WeightscopeError } from '../../errors.js';
import type { ServiceContext } from '../context.js';
import type { ModelOnDataPayload } from '../jobs/kinds/model-on-data.js';
import { workOf, type Work } from '../jobs/limits.js';
import type { DatasetRecord } from '../store/datasets.js';
import { requireFit } from '../store/fit.js';
import { modelRoute, onnxFile } from '../store/layout.js';
import type { ModelRecord } from '../store/models.js';

export interface StoredInputs {
  /** A model the job can open (an ONNX graph, or with `hf` a Hugging Face folder; anything else is a 400). */
  model(id: string): Promise<{ id: string }>;
  /** `labelled`: the job needs classes (y); unlabelled token ids are refused. */
  dataset(id: string, labelled?: boolean): Promise<{ id: string }>;
  /** The work of what was looked up, after checking every dataset fits every model. */
  work(): Work;
}

/**
 * `hf`: the kind opens models with src/model-io/open.ts, so a Hugging Face folder (config.json + weights) is taken by
 * its config.json route; otherwise only ONNX models are.
 */
export function storedInputs(ctx: ServiceContext, what = 'this job', opts: { hf?: boolean } = {}): StoredInputs {
  const models: ModelRecord[] = [];
  const datasets: DatasetRecord[] = [];
  return {
    model: async (id) => {
      const m = await ctx.models.require(id);
      if (opts.hf) modelRoute(m);
      else onnxOnly(m, what);
      models.push(m);
      return { id: m.id };
    },
    dataset: async (id, labelled = false) => {
      const d = await ctx.datasets.require(id);
      if (labelled && !d.labels)
        throw new WeightscopeError('invalid-input', `${what} needs labelled data (x, y); dataset ${d.name} holds token ids only`);
      datasets.push(d);
      return { id: d.id };
    },
    work: () => {
      for (const m of models) for (const d of datasets) requireFit(m, d);
      return workOf(models, datasets);
    },
  };
}

/** The submission of a job on one stored model and one stored dataset with already parsed options. */
export async function modelOnData(
  ctx: ServiceContext,
  ids: { model: string; dataset: string },
  options: object,
  needs: { labelled?: boolean; what?: string; hf?: boolean } = {},
): Promise<{ payload: ModelOnDataPayload; work: Work }> {
  const s = storedInputs(ctx, needs.what, { hf: needs.hf });
  const m = await s.model(ids.model);
  const d = await s.dataset(ids.dataset, needs.labelled);
  const work = s.work();
  return { payload: { model: m.id, dataset: d.id, options: { ...options } }, work };
}

/** The kinds whose library code reads ONNX graphs only say so for a Hugging Face folder. */
function onnxOnly(m: ModelRecord, what: string): void {
  try {
    onnxFile(m);
  } catch (e) {
    if (modelRoute(m) !== 'config.json') throw e;
    throw new WeightscopeError(
      'invalid-input',
      `${what} runs on ONNX models only; model ${m.name} is a Hugging Face folder without an ONNX export (its Hessian, comparisons, connectivity and repair take it as it is)`,
    );
  }
}
