/** Numerical building blocks with one home each: Brent's root finder, log-gamma, compensated sums, pruned argmin. */
export { brentRoot, type BrentOptions } from './brent.js';
export { logGamma, logGamma1p, EULER_GAMMA } from './gamma.js';
export { suffixSums, suffixAt, type SuffixSums } from './sums.js';
export { firstMinimum, loses, type Incumbent } from './first-min.js';
