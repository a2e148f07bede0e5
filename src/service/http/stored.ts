/**
 * Stored models and datasets as job payloads name them (id + the file a worker reads), looked up by id (unknown →
 * 404) while their work (bytes, parameters, samples: the job's time budget) is added up.
 */
import type { ServiceContext } from '../context.js';
import type { ModelOnDataPayload } from '../jobs/kinds/model-on-data.js';
import { workOf, type Work } from '../jobs/limits.js';

export interface StoredInputs {
  /** The model's ONNX file (a model without one is a 400). */
  model(id: string): { id: string; path: string };
  dataset(id: string): { id: string; path: string };
  work(): Work;
}

export function storedInputs(ctx: ServiceContext): StoredInputs {
  const models: { bytes: number; parameters: number }[] = [];
  const datasets: { samples: number }[] = [];
  return {
    model: (id) => {
      const m = ctx.models.require(id);
      models.push(m);
      return { id: m.id, path: ctx.models.onnxPath(m) };
    },
    dataset: (id) => {
      const d = ctx.datasets.require(id);
      datasets.push(d);
      return { id: d.id, path: ctx.datasets.path(d) };
    },
    work: () => workOf(models, datasets),
  };
}

/** The submission of a job on one stored model and one stored dataset with already parsed options. */
export function modelOnData(ctx: ServiceContext, model: string, dataset: string, options: object): { payload: ModelOnDataPayload; work: Work } {
  const s = storedInputs(ctx);
  const m = s.model(model);
  const d = s.dataset(dataset);
  return { payload: { model: m.id, path: m.path, dataset: d.id, datasetPath: d.path, options: { ...options } }, work: s.work() };
}
