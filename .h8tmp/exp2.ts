import onnxProto from 'onnx-proto';
import { getSession, sessionsBuilt } from '../src/runtime/session.js';
const { onnx } = onnxProto;
const N = 1024;
const m = onnx.ModelProto.create({
  irVersion: 7, opsetImport: [{ domain: '', version: 14 }],
  graph: {
    name: 'g',
    node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }],
    input: ['a', 'b'].map((n) => ({ name: n, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: N }, { dimValue: N }] } } } })),
    output: [{ name: 'c', type: { tensorType: { elemType: 1 } } }],
  },
});
const s = await getSession(m);
const a = { type: 'float32' as const, data: new Float32Array(N * N).fill(1), dims: [N, N] };
let ticks = 0;
const iv = setInterval(() => ticks++, 1);
const t0 = performance.now();
for (let i = 0; i < 5; i++) { const r = await s.run({ a, b: a }); if (i === 0) console.log(r.c.data[0]); }
console.log('ms', performance.now() - t0, 'ticks', ticks);
clearInterval(iv);
await getSession(m);
console.log('built', sessionsBuilt());
for (const d of ['webgpu', 'cuda'] as const) {
  try { await getSession(m, { device: d }); console.log(d, 'ok?'); } catch (e) { console.log(d, (e as any).code, (e as Error).message); }
}
try { await s.run({ a }); } catch (e) { console.log((e as any).code, (e as Error).message); }
try { await s.run({ a, b: { ...a, dims: [N, 2, N / 2] } }); } catch (e) { console.log((e as any).code, (e as Error).message); }
