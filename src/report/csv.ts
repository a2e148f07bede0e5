/** The report as CSV (RFC 4180): one line per layer, WW's columns then the E-TPL/EXP columns. */
import { FIT_COLUMNS, WW_COLUMNS, flatRow } from './columns.js';
import type { AnalysisReport } from './types.js';

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportToCsv(report: Pick<AnalysisReport, 'layers'>): string {
  const cols = [...WW_COLUMNS, ...FIT_COLUMNS];
  const lines = [cols.join(',')];
  for (const r of report.layers) {
    const flat = flatRow(r);
    lines.push(cols.map((c) => cell(flat[c])).join(','));
  }
  return lines.join('\n') + '\n';
}
