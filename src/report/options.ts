/**
 * Options of `analyze`, one zod schema for the library, the CLI and the service (docs/architecture.md: no option dicts
 * re-read everywhere). Defaults are WeightWatcher 0.7.5.5's analyze() defaults plus our E-TPL and EXP fits.
 */
import { z } from 'zod';
import { WeightscopeError } from '../errors.js';
import { parseOptions } from '../util/options.js';

export const FIT_KINDS = ['pl', 'etpl', 'exp'] as const;
export type FitKind = (typeof FIT_KINDS)[number];

const count = z.number().int().nonnegative();

/** A layer selector: a layer id, or a glob (`*`, `?`) on the layer name or tensor name. */
export const LayerSelector = z.union([count, z.string().min(1)]);

export const AnalyzeOptionsSchema = z
  .object({
    /** Which fits to run. PL is WW's default fit; E-TPL and EXP follow the KDD'23 paper (docs/algorithms.md §1.6–1.7). */
    fits: z.array(z.enum(FIT_KINDS)).min(1).default(['pl', 'etpl', 'exp']),
    /** 'ww' = WW 0.7.5.5 default PL fit; 'kdd' = old WW + powerlaw with xmax = max λ (docs/algorithms.md §1.5). */
    plVariant: z.enum(['ww', 'kdd']).default('ww'),
    minEvals: count.default(10),
    maxEvals: count.default(15000),
    maxN: count.default(50000),
    /**
     * Lift WW's size limits (maxEvals, maxN): a Llama-3 128k-vocabulary embedding or any matrix with more than
     * 15,000 eigenvalues is analysed too. The report lists what the limits skip, with each layer's cost in flops.
     */
    allLayers: z.boolean().default(false),
    /** Only these layers (ids or name globs); all when absent. */
    layers: z.array(LayerSelector).optional(),
    /** 'cuda': Gram and eigenvalues on an NVIDIA GPU through cuBLAS/cuSOLVER (src/linalg/cuda.ts). */
    eigenBackend: z.enum(['auto', 'lapack', 'ts', 'cuda']).default('auto'),
    /** Eigenvalue worker threads. Default: one per core, and none (this thread) for models too small to gain. */
    workers: z.number().int().positive().max(256).optional(),
    /** Keep each layer's pooled ESD in its row (`eigenvalues`), for plots; off by default (it is most of a report). */
    keepEigenvalues: z.boolean().default(false),
  })
  .strict();

export type AnalyzeOptionsInput = z.input<typeof AnalyzeOptionsSchema>;
export type AnalyzeOptions = z.output<typeof AnalyzeOptionsSchema>;

/** Validate options; bad values → WeightscopeError('invalid-input') naming the option. */
export function parseAnalyzeOptions(input: unknown = {}): AnalyzeOptions {
  const o = parseOptions(AnalyzeOptionsSchema, input, 'analyze');
  if (o.maxEvals < o.minEvals) {
    throw new WeightscopeError('invalid-input', `invalid analyze options: maxEvals ${o.maxEvals} < minEvals ${o.minEvals}`);
  }
  return { ...o, fits: [...new Set(o.fits)] };
}
