/**
 * RoPE inverse frequencies as transformers' modeling_rope_utils computes them, in float32 step by step (each
 * Math.fround is one float32 tensor op there): default 1/θ^(2i/d); `linear` divides them by the factor; `llama3`
 * (Llama 3.1) keeps high frequencies, divides low ones by the factor and blends in between.
 */
import type { RopeScaling } from './config.js';

const r = Math.fround;

/** inv_freq [dim/2] for head width `dim`, base `theta` and the scaling of the config. */
export function inverseFrequencies(dim: number, theta: number, scaling: RopeScaling): Float32Array {
  const half = dim / 2;
  const inv = new Float32Array(half);
  // 1.0 / (base ** (arange(0, dim, 2).float() / dim))
  for (let i = 0; i < half; i++) inv[i] = r(1 / r(Math.pow(r(theta), r((2 * i) / dim))));
  if (scaling.type === 'linear') {
    for (let i = 0; i < half; i++) inv[i] = r(inv[i] / r(scaling.factor));
  } else if (scaling.type === 'llama3') {
    const { factor, lowFreqFactor: low, highFreqFactor: high, originalMax: old } = scaling;
    const lowWavelen = old / low;
    const highWavelen = old / high;
    for (let i = 0; i < half; i++) {
      const wavelen = r(r(1 / inv[i]) * r(2 * Math.PI)); // python scalar / tensor = reciprocal · scalar
      let v = wavelen > lowWavelen ? r(inv[i] / r(factor)) : inv[i];
      const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      if (medium) {
        const smooth = r(r(r(r(1 / wavelen) * r(old)) - r(low)) / r(high - low));
        v = r(r(r(r(1 - smooth) * v) / r(factor)) + r(smooth * v));
      }
      inv[i] = v;
    }
  }
  return inv;
}
