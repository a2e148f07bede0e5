/** The KDD'23 fixture ESDs and their expected values (shared/reference/kdd/esd_fixtures.json). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED } from '../helpers/fixtures.js';

export const ESD_NAMES = ['good', 'mediocre', 'bad'] as const;
export type EsdName = (typeof ESD_NAMES)[number];

interface EtplRef {
  xmin: number;
  beta: number;
  lambda: number;
  D: number;
}
export interface EsdExpected {
  ww_pl: { alpha: number; xmin: number; D: number; sigma: number; n_tail: number };
  kdd_pl_xmax_max: { alpha: number; xmin: number; D: number };
  norms: Record<'log_norm' | 'log_spectral_norm' | 'stable_rank' | 'alpha_weighted' | 'log_alpha_norm' | 'entropy', number>;
  kdd_etpl: EtplRef;
  ww_etpl: EtplRef;
  kdd_exp: { xmin: number; lambda: number; D: number };
  clip_xmax: { alpha: number; num_fingers: number; raw_alpha?: number };
  xmax_minus_1_alpha: number;
  xmin_peak: number;
}

interface EsdFile {
  esds: Record<EsdName, number[]>;
  expected: Record<EsdName, EsdExpected>;
}

let cache: EsdFile | null = null;
function load(): EsdFile {
  cache ??= JSON.parse(readFileSync(join(SHARED, 'reference', 'kdd', 'esd_fixtures.json'), 'utf8')) as EsdFile;
  return cache;
}

export function esd(name: EsdName): Float64Array {
  return Float64Array.from(load().esds[name]);
}

export function expected(name: EsdName): EsdExpected {
  return load().expected[name];
}

/** Deterministic uniform(0,1) stream. */
export { mulberry32 as rng } from '../helpers/random.js';
