/** A job's stored inputs on this machine, by id (the queue resolved them before the thread started). */
import { join } from 'node:path';
import { WeightscopeError } from '../../errors.js';
import { DATASET_FILE, modelReadPath, onnxFileOf } from '../store/layout.js';
import type { JobContext, LocalInputs } from './types.js';

export function localFiles(inputs: LocalInputs): Pick<JobContext, 'model' | 'onnx' | 'dataset' | 'blob'> {
  const model = (id: string) => {
    const m = inputs.models[id];
    // A kind used an id it did not list in inputs(): a bug in the kind, not in the request.
    if (!m) throw new Error(`model ${id} is not among the job's inputs`);
    return m;
  };
  return {
    model: (id) => {
      const m = model(id);
      return modelReadPath(m.dir, m.files);
    },
    onnx: (id) => {
      const m = model(id);
      return join(m.dir, onnxFileOf(id, m.format, m.files));
    },
    dataset: (id) => {
      const d = inputs.datasets[id];
      if (!d) throw new Error(`dataset ${id} is not among the job's inputs`);
      return join(d, DATASET_FILE);
    },
    blob: (sha) => {
      const b = inputs.blobs[sha];
      if (!b) throw new Error(`blob ${sha} is not among the job's inputs`);
      return b;
    },
  };
}

/** Unknown ids at run time: the model or dataset was deleted after the job was queued. */
export function missingInput(what: 'model' | 'dataset', id: string): WeightscopeError {
  return new WeightscopeError('not-found', `${what} ${id} was deleted before the job ran`);
}
