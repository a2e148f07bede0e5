/**
 * analyze() options of a service request (analyses and rankings): `fits` and `layers` at the top level win over
 * the same keys in `options`. The service keeps each layer's eigenvalues (for the dashboard's ESD plots) unless the
 * request says otherwise.
 */
import { parseAnalyzeOptions } from '../../report/options.js';

export function analysisOptions(body: {
  fits?: string[];
  layers?: (number | string)[];
  options?: Record<string, unknown>;
}): Record<string, unknown> {
  const merged: Record<string, unknown> = { keepEigenvalues: true, ...(body.options ?? {}) };
  if (body.fits) merged.fits = body.fits;
  if (body.layers) merged.layers = body.layers;
  return { ...parseAnalyzeOptions(merged) };
}
