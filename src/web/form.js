// Form pieces shared by the dashboard's job pages (repair.js, science pages): the stored ONNX models and datasets
// for pickers, number inputs and selects, and reading a number input with an error naming the field.
// Plain ES module; pages hand in app.js's `h`.

/** The stored ONNX models and datasets, for the forms' selects. */
export async function choices(api) {
  const [{ models }, { datasets }] = await Promise.all([api('/v1/models'), api('/v1/datasets')]);
  return { models: models.filter((m) => m.format === 'onnx' || m.files.some((f) => f.name.endsWith('.onnx'))), datasets };
}

export function inputs(h) {
  const num = (id, value, step = 'any') => h('input', { id, type: 'number', value, step, style: 'width:7em' });
  const select = (id, rows, none) => h('select', { id }, none ? h('option', { value: '' }, none) : null, rows.map(([v, text]) => h('option', { value: v }, text)));
  return { num, select };
}

/** A number input's value, or a clear error naming the field. */
export function readNum(el, label, { int = false, min = -Infinity } = {}) {
  const v = Number(el.value);
  if (el.value === '' || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min) throw new Error(`${label}: expected ${int ? 'an integer' : 'a number'} ≥ ${min}, got '${el.value}'`);
  return v;
}

/** A dataset as a picker shows it: name, samples, x's shape, and whether it is labelled. */
export const datasetLabel = (d) => `${d.name} (${d.samples} samples, x [${d.x_shape.join('×')}]${d.labels ? ', labelled' : ', token ids'})`;

/**
 * A dataset select for a task: fitting datasets (labelled ones when `labelled`) first and the first of them
 * selected; those that cannot serve are listed disabled with the reason. `none` adds an empty first choice.
 */
export function datasetSelect(h, id, datasets, { labelled = true, none = null } = {}) {
  const fits = (d) => !labelled || d.labels;
  const sorted = [...datasets.filter(fits), ...datasets.filter((d) => !fits(d))];
  const el = h('select', { id },
    none ? h('option', { value: '' }, none) : null,
    sorted.map((d) => h('option', { value: d.id, disabled: !fits(d), title: fits(d) ? null : 'needs labels y' }, datasetLabel(d))));
  if (!none && sorted.length && fits(sorted[0])) el.value = sorted[0].id;
  return el;
}
