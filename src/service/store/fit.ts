/**
 * Does a stored dataset fit a stored model? Its samples (x without the batch dimension) must have the shape and
 * dtype of the model's first graph input, where the graph fixes them (symbolic dims fit anything). Checked when a
 * job is submitted, so a Hessian on the wrong dataset is a 422 at once instead of a job that starts and fails; the
 * dashboard preselects a fitting dataset by the same rule.
 */
import { WeightscopeError } from '../../errors.js';
import type { DatasetRecord } from './datasets.js';
import type { ModelRecord } from './models.js';

/** Why `ds` does not fit `m`, or null when it fits (or the model's inputs are unknown). */
export function misfit(m: Pick<ModelRecord, 'inputs'>, ds: Pick<DatasetRecord, 'x_shape' | 'x_dtype'>): string | null {
  const input = m.inputs?.[0];
  if (!input) return null;
  const shape = `[${input.shape.join(', ')}] ${input.dtype}`;
  if (input.shape.length !== ds.x_shape.length)
    return `its samples have ${ds.x_shape.length - 1} dimension(s), input '${input.name}' ${shape} takes ${input.shape.length - 1}`;
  for (let i = 1; i < input.shape.length; i++) {
    const d = input.shape[i];
    if (typeof d === 'number' && d !== ds.x_shape[i])
      return `dimension ${i} is ${ds.x_shape[i]}, input '${input.name}' ${shape} needs ${d}`;
  }
  if ((input.dtype === 'float32' || input.dtype === 'int64') && input.dtype !== ds.x_dtype)
    return `x is ${ds.x_dtype}, input '${input.name}' ${shape} takes ${input.dtype}`;
  return null;
}

export function requireFit(m: Pick<ModelRecord, 'inputs' | 'name'>, ds: Pick<DatasetRecord, 'x_shape' | 'x_dtype' | 'name'>): void {
  const why = misfit(m, ds);
  if (why)
    throw new WeightscopeError(
      'shape-mismatch',
      `dataset ${ds.name} (x [${ds.x_shape.join(', ')}] ${ds.x_dtype}) does not fit model ${m.name}: ${why}`,
    );
}
