// Pieces every dashboard page uses: a job panel (progress, status, Cancel, SSE that stops when the page is left),
// a download link that carries the API key, and a dataset select that follows the chosen model. Plain ES module.

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/**
 * Progress bar, status line and Cancel button for job `id`, followed over SSE until it ends. Returns the job if it
 * succeeded, else null (the panel then says why). `deps.signal` aborts the stream when the page is left.
 */
export async function jobPanel(view, id, title, deps) {
  const { h, api, followJob } = deps;
  const bar = h('progress', { max: 1, value: 0, 'data-testid': 'job-progress' });
  const msg = h('span', { 'data-testid': 'job-status' });
  const cancel = h('button', { id: 'job-cancel', 'data-testid': 'job-cancel' }, 'Cancel');
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      const j = await api(`/v1/jobs/${id}`, { method: 'DELETE' });
      msg.textContent =
        j.state === 'cancelled'
          ? 'cancelled'
          : `${j.state}: your request was withdrawn; ${j.requests} other request(s) still wait for this job`;
    } catch (e) {
      deps.showError(e.message);
      cancel.disabled = false;
    }
  });
  view.replaceChildren(h('h2', {}, `${title} ${id.slice(0, 8)}`), h('div', { class: 'panel' }, bar, ' ', msg, ' ', cancel));
  const show = (j) => {
    bar.value = j.progress;
    msg.textContent = `${j.state} ${Math.round(j.progress * 100)}% ${j.message ?? ''}`;
  };
  let job = await api(`/v1/jobs/${id}`);
  show(job);
  if (!TERMINAL.includes(job.state)) job = await followJob(id, show, deps.signal);
  cancel.remove();
  if (!job || job.state !== 'succeeded') {
    msg.textContent = `${job?.state ?? 'stopped'}: ${job?.error?.message ?? ''}`;
    return null;
  }
  bar.value = 1;
  msg.textContent = 'done';
  return job;
}

/** A link that downloads with the API key when one is set (a plain href cannot send the Authorization header). */
export function downloadLink(h, id, href, filename, text) {
  const a = h('a', { id, href, download: filename }, text);
  a.addEventListener('click', async (ev) => {
    const key = document.querySelector('#apikey')?.value;
    if (!key || a.dataset.blob) return;
    ev.preventDefault();
    const r = await fetch(href, { headers: { authorization: `Bearer ${key}` } });
    if (!r.ok) {
      a.textContent = `${text} (HTTP ${r.status})`;
      return;
    }
    a.href = URL.createObjectURL(await r.blob());
    a.dataset.blob = '1';
    a.click();
  });
  return a;
}

/**
 * A dataset <select> for the model chosen in `modelSelect`: the server marks which datasets fit the model's input
 * (GET /v1/datasets?model=); the first fitting one is preselected, and misfits say why. `none` adds an empty choice.
 */
export function datasetSelect(h, api, id, modelSelect, { none = null, prefer = null } = {}) {
  const sel = h('select', { id });
  const refresh = async () => {
    const m = modelSelect.value;
    const { datasets } = await api(m ? `/v1/datasets?model=${m}` : '/v1/datasets');
    const keep = sel.value;
    sel.replaceChildren(
      ...(none ? [h('option', { value: '' }, none)] : []),
      ...datasets.map((d) => {
        const bad = d.fit && !d.fit.ok;
        return h(
          'option',
          { value: d.id, 'data-fits': bad ? '0' : '1', title: bad ? d.fit.why : '' },
          `${d.name} (${d.samples} samples)${bad ? ' — does not fit this model' : ''}`,
        );
      }),
    );
    const fitting = datasets.filter((d) => !d.fit || d.fit.ok);
    const pick =
      [keep, prefer?.(fitting)].find((v) => v && fitting.some((d) => d.id === v)) ??
      (none ? '' : (fitting[0]?.id ?? datasets[0]?.id ?? ''));
    sel.value = pick;
  };
  modelSelect.addEventListener('change', () => void refresh());
  sel.ready = refresh();
  return sel;
}

const hasOnnx = (m) => m.format === 'onnx' || m.files.some((f) => f.name.endsWith('.onnx'));
/** A Hugging Face folder: config.json beside weights at its top level (the server's store/layout.ts isHfFolder). */
const isHfFolder = (m) =>
  m.files.some((f) => f.name === 'config.json') && m.files.some((f) => /^[^/]+\.(safetensors|bin)(\.index\.json)?$/.test(f.name));

/**
 * The stored models a form offers, for its selects (datasets come per model, see datasetSelect): ONNX models, and with
 * `hf` Hugging Face folders too (their graph is built from config.json). Each has `route`, what the job will run.
 */
export async function choices(api, { hf = false } = {}) {
  const { models } = await api('/v1/models');
  const route = (m) => (m.files.length > 1 && isHfFolder(m) ? 'config.json' : hasOnnx(m) ? 'onnx' : null);
  return { models: models.map((m) => ({ ...m, route: route(m) })).filter((m) => m.route === 'onnx' || (hf && m.route === 'config.json')) };
}

/** A model's option text in a form: its name and the route its jobs take. */
export const modelLabel = (m) => `${m.name} — ${m.route === 'config.json' ? 'config.json graph' : 'ONNX'}`;

/** The route a result reports (route, architecture), as one phrase: "config.json graph (GPT2LMHeadModel)" or "ONNX". */
export function routeText(r) {
  if (!r || !r.route) return 'ONNX';
  if (r.route === 'config.json') return `config.json graph (${r.architecture})`;
  if (r.route === 'onnx-export') return `ONNX export (${r.architecture})`;
  return r.architecture && r.architecture !== 'ONNX graph' ? `ONNX (${r.architecture})` : 'ONNX';
}

/** Number inputs and selects of the job forms. */
export function inputs(h) {
  const num = (id, value, step = 'any') => h('input', { id, type: 'number', value, step, style: 'width:7em' });
  const select = (id, rows, none) =>
    h(
      'select',
      { id },
      none ? h('option', { value: '' }, none) : null,
      rows.map(([v, text]) => h('option', { value: v }, text)),
    );
  return { num, select };
}

/** A number input's value, or a clear error naming the field. */
export function readNum(el, label, { int = false, min = -Infinity } = {}) {
  const v = Number(el.value);
  if (el.value === '' || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min)
    throw new Error(`${label}: expected ${int ? 'an integer' : 'a number'} ≥ ${min}, got '${el.value}'`);
  return v;
}

/** Submits a job (POST `path` with a JSON body) and moves to its page (#page/<id>). */
export async function submitJob(api, path, body, page) {
  const { job } = await api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  location.hash = `#${page}/${job.id}`;
}
