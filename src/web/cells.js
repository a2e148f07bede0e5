// Numbers as the science pages (collapse.js, flatness.js, taxonomy.js) print them: six significant digits on the
// page, the exact value in the element's data-v (for copy-paste and the browser tests). Plain ES module.

export const sig = (v) => {
  if (v === null || v === undefined) return '—';
  if (Number.isInteger(v)) return String(v);
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(5) : v.toPrecision(6);
};

/** A table cell holding a number. */
export const numCell = (h, v, attrs = {}) => h('td', { class: 'num', 'data-v': v ?? '', ...attrs }, sig(v));
