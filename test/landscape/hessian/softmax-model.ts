/** A softmax-regression ONNX model (one Gemm: logits = x·Wᵀ + b), built with onnx-proto, and its float64 math. */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export function softmaxRegression(W: Float32Array, b: Float32Array, c: number, d: number): onnxProto.onnx.ModelProto {
  const dim = (v: number | string) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v });
  const vi = (name: string, dims: (number | string)[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map(dim) } } } });
  return onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'softmax-regression',
      node: [{ opType: 'Gemm', input: ['input', 'W', 'b'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] }],
      input: [vi('input', ['batch', d])],
      output: [vi('logits', ['batch', c])],
      initializer: [
        { name: 'W', dataType: 1, dims: [c, d], rawData: new Uint8Array(W.slice().buffer) },
        { name: 'b', dataType: 1, dims: [c], rawData: new Uint8Array(b.slice().buffer) },
      ],
    },
  });
}

/** Softmax rows of X·Wᵀ + b in float64. */
export function softmaxRows(
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  x: ArrayLike<number>,
  n: number,
  c: number,
  d: number,
): Float64Array {
  const p = new Float64Array(n * c);
  for (let s = 0; s < n; s++) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) {
      let z = b[k];
      for (let i = 0; i < d; i++) z += W[k * d + i] * x[s * d + i];
      p[s * c + k] = z;
      m = Math.max(m, z);
    }
    let Z = 0;
    for (let k = 0; k < c; k++) Z += p[s * c + k] = Math.exp(p[s * c + k] - m);
    for (let k = 0; k < c; k++) p[s * c + k] /= Z;
  }
  return p;
}
