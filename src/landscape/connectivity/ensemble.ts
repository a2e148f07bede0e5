/**
 * Output ensembling (MCSurface's "output ensembling", Garipov et al.'s FGE): the members' softmax probabilities
 * averaged per sample; accuracy of the argmax (ties to the first class, as torch.argmax) and the mean negative log
 * of the averaged probability of the true class. Float64 throughout.
 */
import { WeightscopeError } from '../../errors.js';

export interface EnsembleMetrics {
  readonly loss: number;
  readonly accuracy: number;
  readonly members: number;
  readonly n: number;
}

/** Accumulates members' softmax rows; `metrics` scores the average against labels. */
export class SoftmaxAverage {
  private readonly sum: Float64Array;
  private count = 0;

  constructor(
    readonly n: number,
    readonly classes: number,
  ) {
    if (!(Number.isInteger(n) && n > 0 && Number.isInteger(classes) && classes > 0))
      throw new WeightscopeError('invalid-input', `an ensemble needs n > 0 samples and classes > 0, got ${n} × ${classes}`);
    this.sum = new Float64Array(n * classes);
  }

  /** Adds one member's logits [n, classes]. */
  add(logits: Float32Array): void {
    const c = this.classes;
    if (logits.length !== this.n * c)
      throw new WeightscopeError('shape-mismatch', `ensemble member has ${logits.length} logits, expected ${this.n} × ${c}`);
    for (let i = 0; i < this.n; i++) {
      const off = i * c;
      let max = -Infinity;
      for (let j = 0; j < c; j++) max = Math.max(max, logits[off + j]);
      let z = 0;
      for (let j = 0; j < c; j++) z += Math.exp(logits[off + j] - max);
      for (let j = 0; j < c; j++) this.sum[off + j] += Math.exp(logits[off + j] - max) / z;
    }
    this.count++;
  }

  metrics(y: BigInt64Array): EnsembleMetrics {
    if (this.count === 0) throw new WeightscopeError('invalid-input', 'an ensemble needs at least one member');
    if (y.length !== this.n) throw new WeightscopeError('shape-mismatch', `${y.length} labels for ${this.n} samples`);
    const c = this.classes;
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < this.n; i++) {
      const off = i * c;
      const target = Number(y[i]);
      if (!(target >= 0 && target < c))
        throw new WeightscopeError('invalid-input', `label y[${i}] = ${y[i]} is outside the model's ${c} classes`);
      let arg = 0;
      for (let j = 1; j < c; j++) if (this.sum[off + j] > this.sum[off + arg]) arg = j;
      if (arg === target) correct++;
      loss -= Math.log(Math.max(this.sum[off + target] / this.count, Number.MIN_VALUE));
    }
    return { loss: loss / this.n, accuracy: correct / this.n, members: this.count, n: this.n };
  }
}
