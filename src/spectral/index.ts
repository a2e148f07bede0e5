/** Spectral analysis of one layer's eigenvalues: fits (PL, E-TPL, EXP), WW metrics and the model summary. */
export * from './special.js';
export * from './pl.js';
export * from './xmin.js';
export * from './etpl.js';
export * from './exp.js';
export * from './metrics.js';
export * from './summary.js';
export type * from './types.js';
