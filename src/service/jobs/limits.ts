/**
 * What a job may ask for and how long it may run. Each kind declares caps on its numeric options (arrays: on their
 * length) and a wall-clock budget computed from its work — bytes of the model, parameters, samples — so a 70B
 * analysis gets hours while a small one gets minutes. Caps can be changed per server (WEIGHTSCOPE_LIMITS
 * "kind.option=N,…") and budgets scaled (WEIGHTSCOPE_JOB_TIME_FACTOR).
 *
 * Budgets assume about a tenth of the speed measured on the project's 2-core machine (analysis ~22 MB/s of
 * BF16 weights for TinyLlama-1.1B; ~2e9 useful flop/s in onnxruntime), plus a fixed five minutes of slack.
 */
import { WeightscopeError } from '../../errors.js';
import { ServiceError } from '../errors.js';

/** The size of a job's inputs, from the stored records (summed over models). */
export interface Work {
  /** Bytes of the models' files. */
  readonly bytes: number;
  /** Parameters of the models. */
  readonly parameters: number;
  /** Samples of the datasets the job reads. */
  readonly samples: number;
}

export const NO_WORK: Work = { bytes: 0, parameters: 0, samples: 0 };

export interface KindLimits<P> {
  /** Option name → largest value accepted (for arrays: largest length). */
  readonly caps?: Readonly<Record<string, number>>;
  /** Wall-clock budget in seconds for this payload and work (before WEIGHTSCOPE_JOB_TIME_FACTOR). */
  seconds(payload: P, work: Work): number;
}

/** Fixed slack of every budget: worker start, reading files, a loaded machine. */
export const BASE_SECONDS = 300;
/** Analysis throughput assumed by budgets (bytes of weights per second). */
export const ANALYSIS_BYTES_PER_S = 2e6;
/** onnxruntime throughput assumed by budgets (flop/s). */
export const FLOPS_PER_S = 2e8;

interface LimitedKind {
  readonly kind: string;
  readonly limits?: KindLimits<never>;
}

/** `kind.option=N,…` → overrides, checked against the kinds' declared caps (an unknown name is a startup error). */
export function parseLimitOverrides(text: string | undefined, kinds: readonly LimitedKind[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([\w-]+)\.(\w+)\s*=\s*(\d+(?:\.\d+)?(?:e\d+)?)$/i.exec(item);
    if (!m) throw new WeightscopeError('invalid-input', `WEIGHTSCOPE_LIMITS: ${JSON.stringify(item)} is not kind.option=N (N ≥ 0)`);
    const [, kind, option, value] = m;
    const caps = kinds.find((k) => k.kind === kind)?.limits?.caps;
    if (!caps || !(option in caps)) {
      const known = kinds.flatMap((k) => Object.keys(k.limits?.caps ?? {}).map((o) => `${k.kind}.${o}`));
      throw new WeightscopeError('invalid-input', `WEIGHTSCOPE_LIMITS: no limit named ${kind}.${option} (known: ${known.join(', ')})`);
    }
    out.set(`${kind}.${option}`, Number(value));
  }
  return out;
}

/** Throws limit-exceeded (422) naming the first option of `payload.options` over its cap. */
export function checkCaps(kind: LimitedKind, payload: unknown, overrides: ReadonlyMap<string, number>): void {
  const caps = kind.limits?.caps;
  const options = (payload as { options?: Record<string, unknown> } | null)?.options;
  if (!caps || !options) return;
  for (const [option, fallback] of Object.entries(caps)) {
    const cap = overrides.get(`${kind.kind}.${option}`) ?? fallback;
    const v = options[option];
    const size = Array.isArray(v) ? v.length : typeof v === 'number' ? v : null;
    if (size !== null && size > cap) {
      const what = Array.isArray(v) ? `options.${option} has ${size} entries, which is` : `options.${option} = ${size} is`;
      throw new ServiceError(
        'limit-exceeded',
        `${what} over this server's limit of ${cap} (raise it with WEIGHTSCOPE_LIMITS=${kind.kind}.${option}=N)`,
        {
          limit: { name: `${kind.kind}.${option}`, value: cap },
        },
      );
    }
  }
}

/** The job's wall-clock limit in seconds: its kind's budget for this work, times `factor`. */
export function timeLimitSeconds(kind: LimitedKind, payload: unknown, work: Work, factor: number): number {
  const seconds = kind.limits ? kind.limits.seconds(payload as never, work) : BASE_SECONDS;
  return Math.max(1e-3, seconds * factor);
}

/** Seconds of onnxruntime work for `flops` floating-point operations, at the assumed rate. */
export const flopSeconds = (flops: number): number => flops / FLOPS_PER_S;

/** Options of the curve kinds (connectivity, repair) that budgets read. */
interface CurveOptions {
  epochs?: number;
  samplesPerEpoch?: number;
  bends?: number;
  ts?: number[];
  polishEpochs?: number;
  polishSamplesPerEpoch?: number;
  polishTries?: number;
  /** repair: reverse-engineered trigger unlearning (share of rows; absent or 0: none). */
  unlearn?: number;
  cleanseSteps?: number;
  verifyTries?: number;
  batchSize?: number;
  baseline?: boolean;
  /** connectivity: robustness along the path (an attack at every t). */
  attack?: AttackCostOptions;
}

/**
 * Training (forward + backward ≈ 6 flop per parameter per sample, per bend), BN statistics and evaluation at
 * each t (forward ≈ 2 flop per parameter per sample, twice), polishing and the fine-tuning baseline.
 */
export function curveSeconds(o: CurveOptions, work: Work): number {
  const perModel = work.parameters / 2;
  const train = (o.epochs ?? 100) * (o.samplesPerEpoch ?? work.samples) * 6 * perModel * (o.bends ?? 3);
  const evaluate = (o.ts?.length ?? 11) * work.samples * 2 * perModel * 2;
  const polish = (o.polishEpochs ?? 0) * (o.polishSamplesPerEpoch ?? work.samples) * (o.polishTries ?? 1) * 6 * perModel;
  const baseline = o.baseline ? train / (o.bends ?? 3) : 0;
  // Trigger reversal: every class of both endpoints, then two restarts per checked point; forward + input gradient
  // ≈ 8 flop per parameter per sample. Classes are unknown before the model is read: budgeted for 10.
  const reversals = (o.unlearn ?? 0) > 0 ? 2 * 10 + 2 * (o.verifyTries ?? 3) : 0;
  const cleanse = reversals * (o.cleanseSteps ?? 300) * (o.batchSize ?? 128) * 8 * perModel;
  const attack = o.attack ? (o.ts?.length ?? 11) * attackFlops(o.attack, perModel, work.samples) : 0;
  return BASE_SECONDS + flopSeconds(train + evaluate + polish + baseline + cleanse + attack);
}

export const CURVE_CAPS = { epochs: 10_000, samplesPerEpoch: 10_000_000, batchSize: 65_536, evalBatchSize: 65_536, ts: 1001 } as const;

/** The work of a job that reads these models and datasets. */
export function workOf(models: readonly { bytes: number; parameters: number }[], datasets: readonly { samples: number }[] = []): Work {
  return {
    bytes: models.reduce((s, m) => s + m.bytes, 0),
    parameters: models.reduce((s, m) => s + m.parameters, 0),
    samples: datasets.reduce((s, d) => s + d.samples, 0),
  };
}

/** Options of an L∞ attack that budgets read (attack kind; connectivity's `attack`). */
interface AttackCostOptions {
  attack?: string;
  steps?: number;
  samples?: number;
  inputHessian?: boolean;
  hessianSamples?: number;
  hessianMaxIter?: number;
}

/**
 * One attacked model: a forward and backward pass per PGD step and sample (≈ 6 flop per parameter), two
 * evaluations, and the input Hessian's Lanczos products (≈ 4 passes per product and sample).
 */
export function attackFlops(o: AttackCostOptions, parameters: number, samples: number): number {
  const n = Math.min(o.samples ?? samples, samples);
  const steps = o.attack === 'fgsm' ? 1 : (o.steps ?? 10);
  const hessian = o.inputHessian === false ? 0 : (o.hessianMaxIter ?? 30) * Math.min(o.hessianSamples ?? 500, n) * 12 * parameters;
  return steps * n * 6 * parameters + 2 * n * 2 * parameters + hessian;
}

/** Options of the surface kind that budgets read. */
interface SurfaceCostOptions {
  epochs?: number;
  samplesPerEpoch?: number;
  degree?: number | number[];
  grid?: number;
  ensemble?: number;
}

/**
 * A surface between `corners` models: training (one point's gradient per sample, plus the update of every control
 * point), the grid's evaluations on every set (and BN statistics), and the ensembles.
 */
export function surfaceSeconds(o: SurfaceCostOptions, work: Work, corners: number): number {
  const perModel = work.parameters / Math.max(corners, 1);
  const [n, m] = Array.isArray(o.degree) ? o.degree : [o.degree ?? 2, o.degree ?? 2];
  const controls = (n + 1) * (m + 1);
  const train = (o.epochs ?? 20) * (o.samplesPerEpoch ?? 10_000) * (6 + controls) * perModel;
  const grid = (o.grid ?? 11) ** 2 * work.samples * 2 * perModel * 2;
  const ensemble = ((o.ensemble ?? 10) + corners) * work.samples * 2 * perModel;
  return BASE_SECONDS + flopSeconds(train + grid + ensemble);
}
