// Attention's block products in AVX-512 registers (tileProduct in Sources/Tensor/TileProduct.swift
// describes the contract; CPUs without AVX-512 run that Swift form, 8 floats wide).
#include <immintrin.h>
#include <stddef.h>
#include "cgemm.h"

// Four rows by NV vectors of 16 columns (the last one masked to `tail` columns).
#define TILE(NAME, NV)                                                                           \
__attribute__((target("avx512f")))                                                               \
static void NAME(int k, const float *a, long ai, long ak, const float *b, long ldb,              \
                 float *c, long ldc, int accumulate, __mmask16 tail) {                           \
    __m512 acc[4][NV];                                                                           \
    for (int r = 0; r < 4; r++)                                                                  \
        for (int v = 0; v < NV; v++) {                                                           \
            __mmask16 m = v == NV - 1 ? tail : 0xFFFF;                                           \
            acc[r][v] = accumulate ? _mm512_maskz_loadu_ps(m, c + r * ldc + 16 * v) : _mm512_setzero_ps(); \
        }                                                                                        \
    for (int p = 0; p < k; p++, a += ak, b += ldb) {                                             \
        __m512 bv[NV];                                                                           \
        for (int v = 0; v < NV; v++) bv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xFFFF, b + 16 * v); \
        for (int r = 0; r < 4; r++) {                                                            \
            __m512 av = _mm512_set1_ps(a[r * ai]);                                               \
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);      \
        }                                                                                        \
    }                                                                                            \
    for (int r = 0; r < 4; r++)                                                                  \
        for (int v = 0; v < NV; v++)                                                             \
            _mm512_mask_storeu_ps(c + r * ldc + 16 * v, v == NV - 1 ? tail : 0xFFFF, acc[r][v]); \
}

TILE(tile4x32, 2)
TILE(tile4x16, 1)

void evolve_tile_product(int m, int n, int k, const float *a, long ai, long ak,
                         const float *b, long ldb, float *c, long ldc, int accumulate) {
    for (int i = 0; i < m; i += 4) {
        const float *ar = a + i * ai;
        float *cr = c + i * ldc;
        int j = 0;
        for (; j + 32 <= n; j += 32) tile4x32(k, ar, ai, ak, b + j, ldb, cr + j, ldc, accumulate, 0xFFFF);
        if (j < n) {
            int left = n - j;
            __mmask16 tail = (__mmask16)((1u << (left > 16 ? left - 16 : left)) - 1);
            if (left > 16) tile4x32(k, ar, ai, ak, b + j, ldb, cr + j, ldc, accumulate, tail);
            else tile4x16(k, ar, ai, ak, b + j, ldb, cr + j, ldc, accumulate, left == 16 ? 0xFFFF : tail);
        }
    }
}
