// GELU forward and backward in AVX-512 registers, 16 lanes (the Swift loops are compiled for
// AVX2's 8): the same formulas as FastMath.swift's fastExp and fastErf and Unary.swift's
// GELU, term for term, so the two differ only by float32 rounding.
#include <immintrin.h>
#include "cgemm.h"

// e^x: Cephes expf, 2^n · p(r) with |r| ≤ ln2/2; 0 below -87.3.
__attribute__((target("avx512f")))
static inline __m512 exp16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72284f));
    __m512 shifted = _mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(12582912.f));
    __m512 n = _mm512_sub_ps(shifted, _mm512_set1_ps(12582912.f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1.f));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(shifted),
                                                                        _mm512_set1_epi32(0x4B400000)),
                                                       _mm512_set1_epi32(127)), 23);
    __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_NLT_UQ), y);
}

// erf(x), Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7).
__attribute__((target("avx512f")))
static inline __m512 erf16(__m512 x) {
    __m512 sign = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000)));
    __m512 a = _mm512_abs_ps(x);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), a, _mm512_set1_ps(1.f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmsub_ps(p, t, _mm512_set1_ps(1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmsub_ps(p, t, _mm512_set1_ps(0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    __m512 e = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
    __m512 y = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, _mm512_set1_ps(1.f));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), _mm512_castps_si512(sign)));
}

__attribute__((target("avx512f")))
void evolve_gelu_forward(const float *x, float *y, long n) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.f), s = _mm512_set1_ps(0.7071067811865476f);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 r = _mm512_mul_ps(_mm512_mul_ps(v, _mm512_add_ps(one, erf16(_mm512_mul_ps(v, s)))), half);
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

// dx = dy · (Φ(x) + x·φ(x)), or dx += that.
__attribute__((target("avx512f")))
void evolve_gelu_backward(const float *x, const float *dy, float *dx, long n, int accumulate) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.f), s = _mm512_set1_ps(0.7071067811865476f);
    const __m512 c = _mm512_set1_ps(0.3989422804014327f), mhalf = _mm512_set1_ps(-0.5f);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512 cdf = _mm512_mul_ps(_mm512_add_ps(one, erf16(_mm512_mul_ps(v, s))), half);
        __m512 pdf = _mm512_mul_ps(_mm512_mul_ps(v, exp16(_mm512_mul_ps(_mm512_mul_ps(v, v), mhalf))), c);
        __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), _mm512_add_ps(cdf, pdf));
        if (accumulate) g = _mm512_add_ps(g, _mm512_maskz_loadu_ps(m, dx + i));
        _mm512_mask_storeu_ps(dx + i, m, g);
    }
}

int evolve_gelu_wide(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
