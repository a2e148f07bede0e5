/** A readable fixed-width table of the report for a terminal. */
import type { AnalysisReport, LayerRow } from './types.js';

interface Col {
  head: string;
  get(r: LayerRow): string;
  left?: boolean;
}

function num(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '-';
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1) : v.toFixed(digits);
}

const COLUMNS: Col[] = [
  { head: 'id', get: (r) => String(r.layer_id) },
  { head: 'name', get: (r) => r.name, left: true },
  { head: 'type', get: (r) => r.layer_type, left: true },
  { head: 'N', get: (r) => String(r.N) },
  { head: 'M', get: (r) => String(r.M) },
  { head: 'rf', get: (r) => String(r.rf) },
  { head: 'alpha', get: (r) => num(r.alpha, 3) },
  { head: 'xmin', get: (r) => num(r.xmin, 3) },
  { head: 'D', get: (r) => num(r.D, 3) },
  { head: 'spikes', get: (r) => num(r.num_pl_spikes) },
  { head: 'log_norm', get: (r) => num(r.log_norm, 3) },
  { head: 'log_spec', get: (r) => num(r.log_spectral_norm, 3) },
  { head: 'alpha_w', get: (r) => num(r.alpha_weighted, 3) },
  { head: 'st_rank', get: (r) => num(r.stable_rank, 2) },
  { head: 'entropy', get: (r) => num(r.entropy, 3) },
  { head: 'tpl_beta', get: (r) => (r.etpl ? num(r.etpl.beta, 3) + (r.etpl.status === 'ok' ? '' : `(${r.etpl.status})`) : '') },
  { head: 'tpl_lam', get: (r) => (r.etpl ? num(r.etpl.lambda, 3) : '') },
  { head: 'exp_lam', get: (r) => (r.exp ? num(r.exp.lambda, 3) + (r.exp.status === 'ok' ? '' : `(${r.exp.status})`) : '') },
  { head: 'status', get: (r) => (r.status === 'success' ? r.warning || 'ok' : `failed: ${r.reason ?? ''}`), left: true },
];

export function formatTable(report: AnalysisReport): string {
  const rows = report.layers;
  const hasEtpl = rows.some((r) => r.etpl);
  const hasExp = rows.some((r) => r.exp);
  const cols = COLUMNS.filter((c) => (c.head.startsWith('tpl_') ? hasEtpl : c.head === 'exp_lam' ? hasExp : true));
  const cells = rows.map((r) => cols.map((c) => c.get(r)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => row[i].length)));
  const fmt = (vals: string[]) =>
    vals
      .map((v, i) => (cols[i].left ? v.padEnd(widths[i]) : v.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [fmt(cols.map((c) => c.head)), ...cells.map(fmt)];
  const m = report.model;
  out.push('');
  out.push(
    `${m.source} (${m.format}): ${rows.length} layers analysed of ${m.tensors} tensors, ${m.parameters} parameters, ${report.seconds.toFixed(2)} s`,
  );
  const s = Object.entries(report.summary).filter(([, v]) => v !== null);
  if (s.length) out.push('summary (mean over layers): ' + s.map(([k, v]) => `${k}=${num(v, 4)}`).join('  '));
  const w = report.work;
  if (w && w.layers_computed + w.layers_cached > 0) {
    const parts: string[] = [];
    if (w.layers_computed)
      parts.push(`${w.layers_computed} layers computed (${(w.flops / 1e9).toFixed(1)} GFLOP, ${w.gflops.toFixed(1)} GFLOP/s effective)`);
    if (w.layers_cached) parts.push(`${w.layers_cached} from the cache`);
    out.push(`work: ${parts.join(', ')}`);
  }
  out.push(...skippedLines(report));
  return out.join('\n') + '\n';
}

/**
 * Every skipped layer with its reason: size-limit skips one per line (they are real layers the user may want, with
 * their cost), the rest (norms, biases, tied copies) grouped by reason with their names.
 */
function skippedLines(report: AnalysisReport): string[] {
  const skipped = report.skipped ?? [];
  if (skipped.length === 0) return [];
  const out = [`skipped (${skipped.length}):`];
  const groups = new Map<string, string[]>();
  for (const k of skipped) {
    if (k.flops !== undefined) {
      out.push(`  ${k.layer_id} ${k.name}: ${k.reason}`);
      continue;
    }
    // "shape [4096] is not …" and "shape [11008] is not …" are one reason
    const why = k.reason.replace(/\[[\d, ]*\]/g, '[…]');
    if (!groups.has(why)) groups.set(why, []);
    groups.get(why)!.push(`${k.layer_id} ${k.name}`);
  }
  for (const [why, names] of groups) {
    const shown = names.length > 8 ? [...names.slice(0, 8), `… ${names.length - 8} more`] : names;
    out.push(`  ${why}: ${shown.join(', ')}`);
  }
  return out;
}
