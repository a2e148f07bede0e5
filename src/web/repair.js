// Repair and Connectivity pages of the dashboard: submit a backdoor repair (POST /v1/repairs) or a mode-connectivity
// run (POST /v1/connectivity) on stored models (ONNX, or Hugging Face folders) and datasets, follow the job over SSE, then plot the metrics
// along t (clean accuracy, ASR, loss) with the chosen t marked. Plain ES module; app.js hands in its helpers
// ({ h, fmt, api, followJob, showError }) so every page shares one API key and one error line.
import { choices, downloadLink, inputs, modelLabel, readNum, routeText } from './common.js';
import { numCell } from './cells.js';
import { lineChart } from './plot.js';

/**
 * Form defaults: the library's option schemas (repairOptionsSchema in src/landscape/repair/repair.ts,
 * connectOptionsSchema in src/landscape/connectivity/connect.ts). The browser cannot import them, so
 * test/web/repair.test.ts checks these numbers against parseRepairOptions({}) / parseConnectOptions({}).
 */
export const REPAIR_DEFAULTS = {
  epochs: 20,
  samplesPerEpoch: 10000,
  // Empty: the server fills L2 and the polishing from the model family's recipe (REPAIR_RECIPES).
  l2: '',
  seed: 1,
  points: 11,
  polishEpochs: '',
  delta: 0.02,
  baseline: true,
};
export const CONNECT_DEFAULTS = { epochs: 100, samplesPerEpoch: '', l2: 1e-4, seed: 1, points: 11, bends: 3, curve: 'bezier' };

/** n evenly spaced t in [0, 1], rounded like the library's gridTs so the plotted t equal the reported ones. */
export const gridTs = (n) => Array.from({ length: n }, (_, i) => Number((i / (n - 1)).toFixed(12)));

const pct = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '—');

/** Sub-navigation shared by both pages (they are two tabs of one feature). */
function tabs(h, active) {
  return h(
    'p',
    { class: 'tabs' },
    h('a', { href: '#repair', class: active === 'repair' ? 'active' : null }, 'Backdoor repair'),
    ' ',
    h('a', { href: '#connectivity', class: active === 'connectivity' ? 'active' : null }, 'Mode connectivity'),
  );
}

// ---------- repair ----------
async function repairForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api, { hf: true });
  const { num, select } = inputs(h);
  const mrows = models.map((m) => [m.id, modelLabel(m)]);
  const D = REPAIR_DEFAULTS;
  const a = select('repair-model-a', mrows);
  // Dataset choices follow model A: the first dataset that fits it is preselected (the server checks again).
  const ds = (id, none) => deps.datasetSelect(h, api, id, a, none ? { none } : {});
  const f = {
    a,
    b: select('repair-model-b', mrows, '(none: fine-tune A for the second end)'),
    data: ds('repair-data'),
    evalData: ds('repair-eval', '(hold out a share of the clean data)'),
    triggered: ds('repair-triggered', '(none)'),
    targets: ds('repair-targets', '(none)'),
    epochs: num('repair-epochs', D.epochs, 1),
    samples: num('repair-samples', D.samplesPerEpoch, 1),
    l2: h('input', { id: 'repair-l2', type: 'number', value: D.l2, step: 'any', placeholder: 'recipe', style: 'width:7em' }),
    seed: num('repair-seed', D.seed, 1),
    points: num('repair-points', D.points, 1),
    polish: h('input', { id: 'repair-polish', type: 'number', value: D.polishEpochs, step: 1, placeholder: 'recipe', style: 'width:7em' }),
    delta: num('repair-delta', D.delta),
    baseline: h('input', { id: 'repair-baseline', type: 'checkbox', checked: D.baseline }),
  };
  if (models.length > 1) f.b.value = models[1].id;
  await Promise.all([f.data.ready, f.evalData.ready, f.triggered.ready, f.targets.ready]);
  const go = async () => {
    try {
      if (!f.a.value || !f.data.value) throw new Error('pick a model and a clean dataset (upload them on the Models and Datasets pages)');
      const options = {
        epochs: readNum(f.epochs, 'epochs', { int: true, min: 0 }),
        samplesPerEpoch: readNum(f.samples, 'samples per epoch', { int: true, min: 1 }),
        ...(f.l2.value === '' ? {} : { l2: readNum(f.l2, 'L2', { min: 0 }) }),
        seed: readNum(f.seed, 'seed', { int: true, min: 0 }),
        ts: gridTs(readNum(f.points, 'evaluation points', { int: true, min: 3 })),
        ...(f.polish.value === '' ? {} : { polishEpochs: readNum(f.polish, 'polish epochs', { int: true, min: 0 }) }),
        delta: readNum(f.delta, 'δ', { min: 0 }),
        baseline: f.baseline.checked,
      };
      const body = { models: f.b.value ? [f.a.value, f.b.value] : [f.a.value], data: f.data.value, options };
      if (f.evalData.value) body.evalData = f.evalData.value;
      if (f.triggered.value) body.triggered = f.triggered.value;
      if (f.targets.value) body.targets = f.targets.value;
      const { job } = await api('/v1/repairs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      location.hash = `#repair/${job.id}`;
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Backdoor repair by path connection'),
    tabs(h, 'repair'),
    h(
      'div',
      { class: 'panel', id: 'repair-form' },
      h('p', {}, 'model A ', f.a, ' model B ', f.b),
      h('p', {}, 'clean data ', f.data),
      h('p', {}, 'held-out clean data (chooses t) ', f.evalData),
      h('p', {}, 'triggered data (ASR, report only) ', f.triggered),
      h('p', {}, 'error-injection targets (x, y = the wrong labels, y_true; attack success, report only) ', f.targets),
      h('p', {}, 'epochs ', f.epochs, ' samples per epoch ', f.samples, ' L2 ', f.l2, ' seed ', f.seed),
      h('p', { class: 'hint' }, "L2 and polish epochs left empty take the model family's recipe (convnet or Transformer)."),
      h(
        'p',
        {},
        'evaluation points ',
        f.points,
        ' polish epochs ',
        f.polish,
        ' tolerance δ ',
        f.delta,
        ' ',
        h('label', {}, f.baseline, ' fine-tuning baseline'),
      ),
      h('button', { id: 'repair-run', onclick: go }, 'Repair'),
      h(
        'p',
        { class: 'hint' },
        'Datasets are safetensors with x and y (triggered: y = target label); upload them on the Datasets page or with POST /v1/datasets. t is chosen from clean held-out accuracy only; the triggered set never influences it.',
      ),
    ),
  );
}

function repairResult(r, id, deps) {
  const { h, fmt } = deps;
  const along = [...r.along].sort((x, y) => x.t - y.t);
  const hasAsr = r.data.triggered !== null && along.every((p) => p.sets.triggered);
  const c = r.choice;
  // A point chosen by trigger verification on an unlearned path is exported unpolished (polishSeconds null).
  const polished = r.options.polishEpochs > 0 && r.polishSeconds != null;
  const marker = { t: c.t, text: `chosen t = ${c.t}`, legend: 'chosen t' };
  const at = (set, k) => along.map((p) => [p.t, p.sets[set][k]]);
  const accSeries = [{ name: 'clean accuracy (held-out)', key: 'heldOut', cls: 'c0', points: at('heldOut', 'accuracy') }];
  if (hasAsr) accSeries.push({ name: 'ASR (triggered)', key: 'triggered', cls: 'c2', points: at('triggered', 'accuracy') });
  if (polished) {
    accSeries.push({
      name: 'repaired: clean acc. after polishing',
      key: 'repaired-heldOut',
      cls: 'rep c0',
      r: 5,
      points: [[c.t, r.repaired.heldOut.accuracy]],
    });
    if (hasAsr && r.repaired.triggered)
      accSeries.push({
        name: 'repaired: ASR after polishing',
        key: 'repaired-triggered',
        cls: 'rep c2',
        r: 5,
        points: [[c.t, r.repaired.triggered.accuracy]],
      });
  }
  const accLines = r.baseline
    ? [{ y: r.baseline.heldOut.accuracy, cls: 'c0', text: `fine-tuned baseline: clean ${pct(r.baseline.heldOut.accuracy)}` }]
    : [];
  if (r.baseline && hasAsr && r.baseline.triggered)
    accLines.push({ y: r.baseline.triggered.accuracy, cls: 'c2', text: `fine-tuned baseline: ASR ${pct(r.baseline.triggered.accuracy)}` });
  const lossSeries = [{ name: 'clean loss (held-out)', key: 'heldOut', cls: 'c0', points: at('heldOut', 'loss') }];
  if (hasAsr) lossSeries.push({ name: 'triggered loss (vs target)', key: 'triggered', cls: 'c2', points: at('triggered', 'loss') });
  const lossLines = r.baseline
    ? [{ y: r.baseline.heldOut.loss, cls: 'c0', text: `baseline clean loss ${fmt(r.baseline.heldOut.loss)}` }]
    : [];

  const row = (name, m) =>
    h(
      'tr',
      {},
      h('td', {}, name),
      h('td', { class: 'num' }, pct(m?.heldOut.accuracy)),
      h('td', { class: 'num' }, fmt(m?.heldOut.loss)),
      h('td', { class: 'num' }, hasAsr ? pct(m?.triggered?.accuracy) : '—'),
    );
  const tr = r.training ?? {};
  const lastLoss = tr.epochs?.length ? tr.epochs[tr.epochs.length - 1].loss : null;
  return [
    h(
      'div',
      { class: 'panel', id: 'repair-choice', 'data-t': c.t },
      h('h3', {}, `Chosen t = ${c.t}`),
      h('p', { id: 'repair-reason' }, c.reason),
      c.tried
        ? h('p', {}, 'polished: ', c.tried.map((x) => `t = ${x.t}: ${pct(x.accuracy)} (curve ${pct(x.curveAccuracy)})`).join(' · '))
        : null,
      h('p', { id: 'repair-route' }, `graph: ${(r.routes ?? []).map(routeText).join(' · ') || 'ONNX'}`),
      h(
        'p',
        { class: 'downloads' },
        'repaired model: ',
        r.modelFormat === 'hf'
          ? downloadLink(
              h,
              'download-zip',
              `/v1/repairs/${id}/model?format=zip`,
              `repaired-${id.slice(0, 8)}.zip`,
              'Hugging Face folder (zip)',
            )
          : downloadLink(h, 'download-onnx', `/v1/repairs/${id}/model?format=onnx`, `repaired-${id.slice(0, 8)}.onnx`, 'ONNX'),
        ' · ',
        downloadLink(
          h,
          'download-safetensors',
          `/v1/repairs/${id}/model?format=safetensors`,
          `repaired-${id.slice(0, 8)}.safetensors`,
          'safetensors',
        ),
      ),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, hasAsr ? 'Clean accuracy and attack success rate along t' : 'Clean accuracy along t'),
      lineChart({ id: 'repair-accuracy', yLabel: 'accuracy / ASR', series: accSeries, hlines: accLines, marker, yMin: 0, yMax: 1 }),
    ),
    ...cleansePanels(r, deps),
    ...tradeoffPanels(r, marker, deps),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Loss along t'),
      lineChart({ id: 'repair-loss', yLabel: 'cross-entropy', series: lossSeries, hlines: lossLines, marker }),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Models'),
      h(
        'table',
        { id: 'repair-models' },
        h(
          'tr',
          {},
          h('th', {}, 'model'),
          h('th', { class: 'num' }, 'clean accuracy'),
          h('th', { class: 'num' }, 'clean loss'),
          h('th', { class: 'num' }, 'ASR'),
        ),
        row('A (t = 0)', r.endpoints[0]),
        row(r.secondEndpoint === 'model' ? 'B (t = 1)' : 'A fine-tuned (t = 1)', r.endpoints[1]),
        row(`w(t) at t = ${c.t}`, r.atT),
        polished ? row(`repaired: w(t) polished for ${r.options.polishEpochs} epoch(s)`, r.repaired) : null,
        row('fine-tuning baseline (A, same budget)', r.baseline),
      ),
      r.baseline ? null : h('p', { class: 'hint' }, 'no fine-tuning baseline was requested'),
      h(
        'p',
        { class: 'hint' },
        `clean data: ${r.data.train} training, ${r.data.heldOut} held-out (${r.data.heldOutSource === 'split' ? 'split off the clean data' : 'separate dataset'})${r.data.triggered !== null ? `, ${r.data.triggered} triggered` : ''}; curve training: ${tr.epochs?.length ?? 0} epoch(s), ${tr.steps ?? 0} steps, ${fmt(tr.seconds, 1)} s${lastLoss !== null ? `, last epoch loss ${fmt(lastLoss)}` : ''}`,
      ),
    ),
  ];
}

/**
 * Trigger reversal (r.cleanse, when unlearning ran): each endpoint's reversed-trigger mask L1 per class with the
 * flagged classes marked, and the points the t rule checked with a new reversal.
 */
function cleansePanels(r, { h, fmt }) {
  const c = r.cleanse;
  if (!c) return [];
  if (c.skipped)
    return [h('div', { class: 'panel', id: 'repair-cleanse' }, h('h3', {}, 'Trigger reversal'), h('p', { class: 'hint' }, c.skipped))];
  const head = h(
    'tr',
    {},
    h('th', {}, 'endpoint'),
    ...c.endpoints[0].l1.map((_, k) => h('th', { class: 'num' }, `${k}`)),
    h('th', {}, 'flagged'),
  );
  const rows = c.endpoints.map((e) =>
    h(
      'tr',
      { 'data-endpoint': e.endpoint },
      h('td', {}, e.endpoint),
      ...e.l1.map((v, k) => h('td', { class: e.flagged.includes(k) ? 'num flagged' : 'num' }, v === null ? '—' : fmt(v, 1))),
      h('td', {}, e.flagged.join(', ') || 'none'),
    ),
  );
  const checks = c.verification.map((v) =>
    h(
      'p',
      { class: 'verify', 'data-t': v.t },
      `t = ${v.t}: ${v.targets.map((x) => `class ${x.target} now needs L1 ${x.l1 === null ? '—' : fmt(x.l1, 1)} (≥ ${fmt(x.threshold, 1)} passes)`).join(', ')} → ${v.pass ? 'passes' : 'still flagged'}`,
    ),
  );
  return [
    h(
      'div',
      { class: 'panel', id: 'repair-cleanse' },
      h('h3', {}, 'Trigger reversal (Neural Cleanse, clean data only)'),
      h('table', { id: 'repair-cleanse-table' }, head, ...rows),
      h(
        'p',
        { class: 'hint' },
        `mask L1 of the smallest trigger that sends ≥ 90 % of clean images of other classes to each class; flagged: anomaly index > 2 on log L1 (${fmt(c.seconds, 0)} s)`,
      ),
      ...checks,
    ),
  ];
}

/**
 * The clean-vs-attack trade-off over t (r.tradeoff: w(t) on the curve and, where the rule polished, the polished
 * model), to choose another point; and the error-injection targets' attack success before and after.
 */
function tradeoffPanels(r, marker, deps) {
  const { h } = deps;
  const rows = [...(r.tradeoff ?? [])].sort((x, y) => x.t - y.t);
  if (!rows.length) return [];
  const sets = [
    ['heldOut', 'clean accuracy (held-out)', 'c0'],
    ['triggered', 'ASR (triggered)', 'c2'],
    ['targets', 'attack success (targets)', 'c3'],
  ].filter(([k]) => rows.every((p) => p.curve[k]));
  const series = sets.flatMap(([k, name, cls]) => {
    const polished = rows.filter((p) => p.polished?.[k]).map((p) => [p.t, p.polished[k].accuracy]);
    return [
      { name: `${name}, curve`, key: `curve-${k}`, cls, points: rows.map((p) => [p.t, p.curve[k].accuracy]) },
      ...(polished.length ? [{ name: `${name}, polished`, key: `polished-${k}`, cls: `rep ${cls}`, r: 5, points: polished }] : []),
    ];
  });
  const out = [
    h(
      'div',
      { class: 'panel', id: 'repair-tradeoff-panel' },
      h('h3', {}, 'Trade-off over t: clean accuracy against attack success'),
      lineChart({ id: 'repair-tradeoff', yLabel: 'accuracy / attack success', series, marker, yMin: 0, yMax: 1 }),
      h(
        'p',
        { class: 'hint' },
        'Every evaluated t of the curve, and the points the t rule polished: another t can be chosen from here (the attack sets are report-only; they never moved the chosen t).',
      ),
    ),
  ];
  if (r.data.targets !== null && r.repaired?.targets) {
    const row = (label, key, m) =>
      h(
        'tr',
        { 'data-key': key },
        h('td', {}, label),
        numCell(h, m?.targets?.accuracy, { 'data-col': 'success' }),
        numCell(h, m?.targetsTrue?.accuracy, { 'data-col': 'true' }),
      );
    out.push(
      h(
        'div',
        { class: 'panel' },
        h('h3', {}, `Error-injection targets (${r.data.targets} inputs)`),
        h(
          'table',
          { id: 'repair-targets' },
          h(
            'tr',
            {},
            h('th', {}, 'model'),
            h('th', { class: 'num' }, 'attack success'),
            h('th', { class: 'num' }, 'accuracy on the true labels'),
          ),
          row('A (t = 0), before', 'a', r.endpoints[0]),
          row(r.secondEndpoint === 'model' ? 'B (t = 1), before' : 'A fine-tuned (t = 1)', 'b', r.endpoints[1]),
          row(`repaired (t = ${r.choice.t}), after`, 'repaired', r.repaired),
        ),
      ),
    );
  }
  return out;
}

// ---------- connectivity ----------
async function connectForm(view, deps) {
  const { h, api, showError } = deps;
  const { models } = await choices(api, { hf: true });
  const { num, select } = inputs(h);
  const mrows = models.map((m) => [m.id, modelLabel(m)]);
  const D = CONNECT_DEFAULTS;
  const a = select('conn-model-a', mrows);
  const ds = (id, none) => deps.datasetSelect(h, api, id, a, none ? { none } : {});
  const f = {
    a,
    b: select('conn-model-b', mrows),
    data: ds('conn-data'),
    evalData: ds('conn-eval', '(none)'),
    triggered: ds('conn-triggered', '(none)'),
    curve: select('conn-curve', [
      ['bezier', 'Bezier'],
      ['polychain', 'polygonal chain'],
    ]),
    bends: num('conn-bends', D.bends, 1),
    epochs: num('conn-epochs', D.epochs, 1),
    samples: num('conn-samples', D.samplesPerEpoch, 1),
    l2: num('conn-l2', D.l2),
    seed: num('conn-seed', D.seed, 1),
    points: num('conn-points', D.points, 1),
  };
  f.samples.placeholder = 'dataset size';
  if (models.length > 1) f.b.value = models[1].id;
  await Promise.all([f.data.ready, f.evalData.ready, f.triggered.ready]);
  const go = async () => {
    try {
      if (!f.a.value || !f.b.value || !f.data.value) throw new Error('pick two models and a clean dataset');
      const options = {
        curve: f.curve.value,
        bends: readNum(f.bends, 'bends', { int: true, min: 2 }),
        epochs: readNum(f.epochs, 'epochs', { int: true, min: 0 }),
        ...(f.l2.value === '' ? {} : { l2: readNum(f.l2, 'L2', { min: 0 }) }),
        seed: readNum(f.seed, 'seed', { int: true, min: 0 }),
        ts: gridTs(readNum(f.points, 'evaluation points', { int: true, min: 2 })),
      };
      if (f.samples.value !== '') options.samplesPerEpoch = readNum(f.samples, 'samples per epoch', { int: true, min: 1 });
      const body = { models: [f.a.value, f.b.value], data: f.data.value, options };
      if (f.evalData.value) body.evalData = [f.evalData.value];
      if (f.triggered.value) body.triggered = f.triggered.value;
      const { job } = await api('/v1/connectivity', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      location.hash = `#connectivity/${job.id}`;
    } catch (e) {
      showError(e.message);
    }
  };
  view.replaceChildren(
    h('h2', {}, 'Mode connectivity'),
    tabs(h, 'connectivity'),
    h(
      'div',
      { class: 'panel', id: 'conn-form' },
      h('p', {}, 'model A ', f.a, ' model B ', f.b),
      h('p', {}, 'clean data (trains the curve) ', f.data),
      h('p', {}, 'evaluation data ', f.evalData),
      h('p', {}, 'triggered data (ASR) ', f.triggered),
      h(
        'p',
        {},
        'curve ',
        f.curve,
        ' bends ',
        f.bends,
        ' epochs ',
        f.epochs,
        ' samples per epoch ',
        f.samples,
        ' L2 ',
        f.l2,
        ' seed ',
        f.seed,
        ' evaluation points ',
        f.points,
      ),
      h('button', { id: 'conn-run', onclick: go }, 'Connect'),
      h('p', { class: 'hint' }, 'epochs 0: the straight line between the models (no training).'),
    ),
  );
}

function connectResult(r, deps) {
  const { h, fmt } = deps;
  const along = [...r.along].sort((x, y) => x.t - y.t);
  const label = (st) => (st.role === 'triggered' ? 'triggered (ASR)' : st.name === 'train' ? 'clean training data' : st.name);
  const series = (k) =>
    r.sets.map((st, i) => ({
      name: `${label(st)}${k === 'loss' && st.role === 'triggered' ? ' vs target' : ''}`,
      key: st.name,
      cls: st.role === 'triggered' ? 'c2' : ['c0', 'c1', 'c3', 'c4'][i % 4],
      points: along.map((p) => [p.t, p.sets[st.name][k]]),
    }));
  const mc = Object.entries(r.summary.mc ?? {});
  const tr = r.training ?? {};
  return [
    h('p', { id: 'conn-route' }, `graph: ${(r.routes ?? []).map(routeText).join(' · ') || 'ONNX'}`),
    h(
      'p',
      { id: 'conn-summary' },
      `${r.curve.kind} with ${r.curve.bends} bends · ${tr.epochs?.length ?? 0} epoch(s), ${tr.steps ?? 0} steps, ${fmt(tr.seconds, 1)} s · path length ${fmt(r.summary.pathLength)}`,
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Accuracy along t'),
      lineChart({ id: 'conn-accuracy', yLabel: 'accuracy / ASR', series: series('accuracy'), yMin: 0, yMax: 1 }),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Loss along t'),
      lineChart({ id: 'conn-loss', yLabel: 'cross-entropy', series: series('loss') }),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', {}, 'Summary'),
      h(
        'table',
        { id: 'conn-table' },
        h(
          'tr',
          {},
          h('th', {}, 'set'),
          h('th', { class: 'num' }, 'n'),
          h('th', { class: 'num' }, 'acc. t=0'),
          h('th', { class: 'num' }, 'acc. t=1'),
          h('th', { class: 'num' }, 'min'),
          h('th', { class: 'num' }, 'max'),
          h('th', { class: 'num' }, 'mean'),
          h('th', { class: 'num' }, 'mc (error %)'),
        ),
        r.sets.map((st) => {
          const a = r.summary.accuracy[st.name];
          return h(
            'tr',
            { 'data-set': st.name },
            h('td', {}, label(st)),
            h('td', { class: 'num' }, st.n),
            ...[a.start, a.end, a.min, a.max, a.avg].map((v) => h('td', { class: 'num' }, pct(v))),
            h('td', { class: 'num' }, r.summary.mc?.[st.name] !== undefined ? fmt(r.summary.mc[st.name], 2) : '—'),
          );
        }),
      ),
      h(
        'p',
        { class: 'hint' },
        mc.length
          ? 'mc (Yang et al.): mean endpoint error minus the error of the point deviating most from it, in percent; negative = a barrier.'
          : '',
      ),
    ),
  ];
}

/** #repair, #repair/<job>, #connectivity, #connectivity/<job>. */
export async function repairPage(view, page, id, deps) {
  const { api } = deps;
  if (page === 'connectivity') {
    if (!id) return connectForm(view, deps);
    if (await deps.jobPanel(view, id, 'Connectivity', deps))
      view.append(tabs(deps.h, 'connectivity'), ...connectResult(await api(`/v1/connectivity/${id}`), deps));
    return;
  }
  if (!id) return repairForm(view, deps);
  if (await deps.jobPanel(view, id, 'Repair', deps))
    view.append(tabs(deps.h, 'repair'), ...repairResult(await api(`/v1/repairs/${id}`), id, deps));
}
