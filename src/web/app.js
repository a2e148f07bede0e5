// weightscope dashboard: plain ES module, no build step. Talks to the /v1 API of the same origin.
import { datasetSelect, downloadLink, jobPanel } from './common.js';
import { legend, linearTicks, logLabel, logTicks, s } from './plot.js';
const $ = (sel, el = document) => el.querySelector(sel);
const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) el.append(k instanceof Node ? k : String(k));
  return el;
};
const fmt = (v, d = 3) =>
  v === null || v === undefined
    ? '—'
    : typeof v === 'number'
      ? Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
        ? v.toExponential(2)
        : v.toFixed(d)
      : String(v);
const bytes = (n) =>
  n > 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n > 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;

const keyInput = $('#apikey');
keyInput.value = localStorage.getItem('weightscope-key') ?? '';
keyInput.addEventListener('change', () => {
  localStorage.setItem('weightscope-key', keyInput.value);
  route();
});
const authHeaders = () => (keyInput.value ? { authorization: `Bearer ${keyInput.value}` } : {});

function showError(msg) {
  const el = $('#error');
  el.textContent = msg;
  el.hidden = !msg;
}

async function api(path, init = {}) {
  const r = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  const type = r.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await r.json() : await r.text();
  if (!r.ok) throw new Error(body && body.detail ? `${body.title}: ${body.detail}` : `HTTP ${r.status}`);
  return body;
}

/**
 * SSE over fetch (EventSource cannot send the Authorization header). Calls onJob(job) per event; `signal` (the
 * page's) ends the stream when the page is left, so streams of old pages do not pile up in the browser's
 * connection pool. Returns the last job seen.
 */
async function followJob(id, onJob, signal) {
  const r = await fetch(`/v1/jobs/${id}/events`, { headers: authHeaders(), signal });
  if (!r.ok || !r.body) throw new Error(`cannot follow job ${id}: HTTP ${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let last = null;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      if (signal?.aborted) return last;
      throw e;
    }
    const { value, done } = chunk;
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data) {
        last = JSON.parse(data);
        onJob(last);
      }
    }
  }
  return last;
}

// ---------- models page ----------
/** The folder a set of files came from (a folder picked with webkitdirectory), or null. */
const folderOf = (files) => {
  const tops = new Set([...files].map((f) => (f.webkitRelativePath || '').split('/')[0]).filter(Boolean));
  return tops.size === 1 ? [...tops][0] : null;
};

async function modelsPage(view, deps) {
  const { models } = await api('/v1/models');
  const file = h('input', { type: 'file', multiple: true, id: 'upload-file' });
  const folder = h('input', { type: 'file', id: 'upload-folder', webkitdirectory: true });
  const status = h('span', { 'data-testid': 'upload-status' });
  const upload = async (input) => {
    if (!input.files.length) return;
    const form = new FormData();
    const dir = folderOf(input.files);
    // A folder's files keep their names inside it (onnx/model.onnx); the folder names the model.
    if (dir) form.append('name', dir);
    for (const f of input.files) form.append('files', f, dir ? f.webkitRelativePath.slice(dir.length + 1) : f.name);
    status.textContent = 'uploading…';
    try {
      const m = await api('/v1/models', { method: 'POST', body: form });
      status.textContent = `stored ${m.name} (${m.id.slice(0, 12)})`;
      route();
    } catch (e) {
      status.textContent = '';
      showError(e.message);
    }
  };
  const importPath = h('input', {
    id: 'import-path',
    placeholder: 'a folder or file under an import root, or ORG/NAME from the Hugging Face cache',
    style: 'width:36em',
  });
  const importStatus = h('span', { 'data-testid': 'import-status' });
  const doImport = async () => {
    const v = importPath.value.trim();
    if (!v) return;
    const body = v.startsWith('/') || v.startsWith('.') ? { path: v } : { hf: v };
    importStatus.textContent = 'importing…';
    try {
      const r = await fetch('/v1/models/import', {
        method: 'POST',
        headers: { ...authHeaders(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const out = await r.json();
      if (!r.ok) throw new Error(out.detail ? `${out.title}: ${out.detail}` : `HTTP ${r.status}`);
      // 202: a large import or a download runs as a job; follow it on its own page.
      if (r.status === 202) {
        location.hash = `#import/${out.job.id}`;
        return;
      }
      importStatus.textContent = `stored ${out.name} (${out.id.slice(0, 12)})`;
      route();
    } catch (e) {
      importStatus.textContent = '';
      showError(e.message);
    }
  };
  const analyse = async (id) => {
    try {
      const { job } = await api('/v1/analyses', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: id }),
      });
      location.hash = `#analysis/${job.id}`;
    } catch (e) {
      showError(e.message);
    }
  };
  const del = async (id) => {
    if (!confirm('Delete this model?')) return;
    await api(`/v1/models/${id}`, { method: 'DELETE' });
    route();
  };
  view.replaceChildren(
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Upload a checkpoint'),
      h('p', {}, 'files ', file, ' ', h('button', { id: 'upload-button', onclick: () => upload(file) }, 'Upload')),
      h(
        'p',
        {},
        'or a folder ',
        folder,
        ' ',
        h('button', { id: 'upload-folder-button', onclick: () => upload(folder) }, 'Upload folder'),
        ' ',
        status,
      ),
      h(
        'p',
        { class: 'hint' },
        'safetensors, PyTorch zip (.bin/.pt) or ONNX; several files (shards, config.json, onnx/, tokenizer) make one model.',
      ),
    ),
    h(
      'div',
      { class: 'panel', id: 'import-form' },
      h('h2', {}, 'Import'),
      h('p', {}, importPath, ' ', h('button', { id: 'import-button', onclick: doImport }, 'Import'), ' ', importStatus),
      h(
        'p',
        { class: 'hint' },
        "From the server's disk: a path under models/, the Hugging Face cache or WEIGHTSCOPE_IMPORT_ROOTS, or a hub id (gpt2, ORG/NAME) found in the cache — or downloaded, when the server allows it. Large imports run as a job.",
      ),
    ),
    h('h2', {}, `Models (${models.length})`),
    h(
      'table',
      { id: 'models' },
      h(
        'tr',
        {},
        h('th', {}, 'name'),
        h('th', {}, 'format'),
        h('th', { class: 'num' }, 'size'),
        h('th', { class: 'num' }, 'parameters'),
        h('th', {}, 'id'),
        h('th', {}),
      ),
      models.map((m) =>
        h(
          'tr',
          { 'data-id': m.id },
          h('td', {}, m.name),
          h('td', {}, m.format),
          h('td', { class: 'num' }, bytes(m.bytes)),
          h('td', { class: 'num' }, m.parameters.toLocaleString()),
          h('td', {}, h('code', {}, m.id.slice(0, 12))),
          h(
            'td',
            {},
            h('button', { class: 'analyse', onclick: () => analyse(m.id) }, 'Analyse'),
            ' ',
            h('button', { onclick: () => del(m.id) }, 'Delete'),
          ),
        ),
      ),
    ),
  );
  void deps;
}

/** #import/<job>: a large import or a download, followed to its end, then a link to the model. */
async function importPage(view, id, deps) {
  if (!(await jobPanel(view, id, 'Import', deps))) return;
  const { model, created } = await api(`/v1/imports/${id}`);
  view.append(
    h(
      'p',
      { id: 'import-result' },
      `${created ? 'stored' : 'already stored'}: ${model.name} · ${model.format} · ${model.parameters.toLocaleString()} parameters · `,
      h('a', { href: '#' }, 'models'),
    ),
  );
}

// ---------- datasets page ----------
async function datasetsPage(view) {
  const { datasets } = await api('/v1/datasets');
  const file = h('input', { type: 'file', id: 'dataset-file' });
  const status = h('span', { 'data-testid': 'dataset-status' });
  const upload = async () => {
    if (!file.files.length) return;
    status.textContent = 'uploading…';
    try {
      const d = await api(`/v1/datasets?name=${encodeURIComponent(file.files[0].name)}`, {
        method: 'POST',
        body: file.files[0],
        headers: { 'content-type': 'application/octet-stream' },
      });
      status.textContent = `stored ${d.name} (${d.samples} samples)`;
      route();
    } catch (e) {
      status.textContent = '';
      showError(e.message);
    }
  };
  view.replaceChildren(
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Upload a dataset'),
      file,
      ' ',
      h('button', { id: 'dataset-upload', onclick: upload }, 'Upload'),
      ' ',
      status,
      h(
        'p',
        { class: 'hint' },
        'A safetensors file with x (float32 features [N, …] or int64 tokens [N, T]) and, for classification, y (int64 labels [N]). The Hessian, comparison, connectivity and repair jobs read datasets.',
      ),
    ),
    h('h2', {}, `Datasets (${datasets.length})`),
    h(
      'table',
      { id: 'datasets' },
      h(
        'tr',
        {},
        h('th', {}, 'name'),
        h('th', { class: 'num' }, 'samples'),
        h('th', {}, 'x'),
        h('th', {}, 'labels'),
        h('th', { class: 'num' }, 'size'),
        h('th', {}, 'id'),
      ),
      datasets.map((d) =>
        h(
          'tr',
          { 'data-id': d.id },
          h('td', {}, d.name),
          h('td', { class: 'num' }, d.samples.toLocaleString()),
          h('td', {}, `[${d.x_shape.join(', ')}] ${d.x_dtype}`),
          h('td', {}, d.labels ? 'y' : '— (tokens)'),
          h('td', { class: 'num' }, bytes(d.bytes)),
          h('td', {}, h('code', {}, d.id.slice(0, 12))),
        ),
      ),
    ),
  );
}

// ---------- analysis page ----------
function alphaBars(layers, onPick) {
  const W = 1000,
    H = 310,
    L = 52,
    B = 42,
    T = 34,
    R = 8;
  const rows = layers.filter((l) => typeof l.alpha === 'number');
  const maxA = Math.max(8, ...rows.map((l) => l.alpha)) * 1.05;
  const y = (a) => T + (H - T - B) * (1 - a / maxA);
  const svg = s('svg', { id: 'alpha-chart', viewBox: `0 0 ${W} ${H}`, width: '100%' });
  svg.append(s('rect', { class: 'band', x: L, y: y(6), width: W - L - R, height: y(2) - y(6) }));
  for (const a of [2, 6]) svg.append(s('line', { class: 'band-edge', 'data-alpha': a, x1: L, x2: W - R, y1: y(a), y2: y(a) }));
  for (const a of linearTicks(maxA)) {
    svg.append(
      s('line', { class: 'tick', x1: L - 4, x2: L, y1: y(a), y2: y(a) }),
      s('text', { x: L - 7, y: y(a) + 3.5, 'text-anchor': 'end' }, String(a)),
    );
  }
  svg.append(
    s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
  );
  svg.append(
    s(
      'text',
      { class: 'axis-label', transform: `translate(14 ${T + (H - T - B) / 2}) rotate(-90)`, 'text-anchor': 'middle' },
      'alpha (PL exponent)',
    ),
    s('text', { class: 'axis-label', x: L + (W - L - R) / 2, y: H - 4, 'text-anchor': 'middle' }, 'layer id (click a bar for its ESD)'),
  );
  const bw = (W - L - R) / Math.max(1, rows.length);
  const every = Math.max(1, Math.ceil(22 / bw)); // layer-id labels at least ~22 units apart
  rows.forEach((l, i) => {
    const bar = s('rect', {
      class: `bar${l.alpha < 2 || l.alpha > 6 ? ' out' : ''}`,
      'data-layer': l.layer_id,
      'data-alpha': l.alpha,
      x: L + i * bw + bw * 0.1,
      y: y(l.alpha),
      width: bw * 0.8,
      height: H - B - y(l.alpha),
    });
    bar.append(s('title', {}, `${l.layer_id} ${l.name}: alpha ${fmt(l.alpha)}`));
    bar.addEventListener('click', () => {
      svg.querySelectorAll('.bar.sel').forEach((b) => b.classList.remove('sel'));
      bar.classList.add('sel');
      onPick(l);
    });
    svg.append(bar);
    if (i % every === 0) svg.append(s('text', { x: L + (i + 0.5) * bw, y: H - B + 13, 'text-anchor': 'middle' }, String(l.layer_id)));
  });
  legend(
    svg,
    W - R - 4,
    T,
    [
      { kind: 'rect', cls: 'sw-bar', text: 'alpha in 2–6' },
      { kind: 'rect', cls: 'sw-out', text: 'alpha outside 2–6' },
      { kind: 'rect', cls: 'sw-band', text: '2–6: well-trained range' },
    ],
    true,
  );
  return svg;
}

/** Log-binned density of the eigenvalues on log-log axes, with the PL fit (and E-TPL when present) and xmin. */
function esdPlot(esd) {
  const W = 960,
    H = 400,
    L = 66,
    B = 40,
    T = 10,
    R = 250; // the legend sits in the right margin
  const ev = esd.eigenvalues.filter((v) => v > 0).sort((a, b) => a - b);
  const svg = s('svg', { id: 'esd-chart', viewBox: `0 0 ${W} ${H}`, width: '100%', style: `max-width:${W}px` });
  if (ev.length < 2) {
    svg.append(s('text', { x: 20, y: 20 }, 'no positive eigenvalues'));
    return svg;
  }
  const n = ev.length;
  const elo = Math.log10(ev[0]),
    ehi = Math.log10(ev[n - 1]) + 1e-9;
  const nb = Math.min(40, Math.max(8, Math.round(Math.sqrt(n))));
  const edges = Array.from({ length: nb + 1 }, (_, i) => 10 ** (elo + ((ehi - elo) * i) / nb));
  const pts = [];
  for (let i = 0; i < nb; i++) {
    const c = ev.filter((v) => v >= edges[i] && (i === nb - 1 ? v <= edges[i + 1] : v < edges[i + 1])).length;
    if (c > 0) pts.push([Math.sqrt(edges[i] * edges[i + 1]), c / n / (edges[i + 1] - edges[i])]);
  }
  // Fitted densities are scaled by the share of eigenvalues in the fitted tail, so they sit on the points.
  const curve = (xmin, pdf) => {
    const frac = ev.filter((v) => v >= xmin).length / n;
    return Array.from({ length: 51 }, (_, i) => {
      const x = xmin * (ev[n - 1] / xmin) ** (i / 50);
      return [x, frac * pdf(x)];
    });
  };
  const fitPts = esd.alpha && esd.xmin ? curve(esd.xmin, (x) => ((esd.alpha - 1) / esd.xmin) * (x / esd.xmin) ** -esd.alpha) : [];
  let etplPts = [];
  const e = esd.etpl;
  if (e && typeof e.beta === 'number' && typeof e.lambda === 'number' && e.xmin > 0 && (e.lambda > 0 || e.beta > 1)) {
    const f = (x) => x ** -e.beta * Math.exp(-e.lambda * x);
    let z;
    if (e.lambda <= 0)
      z = e.xmin ** (1 - e.beta) / (e.beta - 1); // pure power law: closed form
    else {
      // log-spaced trapezoid on [xmin, top], top where e^(−λx) is negligible
      const top = Math.max(ev[n - 1] * 10, e.xmin + 50 / e.lambda);
      z = 0;
      let prev = e.xmin;
      for (let i = 1; i <= 2000; i++) {
        const x = e.xmin * (top / e.xmin) ** (i / 2000);
        z += ((f(prev) + f(x)) / 2) * (x - prev);
        prev = x;
      }
    }
    if (z > 0 && Number.isFinite(z)) etplPts = curve(e.xmin, (x) => f(x) / z);
  }
  const ys = [...pts, ...fitPts, ...etplPts].map((p) => p[1]).filter((v) => v > 0);
  const lo = elo - 0.05 * (ehi - elo),
    hi = ehi + 0.05 * (ehi - elo);
  const ylo0 = Math.log10(Math.min(...ys)),
    yhi0 = Math.log10(Math.max(...ys));
  const ylo = ylo0 - 0.05 * (yhi0 - ylo0 || 1),
    yhi = yhi0 + 0.05 * (yhi0 - ylo0 || 1);
  const X = (x) => L + ((W - L - R) * (Math.log10(x) - lo)) / (hi - lo);
  const Y = (v) => T + ((H - T - B) * (yhi - Math.log10(v))) / (yhi - ylo);
  svg.append(
    s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
  );
  for (const t of logTicks(lo, hi))
    svg.append(
      s('line', { class: 'tick', x1: X(t), x2: X(t), y1: H - B, y2: H - B + 4 }),
      s('text', { x: X(t), y: H - B + 15, 'text-anchor': 'middle' }, logLabel(t)),
    );
  for (const t of logTicks(ylo, yhi))
    svg.append(
      s('line', { class: 'tick', x1: L - 4, x2: L, y1: Y(t), y2: Y(t) }),
      s('text', { x: L - 7, y: Y(t) + 3.5, 'text-anchor': 'end' }, logLabel(t)),
    );
  svg.append(
    s('text', { class: 'axis-label', x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle' }, 'eigenvalue λ of WᵀW (log scale)'),
    s(
      'text',
      { class: 'axis-label', transform: `translate(14 ${T + (H - T - B) / 2}) rotate(-90)`, 'text-anchor': 'middle' },
      'density (log scale)',
    ),
  );
  for (const [x, v] of pts) svg.append(s('circle', { class: 'pt', cx: X(x), cy: Y(v), r: 3.5 }));
  const path = (p, cls) =>
    svg.append(
      s('path', {
        class: cls,
        d: p
          .filter(([, v]) => v > 0)
          .map(([x, v], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(v).toFixed(1)}`)
          .join(''),
      }),
    );
  if (fitPts.length) path(fitPts, 'fit');
  if (etplPts.length) path(etplPts, 'etpl');
  if (esd.xmin)
    svg.append(
      s('line', { class: 'xmin', 'data-xmin': esd.xmin, x1: X(esd.xmin), x2: X(esd.xmin), y1: T, y2: H - B }),
      s('text', { 'data-testid': 'xmin-label', x: X(esd.xmin) + 4, y: H - B - 6 }, `xmin ${fmt(esd.xmin)}`),
    );
  const items = [{ kind: 'pt', cls: 'sw-pt', text: `ESD, ${n} eigenvalues (log bins)` }];
  if (fitPts.length) items.push({ kind: 'line', cls: 'sw-fit', text: `PL fit, alpha ${fmt(esd.alpha)}` });
  if (etplPts.length) items.push({ kind: 'line', cls: 'sw-etpl', text: `E-TPL fit, β ${fmt(e.beta)}, λ ${fmt(e.lambda)}` });
  if (esd.xmin) items.push({ kind: 'line', cls: 'sw-xmin', text: 'xmin of the PL fit' });
  legend(svg, W - 4, T, items);
  return svg;
}

/**
 * WeightWatcher's per-layer table: shape, alpha and its fit quality, norms, stable rank, and the warning
 * (under-trained: alpha > 6; over-trained: alpha < 2) in its own column, highlighted.
 */
function layerTable(layers, onPick) {
  const cols = [
    ['layer_id', 'id'],
    ['name', 'name'],
    ['shape', 'N × M'],
    ['alpha', 'alpha'],
    ['alpha_weighted', 'α̂'],
    ['D', 'KS D'],
    ['xmin', 'xmin'],
    ['log_norm', 'log norm'],
    ['log_spectral_norm', 'log spectral norm'],
    ['stable_rank', 'stable rank'],
    ['num_evals', 'eigenvalues'],
    ['warning', 'warning'],
  ];
  const cell = (l, k) => {
    if (k === 'shape') return `${l.N ?? '—'} × ${l.M ?? '—'}`;
    if (k === 'warning') return l.warning || (l.status === 'failed' ? `failed: ${l.reason ?? ''}` : '');
    const v = l[k];
    return typeof v === 'number' && !Number.isInteger(v) ? fmt(v) : v === null || v === undefined || v === '' ? '—' : String(v);
  };
  return h(
    'table',
    { id: 'layers' },
    h(
      'tr',
      {},
      cols.map(([k, t]) => h('th', { class: ['name', 'warning'].includes(k) ? null : 'num' }, t)),
    ),
    layers.map((l) => {
      const flagged = l.warning || l.status === 'failed';
      const tr = h(
        'tr',
        { 'data-layer': l.layer_id, class: flagged ? 'warn' : null },
        cols.map(([k]) =>
          h('td', { class: ['name', 'warning'].includes(k) ? (k === 'warning' && flagged ? 'warning' : null) : 'num' }, cell(l, k)),
        ),
      );
      tr.addEventListener('click', () => onPick(l));
      return tr;
    }),
  );
}

async function analysisPage(view, id, deps) {
  if (!(await jobPanel(view, id, 'Analysis', deps))) return;
  const report = await api(`/v1/analyses/${id}`);
  const esdBox = h('div', { class: 'panel', id: 'esd' }, "Click a bar for that layer's ESD.");
  const pick = async (layer) => {
    esdBox.replaceChildren(h('h3', {}, `ESD of layer ${layer.layer_id}: ${layer.name}`));
    try {
      const esd = await api(`/v1/analyses/${id}/esd/${layer.layer_id}`);
      esdBox.append(
        esdPlot(esd),
        h(
          'p',
          {},
          `alpha ${fmt(esd.alpha)}, xmin ${fmt(esd.xmin)}, xmax ${fmt(esd.xmax)}, ${esd.eigenvalues.length} eigenvalues`,
          esd.etpl ? `; E-TPL β ${fmt(esd.etpl.beta)}, λ ${fmt(esd.etpl.lambda)} from xmin ${fmt(esd.etpl.xmin)}` : '',
        ),
      );
    } catch (e) {
      esdBox.append(h('p', { class: 'err', 'data-testid': 'esd-error' }, e.message));
    }
  };
  const summary = Object.entries(report.summary ?? {}).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, fmt(v))));
  view.append(
    h(
      'p',
      {},
      `${report.layers.length} layers · ${report.model.format} · ${report.model.parameters.toLocaleString()} parameters · `,
      downloadLink(h, 'csv-link', `/v1/analyses/${id}?format=csv`, `analysis-${id}.csv`, 'CSV'),
    ),
    h('div', { class: 'panel' }, h('h3', {}, 'alpha per layer'), alphaBars(report.layers, pick)),
    esdBox,
    h('div', { class: 'panel' }, h('h3', {}, 'summary (mean over layers)'), h('table', { id: 'summary' }, summary)),
    h('div', { class: 'panel' }, h('h3', {}, 'layers'), layerTable(report.layers, pick)),
  );
  const first = report.layers.find((l) => typeof l.alpha === 'number');
  if (first) {
    $('#alpha-chart .bar', view)?.classList.add('sel');
    pick(first);
  }
}

// ---------- ranking page ----------

async function rankingPage(view, id, deps) {
  if (id) {
    if (!(await jobPanel(view, id, 'Ranking', deps))) return;
    const out = h('div', { class: 'panel', 'data-testid': 'ranking' });
    view.append(out);
    const r = await api(`/v1/rankings/${id}`);
    const { models } = await api('/v1/models');
    const name = (mid) => models.find((m) => m.id === mid)?.name ?? mid.slice(0, 12);
    out.replaceChildren(
      h('p', {}, `metric ${r.metric} (${r.direction === 'asc' ? 'smaller is better' : 'larger is better'})`),
      h(
        'table',
        { id: 'ranking-table' },
        h('tr', {}, h('th', {}, 'rank'), h('th', {}, 'model'), h('th', { class: 'num' }, `mean ${r.metric}`)),
        r.rows.map((row) =>
          h(
            'tr',
            { 'data-model': row.model },
            h('td', {}, row.rank),
            h('td', {}, name(row.model)),
            h('td', { class: 'num' }, fmt(row.value)),
          ),
        ),
      ),
      ...(r.correlation
        ? [
            h(
              'p',
              {},
              `Spearman ρ ${fmt(r.correlation.spearman.rho)} (p ${fmt(r.correlation.spearman.p)}), Kendall τ ${fmt(r.correlation.kendall.tau)} (p ${fmt(r.correlation.kendall.p)}), n = ${r.correlation.n}`,
            ),
          ]
        : []),
    );
    return;
  }
  const { models } = await api('/v1/models');
  // The metrics are the server's own list (its OpenAPI document's RankingMetric enum), not a copy kept here.
  const metrics = (await api('/v1/openapi.json')).components.schemas.RankingMetric.enum;
  const metric = h(
    'select',
    { id: 'rank-metric' },
    metrics.map((m) => h('option', { value: m }, m)),
  );
  const direction = h(
    'select',
    { id: 'rank-direction' },
    h('option', { value: '' }, "metric's default"),
    h('option', { value: 'asc' }, 'smaller is better'),
    h('option', { value: 'desc' }, 'larger is better'),
  );
  const boxes = models.map((m) =>
    h('label', { class: 'model-choice' }, h('input', { type: 'checkbox', value: m.id, checked: true }), ` ${m.name} `),
  );
  const go = async () => {
    const ids = boxes
      .map((b) => $('input', b))
      .filter((i) => i.checked)
      .map((i) => i.value);
    try {
      const { job } = await api('/v1/rankings', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ models: ids, metric: metric.value, ...(direction.value ? { direction: direction.value } : {}) }),
      });
      location.hash = `#rank/${job.id}`;
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Rank models'),
    h(
      'div',
      { class: 'panel' },
      h('p', {}, boxes),
      'metric (mean over layers) ',
      metric,
      ' ',
      direction,
      ' ',
      h('button', { id: 'rank-go', onclick: go }, 'Rank'),
    ),
  );
}

/** The page shown; leaving it aborts its SSE streams (deps.signal). */
let page = new AbortController();

async function route() {
  showError('');
  page.abort();
  page = new AbortController();
  const view = $('#view');
  const [name, id] = location.hash.slice(1).split('/');
  const deps = { h, s, fmt, api, followJob, showError, signal: page.signal, datasetSelect, jobPanel, downloadLink };
  try {
    if (name === 'analysis' && id) await analysisPage(view, id, deps);
    else if (name === 'rank') await rankingPage(view, id, deps);
    else if (name === 'datasets') await datasetsPage(view, deps);
    else if (name === 'import' && id) await importPage(view, id, deps);
    else if (name === 'hessian') await (await import('./hessian.js')).hessianPage(view, id, deps);
    else if (name === 'repair' || name === 'connectivity') await (await import('./repair.js')).repairPage(view, name, id, deps);
    else if (name === 'collapse') await (await import('./collapse.js')).collapsePage(view, id, deps);
    else if (name === 'flatness') await (await import('./flatness.js')).flatnessPage(view, id, deps);
    else if (name === 'taxonomy') await (await import('./taxonomy.js')).taxonomyPage(view, id, deps);
    else if (name === 'surface') await (await import('./surface.js')).surfacePage(view, id, deps);
    else await modelsPage(view, deps);
  } catch (e) {
    if (!page.signal.aborted) showError(e.message);
  }
}
window.addEventListener('hashchange', route);
route();
