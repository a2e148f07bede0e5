import { lapackStatus, getBlasThreads } from '../src/linalg/lapack.js';
import { matrixEigenvalues } from '../src/linalg/eigen.js';
import { nativeLinalg } from '../src/linalg/native.js';
console.log(lapackStatus(), 'dsyrk', !!nativeLinalg()?.dsyrk, 'threads', getBlasThreads());
const W = Float64Array.from({ length: 30 * 20 }, (_, i) => Math.cos(i));
const a = matrixEigenvalues(W, 30, 20, { backend: 'lapack' }), b = matrixEigenvalues(W, 30, 20, { backend: 'ts' });
console.log(Math.max(...a.map((v, i) => Math.abs(v - b[i]))));
