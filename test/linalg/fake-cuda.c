/*
 * A stand-in for libcudart / libcublas / libcusolver with the same C signatures and semantics (column-major BLAS
 * conventions, only the `uplo` triangle written by dsyrk and read by syevd), computing on the CPU, so that
 * src/linalg/cuda.ts can be tested on machines without a GPU (test/linalg/cuda.test.ts compiles it with gcc).
 * "Device" memory is host memory filled with NaN bytes, so reading a triangle nobody wrote shows up as NaN.
 * Environment knobs: FAKE_CUDA_DEVICES=0 (no device), FAKE_CUDA_SYEVD_INFO=k (syevd reports info k),
 * FAKE_CUDA_MALLOC_LIMIT=bytes (larger cudaMalloc fails with cudaErrorMemoryAllocation).
 * Build with -DLEGACY_ONLY to leave out the 64-bit generic cusolverDnXsyevd API.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long env_long(const char *name, long dflt) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* ---- cudart ---- */
int cudaGetDeviceCount(int *count) {
  *count = (int)env_long("FAKE_CUDA_DEVICES", 1);
  return *count > 0 ? 0 : 100; /* cudaErrorNoDevice */
}
const char *cudaGetErrorName(int err) {
  switch (err) {
    case 2: return "cudaErrorMemoryAllocation";
    case 100: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
  }
}
int cudaGetDeviceProperties_v2(void *prop, int device) {
  (void)device;
  strcpy((char *)prop, "Fake GPU (test/linalg/fake-cuda.c)");
  return 0;
}
int cudaMalloc(void **ptr, size_t size) {
  long limit = env_long("FAKE_CUDA_MALLOC_LIMIT", -1);
  if (limit >= 0 && (long)size > limit) return 2;
  *ptr = malloc(size);
  if (!*ptr) return 2;
  memset(*ptr, 0xff, size); /* NaN doubles */
  return 0;
}
int cudaFree(void *ptr) {
  free(ptr);
  return 0;
}
int cudaMemcpy(void *dst, const void *src, size_t count, int kind) {
  if (kind != 1 && kind != 2) return 21; /* cudaErrorInvalidMemcpyDirection */
  memcpy(dst, src, count);
  return 0;
}
int cudaMemGetInfo(size_t *free_bytes, size_t *total) {
  *free_bytes = 1u << 30;
  *total = 2u << 30;
  return 0;
}

/* ---- cuBLAS ---- */
int cublasCreate_v2(void **handle) {
  *handle = malloc(1);
  return 0;
}
int cublasDestroy_v2(void *handle) {
  free(handle);
  return 0;
}
/* C := alpha·op(A)·op(A)ᵀ + beta·C on the uplo triangle; op(A) is n×k: A itself (trans 0, lda ≥ n) or Aᵀ (trans 1,
 * A is k×n, lda ≥ k). Column-major. */
int cublasDsyrk_v2(void *h, int uplo, int trans, int n, int k, const double *alpha, const double *A, int lda,
                   const double *beta, double *C, int ldc) {
  (void)h;
  if (n < 0 || k < 0 || ldc < n || lda < (trans ? k : n) || (uplo != 0 && uplo != 1) || (trans != 0 && trans != 1)) return 7;
  for (int j = 0; j < n; j++) {
    int i0 = uplo == 0 ? j : 0, i1 = uplo == 0 ? n : j + 1;
    for (int i = i0; i < i1; i++) {
      double s = 0;
      for (int l = 0; l < k; l++) {
        double a = trans ? A[l + (size_t)i * lda] : A[i + (size_t)l * lda];
        double b = trans ? A[l + (size_t)j * lda] : A[j + (size_t)l * lda];
        s += a * b;
      }
      double *c = &C[i + (size_t)j * ldc];
      *c = (*beta == 0 ? 0 : *beta * *c) + *alpha * s;
    }
  }
  return 0;
}

/* ---- cuSOLVER ---- */
int cusolverDnCreate(void **handle) {
  *handle = malloc(1);
  return 0;
}
int cusolverDnDestroy(void *handle) {
  free(handle);
  return 0;
}

/* Eigenvalues (ascending) of the symmetric matrix whose uplo triangle is in A (column-major), by cyclic Jacobi. */
static int jacobi_eigenvalues(int uplo, int n, double *A, int lda, double *W, int *info) {
  if (n < 0 || lda < n || (uplo != 0 && uplo != 1)) return 3;
  double *S = malloc(sizeof(double) * (size_t)n * n + 1);
  for (int j = 0; j < n; j++)
    for (int i = 0; i < n; i++) {
      int lower = i >= j;
      double v = (lower == (uplo == 0)) || i == j ? A[i + (size_t)j * lda] : A[j + (size_t)i * lda];
      S[i + (size_t)j * n] = v;
    }
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0;
    for (int j = 0; j < n; j++)
      for (int i = 0; i < j; i++) off += S[i + (size_t)j * n] * S[i + (size_t)j * n];
    if (off < 1e-30) break;
    for (int p = 0; p < n; p++)
      for (int q = p + 1; q < n; q++) {
        double apq = S[p + (size_t)q * n];
        if (apq == 0) continue;
        double theta = (S[q + (size_t)q * n] - S[p + (size_t)p * n]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int r = 0; r < n; r++) { /* columns p, q */
          double xp = S[r + (size_t)p * n], xq = S[r + (size_t)q * n];
          S[r + (size_t)p * n] = c * xp - s * xq;
          S[r + (size_t)q * n] = s * xp + c * xq;
        }
        for (int r = 0; r < n; r++) { /* rows p, q */
          double xp = S[p + (size_t)r * n], xq = S[q + (size_t)r * n];
          S[p + (size_t)r * n] = c * xp - s * xq;
          S[q + (size_t)r * n] = s * xp + c * xq;
        }
      }
  }
  for (int i = 0; i < n; i++) W[i] = S[i + (size_t)i * n];
  for (int i = 1; i < n; i++) /* insertion sort, ascending */
    for (int j = i; j > 0 && W[j - 1] > W[j]; j--) {
      double t = W[j];
      W[j] = W[j - 1];
      W[j - 1] = t;
    }
  free(S);
  for (int j = 0; j < n; j++)
    for (int i = 0; i < n; i++) A[i + (size_t)j * lda] = NAN; /* syevd destroys A */
  *info = (int)env_long("FAKE_CUDA_SYEVD_INFO", 0);
  return 0;
}

int cusolverDnDsyevd_bufferSize(void *h, int jobz, int uplo, int n, const double *A, int lda, const double *W, int *lwork) {
  (void)h; (void)A; (void)W; (void)uplo;
  if (jobz != 0 || lda < n) return 3;
  *lwork = 2 * n + 1;
  return 0;
}
int cusolverDnDsyevd(void *h, int jobz, int uplo, int n, double *A, int lda, double *W, double *work, int lwork, int *info) {
  (void)h; (void)work;
  if (jobz != 0 || lwork < 2 * n + 1) return 3;
  return jacobi_eigenvalues(uplo, n, A, lda, W, info);
}

#ifndef LEGACY_ONLY
int cusolverDnCreateParams(void **params) {
  *params = malloc(1);
  return 0;
}
int cusolverDnDestroyParams(void *params) {
  free(params);
  return 0;
}
int cusolverDnXsyevd_bufferSize(void *h, void *params, int jobz, int uplo, int64_t n, int typeA, const void *A, int64_t lda,
                                int typeW, const void *W, int computeType, size_t *devBytes, size_t *hostBytes) {
  (void)h; (void)params; (void)uplo; (void)A; (void)W;
  if (jobz != 0 || lda < n || typeA != 1 || typeW != 1 || computeType != 1) return 3;
  *devBytes = 8 * (size_t)(2 * n + 1);
  *hostBytes = 64;
  return 0;
}
int cusolverDnXsyevd(void *h, void *params, int jobz, int uplo, int64_t n, int typeA, void *A, int64_t lda, int typeW,
                     void *W, int computeType, void *bufDev, size_t devBytes, void *bufHost, size_t hostBytes, int *info) {
  (void)h; (void)params; (void)bufDev; (void)bufHost;
  if (jobz != 0 || typeA != 1 || typeW != 1 || computeType != 1) return 3;
  if (devBytes < 8 * (size_t)(2 * n + 1) || hostBytes < 64) return 3;
  return jacobi_eigenvalues(uplo, (int)n, (double *)A, (int)lda, (double *)W, info);
}
#endif
