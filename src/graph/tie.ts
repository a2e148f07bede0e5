/**
 * Tied weights. Exporters constant-fold a tied weight's transpose into a second initializer (GPT-2's lm_head reads
 * wteᵀ as `onnx::MatMul_N`), so a gradient would split between two tensors. Exact copies (same values, or the exact
 * transpose of a 2-D tensor) are re-tied: the copy becomes Transpose(source) / Identity(source).
 */
import { DT, makeAttrs, tensorDims, tensorValues, type Graph } from './ir.js';

export interface TiedWeight {
  /** The initializer that was removed. */
  copy: string;
  /** The parameter it now reads. */
  source: string;
  transposed: boolean;
}

/** Small or constant tensors (zero biases, unit LayerNorm gains) are equal by coincidence, not by tying. */
const MIN_TIE_NUMEL = 256;

function isConstant(v: Float64Array): boolean {
  for (let i = 1; i < v.length; i++) if (v[i] !== v[0]) return false;
  return true;
}

function equalValues(a: Float64Array, b: Float64Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isTranspose(a: Float64Array, b: Float64Array, rows: number, cols: number): boolean {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if (a[i * cols + j] !== b[j * rows + i]) return false;
  return true;
}

/** Exporter-generated names (`onnx::MatMul_572`) are copies; named model weights are sources. */
const looksGenerated = (name: string): boolean => name.startsWith('onnx::') || /^(Constant|const)_?\d/.test(name);

/** Find exact copies among float initializers (candidates restricted to `names` when given); rewrite g in place. */
export function retieWeights(g: Graph, names?: ReadonlySet<string>): TiedWeight[] {
  const cands: { name: string; dims: number[]; v: Float64Array }[] = [];
  for (const [name, t] of g.initializers) {
    if (names && !names.has(name)) continue;
    if (t.dataType !== DT.FLOAT && t.dataType !== DT.DOUBLE) continue;
    const dims = tensorDims(t);
    const n = dims.reduce((p, q) => p * q, 1);
    if (n < MIN_TIE_NUMEL) continue;
    const v = tensorValues(t);
    if (!v || isConstant(v)) continue;
    cands.push({ name, dims, v });
  }
  const tied: TiedWeight[] = [];
  const removed = new Set<string>();
  for (let i = 0; i < cands.length; i++) {
    for (let j = i + 1; j < cands.length; j++) {
      const [a, c] = [cands[i], cands[j]];
      if (removed.has(a.name) || removed.has(c.name) || a.v.length !== c.v.length) continue;
      let transposed: boolean;
      if (a.dims.join() === c.dims.join() && equalValues(a.v, c.v)) transposed = false;
      else if (
        a.dims.length === 2 &&
        c.dims.length === 2 &&
        a.dims[0] === c.dims[1] &&
        a.dims[1] === c.dims[0] &&
        isTranspose(a.v, c.v, a.dims[0], a.dims[1])
      )
        transposed = true;
      else continue;
      // Source: the non-generated name; otherwise the one listed first.
      const [src, copy] = looksGenerated(a.name) && !looksGenerated(c.name) ? [c, a] : [a, c];
      removed.add(copy.name);
      tied.push({ copy: copy.name, source: src.name, transposed });
    }
  }
  const front = tied.map((t, k) => ({
    name: `ws_tie/${k}`,
    opType: t.transposed ? 'Transpose' : 'Identity',
    domain: '',
    inputs: [t.source],
    outputs: [t.copy],
    attrs: makeAttrs(t.transposed ? { perm: [1, 0] } : {}),
  }));
  for (const t of tied) g.initializers.delete(t.copy);
  g.nodes = [...front, ...g.nodes];
  return tied;
}
