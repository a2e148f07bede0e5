// SVG plotting helpers shared by the dashboard's pages (app.js, repair.js): element factory, axis ticks, legends, and
// a line chart over t ∈ [0, 1] with a vertical marker. Plain ES module, no build step.
export const SVGNS = 'http://www.w3.org/2000/svg';
export const s = (tag, attrs = {}, text) => {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
};
/** Tick values for a linear axis from 0 to max: about 5–8 round steps. */
export function linearTicks(max) {
  const raw = max / 6,
    p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((st) => st >= raw);
  return Array.from({ length: Math.floor(max / step + 1e-9) + 1 }, (_, i) => +(i * step).toPrecision(6));
}

/** Ticks of a log axis over [10^lo, 10^hi]: decades, or 1-2-5 (then 1…9) steps when that gives fewer than 3. */
export function logTicks(lo, hi) {
  for (const ms of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const out = [];
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++)
      for (const m of ms) {
        const v = m * 10 ** k;
        if (Math.log10(v) >= lo && Math.log10(v) <= hi) out.push(v);
      }
    if (out.length >= 3 || ms.length === 9) return out;
  }
  return [];
}
export const logLabel = (v) => {
  const k = Math.floor(Math.log10(v) + 1e-9),
    m = Math.round(v / 10 ** k);
  return k >= -2 && k <= 3 ? String(+v.toPrecision(3)) : `${m === 1 ? '' : `${m}×`}1e${k}`;
};

/**
 * Legend rows (swatch + text) right-aligned at (x, y); kinds: 'pt', 'line', 'rect'. Swatch classes are `sw-*`, not
 * the data classes, so selectors for the plotted data (rect.bar, circle.pt, line.xmin) never match the legend.
 */
export function legend(svg, x, y, items, horizontal = false) {
  const g = s('g', { class: 'legend', 'data-testid': 'legend' });
  const tw = (it) => 30 + 6.3 * it.text.length;
  const w = horizontal ? items.reduce((a, it) => a + tw(it), 0) : Math.max(...items.map(tw));
  g.append(s('rect', { class: 'legend-bg', x: x - w, y, width: w, height: horizontal ? 22 : 16 * items.length + 6 }));
  let hx = x - w + 6;
  items.forEach((it, i) => {
    const cy = horizontal ? y + 11 : y + 11 + 16 * i,
      x0 = horizontal ? hx : x - w + 6;
    hx += tw(it);
    if (it.kind === 'pt') g.append(s('circle', { class: it.cls, cx: x0 + 5, cy, r: 3 }));
    else if (it.kind === 'rect') g.append(s('rect', { class: it.cls, x: x0, y: cy - 5, width: 10, height: 10 }));
    else g.append(s('line', { class: it.cls, x1: x0, x2: x0 + 12, y1: cy, y2: cy }));
    g.append(s('text', { x: x0 + 18, y: cy + 3.5 }, it.text));
  });
  svg.append(g);
}

/** Ticks of a linear axis over [lo, hi] (lo ≥ 0): linearTicks of hi, those not below lo. */
function rangeTicks(lo, hi) {
  return linearTicks(hi).filter((v) => v >= lo - 1e-12);
}

/**
 * Line chart of series over x = t ∈ [0, 1]. series: [{ name, cls, key, points: [[t, v]] }] — a path `path.line.<cls>`
 * and one `circle.dot.<cls>` (data-set = key, data-t, data-v) per point. hlines: [{ y, cls, text }] dashed horizontal
 * references (e.g. a baseline model); marker: { t, text } a vertical `line.marker` (data-t) with a label
 * (data-testid marker-label). y from yMin (default 0) to yMax (default the data's max + 5%). Legend in the right margin.
 */
export function lineChart({ id, title, yLabel, xLabel = 't along the path', series, hlines = [], marker = null, yMin = 0, yMax = null }) {
  const items = [
    ...series.map((se) => ({ kind: se.points.length === 1 ? 'pt' : 'line', cls: `sw-${se.cls}`, text: se.name })),
    ...hlines.filter((l) => Number.isFinite(l.y)).map((l) => ({ kind: 'line', cls: `sw-hline sw-${l.cls}`, text: l.text })),
    ...(marker ? [{ kind: 'line', cls: 'sw-marker', text: marker.legend ?? marker.text }] : []),
  ];
  // The right margin holds the legend: as wide as legend() draws it (30 + 6.3 per character) plus a gap, at least
  // 270 so that stacked charts of one page share their x axis.
  const W = 960,
    H = 300,
    L = 58,
    B = 40,
    T = 12,
    R = Math.max(270, 30 + 6.3 * Math.max(0, ...items.map((it) => it.text.length)) + 16);
  const svg = s('svg', {
    id,
    viewBox: `0 0 ${W} ${H}`,
    width: '100%',
    style: `max-width:${W}px`,
    role: 'img',
    'aria-label': title ?? yLabel,
  });
  const vals = [...series.flatMap((se) => se.points.map((p) => p[1])), ...hlines.map((l) => l.y)].filter((v) => Number.isFinite(v));
  const top = yMax ?? Math.max(yMin + 1e-9, ...vals) * 1.05;
  const X = (t) => L + (W - L - R) * t;
  const Y = (v) => T + ((H - T - B) * (top - v)) / (top - yMin || 1);
  svg.append(
    s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
  );
  for (const v of rangeTicks(yMin, top)) {
    svg.append(
      s('line', { class: 'grid', x1: L, x2: W - R, y1: Y(v), y2: Y(v) }),
      s('line', { class: 'tick', x1: L - 4, x2: L, y1: Y(v), y2: Y(v) }),
      s('text', { x: L - 7, y: Y(v) + 3.5, 'text-anchor': 'end' }, String(v)),
    );
  }
  for (const t of linearTicks(1))
    svg.append(
      s('line', { class: 'tick', x1: X(t), x2: X(t), y1: H - B, y2: H - B + 4 }),
      s('text', { x: X(t), y: H - B + 15, 'text-anchor': 'middle' }, String(t)),
    );
  svg.append(
    s('text', { class: 'axis-label', x: L + (W - L - R) / 2, y: H - 6, 'text-anchor': 'middle' }, xLabel),
    s('text', { class: 'axis-label', transform: `translate(14 ${T + (H - T - B) / 2}) rotate(-90)`, 'text-anchor': 'middle' }, yLabel),
  );
  for (const l of hlines) {
    if (!Number.isFinite(l.y)) continue;
    svg.append(s('line', { class: `hline ${l.cls}`, 'data-y': l.y, x1: L, x2: W - R, y1: Y(l.y), y2: Y(l.y) }));
  }
  if (marker) {
    svg.append(
      s('line', { class: 'marker', 'data-t': marker.t, x1: X(marker.t), x2: X(marker.t), y1: T, y2: H - B }),
      s(
        'text',
        {
          class: 'marker-label',
          'data-testid': 'marker-label',
          x: X(marker.t) + (marker.t > 0.85 ? -5 : 5),
          y: T + 12,
          'text-anchor': marker.t > 0.85 ? 'end' : 'start',
        },
        marker.text,
      ),
    );
  }
  for (const se of series) {
    const pts = se.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 1)
      svg.append(
        s('path', { class: `line ${se.cls}`, d: pts.map(([t, v], i) => `${i ? 'L' : 'M'}${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join('') }),
      );
    for (const [t, v] of pts) {
      const c = s('circle', {
        class: `dot ${se.cls}`,
        'data-set': se.key ?? se.name,
        'data-t': t,
        'data-v': v,
        cx: X(t),
        cy: Y(v),
        r: se.r ?? 3.5,
      });
      c.append(s('title', {}, `${se.name} at t = ${t}: ${v}`));
      svg.append(c);
    }
  }
  legend(svg, W - 4, T, items);
  return svg;
}

/** Diverging colour of v ∈ [−1, 1]: blue (−1) – white (0) – red (+1). */
export function divergingColor(v) {
  const t = Math.max(-1, Math.min(1, v));
  const mix = (a, b, f) => Math.round(a + (b - a) * f);
  const [r, g, b] = t < 0 ? [mix(255, 33, -t), mix(255, 102, -t), mix(255, 172, -t)] : [mix(255, 178, t), mix(255, 24, t), mix(255, 43, t)];
  return `rgb(${r},${g},${b})`;
}

/** Sequential colour of f ∈ [0, 1]: pale yellow (0) – green – dark blue (1), as viridis reversed. */
export function sequentialColor(f) {
  const stops = [
    [255, 255, 217],
    [127, 205, 187],
    [29, 145, 192],
    [37, 52, 148],
    [8, 29, 88],
  ];
  const x = Math.max(0, Math.min(1, f)) * (stops.length - 1),
    k = Math.min(stops.length - 2, Math.floor(x)),
    r = x - k;
  const [a, b] = [stops[k], stops[k + 1]];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * r)).join(',')})`;
}

/** Matrices up to this size get one element per entry; larger ones a raster image. */
const MAX_CELLS = 64;

/**
 * Heat map of a matrix, by default square with entries in [−1, 1] (e.g. cosines): one `rect.cell` per entry
 * (data-i, data-j, data-v, a title) — a raster image beyond MAX_CELLS rows — row/column labels, and a colour bar
 * with `marks` ([{ v, text }]) drawn on it. Other values: `domain` [lo, hi] and `color` (f ∈ [0, 1] → CSS colour,
 * e.g. sequentialColor); `colLabels` for a matrix whose columns are not its rows; null entries are left blank
 * (a triangular patch's grid).
 */
export function heatMap({
  id,
  matrix,
  labels,
  colLabels = labels,
  title,
  marks = [],
  domain = [-1, 1],
  color = (f) => divergingColor(2 * f - 1),
}) {
  const n = matrix.length;
  const [lo, hi] = domain;
  const fill = (v) => color(hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const cell = n <= MAX_CELLS ? Math.max(7, Math.min(44, Math.floor(440 / Math.max(n, 1)))) : 480 / n;
  const L = 46,
    T = 30,
    size = cell * n,
    barX = L + size + 30,
    W = barX + 130,
    H = Math.max(T + size + 30, 260);
  const svg = s('svg', { id, viewBox: `0 0 ${W} ${H}`, width: W, role: 'img', 'aria-label': title });
  if (n <= MAX_CELLS) {
    matrix.forEach((row, i) =>
      row.forEach((v, j) => {
        if (v === null) return;
        const r = s('rect', {
          class: 'cell',
          'data-i': i,
          'data-j': j,
          'data-v': v,
          x: L + j * cell,
          y: T + i * cell,
          width: cell,
          height: cell,
          fill: fill(v),
        });
        r.append(s('title', {}, `${labels[i]} · ${colLabels[j]}: ${v}`));
        svg.append(r);
      }),
    );
  } else {
    // Hundreds of classes: one pixel per entry in a raster (an element per entry would stall the page).
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = n;
    const g = canvas.getContext('2d');
    const img = g.createImageData(n, n);
    matrix.forEach((row, i) =>
      row.forEach((v, j) => {
        const [r, gg, b] = fill(v).slice(4, -1).split(',').map(Number);
        img.data.set([r, gg, b, 255], 4 * (i * n + j));
      }),
    );
    g.putImageData(img, 0, 0);
    svg.append(
      s('image', {
        class: 'raster',
        href: canvas.toDataURL(),
        x: L,
        y: T,
        width: size,
        height: size,
        preserveAspectRatio: 'none',
        style: 'image-rendering:pixelated',
      }),
    );
  }
  // Labels at least a line apart down the rows, and a label's width apart across the columns.
  const everyRow = Math.max(1, Math.ceil(14 / cell)),
    everyCol = Math.max(1, Math.ceil((8 + 7 * Math.max(...colLabels.map((l) => String(l).length))) / cell));
  labels.forEach((lab, k) => {
    if (k % everyRow === 0) svg.append(s('text', { x: L - 5, y: T + (k + 0.5) * cell + 4, 'text-anchor': 'end' }, String(lab)));
  });
  colLabels.forEach((lab, k) => {
    if (k % everyCol === 0) svg.append(s('text', { x: L + (k + 0.5) * cell, y: T - 6, 'text-anchor': 'middle' }, String(lab)));
  });
  // Colour bar from hi (top) to lo (bottom).
  const bh = size,
    by = T,
    bw = 14;
  const Y = (v) => by + (hi > lo ? (bh * (hi - v)) / (hi - lo) : bh / 2);
  for (let k = 0; k < 40; k++) {
    const v = hi - ((hi - lo) * (k + 0.5)) / 40;
    svg.append(s('rect', { x: barX, y: by + (bh * k) / 40, width: bw, height: bh / 40 + 0.5, fill: fill(v) }));
  }
  for (let k = 0; k <= 4; k++) {
    const v = hi - ((hi - lo) * k) / 4;
    svg.append(s('text', { x: barX + bw + 4, y: Y(v) + 4 }, String(+v.toPrecision(3))));
  }
  for (const m of marks) {
    svg.append(
      s('line', { class: 'bar-mark', 'data-v': m.v, x1: barX - 4, x2: barX + bw + 2, y1: Y(m.v), y2: Y(m.v) }),
      s('text', { class: 'bar-mark-label', x: barX + bw + 34, y: Y(m.v) + 4 }, m.text),
    );
  }
  return svg;
}
