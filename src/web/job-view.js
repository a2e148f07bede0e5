// A job followed on its page: a progress bar, the state and message from the job's SSE stream, and a Cancel button
// (DELETE /v1/jobs/{id}: withdraws this request; the last one cancels the job, which stops at its next progress
// report, and the stream ends with `cancelled`).
// Plain ES module; pages hand in app.js's helpers ({ h, api, followJob, showError }).

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/** Renders the job's header into `view` and follows it; the succeeded job, or null (its state and error shown). */
export async function followWithCancel(view, id, title, deps) {
  const { h, api, followJob, showError } = deps;
  const bar = h('progress', { max: 1, value: 0, 'data-testid': 'job-progress' });
  const msg = h('span', { 'data-testid': 'job-status' });
  const cancel = h('button', { id: 'job-cancel', type: 'button' }, 'Cancel');
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    msg.textContent = 'cancelling…';
    try {
      // Identical requests share one job: a DELETE withdraws this one, and only the last withdrawal cancels it.
      const j = await api(`/v1/jobs/${id}`, { method: 'DELETE' });
      if (!TERMINAL.includes(j.state) && j.requests > 0) msg.textContent = `your request is withdrawn; ${j.requests} other request(s) keep the job running`;
    } catch (e) { showError(e.message); cancel.disabled = false; }
  });
  view.replaceChildren(h('h2', {}, `${title} ${id.slice(0, 8)}`), h('div', { class: 'panel', id: 'job-panel' }, bar, ' ', msg, ' ', cancel));
  const show = (j) => { bar.value = j.progress; msg.textContent = `${j.state} ${Math.round(j.progress * 100)}% ${j.message ?? ''}`; };
  let job = await api(`/v1/jobs/${id}`);
  show(job);
  if (!TERMINAL.includes(job.state)) job = await followJob(id, show);
  cancel.remove();
  if (!job || job.state !== 'succeeded') {
    msg.textContent = `${job?.state ?? 'lost'}: ${job?.error?.message ?? ''}`;
    msg.dataset.state = job?.state ?? 'lost';
    return null;
  }
  bar.value = 1;
  msg.textContent = 'done';
  msg.dataset.state = 'succeeded';
  return job;
}

/** Submits a job (POST path with a JSON body) and moves to its page (#page/<id>). */
export async function submitJob(api, path, body, page) {
  const { job } = await api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  location.hash = `#${page}/${job.id}`;
}

/** A number as the science pages print it: 6 significant digits (exact value in the element's data-v). */
export const sig = (v) => {
  if (v === null || v === undefined) return '—';
  if (Number.isInteger(v)) return String(v);
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(5) : v.toPrecision(6);
};

/** A table cell holding a number: the printed value and the exact one (data-v) for tests and copy-paste. */
export const numCell = (h, v, attrs = {}) => h('td', { class: 'num', 'data-v': v ?? '', ...attrs }, sig(v));
