/** A small synthetic BatchNorm model for tests: x [N,3,4,4] → BN1 → BN2 → Flatten → Gemm → logits [N,4] (opset 14). */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export const C = 3;
export const HW = 16;
export const K = 4;
export const EPS = 1e-3;

function f32(name: string, dims: number[], v: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dataType: 1, dims, rawData: new Uint8Array(v.slice().buffer) };
}

export function bnModel(p: Record<string, Float32Array>): onnxProto.onnx.ModelProto {
  const bn = (i: number, x: string, y: string) => ({
    opType: 'BatchNormalization',
    name: `bn${i}`,
    input: [x, `bn${i}.weight`, `bn${i}.bias`, `bn${i}.running_mean`, `bn${i}.running_var`],
    output: [y],
    attribute: [
      { name: 'epsilon', type: 1, f: EPS },
      { name: 'momentum', type: 1, f: 0.9 },
    ],
  });
  return onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'bn-net',
      node: [
        bn(1, 'x', 'h1'),
        bn(2, 'h1', 'h2'),
        { opType: 'Flatten', input: ['h2'], output: ['f'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
        { opType: 'Gemm', input: ['f', 'fc.weight', 'fc.bias'], output: ['logits'], attribute: [{ name: 'transB', type: 2, i: 1 }] },
      ],
      input: [
        {
          name: 'x',
          type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: C }, { dimValue: 4 }, { dimValue: 4 }] } } },
        },
      ],
      output: [{ name: 'logits', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: K }] } } } }],
      initializer: [
        f32('bn1.weight', [C], p['bn1.weight']),
        f32('bn1.bias', [C], p['bn1.bias']),
        f32('bn1.running_mean', [C], new Float32Array(C)),
        f32('bn1.running_var', [C], new Float32Array(C).fill(1)),
        f32('bn2.weight', [C], p['bn2.weight']),
        f32('bn2.bias', [C], p['bn2.bias']),
        f32('bn2.running_mean', [C], new Float32Array(C)),
        f32('bn2.running_var', [C], new Float32Array(C).fill(1)),
        f32('fc.weight', [K, C * HW], p['fc.weight']),
        f32('fc.bias', [K], p['fc.bias']),
      ],
    },
  });
}
