// A GEMM in the manner of GotoBLAS/BLIS: op(B) is packed into panels of NR columns and
// op(A) into panels of MR rows (transposes cost nothing: the packing reads either layout),
// and a micro-kernel keeps an MR×NR block of C in registers across the KC-long inner loop.
//   loops: KC slices of k (B slice packed once) → MC blocks of rows (A block packed) →
//          NR panels × MR panels, each one micro-kernel call
// Edges are zero-padded in the packed panels; partial C blocks go through a small buffer.
#include "cgemm.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define MR 6
#define KC 256
#define MC 96     // rows of A per packed block (a multiple of MR): 96·256·4 B = 96 KB, in L2
#define NC 2048   // columns of B per packed slice

static inline int min_int(int a, int b) { return a < b ? a : b; }

// op(A)[i0 + i, p0 + p] for i < mc, p < kc → MR-row panels [panel][p][MR], zero past mc.
static void pack_a(const float *a, int lda, int trans, int i0, int p0, int mc, int kc, float *dst) {
    for (int r = 0; r < mc; r += MR) {
        int rows = min_int(MR, mc - r);
        for (int p = 0; p < kc; p++, dst += MR) {
            for (int i = 0; i < rows; i++)
                dst[i] = trans ? a[(size_t)(p0 + p) * lda + i0 + r + i] : a[(size_t)(i0 + r + i) * lda + p0 + p];
            for (int i = rows; i < MR; i++) dst[i] = 0;
        }
    }
}

// op(B)[p0 + p, j0 + j] for p < kc, j < nc → nr-column panels [panel][p][nr], zero past nc.
static void pack_b(const float *b, int ldb, int trans, int p0, int j0, int kc, int nc, int nr, float *dst) {
    for (int c = 0; c < nc; c += nr) {
        int cols = min_int(nr, nc - c);
        for (int p = 0; p < kc; p++, dst += nr) {
            if (!trans && cols == nr) {
                memcpy(dst, b + (size_t)(p0 + p) * ldb + j0 + c, sizeof(float) * nr);
                continue;
            }
            for (int j = 0; j < cols; j++)
                dst[j] = trans ? b[(size_t)(j0 + c + j) * ldb + p0 + p] : b[(size_t)(p0 + p) * ldb + j0 + c + j];
            for (int j = cols; j < nr; j++) dst[j] = 0;
        }
    }
}

// C block = alpha · acc + beta · C, for the rows × cols that exist (acc is MR × nr).
static void store_block(const float *acc, int nr, float *c, int ldc, float alpha, float beta, int rows, int cols) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float v = alpha * acc[i * nr + j];
            c[(size_t)i * ldc + j] = beta == 0 ? v : v + beta * c[(size_t)i * ldc + j];
        }
}

// Micro-kernels: C[6 × 2V] over kc steps, two vectors of V floats per row, 12 accumulators.
// A's element (i, p) is A[i·rsA + p·csA] and B's row p starts at B + p·rsB: packed panels
// are (1, MR, 2V), and an operand already laid out well is read where it lies.
#define MICRO_KERNEL(NAME, TARGET, VEC, V, LOAD, STORE, SET1, FMA, ZERO, MUL)               \
__attribute__((target(TARGET)))                                                                  \
static void NAME(int kc, const float *A, int rsA, int csA, const float *B, int rsB,              \
                 float *c, int ldc, float alpha, float beta, int rows, int cols) {               \
    VEC c00 = ZERO(), c01 = ZERO(), c10 = ZERO(), c11 = ZERO(), c20 = ZERO(), c21 = ZERO();      \
    VEC c30 = ZERO(), c31 = ZERO(), c40 = ZERO(), c41 = ZERO(), c50 = ZERO(), c51 = ZERO();      \
    /* rows past the last repeat it: read in bounds, never stored */                            \
    const float *a0 = A, *a1 = A + min_int(1, rows - 1) * rsA, *a2 = A + min_int(2, rows - 1) * rsA;                 \
    const float *a3 = A + min_int(3, rows - 1) * rsA, *a4 = A + min_int(4, rows - 1) * rsA, *a5 = A + min_int(5, rows - 1) * rsA; \
    for (int p = 0, q = 0; p < kc; p++, q += csA, B += rsB) {                                    \
        VEC b0 = LOAD(B), b1 = LOAD(B + V), a;                                                   \
        a = SET1(a0[q]); c00 = FMA(a, b0, c00); c01 = FMA(a, b1, c01);                           \
        a = SET1(a1[q]); c10 = FMA(a, b0, c10); c11 = FMA(a, b1, c11);                           \
        a = SET1(a2[q]); c20 = FMA(a, b0, c20); c21 = FMA(a, b1, c21);                           \
        a = SET1(a3[q]); c30 = FMA(a, b0, c30); c31 = FMA(a, b1, c31);                           \
        a = SET1(a4[q]); c40 = FMA(a, b0, c40); c41 = FMA(a, b1, c41);                           \
        a = SET1(a5[q]); c50 = FMA(a, b0, c50); c51 = FMA(a, b1, c51);                           \
    }                                                                                            \
    VEC acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};   \
    if (rows == MR && cols == 2 * V) {                                                           \
        VEC va = SET1(alpha), vb = SET1(beta);                                                   \
        for (int i = 0; i < MR; i++) {                                                           \
            float *ci = c + (size_t)i * ldc;                                                     \
            VEC r0 = MUL(va, acc[i][0]), r1 = MUL(va, acc[i][1]);                                \
            if (beta != 0) { r0 = FMA(vb, LOAD(ci), r0); r1 = FMA(vb, LOAD(ci + V), r1); }       \
            STORE(ci, r0); STORE(ci + V, r1);                                                    \
        }                                                                                        \
    } else {                                                                                     \
        float buf[MR * 2 * V];                                                                   \
        for (int i = 0; i < MR; i++) { STORE(buf + i * 2 * V, acc[i][0]); STORE(buf + i * 2 * V + V, acc[i][1]); } \
        store_block(buf, 2 * V, c, ldc, alpha, beta, rows, cols);                                \
    }                                                                                            \
}

MICRO_KERNEL(kernel_avx2, "avx2,fma", __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_set1_ps,
             _mm256_fmadd_ps, _mm256_setzero_ps, _mm256_mul_ps)
MICRO_KERNEL(kernel_avx512, "avx512f", __m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps,
             _mm512_fmadd_ps, _mm512_setzero_ps, _mm512_mul_ps)

typedef void (*micro_kernel)(int, const float *, int, int, const float *, int, float *, int, float, float, int, int);

static int width = -1;

int evolve_sgemm_width(void) {
    if (width < 0) {
        __builtin_cpu_init();
        width = __builtin_cpu_supports("avx512f") ? 512
              : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 256 : 0;
    }
    return width;
}

int evolve_sgemm_limit_width(int limit) {
    int w = evolve_sgemm_width();
    if (limit < w && limit >= 256 && w > 256) width = 256;
    return width;
}

// Packing buffers, one pair per thread, grown as needed.
static _Thread_local float *buf_a, *buf_b;
static _Thread_local size_t cap_b;

// *buf with room for at least `need` floats (64-byte aligned), reallocated when smaller.
static float *grown(float **buf, size_t *cap, size_t need) {
    if (need > *cap) { free(*buf); *buf = aligned_alloc(64, sizeof(float) * ((need + 15) / 16 * 16)); *cap = need; }
    return *buf;
}

// The packed product of op(A)[m×k] · op(B)[k×n] into C, any layout and size.
static void packed(micro_kernel kernel, int nr, int transA, int transB, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (!buf_a) buf_a = aligned_alloc(64, sizeof(float) * MC * KC);
    size_t need = (size_t)KC * (size_t)((min_int(n, NC) + nr - 1) / nr * nr);
    grown(&buf_b, &cap_b, need);
    for (int jc = 0; jc < n; jc += NC) {
        int nc = min_int(NC, n - jc);
        for (int pc = 0; pc < k; pc += KC) {
            int kc = min_int(KC, k - pc);
            float beta_here = pc == 0 ? beta : 1;   // later slices add to what the first wrote
            pack_b(b, ldb, transB, pc, jc, kc, nc, nr, buf_b);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = min_int(MC, m - ic);
                pack_a(a, lda, transA, ic, pc, mc, kc, buf_a);
                for (int jr = 0; jr < nc; jr += nr) {
                    const float *bp = buf_b + (size_t)jr * kc;
                    for (int ir = 0; ir < mc; ir += MR)
                        kernel(kc, buf_a + (size_t)ir * kc, 1, MR, bp, nr, c + (size_t)(ic + ir) * ldc + jc + jr, ldc,
                               alpha, beta_here, min_int(MR, mc - ir), min_int(nr, nc - jr));
                }
            }
        }
    }
}

// op(A) · B with B row-major (not transposed), over whole nr-column panels: nothing is
// packed, A is broadcast from where it lies (rows or, transposed, columns) and B's rows are
// loaded in place. For the small products of this engine (an expert's ~100 rows) packing
// cost as much as the arithmetic; for larger ones, and B rows far apart (their stride
// aliases in L1), packing wins, so `evolve_sgemm` sends only small, narrow ones here.
static void direct(micro_kernel kernel, int nr, int transA, int m, int n, int k, float alpha,
                   const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    int rsA = transA ? 1 : lda, csA = transA ? lda : 1;
    for (int pc = 0; pc < k; pc += KC) {
        int kc = min_int(KC, k - pc);
        float beta_here = pc == 0 ? beta : 1;
        for (int jr = 0; jr < n; jr += nr)
            for (int ir = 0; ir < m; ir += MR)
                kernel(kc, a + (size_t)ir * rsA + (size_t)pc * csA, rsA, csA, b + (size_t)pc * ldb + jr, ldb,
                       c + (size_t)ir * ldc + jr, ldc, alpha, beta_here, min_int(MR, m - ir), nr);
    }
}

static _Thread_local float *buf_n;
static _Thread_local size_t cap_n;


__attribute__((target("avx2,fma")))
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Products only a few columns wide (a router's scores against 4 experts, their weight
// gradient): a packed micro-kernel would pad every panel to NR columns, 8x the arithmetic
// at 4. Here op(B)'s n columns are copied contiguous (bt[j][p]); each C element is a dot
// product over k, or, with A transposed, C's columns accumulate A's rows (both 8 lanes).
__attribute__((target("avx2,fma")))
static void narrow(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, float *c, int ldc) {
    float *bt = grown(&buf_n, &cap_n, (size_t)n * k + (transA ? (size_t)n * m : 0)), *ct = bt + (size_t)n * k;
    for (int p = 0; p < k; p++)
        for (int j = 0; j < n; j++) bt[(size_t)j * k + p] = transB ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
    if (!transA) {
        for (int i = 0; i < m; i++) {
            const float *ai = a + (size_t)i * lda;
            for (int j = 0; j < n; j++) {
                const float *bj = bt + (size_t)j * k;
                __m256 acc = _mm256_setzero_ps();
                int p = 0;
                for (; p + 8 <= k; p += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(ai + p), _mm256_loadu_ps(bj + p), acc);
                float v = hsum8(acc);
                for (; p < k; p++) v += ai[p] * bj[p];
                float *cij = c + (size_t)i * ldc + j;
                *cij = beta == 0 ? alpha * v : alpha * v + beta * *cij;
            }
        }
        return;
    }
    // op(A)[i, p] = a[p·lda + i]: ct[j][i] = Σ_p a[p, i] · bt[j][p], row p of a at a time.
    memset(ct, 0, sizeof(float) * (size_t)n * m);
    for (int p = 0; p < k; p++) {
        const float *ap = a + (size_t)p * lda;
        for (int j = 0; j < n; j++) {
            float *cj = ct + (size_t)j * m;
            __m256 bv = _mm256_set1_ps(bt[(size_t)j * k + p]);
            int i = 0;
            for (; i + 8 <= m; i += 8) _mm256_storeu_ps(cj + i, _mm256_fmadd_ps(_mm256_loadu_ps(ap + i), bv, _mm256_loadu_ps(cj + i)));
            for (; i < m; i++) cj[i] += ap[i] * bt[(size_t)j * k + p];
        }
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j, v = ct[(size_t)j * m + i];
            *cij = beta == 0 ? alpha * v : alpha * v + beta * *cij;
        }
}

void evolve_sgemm(int transA, int transB, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * c[(size_t)i * ldc + j];
        return;
    }
    if (n <= 8) return narrow(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    int wide = evolve_sgemm_width() == 512;
    int nr = wide ? 32 : 16;
    micro_kernel kernel = wide ? kernel_avx512 : kernel_avx2;
    // Small and narrow: B's rows in place (measured on the engine's shapes: an expert's
    // 96×128·128×64 runs ~1.5x faster so; 384×128·128×512 ~1.3x slower).
    int small = !transB && n <= 128 && k <= KC && (size_t)m * n * k <= ((size_t)1 << 21);
    if (!small) return packed(kernel, nr, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    int nf = n - n % nr;   // whole panels in place, the last n % nr columns packed
    if (nf > 0) direct(kernel, nr, transA, m, nf, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (nf < n) packed(kernel, nr, transA, 0, m, n - nf, k, alpha, a, lda, b + nf, ldb, beta, c + nf, ldc);
}
