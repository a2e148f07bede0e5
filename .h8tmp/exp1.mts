import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
const { onnx } = onnxProto;
const N = 2048;
const m = onnx.ModelProto.create({
  irVersion: 7, opsetImport: [{ domain: '', version: 14 }],
  graph: {
    name: 'g',
    node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
    input: ['a', 'b'].map((n) => ({ name: n, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: N }, { dimValue: N }] } } } })),
    output: [{ name: 'c', type: { tensorType: { elemType: 1 } } }],
  },
});
const bytes = onnx.ModelProto.encode(m).finish();
const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
const a = new ort.Tensor('float32', new Float32Array(N * N).fill(1), [N, N]);
let ticks = 0;
const iv = setInterval(() => ticks++, 1);
const t0 = performance.now();
for (let i = 0; i < 5; i++) await s.run({ a, b: a });
console.log('ms', performance.now() - t0, 'ticks', ticks);
clearInterval(iv);
for (const ep of ['webgpu', 'cuda', 'bogus']) {
  try {
    const s2 = await ort.InferenceSession.create(bytes, { executionProviders: [ep] });
    const r = await s2.run({ a, b: a });
    console.log(ep, 'OK?!', r.c.data[0]);
  } catch (e) { console.log(ep, 'ERR', String(e).slice(0, 300)); }
}
