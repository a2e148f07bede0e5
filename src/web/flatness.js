// Local-entropy page of the dashboard: submit POST /v1/flatness (ONNX model + dataset, γ values, draws), follow the
// job (cancellable), then plot the local entropy F(w; γ) with its standard-error bars over γ (log axis) beside the
// second-order line −L(w) − tr(H)/(2γ), and the unperturbed −L(w) that both approach as γ grows.
// Plain ES module; app.js hands in its helpers ({ h, api, showError, datasetSelect, jobPanel, … }).
import { numCell, sig } from './cells.js';
import { choices, inputs, readNum, submitJob } from './common.js';
import { legend, logLabel, logTicks, s } from './plot.js';

/** Form defaults: FlatnessOptionsSchema's (src/landscape/flatness/run.ts); test/web/science.test.ts checks them. */
export const FLATNESS_DEFAULTS = { gamma: '1e3,1e4,1e5', draws: 1000, seed: 0, trace: 'hutchinson', criterion: 'ce' };

/** Linear ticks over [lo, hi] at 1-2-2.5-5 steps (six to eight). */
function ticks(lo, hi) {
  const raw = (hi - lo) / 8 || 1,
    p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((st) => st >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(10));
  return out;
}

/** F(w; γ) ± stderr (error bars) and the second-order line over γ on a log axis; −L(w) dashed. */
export function entropyChart(r) {
  const rows = [...r.rows].sort((a, b) => a.gamma - b.gamma);
  const items = [{ kind: 'pt', cls: 'sw-le', text: `local entropy ± stderr (${r.draws} draws)` }];
  if (rows.some((x) => x.second_order !== null))
    items.push({ kind: 'line', cls: 'sw-c2', text: `second order −L − tr(H)/(2γ) (${r.trace.method} trace)` });
  items.push({ kind: 'line', cls: 'sw-hline sw-c3', text: `−L(w) = ${sig(-r.loss)} (γ → ∞)` });
  // The right margin holds the legend (legend() draws 30 + 6.3 units per character).
  const W = 960,
    H = 340,
    L = 78,
    B = 42,
    T = 12,
    R = Math.max(270, 46 + 6.3 * Math.max(...items.map((it) => it.text.length)));
  const svg = s('svg', {
    id: 'entropy-chart',
    viewBox: `0 0 ${W} ${H}`,
    width: '100%',
    style: `max-width:${W}px`,
    role: 'img',
    'aria-label': 'local entropy over gamma',
  });
  const g0 = Math.log10(rows[0].gamma),
    g1 = Math.log10(rows[rows.length - 1].gamma);
  const lo = g0 - (g1 > g0 ? 0.08 * (g1 - g0) : 0.5),
    hi = g1 + (g1 > g0 ? 0.08 * (g1 - g0) : 0.5);
  const ys = [
    -r.loss,
    ...rows.flatMap((x) => [x.local_entropy - x.stderr, x.local_entropy + x.stderr]),
    ...rows.filter((x) => x.second_order !== null).map((x) => x.second_order),
  ];
  const y0 = Math.min(...ys),
    y1 = Math.max(...ys),
    pad = 0.06 * (y1 - y0 || Math.abs(y1) || 1);
  const ylo = y0 - pad,
    yhi = y1 + pad;
  const X = (g) => L + ((W - L - R) * (Math.log10(g) - lo)) / (hi - lo);
  const Y = (v) => T + ((H - T - B) * (yhi - v)) / (yhi - ylo);
  svg.append(
    s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
  );
  for (const t of logTicks(lo, hi))
    svg.append(
      s('line', { class: 'tick', x1: X(t), x2: X(t), y1: H - B, y2: H - B + 4 }),
      s('text', { x: X(t), y: H - B + 15, 'text-anchor': 'middle' }, logLabel(t)),
    );
  for (const v of ticks(ylo, yhi)) {
    svg.append(
      s('line', { class: 'grid', x1: L, x2: W - R, y1: Y(v), y2: Y(v) }),
      s('line', { class: 'tick', x1: L - 4, x2: L, y1: Y(v), y2: Y(v) }),
      s('text', { x: L - 7, y: Y(v) + 3.5, 'text-anchor': 'end' }, String(v)),
    );
  }
  svg.append(
    s(
      'text',
      { class: 'axis-label', x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle' },
      'γ (perturbation ε ~ N(0, I/γ); log scale)',
    ),
    s('text', { class: 'axis-label', transform: `translate(14 ${T + (H - T - B) / 2}) rotate(-90)`, 'text-anchor': 'middle' }, 'F(w; γ)'),
  );
  svg.append(s('line', { class: 'hline c3', 'data-v': -r.loss, x1: L, x2: W - R, y1: Y(-r.loss), y2: Y(-r.loss) }));
  const so = rows.filter((x) => x.second_order !== null);
  if (so.length > 1)
    svg.append(
      s('path', {
        class: 'line c2',
        d: so.map((x, i) => `${i ? 'L' : 'M'}${X(x.gamma).toFixed(1)},${Y(x.second_order).toFixed(1)}`).join(''),
      }),
    );
  for (const x of so) {
    const m = s('rect', {
      class: 'so',
      'data-gamma': x.gamma,
      'data-v': x.second_order,
      x: X(x.gamma) - 4,
      y: Y(x.second_order) - 4,
      width: 8,
      height: 8,
    });
    m.append(s('title', {}, `second order at γ = ${x.gamma}: ${x.second_order}`));
    svg.append(m);
  }
  for (const x of rows) {
    const cx = X(x.gamma);
    svg.append(
      s('line', {
        class: 'errbar',
        'data-gamma': x.gamma,
        x1: cx,
        x2: cx,
        y1: Y(x.local_entropy + x.stderr),
        y2: Y(x.local_entropy - x.stderr),
      }),
    );
    for (const e of [x.local_entropy + x.stderr, x.local_entropy - x.stderr])
      svg.append(s('line', { class: 'errbar', x1: cx - 5, x2: cx + 5, y1: Y(e), y2: Y(e) }));
    const c = s('circle', {
      class: 'le',
      'data-gamma': x.gamma,
      'data-v': x.local_entropy,
      'data-stderr': x.stderr,
      cx,
      cy: Y(x.local_entropy),
      r: 4,
    });
    c.append(s('title', {}, `local entropy at γ = ${x.gamma}: ${x.local_entropy} ± ${x.stderr}`));
    svg.append(c);
  }
  legend(svg, W - 4, T, items);
  return svg;
}

async function flatnessForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api);
  const { num, select } = inputs(h);
  const D = FLATNESS_DEFAULTS;
  const model = select(
    'flatness-model',
    models.map((m) => [m.id, m.name]),
  );
  const f = {
    model,
    // Datasets that fit the model's input; a language model's token ids serve too (the next-token loss).
    data: deps.datasetSelect(h, api, 'flatness-data', model),
    gamma: h('input', { id: 'flatness-gamma', value: D.gamma, style: 'width:12em' }),
    draws: num('flatness-draws', D.draws, 1),
    seed: num('flatness-seed', D.seed, 1),
    samples: num('flatness-samples', '', 1),
    trace: select('flatness-trace', [
      ['hutchinson', 'Hutchinson'],
      ['exact', 'exact (one Hv per parameter)'],
      ['none', 'none'],
    ]),
    criterion: h('input', { id: 'flatness-criterion', value: D.criterion, style: 'width:6em' }),
  };
  f.samples.placeholder = 'all';
  await f.data.ready;
  const go = async () => {
    try {
      if (!f.model.value || !f.data.value) throw new Error('pick an ONNX model and a dataset');
      const gamma = f.gamma.value
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map(Number);
      if (!gamma.length || gamma.some((g) => !(g > 0)))
        throw new Error(`γ: expected positive numbers separated by commas, got '${f.gamma.value}'`);
      const options = {
        gamma,
        draws: readNum(f.draws, 'draws', { int: true, min: 2 }),
        seed: readNum(f.seed, 'seed', { int: true, min: 0 }),
        trace: f.trace.value,
        criterion: f.criterion.value.trim() || 'ce',
      };
      if (f.samples.value !== '') options.samples = readNum(f.samples, 'samples', { int: true, min: 1 });
      await submitJob(api, '/v1/flatness', { model: f.model.value, dataset: f.data.value, options }, 'flatness');
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Local entropy'),
    h(
      'div',
      { class: 'panel', id: 'flatness-form' },
      h('p', {}, 'ONNX model ', f.model, ' data ', f.data),
      h('p', {}, 'γ values ', f.gamma, ' draws ', f.draws, ' seed ', f.seed, ' samples ', f.samples),
      h('p', {}, 'trace ', f.trace, ' criterion ', f.criterion),
      h('button', { id: 'flatness-run', onclick: go }, 'Compute'),
      h(
        'p',
        { class: 'hint' },
        'F(w; γ) = log E exp(−L(w + ε)), ε ~ N(0, I/γ) over every parameter, from seeded draws shared by all γ; the second-order value needs the Hessian trace.',
      ),
    ),
  );
}

function flatnessResult(r, deps) {
  const { h } = deps;
  const t = r.trace;
  return [
    h(
      'p',
      { id: 'flatness-summary' },
      `loss L(w) ${sig(r.loss)} (${r.criterion}) on ${r.samples} samples · ${r.num_params.toLocaleString()} parameters · ${r.draws} draws (seed ${r.seed}, ${r.draws_per_run} per run)`,
      t.value !== null
        ? ` · trace ${sig(t.value)}${t.stderr ? ` ± ${sig(t.stderr)}` : ''} (${t.method}${t.probes ? `, ${t.probes} probes` : ''})`
        : ' · no trace',
    ),
    h('div', { class: 'panel' }, h('h3', {}, 'Local entropy over γ'), entropyChart(r)),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Values'),
      h(
        'table',
        { id: 'flatness-rows' },
        h(
          'tr',
          {},
          ...['γ', 'local entropy', 'stderr', 'second order', '± (trace)', 'difference / stderr', 'mean perturbed loss'].map((x) =>
            h('th', { class: 'num' }, x),
          ),
        ),
        r.rows.map((x) =>
          h(
            'tr',
            { 'data-gamma': x.gamma },
            numCell(h, x.gamma),
            numCell(h, x.local_entropy, { 'data-key': 'local_entropy' }),
            numCell(h, x.stderr, { 'data-key': 'stderr' }),
            numCell(h, x.second_order, { 'data-key': 'second_order' }),
            numCell(h, x.second_order_stderr),
            numCell(
              h,
              x.second_order === null ? null : (x.local_entropy - x.second_order) / Math.hypot(x.stderr, x.second_order_stderr ?? 0),
            ),
            numCell(h, x.mean_perturbed_loss),
          ),
        ),
      ),
      h(
        'p',
        { class: 'hint' },
        'Where the difference is within a few standard errors, the quadratic picture of the landscape holds at that scale.',
      ),
    ),
  ];
}

/** #flatness, #flatness/<job>. */
export async function flatnessPage(view, id, deps) {
  if (!id) return flatnessForm(view, deps);
  if (await deps.jobPanel(view, id, 'Local entropy', deps)) view.append(...flatnessResult(await deps.api(`/v1/flatness/${id}`), deps));
}
