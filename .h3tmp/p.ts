import { EigenPool } from '../src/linalg/pool.js';
import { matrixEigenvalues } from '../src/linalg/eigen.js';
const pool = new EigenPool({ size: 2 });
const W = Float64Array.from({ length: 60 * 40 }, (_, i) => Math.sin(i * 1.7));
const ref = matrixEigenvalues(W, 60, 40);
const r = await pool.run(W.slice(), 60, 40);
console.log(ref.every((v, i) => v === r[i]), r.length);
await pool.close();
