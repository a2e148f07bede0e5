// weightscope dashboard: plain ES module, no build step. Talks to the /v1 API of the same origin.
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
const SVGNS = 'http://www.w3.org/2000/svg';
const s = (tag, attrs = {}, text) => {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
};
const fmt = (v, d = 3) => (v === null || v === undefined ? '—' : typeof v === 'number' ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(d)) : String(v));
const bytes = (n) => (n > 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n > 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

const keyInput = $('#apikey');
keyInput.value = localStorage.getItem('weightscope-key') ?? '';
keyInput.addEventListener('change', () => { localStorage.setItem('weightscope-key', keyInput.value); route(); });
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

/** SSE over fetch (EventSource cannot send the Authorization header). Calls onJob(job) per event. */
async function followJob(id, onJob) {
  const r = await fetch(`/v1/jobs/${id}/events`, { headers: authHeaders() });
  if (!r.ok || !r.body) throw new Error(`cannot follow job ${id}: HTTP ${r.status}`);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (data) { last = JSON.parse(data); onJob(last); }
    }
  }
  return last;
}

// ---------- models page ----------
async function modelsPage(view) {
  const { models } = await api('/v1/models');
  const file = h('input', { type: 'file', multiple: true, id: 'upload-file' });
  const status = h('span');
  const upload = async () => {
    if (!file.files.length) return;
    const form = new FormData();
    for (const f of file.files) form.append('files', f, f.name);
    status.textContent = 'uploading…';
    try {
      const m = await api('/v1/models', { method: 'POST', body: form });
      status.textContent = `stored ${m.name} (${m.id.slice(0, 12)})`;
      route();
    } catch (e) { status.textContent = ''; showError(e.message); }
  };
  const analyse = async (id) => {
    try {
      const { job } = await api('/v1/analyses', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: id }) });
      location.hash = `#analysis/${job.id}`;
    } catch (e) { showError(e.message); }
  };
  const del = async (id) => {
    if (!confirm('Delete this model?')) return;
    await api(`/v1/models/${id}`, { method: 'DELETE' });
    route();
  };
  view.replaceChildren(
    h('div', { class: 'panel' }, h('h2', {}, 'Upload a checkpoint'), file, ' ', h('button', { id: 'upload-button', onclick: upload }, 'Upload'), ' ', status,
      h('p', {}, 'safetensors, PyTorch zip (.bin/.pt) or ONNX; several files (shards, config.json) make one model.')),
    h('h2', {}, `Models (${models.length})`),
    h('table', { id: 'models' },
      h('tr', {}, h('th', {}, 'name'), h('th', {}, 'format'), h('th', {}, 'size'), h('th', {}, 'parameters'), h('th', {}, 'id'), h('th', {})),
      models.map((m) => h('tr', { 'data-id': m.id },
        h('td', {}, m.name), h('td', {}, m.format), h('td', { class: 'num' }, bytes(m.bytes)), h('td', { class: 'num' }, m.parameters.toLocaleString()),
        h('td', {}, h('code', {}, m.id.slice(0, 12))),
        h('td', {}, h('button', { class: 'analyse', onclick: () => analyse(m.id) }, 'Analyse'), ' ', h('button', { onclick: () => del(m.id) }, 'Delete'))))),
  );
}

// ---------- analysis page ----------
function alphaBars(layers, onPick) {
  const W = 1000, H = 260, L = 40, B = 20, T = 10;
  const rows = layers.filter((l) => typeof l.alpha === 'number');
  const maxA = Math.max(8, ...rows.map((l) => l.alpha));
  const y = (a) => T + (H - T - B) * (1 - a / maxA);
  const svg = s('svg', { id: 'alpha-chart', viewBox: `0 0 ${W} ${H}`, width: '100%' });
  svg.append(s('rect', { class: 'band', x: L, y: y(6), width: W - L, height: y(2) - y(6) }));
  for (const a of [0, 2, 4, 6, Math.floor(maxA)]) {
    svg.append(s('line', { class: 'tick', x1: L - 4, x2: L, y1: y(a), y2: y(a) }), s('text', { x: 2, y: y(a) + 3 }, String(a)));
  }
  svg.append(s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }), s('line', { class: 'axis', x1: L, x2: W, y1: H - B, y2: H - B }));
  const bw = (W - L) / Math.max(1, rows.length);
  rows.forEach((l, i) => {
    const bar = s('rect', { class: `bar${l.alpha < 2 || l.alpha > 6 ? ' out' : ''}`, 'data-layer': l.layer_id, x: L + i * bw + bw * 0.1, y: y(l.alpha), width: bw * 0.8, height: H - B - y(l.alpha) });
    bar.append(s('title', {}, `${l.layer_id} ${l.name}: alpha ${fmt(l.alpha)}`));
    bar.addEventListener('click', () => { svg.querySelectorAll('.bar.sel').forEach((b) => b.classList.remove('sel')); bar.classList.add('sel'); onPick(l); });
    svg.append(bar);
  });
  svg.append(s('text', { x: L + 4, y: y(6) - 3 }, 'alpha 2–6 band'));
  return svg;
}

/** Log-binned density of the eigenvalues on log-log axes, with the PL fit (and E-TPL when present) and xmin. */
function esdPlot(esd) {
  const W = 600, H = 380, L = 50, B = 30, T = 10, R = 10;
  const ev = esd.eigenvalues.filter((v) => v > 0).sort((a, b) => a - b);
  const svg = s('svg', { id: 'esd-chart', viewBox: `0 0 ${W} ${H}`, width: '600' });
  if (ev.length < 2) { svg.append(s('text', { x: 20, y: 20 }, 'no positive eigenvalues')); return svg; }
  const lo = Math.log10(ev[0]), hi = Math.log10(ev[ev.length - 1]) + 1e-9;
  const nb = Math.min(40, Math.max(8, Math.round(Math.sqrt(ev.length))));
  const edges = Array.from({ length: nb + 1 }, (_, i) => 10 ** (lo + ((hi - lo) * i) / nb));
  const pts = [];
  for (let i = 0; i < nb; i++) {
    const c = ev.filter((v) => v >= edges[i] && (i === nb - 1 ? v <= edges[i + 1] : v < edges[i + 1])).length;
    if (c > 0) pts.push([Math.sqrt(edges[i] * edges[i + 1]), c / ev.length / (edges[i + 1] - edges[i])]);
  }
  const fitPts = [];
  const n = ev.length;
  if (esd.alpha && esd.xmin) {
    const a = esd.alpha, xm = esd.xmin, frac = ev.filter((v) => v >= xm).length / n;
    for (let i = 0; i <= 50; i++) {
      const x = xm * (ev[n - 1] / xm) ** (i / 50);
      fitPts.push([x, frac * ((a - 1) / xm) * (x / xm) ** -a]);
    }
  }
  const etplPts = [];
  if (esd.etpl && esd.etpl.beta && esd.etpl.lambda && esd.etpl.xmin) {
    const { beta, lambda, xmin } = esd.etpl;
    const f = (x) => x ** -beta * Math.exp(-lambda * x);
    // normalise numerically on [xmin, ∞) (log-spaced trapezoid up to where the tail is negligible)
    const top = Math.max(ev[n - 1] * 10, xmin + 50 / lambda);
    let z = 0, prev = xmin;
    for (let i = 1; i <= 2000; i++) { const x = xmin * (top / xmin) ** (i / 2000); z += ((f(prev) + f(x)) / 2) * (x - prev); prev = x; }
    const frac = ev.filter((v) => v >= xmin).length / n;
    for (let i = 0; i <= 50; i++) { const x = xmin * (ev[n - 1] / xmin) ** (i / 50); etplPts.push([x, (frac * f(x)) / z]); }
  }
  const all = [...pts, ...fitPts, ...etplPts].map((p) => p[1]).filter((v) => v > 0);
  const ylo = Math.log10(Math.min(...all)), yhi = Math.log10(Math.max(...all)) + 1e-9;
  const X = (x) => L + ((W - L - R) * (Math.log10(x) - lo)) / (hi - lo);
  const Y = (v) => T + ((H - T - B) * (yhi - Math.log10(v))) / (yhi - ylo);
  svg.append(s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }), s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) svg.append(s('text', { x: X(10 ** e) - 8, y: H - B + 14 }, `1e${e}`));
  for (let e = Math.ceil(ylo); e <= Math.floor(yhi); e++) svg.append(s('text', { x: 4, y: Y(10 ** e) + 3 }, `1e${e}`));
  svg.append(s('text', { x: W / 2, y: H - 2 }, 'eigenvalue λ (log)'));
  for (const [x, v] of pts) svg.append(s('circle', { class: 'pt', cx: X(x), cy: Y(v), r: 3 }));
  const path = (p, cls) => svg.append(s('path', { class: cls, d: p.filter(([, v]) => v > 0).map(([x, v], i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(v).toFixed(1)}`).join('') }));
  if (fitPts.length) path(fitPts, 'fit');
  if (etplPts.length) path(etplPts, 'etpl');
  if (esd.xmin) svg.append(s('line', { class: 'xmin', x1: X(esd.xmin), x2: X(esd.xmin), y1: T, y2: H - B }), s('text', { x: X(esd.xmin) + 3, y: T + 10 }, `xmin ${fmt(esd.xmin)}`));
  return svg;
}

async function analysisPage(view, id) {
  const bar = h('progress', { max: 1, value: 0 });
  const msg = h('span');
  view.replaceChildren(h('h2', {}, `Analysis ${id.slice(0, 8)}`), h('div', { class: 'panel' }, bar, ' ', msg));
  let job = await api(`/v1/jobs/${id}`);
  if (!['succeeded', 'failed', 'cancelled'].includes(job.state)) {
    job = await followJob(id, (j) => { bar.value = j.progress; msg.textContent = `${j.state} ${j.message}`; });
  }
  if (job.state !== 'succeeded') { msg.textContent = `${job.state}: ${job.error ? job.error.message : ''}`; return; }
  bar.value = 1;
  msg.textContent = 'done';
  const report = await api(`/v1/analyses/${id}`);
  const esdBox = h('div', { class: 'panel', id: 'esd' }, 'Click a bar for that layer\'s ESD.');
  const pick = async (layer) => {
    esdBox.replaceChildren(h('h3', {}, `ESD of layer ${layer.layer_id}: ${layer.name}`));
    try {
      const esd = await api(`/v1/analyses/${id}/esd/${layer.layer_id}`);
      esdBox.append(esdPlot(esd), h('p', {}, `alpha ${fmt(esd.alpha)}, xmin ${fmt(esd.xmin)}, ${esd.eigenvalues.length} eigenvalues; red: PL fit, purple dashed: E-TPL, orange: xmin`));
    } catch (e) { esdBox.append(h('p', {}, e.message)); }
  };
  const summary = Object.entries(report.summary ?? {}).map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', { class: 'num' }, fmt(v))));
  view.append(
    h('p', {}, `${report.layers.length} layers · ${report.model.format} · ${report.model.parameters.toLocaleString()} parameters · `, h('a', { href: `/v1/analyses/${id}?format=csv`, download: `analysis-${id}.csv` }, 'CSV')),
    h('div', { class: 'panel' }, h('h3', {}, 'alpha per layer'), alphaBars(report.layers, pick)),
    esdBox,
    h('div', { class: 'panel' }, h('h3', {}, 'summary (mean over layers)'), h('table', {}, summary)),
  );
  const first = report.layers.find((l) => typeof l.alpha === 'number');
  if (first) { $('#alpha-chart .bar', view)?.classList.add('sel'); pick(first); }
}

// ---------- ranking page ----------
const METRICS = ['alpha', 'alpha_weighted', 'log_alpha_norm', 'log_norm', 'log_spectral_norm', 'stable_rank', 'etpl_beta', 'etpl_lambda', 'exp_lambda'];

async function rankingPage(view, id) {
  if (id) {
    const out = h('div', { class: 'panel' }, 'waiting…');
    view.replaceChildren(h('h2', {}, `Ranking ${id.slice(0, 8)}`), out);
    const job = await followJob(id, (j) => { out.textContent = `${j.state} ${Math.round(j.progress * 100)}% ${j.message}`; });
    if (!job || job.state !== 'succeeded') { out.textContent = `${job?.state}: ${job?.error?.message ?? ''}`; return; }
    const r = await api(`/v1/rankings/${id}`);
    const { models } = await api('/v1/models');
    const name = (mid) => models.find((m) => m.id === mid)?.name ?? mid.slice(0, 12);
    out.replaceChildren(
      h('p', {}, `metric ${r.metric} (${r.direction === 'asc' ? 'smaller is better' : 'larger is better'})`),
      h('table', {}, h('tr', {}, h('th', {}, 'rank'), h('th', {}, 'model'), h('th', {}, r.metric)), r.rows.map((row) => h('tr', {}, h('td', {}, row.rank), h('td', {}, name(row.model)), h('td', { class: 'num' }, fmt(row.value))))),
      r.correlation ? h('p', {}, `Spearman ρ ${fmt(r.correlation.spearman.rho)} (p ${fmt(r.correlation.spearman.p)}), Kendall τ ${fmt(r.correlation.kendall.tau)} (p ${fmt(r.correlation.kendall.p)}), n = ${r.correlation.n}`) : null,
    );
    return;
  }
  const { models } = await api('/v1/models');
  const metric = h('select', {}, METRICS.map((m) => h('option', { value: m }, m)));
  const boxes = models.map((m) => h('label', {}, h('input', { type: 'checkbox', value: m.id, checked: true }), ` ${m.name} `));
  const go = async () => {
    const ids = boxes.map((b) => $('input', b)).filter((i) => i.checked).map((i) => i.value);
    try {
      const { job } = await api('/v1/rankings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ models: ids, metric: metric.value }) });
      location.hash = `#rank/${job.id}`;
    } catch (e) { showError(e.message); }
  };
  view.replaceChildren(h('h2', {}, 'Rank models'), h('div', { class: 'panel' }, h('p', {}, boxes), 'metric ', metric, ' ', h('button', { onclick: go }, 'Rank')));
}

async function route() {
  showError('');
  const view = $('#view');
  const [page, id] = location.hash.slice(1).split('/');
  try {
    if (page === 'analysis' && id) await analysisPage(view, id);
    else if (page === 'rank') await rankingPage(view, id);
    else if (page === 'hessian') await (await import('./hessian.js')).hessianPage(view, id, { h, s, fmt, api, followJob, showError });
    else await modelsPage(view);
  } catch (e) { showError(e.message); }
}
window.addEventListener('hashchange', route);
route();
