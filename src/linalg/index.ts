/** Dense linear algebra for spectra: Gram matrices, symmetric eigenvalues (LAPACK or pure TS), a worker pool. */
export { gram, gramTs, type GramBackend, type GramResult } from './gram.js';
export { symmetricEigenvalues, matrixEigenvalues, resolveBackend, type EigenBackend, type EigenOptions } from './eigen.js';
export { eigenvaluesTs, tridiagonalize, tridiagonalEigenvalues } from './eigh-ts.js';
export { lapackAvailable, lapackUnavailableReason, lapackStatus, setBlasThreads, getBlasThreads } from './lapack.js';
export { EigenPool, type EigenPoolOptions, type EigenRunOptions } from './pool.js';
