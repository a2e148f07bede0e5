// Surfaces page of the dashboard: submit POST /v1/surfaces (3 or 4 ONNX models of one graph, clean labelled data,
// optional held-out and test data), follow the job (cancellable), then show loss and accuracy over the patch as heat
// maps (rows u, columns v), the corners, the centre, the barrier, the best interior point (downloadable: "model
// averaging") and the output ensembles of surface points and of the corners (MCSurface).
// Plain ES module; app.js hands in its helpers ({ h, api, showError, datasetSelect, jobPanel, downloadLink, … }).
import { numCell } from './cells.js';
import { labelledFirst } from './collapse.js';
import { choices, inputs, readNum, submitJob } from './common.js';
import { heatMap, sequentialColor } from './plot.js';
import { gridTs } from './repair.js';
import { likelySet } from './taxonomy.js';

/** Form defaults: surfaceOptionsSchema's (src/landscape/connectivity/connect-surface.ts); test/web/surface.test.ts checks them. */
export const SURFACE_DEFAULTS = {
  degree: 2,
  epochs: 20,
  samplesPerEpoch: 10000,
  grid: 11,
  ensemble: 10,
  l2: 0.0001,
  seed: 1,
  heldOut: 0.2,
};

async function surfaceForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api);
  const { num } = inputs(h);
  const D = SURFACE_DEFAULTS;
  // Up to four models of the likeliest graph are preselected, as the corners M1..M4 in list order.
  const chosen = new Set([...likelySet(models)].slice(0, 4));
  const boxes = models.map((m) =>
    h('label', { class: 'model-choice' }, h('input', { type: 'checkbox', value: m.id, checked: chosen.has(m.id) }), ` ${m.name} `),
  );
  const checked = () =>
    boxes
      .map((b) => b.querySelector('input'))
      .filter((i) => i.checked)
      .map((i) => i.value);
  // The datasets follow the first checked model (one graph: what fits one fits all).
  const first = h(
    'select',
    { hidden: true },
    models.map((m) => h('option', { value: m.id }, m.name)),
  );
  first.value = checked()[0] ?? '';
  boxes.forEach((b) =>
    b.addEventListener('change', () => {
      if (first.value === (checked()[0] ?? '')) return;
      first.value = checked()[0] ?? '';
      first.dispatchEvent(new Event('change'));
    }),
  );
  const f = {
    data: deps.datasetSelect(h, api, 'surf-data', first, { prefer: labelledFirst }),
    heldOutData: deps.datasetSelect(h, api, 'surf-held-out', first, { none: '(hold out a share of the clean data)' }),
    test: deps.datasetSelect(h, api, 'surf-test', first, { none: '(none: report on the held-out data)' }),
    degree: num('surf-degree', D.degree, 1),
    epochs: num('surf-epochs', D.epochs, 1),
    samples: num('surf-samples', D.samplesPerEpoch, 1),
    grid: num('surf-grid', D.grid, 1),
    ensemble: num('surf-ensemble', D.ensemble, 1),
    l2: num('surf-l2', D.l2),
    seed: num('surf-seed', D.seed, 1),
  };
  await Promise.all([f.data.ready, f.heldOutData.ready, f.test.ready]);
  const go = async () => {
    try {
      const ids = checked();
      if (ids.length < 3 || ids.length > 4) throw new Error(`pick 3 or 4 models of one graph (${ids.length} picked)`);
      if (!f.data.value) throw new Error('pick clean labelled data');
      const options = {
        degree: readNum(f.degree, 'degree', { int: true, min: 1 }),
        epochs: readNum(f.epochs, 'epochs', { int: true, min: 0 }),
        samplesPerEpoch: readNum(f.samples, 'samples per epoch', { int: true, min: 1 }),
        grid: readNum(f.grid, 'grid', { int: true, min: 3 }),
        ensemble: readNum(f.ensemble, 'ensemble points', { int: true, min: 1 }),
        l2: readNum(f.l2, 'L2', { min: 0 }),
        seed: readNum(f.seed, 'seed', { int: true, min: 0 }),
      };
      const body = { models: ids, data: f.data.value, options };
      if (f.heldOutData.value) body.heldOutData = f.heldOutData.value;
      if (f.test.value) body.test = f.test.value;
      await submitJob(api, '/v1/surfaces', body, 'surface');
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Mode connectivity on surfaces'),
    h(
      'div',
      { class: 'panel', id: 'surf-form' },
      h('p', {}, 'corners M1, M2, M3[, M4] (3 or 4 models of one graph) ', h('span', { id: 'surf-models-choice' }, boxes)),
      h(
        'p',
        {},
        'clean data (trains the surface) ',
        f.data,
        ' held-out clean data (chooses the best point) ',
        f.heldOutData,
        ' test data ',
        f.test,
      ),
      h('p', {}, 'degree ', f.degree, ' epochs ', f.epochs, ' samples per epoch ', f.samples, ' L2 ', f.l2, ' seed ', f.seed),
      h('p', {}, 'grid ', f.grid, ' × grid · ensemble of ', f.ensemble, ' surface points'),
      h('button', { id: 'surf-run', onclick: go }, 'Train surface'),
      h(
        'p',
        { class: 'hint' },
        'Four models: a tensor-product Bezier patch (M1 at (u, v) = (0, 0), M2 (1, 0), M3 (0, 1), M4 (1, 1)); three: a triangular patch. The free control points start on the bilinear (linear) interpolation, so epochs 0 shows that interpolation.',
      ),
    ),
  );
}

/** The grid as a G × G matrix (rows u, columns v) of `key`; points outside a triangle are null. */
export function gridMatrix(r, key) {
  const us = gridTs(r.options.grid);
  const at = (x) => us.findIndex((t) => Math.abs(t - x) < 1e-9);
  const m = us.map(() => us.map(() => null));
  for (const g of r.grid) m[at(g.u)][at(g.v)] = g[key];
  return m;
}

function surfaceResult(r, id, names, deps) {
  const { h } = deps;
  const name = (mid) => names.get(mid) ?? mid.slice(0, 12);
  const us = gridTs(r.options.grid);
  const map = (key, title, elId) => {
    const vals = r.grid.map((g) => g[key]);
    return heatMap({
      id: elId,
      matrix: gridMatrix(r, key),
      labels: us,
      title,
      domain: [Math.min(...vals), Math.max(...vals)],
      color: key === 'loss' ? (x) => sequentialColor(1 - x) : sequentialColor,
    });
  };
  const point = (label, key, p) =>
    h(
      'tr',
      { 'data-key': key },
      h('td', {}, label),
      h('td', { class: 'num' }, p.u === undefined ? '—' : `(${+p.u.toFixed(4)}, ${+p.v.toFixed(4)})`),
      numCell(h, p.accuracy, { 'data-col': 'accuracy' }),
      numCell(h, p.loss, { 'data-col': 'loss' }),
    );
  const set = r.gridSet === 'test' ? 'test data' : 'held-out clean data';
  const patch = `${r.patch.kind === 'tensor' ? 'tensor-product' : 'triangular'} Bezier patch of degree ${r.patch.degree.join(' × ')}`;
  return [
    h(
      'p',
      { id: 'surf-summary' },
      `${patch}: ${r.patch.controlPoints} control points, ${r.patch.free} trained · ${r.training.epochs.length} epoch(s), ${r.training.steps} steps, ${r.training.seconds.toFixed(1)} s · ${r.grid.length} grid points on the ${set} (${r.data.test ?? r.data.heldOut} samples)`,
    ),
    h(
      'div',
      { class: 'panel', id: 'surf-maps' },
      h('h3', {}, `Loss and accuracy over the patch (rows u, columns v; ${set})`),
      h(
        'div',
        { class: 'maps' },
        map('loss', 'loss over (u, v)', 'surf-loss-map'),
        map('accuracy', 'accuracy over (u, v)', 'surf-acc-map'),
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Points'),
      h(
        'table',
        { id: 'surf-points' },
        h(
          'tr',
          {},
          h('th', {}, 'point'),
          h('th', { class: 'num' }, '(u, v)'),
          h('th', { class: 'num' }, 'accuracy'),
          h('th', { class: 'num' }, 'loss'),
        ),
        r.corners.map((c, k) => point(`corner M${k + 1}: ${name(r.models[k])}`, `corner${k + 1}`, c)),
        point('centre', 'center', r.center),
        point('best interior point (exported)', 'best', r.best),
        point('highest loss (barrier)', 'worst', r.barrier.worst),
        point('lowest accuracy', 'worstAccuracy', r.barrier.worstAccuracy),
        point(`output ensemble of ${r.ensemble.points.length} surface points`, 'ensemble', r.ensemble.surface),
        point("the corners' output ensemble", 'cornerEnsemble', r.ensemble.corners),
      ),
      h(
        'p',
        { id: 'surf-barrier', 'data-v': r.barrier.loss },
        `barrier: worst grid loss − the corners' mean loss (${+r.barrier.cornersMeanLoss.toPrecision(6)}) = ${+r.barrier.loss.toPrecision(6)}`,
      ),
      h('p', { id: 'surf-best-reason', class: 'hint' }, r.best.reason),
      h(
        'p',
        { class: 'downloads' },
        'best interior point as a model: ',
        deps.downloadLink(h, 'download-onnx', `/v1/surfaces/${id}/model?format=onnx`, `surface-best-${id.slice(0, 8)}.onnx`, 'ONNX'),
        ' · ',
        deps.downloadLink(
          h,
          'download-safetensors',
          `/v1/surfaces/${id}/model?format=safetensors`,
          `surface-best-${id.slice(0, 8)}.safetensors`,
          'safetensors',
        ),
      ),
    ),
  ];
}

/** #surface, #surface/<job>. */
export async function surfacePage(view, id, deps) {
  if (!id) return surfaceForm(view, deps);
  if (!(await deps.jobPanel(view, id, 'Surface', deps))) return;
  const [r, { models }] = await Promise.all([deps.api(`/v1/surfaces/${id}`), deps.api('/v1/models')]);
  view.append(...surfaceResult(r, id, new Map(models.map((m) => [m.id, m.name])), deps));
}
