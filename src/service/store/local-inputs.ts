/** The embedded mode's job inputs: stored models and datasets are already on this machine, in the data folder. */
import { missingInput } from '../jobs/inputs.js';
import type { JobInputRefs, LocalInputs } from '../jobs/types.js';
import type { DatasetStore } from './datasets.js';
import type { ModelStore } from './models.js';

export function localInputs(models: ModelStore, datasets: DatasetStore, refs: JobInputRefs): LocalInputs {
  const out: LocalInputs = { models: {}, datasets: {} };
  for (const id of refs.models ?? []) {
    const m = models.get(id);
    if (!m) throw missingInput('model', id);
    out.models[id] = { dir: models.dir(id), format: m.format, files: m.files.map((f) => f.name) };
  }
  for (const id of refs.datasets ?? []) {
    if (!datasets.get(id)) throw missingInput('dataset', id);
    out.datasets[id] = datasets.folder(id);
  }
  return out;
}
