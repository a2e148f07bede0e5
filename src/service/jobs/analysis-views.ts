/**
 * Views of an analysis report the API serves: the report without each layer's eigenvalues, one layer's ESD, the
 * CSV. Computed by the route from a small inline result, or once in the job's thread for a large one (the analysis
 * kind's artifacts), so the server never parses a 7B model's eigenvalues to answer.
 */
import { reportToCsv } from '../../report/csv.js';
import type { AnalysisReport } from '../../report/types.js';

export const LITE = 'lite.json';
export const CSV = 'report.csv';
export const esdName = (layerId: number): string => `esd/${layerId}.json`;

export function liteReport(report: AnalysisReport): unknown {
  return { ...report, layers: report.layers.map(({ eigenvalues: _e, ...rest }) => rest) };
}

/** One layer's eigenvalues and fits, or null when the layer is unknown or kept no eigenvalues. */
export function layerEsd(report: AnalysisReport, layerId: number): unknown {
  const row = report.layers.find((l) => l.layer_id === layerId);
  if (!row?.eigenvalues) return null;
  return {
    layer_id: row.layer_id,
    name: row.name,
    eigenvalues: row.eigenvalues,
    alpha: row.alpha,
    xmin: row.xmin,
    xmax: row.xmax,
    etpl: row.etpl ? { beta: row.etpl.beta, lambda: row.etpl.lambda, xmin: row.etpl.xmin } : null,
  };
}

export function analysisArtifacts(report: AnalysisReport): Record<string, unknown> {
  const out: Record<string, unknown> = { [LITE]: liteReport(report), [CSV]: reportToCsv(report) };
  for (const l of report.layers) if (l.eigenvalues) out[esdName(l.layer_id)] = layerEsd(report, l.layer_id);
  return out;
}
