// Hessian panel of the dashboard: submit a Hessian job (model + dataset), follow it, and show the top eigenvalues,
// the trace ± its standard error, the input Hessian, and the SLQ density on a log scale (PyHessian's semilogy plot).
// Plain ES module; app.js hands in its helpers so both share one API key and one error line.
import { choices, modelLabel, routeText } from './common.js';

/** Density plot: x = eigenvalue (linear), y = density + 1e-7 on a log axis, Ritz values as ticks under the axis. */
export function densityPlot(d, { s }) {
  const W = 700,
    H = 344,
    L = 60,
    B = 40,
    T = 10,
    R = 12;
  const svg = s('svg', { id: 'density-chart', viewBox: `0 0 ${W} ${H}`, width: '700' });
  const ys = d.values.map((v) => v + 1e-7);
  const x0 = d.grid[0],
    x1 = d.grid[d.grid.length - 1];
  const ylo = Math.floor(Math.log10(Math.min(...ys))),
    yhi = Math.ceil(Math.log10(Math.max(...ys)));
  const X = (x) => L + ((W - L - R) * (x - x0)) / (x1 - x0 || 1);
  const Y = (v) => T + ((H - T - B) * (yhi - Math.log10(v))) / (yhi - ylo || 1);
  svg.append(
    s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
  );
  for (let e = ylo; e <= yhi; e++) {
    svg.append(
      s('line', { class: 'tick', x1: L - 4, x2: L, y1: Y(10 ** e), y2: Y(10 ** e) }),
      s('text', { class: 'ylabel', x: L - 7, y: Y(10 ** e) + 3.5, 'text-anchor': 'end' }, `1e${e}`),
    );
  }
  // x ticks at round values (1-2-5 steps, about six of them) rather than at fractions of an arbitrary range
  const raw = (x1 - x0) / 6 || 1,
    p = 10 ** Math.floor(Math.log10(raw)),
    step = [1, 2, 5, 10].map((m) => m * p).find((st) => st >= raw);
  for (let x = Math.ceil(x0 / step) * step; x <= x1 + 1e-9 * step; x += step) {
    const v = Math.abs(x) < step / 1e6 ? 0 : +x.toPrecision(6);
    svg.append(
      s('line', { class: 'tick', x1: X(v), x2: X(v), y1: H - B, y2: H - B + 4 }),
      s('text', { x: X(v), y: H - B + 16, 'text-anchor': 'middle' }, String(v)),
    );
  }
  svg.append(
    s('text', { class: 'axis-label', x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle' }, 'eigenvalue λ of the loss Hessian'),
    s(
      'text',
      { class: 'axis-label', transform: `translate(14 ${T + (H - T - B) / 2}) rotate(-90)`, 'text-anchor': 'middle' },
      'density + 1e-7 (log scale)',
    ),
  );
  // Thin the path to about one point per pixel column, keeping each column's maximum (peaks stay visible).
  const cols = new Map();
  d.grid.forEach((x, i) => {
    const c = Math.round(X(x));
    if (!cols.has(c) || cols.get(c) < ys[i]) cols.set(c, ys[i]);
  });
  const pts = [...cols.entries()].sort((a, b) => a[0] - b[0]);
  svg.append(s('path', { class: 'density', d: pts.map(([c, v], i) => `${i ? 'L' : 'M'}${c},${Y(v).toFixed(1)}`).join('') }));
  for (const run of d.nodes) for (const t of run) svg.append(s('line', { class: 'node', x1: X(t), x2: X(t), y1: H - B, y2: H - B + 5 }));
  return svg;
}

function resultView(r, deps) {
  const { h, fmt } = deps;
  const parts = [
    h('p', { id: 'hessian-route' }, `graph: ${routeText(r)}`),
    h(
      'p',
      { id: 'hessian-summary' },
      `${r.num_params.toLocaleString()} parameters · ${r.samples} samples in ${r.batches} batch(es) · loss ${fmt(r.loss, 5)} · ${r.hv_products} Hv in ${fmt(r.seconds, 1)} s · seed ${r.seed}`,
    ),
  ];
  if (r.top_eigenvalues) {
    parts.push(
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, `Top eigenvalues (${r.eigen_method === 'lanczos' ? 'Lanczos' : 'power iteration'})`),
        h(
          'table',
          { id: 'eigenvalues' },
          h('tr', {}, h('th', {}, '#'), h('th', {}, 'λ'), h('th', {}, 'Hv'), h('th', {}, 'residual ‖Hv − λv‖')),
          r.top_eigenvalues.map((v, i) =>
            h(
              'tr',
              {},
              h('td', {}, i + 1),
              h('td', { class: 'num' }, fmt(v, 6)),
              h('td', { class: 'num' }, r.eigen_iterations[i]),
              h('td', { class: 'num' }, fmt(r.residuals[i])),
            ),
          ),
        ),
      ),
    );
  }
  if (r.trace) {
    const t = r.trace;
    parts.push(
      h(
        'div',
        { class: 'panel', id: 'trace' },
        h('h3', {}, 'Trace'),
        t.mean !== undefined
          ? h('p', {}, `Hutchinson: ${fmt(t.mean, 4)} ± ${fmt(t.stderr, 4)} (standard error, ${t.samples} Rademacher probes)`)
          : null,
        t.exact !== undefined ? h('p', {}, `exact Σ eᵢᵀHeᵢ: ${fmt(t.exact, 6)}`) : null,
      ),
    );
  }
  if (r.input_hessian)
    parts.push(
      h(
        'div',
        { class: 'panel', id: 'input-hessian' },
        h('h3', {}, 'Input Hessian'),
        h('p', {}, `top eigenvalue ${fmt(r.input_hessian.top_eigenvalue, 6)} (input dimension ${r.input_hessian.dim})`),
      ),
    );
  // The display grid reaches past the extreme Ritz values, so the top eigenvalue's peak is drawn whole.
  const shown = r.density?.display ? { ...r.density, ...r.density.display } : r.density;
  if (r.density)
    parts.push(
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, `Spectral density (SLQ: ${r.density.nodes.length} run(s) × ${r.density.nodes[0].length} Lanczos steps)`),
        densityPlot(shown, deps),
      ),
    );
  return parts;
}

async function showJob(view, id, deps) {
  if (!(await deps.jobPanel(view, id, 'Hessian', deps))) return;
  view.append(...resultView(await deps.api(`/v1/hessians/${id}`), deps));
}

async function showForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api, { hf: true });
  const model = h(
    'select',
    { id: 'hessian-model' },
    models.map((m) => h('option', { value: m.id, 'data-route': m.route }, modelLabel(m))),
  );
  // Datasets that fit the chosen model come first and the first of them is preselected (the server checks again).
  const dataset = deps.datasetSelect(h, api, 'hessian-dataset', model);
  await dataset.ready;
  const file = h('input', { type: 'file', id: 'dataset-file' });
  const status = h('span');
  const num = (id, value) => h('input', { id, type: 'number', value, style: 'width:6em' });
  const box = (id, checked) => h('input', { id, type: 'checkbox', checked });
  const topK = num('opt-topk', 3),
    seed = num('opt-seed', 0),
    batch = num('opt-batch', 256),
    samples = num('opt-samples', '');
  const lanczos = box('opt-lanczos', true),
    trace = box('opt-trace', true),
    density = box('opt-density', true),
    input = box('opt-input', false);
  const upload = async () => {
    if (!file.files.length) return;
    try {
      const d = await api(`/v1/datasets?name=${encodeURIComponent(file.files[0].name)}`, {
        method: 'POST',
        body: file.files[0],
        headers: { 'content-type': 'application/octet-stream' },
      });
      status.textContent = `stored ${d.name} (${d.samples} samples)`;
      showForm(view, deps);
    } catch (e) {
      showError(e.message);
    }
  };
  const go = async () => {
    const options = {
      topK: Number(topK.value),
      seed: Number(seed.value),
      batchSize: Number(batch.value),
      lanczos: lanczos.checked,
      trace: trace.checked,
      density: density.checked,
      input: input.checked,
    };
    if (samples.value) options.samples = Number(samples.value);
    try {
      const { job } = await api('/v1/hessians', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: model.value, dataset: dataset.value, options }),
      });
      location.hash = `#hessian/${job.id}`;
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Hessian of the loss'),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Dataset'),
      'safetensors with x (and y for classification): ',
      file,
      ' ',
      h('button', { onclick: upload }, 'Upload'),
      ' ',
      status,
    ),
    h(
      'div',
      { class: 'panel' },
      h('p', {}, 'model (ONNX, or a Hugging Face folder: its graph is built from config.json) ', model, ' dataset ', dataset),
      h(
        'p',
        {},
        'top-k ',
        topK,
        ' ',
        h('label', {}, lanczos, ' Lanczos'),
        ' ',
        h('label', {}, trace, ' trace'),
        ' ',
        h('label', {}, density, ' density'),
        ' ',
        h('label', {}, input, ' input Hessian'),
      ),
      h('p', {}, 'batch ', batch, ' samples ', samples, ' seed ', seed),
      h('button', { id: 'hessian-run', onclick: go }, 'Compute'),
    ),
  );
}

export async function hessianPage(view, id, deps) {
  if (id) await showJob(view, id, deps);
  else await showForm(view, deps);
}
