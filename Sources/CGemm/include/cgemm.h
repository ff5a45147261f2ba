// evolve's own single-precision GEMM: a packed, register-blocked kernel (AVX2+FMA, or
// AVX-512 where the CPU has it), used in place of OpenBLAS when it is clearly faster on
// this machine (OpenBLAS falls back to a generic SSE kernel on CPUs newer than its build).
#pragma once

// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major, as cblas_sgemm.
// beta = 0 never reads C.
void evolve_sgemm(int transA, int transB, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc);

// The vector width the kernel uses on this CPU: 512, 256, or 0 when it has neither
// AVX-512F nor AVX2+FMA (evolve_sgemm must not be called then).
int evolve_sgemm_width(void);

// Uses at most `limit` bits (256: the AVX2 kernel even where AVX-512 exists), for tests
// of both kernels on one machine; returns the width now used.
int evolve_sgemm_limit_width(int limit);

// c[m×n] = (accumulate ? c : 0) + Σ_k A(i, k)·b[k, ·] with A(i, k) = a[i·ai + k·ak], for m a
// multiple of 4 (attention's padded blocks), in AVX-512: only where evolve_sgemm_width() is 512.
void evolve_tile_product(int m, int n, int k, const float *a, long ai, long ak,
                         const float *b, long ldb, float *c, long ldc, int accumulate);

// C = alpha · op(A) · op(B) + beta · C as evolve_sgemm, with op(A) and op(B) rounded to
// bfloat16 and multiplied in pairs along k, accumulating in float32: on AMX tiles, or with
// AVX512-BF16's dot products. Only where evolve_bgemm_kind() > 0.
void evolve_bgemm(int transA, int transB, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc);
// What multiplies bfloat16 here: 2 AMX tiles, 1 AVX512-BF16, 0 neither (asking Linux for
// the tile state once per process).
int evolve_bgemm_kind(void);
// evolve_bgemm on kernel 2 or 1 (at most evolve_bgemm_kind(); any other aborts): tests of both on one machine.
void evolve_bgemm_on(int kernel, int transA, int transB, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb,
                     float beta, float *c, int ldc);

// dst[rows×cols] (contiguous) = src's rows × cols (row stride ld), each rounded to the
// nearest bfloat16 as evolve_bgemm rounds (denormals to zero, as its conversion does): the
// same products on a CPU with neither AMX nor AVX512-BF16.
void evolve_round_bf16(const float *src, int rows, int cols, int ld, float *dst);

// GELU's y = x·(1 + erf(x/√2))/2 and dx (+)= dy·(Φ(x) + x·φ(x)) over n floats, 16 lanes at a
// time, in AVX-512 (only where evolve_gelu_wide()): the Swift kernel's formulas.
void evolve_gelu_forward(const float *x, float *y, long n);
void evolve_gelu_backward(const float *x, const float *dy, float *dx, long n, int accumulate);
// Whether the CPU has AVX-512F for the two above (whatever width the GEMM was limited to).
int evolve_gelu_wide(void);
