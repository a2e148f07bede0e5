/** The embedded mode's job inputs: stored models and datasets are already on this machine, in the data folder. */
import { WeightscopeError } from '../../errors.js';
import { missingInput } from '../jobs/inputs.js';
import type { JobInputRefs, LocalInputs } from '../jobs/types.js';
import type { BlobStore } from './blobs.js';
import type { DatasetStore } from './datasets.js';
import type { ModelStore } from './models.js';

export function localInputs(stores: { models: ModelStore; datasets: DatasetStore; blobs: BlobStore }, refs: JobInputRefs): LocalInputs {
  const { models, datasets, blobs } = stores;
  const out: LocalInputs = { models: {}, datasets: {}, blobs: {} };
  for (const id of refs.models ?? []) {
    const m = models.get(id);
    if (!m) throw missingInput('model', id);
    out.models[id] = { dir: models.dir(id), format: m.format, files: m.files.map((f) => f.name) };
  }
  for (const id of refs.datasets ?? []) {
    if (!datasets.get(id)) throw missingInput('dataset', id);
    out.datasets[id] = datasets.folder(id);
  }
  for (const sha of refs.blobs ?? []) {
    if (!blobs.has(sha)) throw new WeightscopeError('not-found', `blob ${sha} is not stored`);
    out.blobs[sha] = blobs.path(sha);
  }
  return out;
}
