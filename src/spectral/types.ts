/**
 * Result types of the tail fits and of the model summary. They live here, beside the math that produces them, so that
 * src/spectral depends on nothing above it; src/report/types.ts re-exports them as part of the report contract.
 */
export type FitStatus = 'ok' | 'bound' | 'failed';

export interface EtplFit {
  beta: number | null;
  lambda: number | null;
  xmin: number | null;
  D: number | null;
  loglik: number | null;
  status: FitStatus;
  reason?: string;
}

export interface ExpFit {
  lambda: number | null;
  xmin: number | null;
  D: number | null;
  status: FitStatus;
  reason?: string;
}

/** Mean over analysed layers of each metric (WW's get_summary, plus the KDD'23 fit parameters). */
export interface Summary {
  [metric: string]: number | null;
}
