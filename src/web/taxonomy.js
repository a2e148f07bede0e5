// Taxonomy page of the dashboard: submit POST /v1/taxonomies (3+ ONNX models of one graph, training data, optional
// test data), follow the job (cancellable), then show the phase of Yang et al.'s taxonomy with the evidence it was
// read from, the per-model metrics (training loss, Hessian λ_max and trace, test accuracy) and the per-pair mc and
// CKA, with the training error along each trained curve.
// Plain ES module; app.js hands in its helpers ({ h, api, showError, datasetSelect, jobPanel, … }).
import { numCell } from './cells.js';
import { labelledFirst } from './collapse.js';
import { choices, inputs, readNum, submitJob } from './common.js';
import { lineChart } from './plot.js';

/** Form defaults: TaxonomyOptionsSchema's (src/landscape/taxonomy/run.ts); test/web/science.test.ts checks them. */
export const TAXONOMY_DEFAULTS = {
  epochs: 50,
  pairs: 'cyclic',
  hessianSamples: 200,
  ckaSamples: 768,
  seed: 1,
  mcBarrier: 2,
  sharpLambda: 1,
  ckaSimilar: 0.8,
};

export const PHASES = {
  I: 'poorly connected, sharp',
  II: 'well connected, sharp',
  III: 'poorly connected, flat',
  'IV-A': 'well connected, flat, dissimilar models',
  'IV-B': 'well connected, flat, similar models (where the paper finds the best test accuracy)',
};

/** The largest group of models with one parameter count (the same graph has the same count), if it has 3 or more. */
export function likelySet(models) {
  const groups = new Map();
  for (const m of models) groups.set(m.parameters, [...(groups.get(m.parameters) ?? []), m.id]);
  const best = [...groups.values()].sort((a, b) => b.length - a.length)[0] ?? [];
  return new Set(best.length >= 3 ? best : []);
}

async function taxonomyForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api);
  const { num, select } = inputs(h);
  const D = TAXONOMY_DEFAULTS;
  const chosen = likelySet(models);
  const boxes = models.map((m) =>
    h('label', { class: 'model-choice' }, h('input', { type: 'checkbox', value: m.id, checked: chosen.has(m.id) }), ` ${m.name} `),
  );
  // The datasets follow the first checked model (one graph: what fits one fits all); labelled ones first.
  const first = h(
    'select',
    { hidden: true },
    models.map((m) => h('option', { value: m.id }, m.name)),
  );
  const firstChecked = () => boxes.map((b) => b.querySelector('input')).find((i) => i.checked)?.value ?? '';
  first.value = firstChecked();
  boxes.forEach((b) =>
    b.addEventListener('change', () => {
      if (first.value === firstChecked()) return;
      first.value = firstChecked();
      first.dispatchEvent(new Event('change'));
    }),
  );
  const f = {
    data: deps.datasetSelect(h, api, 'tax-data', first, { prefer: labelledFirst }),
    test: deps.datasetSelect(h, api, 'tax-test', first, { none: '(none)' }),
    epochs: num('tax-epochs', D.epochs, 1),
    samples: num('tax-samples', '', 1),
    seed: num('tax-seed', D.seed, 1),
    pairs: select('tax-pairs', [
      ['cyclic', 'each with the next (cyclic)'],
      ['all', 'every pair'],
    ]),
    hessianSamples: num('tax-hessian-samples', D.hessianSamples, 1),
    ckaSamples: num('tax-cka-samples', D.ckaSamples, 1),
    mcBarrier: num('tax-mc-barrier', D.mcBarrier),
    sharpLambda: num('tax-sharp-lambda', D.sharpLambda),
    ckaSimilar: num('tax-cka-similar', D.ckaSimilar),
    criterion: h('input', { id: 'tax-criterion', value: 'ce', style: 'width:6em' }),
  };
  f.samples.placeholder = 'dataset size';
  await Promise.all([f.data.ready, f.test.ready]);
  const go = async () => {
    try {
      const ids = boxes
        .map((b) => b.querySelector('input'))
        .filter((i) => i.checked)
        .map((i) => i.value);
      if (ids.length < 3) throw new Error(`pick at least 3 models of one graph, trained in one setting (${ids.length} picked)`);
      if (!f.data.value) throw new Error('pick labelled training data');
      const options = {
        epochs: readNum(f.epochs, 'epochs', { int: true, min: 0 }),
        seed: readNum(f.seed, 'seed', { int: true, min: 0 }),
        pairs: f.pairs.value,
        hessianSamples: readNum(f.hessianSamples, 'Hessian samples', { int: true, min: 1 }),
        ckaSamples: readNum(f.ckaSamples, 'CKA samples', { int: true, min: 1 }),
        thresholds: {
          mcBarrier: readNum(f.mcBarrier, 'mc barrier', { min: 0 }),
          sharpLambda: readNum(f.sharpLambda, 'sharp λ', { min: 0 }),
          ckaSimilar: readNum(f.ckaSimilar, 'similar CKA', { min: 0 }),
        },
        criterion: f.criterion.value.trim() || 'ce',
      };
      if (f.samples.value !== '') options.samplesPerEpoch = readNum(f.samples, 'samples per epoch', { int: true, min: 1 });
      const body = { models: ids, data: f.data.value, options };
      if (f.test.value) body.test = f.test.value;
      await submitJob(api, '/v1/taxonomies', body, 'taxonomy');
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Loss-landscape taxonomy'),
    h(
      'div',
      { class: 'panel', id: 'tax-form' },
      h('p', {}, 'models (3 or more of one graph) ', h('span', { id: 'tax-models-choice' }, boxes)),
      h('p', {}, 'training data ', f.data, ' test data ', f.test),
      h('p', {}, 'curve epochs ', f.epochs, ' samples per epoch ', f.samples, ' pairs ', f.pairs, ' seed ', f.seed),
      h('p', {}, 'Hessian samples ', f.hessianSamples, ' CKA samples ', f.ckaSamples, ' criterion ', f.criterion),
      h(
        'p',
        {},
        'thresholds: barrier when mean mc < −',
        f.mcBarrier,
        ' sharp when mean λ_max > ',
        f.sharpLambda,
        ' similar when mean CKA ≥ ',
        f.ckaSimilar,
      ),
      h('button', { id: 'tax-run', onclick: go }, 'Classify'),
      h(
        'p',
        { class: 'hint' },
        "Per model: training loss, top Hessian eigenvalue and trace; per pair: a trained quadratic Bezier curve's mc (Yang et al.: mean endpoint training error minus the error of the point deviating most from it, in %) and the CKA of the softmax outputs on mixup-ed inputs.",
      ),
    ),
  );
}

function taxonomyResult(r, names, deps) {
  const { h, fmt } = deps;
  const name = (id) => names.get(id) ?? id.slice(0, 12);
  const v = r.verdict;
  const sm = r.summary;
  const hasTest = r.models.some((m) => m.test_accuracy !== undefined);
  const summaryRows = [
    ['mc', 'mean mc (training error, %)'],
    ['mc_loss', 'mean mc (training loss)'],
    ['lambda_max', 'mean λ_max'],
    ['log_lambda_max', 'log mean λ_max'],
    ['trace', 'mean trace'],
    ['log_trace', 'log mean trace'],
    ['cka', 'mean CKA'],
    ['l2_distance', 'mean L2 distance'],
    ['train_loss', 'mean training loss'],
    ['train_accuracy', 'mean training accuracy'],
    ...(hasTest ? [['test_accuracy', 'mean test accuracy']] : []),
  ];
  const series = r.pairs.map((p, i) => ({
    name: `${name(p.a)} – ${name(p.b)} (mc ${fmt(p.mc, 2)})`,
    key: `${p.a}-${p.b}`,
    cls: `c${i % 5}`,
    points: p.ts.map((t, k) => [t, p.errors[k]]),
  }));
  return [
    h(
      'div',
      { class: 'panel', id: 'phase', 'data-phase': r.phase },
      h('h3', {}, `Phase ${r.phase}: ${PHASES[r.phase]}`),
      h(
        'p',
        {},
        `global: ${v.global} · local: ${v.local}${v.similarity ? ` · models: ${v.similarity}` : ''}${v.lowEnergyPath ? ' · low-energy path' : ''} · criterion ${r.criterion}`,
      ),
      h(
        'ul',
        { id: 'evidence' },
        v.reasons.map((x) => h('li', {}, x)),
      ),
      h(
        'p',
        { class: 'hint' },
        `thresholds: barrier below mc −${r.thresholds.mcBarrier}, sharp above λ_max ${r.thresholds.sharpLambda}, similar from CKA ${r.thresholds.ckaSimilar} (ours: the paper draws its boundaries by eye)`,
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Evidence (means over models and pairs)'),
      h(
        'table',
        { id: 'tax-summary' },
        summaryRows.map(([k, label]) => h('tr', { 'data-key': k }, h('td', {}, label), numCell(h, sm[k]))),
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Models'),
      h(
        'table',
        { id: 'tax-models' },
        h(
          'tr',
          {},
          h('th', {}, 'model'),
          ...['training loss', 'training accuracy', 'λ_max', 'trace', '± stderr', ...(hasTest ? ['test accuracy', 'test loss'] : [])].map(
            (x) => h('th', { class: 'num' }, x),
          ),
        ),
        r.models.map((m) =>
          h(
            'tr',
            { 'data-model': m.model },
            h('td', {}, name(m.model)),
            ...[
              'train_loss',
              'train_accuracy',
              'lambda_max',
              'trace',
              'trace_stderr',
              ...(hasTest ? ['test_accuracy', 'test_loss'] : []),
            ].map((k) => numCell(h, m[k], { 'data-key': k })),
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Pairs'),
      h(
        'table',
        { id: 'tax-pairs' },
        h(
          'tr',
          {},
          h('th', {}, 'A'),
          h('th', {}, 'B'),
          ...['mc (error %)', 'mc (loss)', 'CKA', 'L2 distance', 'curve s'].map((x) => h('th', { class: 'num' }, x)),
          h('th', {}, 'training error (%) at t'),
        ),
        r.pairs.map((p) =>
          h(
            'tr',
            { 'data-a': p.a, 'data-b': p.b },
            h('td', {}, name(p.a)),
            h('td', {}, name(p.b)),
            ...['mc', 'mc_loss', 'cka', 'l2_distance'].map((k) => numCell(h, p[k], { 'data-key': k })),
            h('td', { class: 'num' }, fmt(p.curve_seconds, 1)),
            h('td', {}, p.ts.map((t, k) => `${t}: ${fmt(p.errors[k], 2)}`).join(' · ')),
          ),
        ),
      ),
      h('p', { class: 'hint' }, 'mc < 0: the trained curve crosses a barrier (poorly connected); mc > 0: the curve beats its endpoints.'),
      lineChart({ id: 'tax-curves', yLabel: 'training error (%)', series, yMin: 0 }),
    ),
  ];
}

/** #taxonomy, #taxonomy/<job>. */
export async function taxonomyPage(view, id, deps) {
  if (!id) return taxonomyForm(view, deps);
  if (!(await deps.jobPanel(view, id, 'Taxonomy', deps))) return;
  const [r, { models }] = await Promise.all([deps.api(`/v1/taxonomies/${id}`), deps.api('/v1/models')]);
  view.append(...taxonomyResult(r, new Map(models.map((m) => [m.id, m.name])), deps));
}
