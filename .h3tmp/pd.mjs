import { EigenPool } from './dist/linalg/pool.js';
import { matrixEigenvalues } from './dist/linalg/eigen.js';
const pool = new EigenPool({ size: 2 });
const W = Float64Array.from({ length: 60 * 40 }, (_, i) => Math.sin(i * 1.7));
const ref = matrixEigenvalues(W, 60, 40);
const r = await Promise.all([pool.run(W.slice(), 60, 40), pool.run(W.slice(), 60, 40, {copy:true}), pool.run(W.slice(), 60, 40)]);
console.log(r.every(x => ref.every((v, i) => v === x[i])));
await pool.close();
