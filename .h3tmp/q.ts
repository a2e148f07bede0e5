import { gram, gramTs } from '../src/linalg/gram.js';
import { symmetricEigenvalues, matrixEigenvalues } from '../src/linalg/eigen.js';
import { lapackStatus } from '../src/linalg/lapack.js';
console.log(lapackStatus());
let seed = 1; const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 - 0.5; };
for (const [r, c] of [[300, 100], [100, 301], [7, 5], [5, 7], [1, 9], [9, 1]]) {
  const W = Float64Array.from({ length: r * c }, rnd);
  const a = gram(W, r, c, { backend: 'blas' }).G, b = gramTs(W, r, c).G;
  let md = 0; for (let i = 0; i < a.length; i++) md = Math.max(md, Math.abs(a[i] - b[i]));
  const l1 = matrixEigenvalues(W, r, c, { backend: 'lapack' }), l2 = matrixEigenvalues(W, r, c, { backend: 'ts' });
  let me = 0; for (let i = 0; i < l1.length; i++) me = Math.max(me, Math.abs(l1[i] - l2[i]));
  console.log(r, c, 'gram diff', md, 'eig diff', me / l1[l1.length - 1], l1.slice(0, 2), l1.slice(-1));
}
for (const n of [512, 1024]) {
  const W = Float64Array.from({ length: n * n }, rnd);
  const G = gram(W, n, n).G;
  let t = performance.now(); const a = symmetricEigenvalues(G, n, { backend: 'lapack' }); const tl = performance.now() - t;
  t = performance.now(); const b = symmetricEigenvalues(G, n, { backend: 'ts' }); const tt = performance.now() - t;
  let me = 0; for (let i = 0; i < n; i++) me = Math.max(me, Math.abs(a[i] - b[i]));
  console.log(n, 'lapack', tl.toFixed(0), 'ts', tt.toFixed(0), 'rel', me / a[n - 1]);
}
