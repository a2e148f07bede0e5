// Neural-collapse page of the dashboard: submit POST /v1/collapses (ONNX classifier + labelled dataset), follow
// the job (cancellable), then show NC1–NC4 (Papyan et al. / Zhu et al. definitions, docs/science.md) and the
// class-mean cosine matrix as a heat map, where a simplex ETF has −1/(C−1) off the diagonal.
// Plain ES module; app.js hands in its helpers ({ h, api, showError, datasetSelect, jobPanel, … }).
import { numCell, sig } from './cells.js';
import { choices, inputs, readNum, submitJob } from './common.js';
import { heatMap } from './plot.js';

/** The report's metrics in display order: key, name, what it measures (0 = full collapse for all of them). */
export const NC_ROWS = [
  ['nc1', 'NC1', 'tr(Σ_W Σ_B⁺)/C: within-class variability against between-class'],
  ['nc2_etf', 'NC2 (ETF)', '‖G/‖G‖_F − (I − 11ᵀ/C)/√(C−1)‖_F: distance of the centred means from a simplex ETF'],
  ['nc2_equinorm', 'NC2 (equinorm)', "std/mean of the centred class means' norms"],
  ['nc2_equiangular', 'NC2 (equiangular)', 'mean over c ≠ c′ of |cos(M_c, M_c′) + 1/(C−1)|'],
  ['nc3', 'NC3', '‖W/‖W‖_F − M/‖M‖_F‖²_F: classifier rows aligned with the centred means (Papyan)'],
  ['nc3_zhu', 'NC3 (Zhu)', '‖WMᵀ/‖WMᵀ‖_F − (I − 11ᵀ/C)/√(C−1)‖_F (Zhu et al.)'],
  ['nc4', 'NC4', "share of samples whose nearest class mean differs from the network's prediction"],
];

/** The first labelled dataset among those that fit (a dataset select's `prefer`). */
export const labelledFirst = (fitting) => fitting.find((d) => d.labels)?.id;

async function collapseForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api);
  const { num, select } = inputs(h);
  const model = select(
    'collapse-model',
    models.map((m) => [m.id, m.name]),
  );
  const f = {
    model,
    // Datasets that fit the model's input, labelled ones first (classes come from y).
    data: deps.datasetSelect(h, api, 'collapse-data', model, { prefer: labelledFirst }),
    samples: num('collapse-samples', '', 1),
    batch: num('collapse-batch', 500, 1),
    features: h('input', { id: 'collapse-features', placeholder: 'input of the last linear layer', style: 'width:18em' }),
  };
  f.samples.placeholder = 'all';
  await f.data.ready;
  const go = async () => {
    try {
      if (!f.model.value || !f.data.value)
        throw new Error('pick an ONNX classifier and a labelled dataset (upload them on the Models and Datasets pages)');
      const options = { batchSize: readNum(f.batch, 'batch', { int: true, min: 1 }) };
      if (f.samples.value !== '') options.samples = readNum(f.samples, 'samples', { int: true, min: 1 });
      if (f.features.value.trim()) options.features = f.features.value.trim();
      await submitJob(api, '/v1/collapses', { model: f.model.value, dataset: f.data.value, options }, 'collapse');
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Neural collapse'),
    h(
      'div',
      { class: 'panel', id: 'collapse-form' },
      h('p', {}, 'ONNX classifier ', f.model, ' labelled data ', f.data),
      h('p', {}, 'samples ', f.samples, ' batch ', f.batch, ' features ', f.features),
      h('button', { id: 'collapse-run', onclick: go }, 'Compute'),
      h(
        'p',
        { class: 'hint' },
        'Features are the input of the last Linear/Gemm/MatMul producing the logits (or a value you name), in float64; classes come from y, and a class absent from the data is left out.',
      ),
    ),
  );
}

function collapseResult(r, deps) {
  const { h } = deps;
  const C = r.num_classes;
  const absent = new Set(r.absent_classes);
  const classes = Array.from({ length: C + absent.size }, (_, k) => k).filter((k) => !absent.has(k));
  const pct = (v) => `${(100 * v).toFixed(2)}%`;
  return [
    h(
      'p',
      { id: 'collapse-summary' },
      `${r.samples} samples · ${C} classes${absent.size ? ` (absent from the data, left out: ${[...absent].join(', ')})` : ''} · ${r.feature_dim}-d features '${r.features}'`,
      r.classifier ? ` into ${r.classifier.node} (${r.classifier.weight})` : ' (no classifier matrix: NC3 not defined)',
      ` · accuracy ${pct(r.accuracy)}, nearest class mean ${pct(r.ncc_accuracy)}`,
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'NC1–NC4 (0 = full collapse)'),
      h(
        'table',
        { id: 'nc-metrics' },
        h('tr', {}, h('th', {}, 'metric'), h('th', { class: 'num' }, 'value'), h('th', {}, 'definition')),
        NC_ROWS.map(([k, name, what]) => h('tr', { 'data-key': k }, h('td', {}, name), numCell(h, r[k]), h('td', { class: 'hint' }, what))),
      ),
    ),
    h(
      'div',
      { class: 'panel', id: 'cosines' },
      h('h3', {}, 'Cosines of the centred class means'),
      heatMap({
        id: 'cosine-map',
        matrix: r.mean_cosines,
        labels: classes,
        title: 'cos(M_c, M_c′)',
        marks: [{ v: -1 / (C - 1), text: `ETF ${sig(-1 / (C - 1))}` }],
      }),
      h(
        'p',
        { class: 'hint' },
        `At full collapse (NC2) every off-diagonal cosine is −1/(C−1) = ${sig(-1 / (C - 1))}; Σ_B has rank ${r.between_rank} (at most C − 1).`,
      ),
      h('p', { class: 'hint' }, `samples per class: ${r.class_counts.map((c, i) => `${classes[i]}: ${c}`).join(' · ')}`),
    ),
  ];
}

/** #collapse, #collapse/<job>. */
export async function collapsePage(view, id, deps) {
  if (!id) return collapseForm(view, deps);
  if (await deps.jobPanel(view, id, 'Neural collapse', deps)) view.append(...collapseResult(await deps.api(`/v1/collapses/${id}`), deps));
}
