// bf16 products with float32 accumulation: the operands are rounded to bfloat16 (nearest
// even) while they are packed, multiplied in pairs along k and accumulated in float32; C
// stays float32. Two kernels read the same panels:
//   - Intel AMX tiles (Sapphire Rapids and later): a TDPBF16PS does 16×16×32 multiply-adds,
//     ~8x what the AVX-512 FMA kernel does per cycle, so packing, not arithmetic, costs here.
//   - AVX512-BF16 without AMX (AMD Zen 4): a VDPBF16PS does 16 lanes × 2 multiply-adds, twice
//     an FMA's work at the same rate (measured on Zen 4: 1 a cycle each).
//
// Layouts (one 32×32 block of C is four 16×16 float tiles, tmm0–3):
//   A panel, 32 rows of op(A):   [k/32][32 rows][32 k]            (a tile = 16 rows × 64 bytes)
//   B panel, 32 columns of op(B): [k/32][16 pairs of k][32 cols][2] (VNNI: rows k and k+1 side by side)
// k is zero-padded to a multiple of 32, rows and columns to 32; partial blocks of C go
// through a buffer.
#include "cgemm.h"
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

#define NB 2048   // columns of op(B) packed at once

static inline int min_i(int a, int b) { return a < b ? a : b; }

static int kind = -1;

// 2 with AMX-TILE, AMX-BF16 and AVX512-BF16 in CPUID and the kernel's permission to use the
// tile state (Linux 5.16+: a process asks once; every thread may then configure tiles); else
// 1 with AVX512-BF16 (and AVX512-BW, which packing uses); else 0.
int evolve_bgemm_kind(void) {
    if (kind >= 0) return kind;
    unsigned a, b, c, d, a1 = 0, b1, c1, d1;
    int leaf7 = __get_cpuid_count(7, 0, &a, &b, &c, &d) && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    // AVX-512 state enabled by the OS (as __builtin_cpu_supports asks), BW, and BF16
    __builtin_cpu_init();
    int bf16 = leaf7 && __builtin_cpu_supports("avx512f") && (b & (1u << 30)) && (a1 & (1u << 5));
    int tiles = bf16 && (d & (1u << 22)) && (d & (1u << 24))
             && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    kind = tiles ? 2 : bf16 ? 1 : 0;
    return kind;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

static _Thread_local int configured;

// Eight tiles of 16 rows × 64 bytes, set once per thread.
__attribute__((target("amx-tile")))
static void configure(void) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.rows[t] = 16; cfg.colsb[t] = 64; }
    _tile_loadconfig(&cfg);
    configured = 1;
}

// Interleaves two rows of 16 bf16 ([r0 | r1] in one vector) as r0[0] r1[0] r0[1] r1[1] ….
static const short pairs[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

// 32 floats from p (n of them real, the rest 0) as 32 bf16, rounded to nearest even.
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static inline __m512i bf16x32(const float *p, int n) {
    __mmask16 lo = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 hi = n >= 32 ? 0xFFFF : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, p + 16), _mm512_maskz_loadu_ps(lo, p));
}

// One float as bf16, rounded to nearest even (NaN kept a NaN, a denormal flushed to a signed
// zero: VCVTNE2PS2BF16 treats denormal inputs as zero, and this must round as it does).
static inline uint16_t bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x40);
    if ((u & 0x7F800000) == 0) return (uint16_t)((u >> 16) & 0x8000);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

void evolve_round_bf16(const float *src, int rows, int cols, int ld, float *dst) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            uint32_t u = (uint32_t)bf16(src[(size_t)i * ld + j]) << 16;
            memcpy(dst + (size_t)i * cols + j, &u, 4);
        }
}

// Each of 32 vectors v0 … v31 (v = src + r·ld, 32 bf16 over k, n of them real: the rest 0)
// as [k/32][32 rows][32 k]: an A panel from rows that hold k contiguously. Rows past `rows` are 0.
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void pack_rows(const float *src, int ld, int rows, int k, int kp, uint16_t *dst) {
    for (int r = 0; r < 32; r++)
        for (int kb = 0; kb < kp; kb += 32) {
            uint16_t *d = dst + (size_t)kb * 32 + r * 32;
            if (r >= rows) { memset(d, 0, 64); continue; }
            _mm512_storeu_si512(d, bf16x32(src + (size_t)r * ld + kb, min_i(32, k - kb)));
        }
}

// Rows p of src (p < k, each `cols` ≤ 32 values wide, the rest 0) as [k/32][16 pairs][32][2]:
// a B panel from rows that hold the columns contiguously (rows k and k+1 side by side).
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void pack_pairs(const float *src, int ld, int cols, int k, int kp, uint16_t *dst) {
    const __m512i order = _mm512_loadu_si512(pairs);
    __mmask16 lo = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 hi = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    for (int p = 0; p < kp; p += 2) {
        uint16_t *d = dst + (size_t)p * 32;   // pair p/2: 32 columns × 2
        if (p >= k) { memset(d, 0, 128); continue; }
        const float *r0 = src + (size_t)p * ld, *r1 = r0 + ld;
        int second = p + 1 < k;
        for (int h = 0; h < 2; h++) {
            __mmask16 m = h ? hi : lo;
            __m512 x0 = _mm512_maskz_loadu_ps(m, r0 + 16 * h);
            __m512 x1 = second ? _mm512_maskz_loadu_ps(m, r1 + 16 * h) : _mm512_setzero_ps();
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(x1, x0);
            _mm512_storeu_si512(d + 32 * h, _mm512_permutexvar_epi16(order, both));
        }
    }
}

// The two panels differ by a transpose of 32-bit words (a pair of k) in each 32-wide block of
// k: an A block is [32 rows][16 pairs], a B block [16 pairs][32 columns]. A transposed operand
// is packed the other way and turned here, in L1, instead of read a column at a time.
static void turn(const uint16_t *src, int kp, int rows, int cols, uint16_t *dst) {
    for (int kb = 0; kb < kp; kb += 32) {
        const uint32_t *s = (const uint32_t *)(src + (size_t)kb * 32);
        uint32_t *d = (uint32_t *)(dst + (size_t)kb * 32);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
    }
}

// Packing buffers, per thread, grown as needed: A's panel, B's panels, and a transposed
// operand's panel before it is turned.
static _Thread_local uint16_t *buf_a, *buf_b, *buf_t;
static _Thread_local size_t cap_a, cap_b, cap_t;

// *buf with room for `need` bf16 values (64-byte aligned), reallocated when smaller.
static uint16_t *room(uint16_t **buf, size_t *cap, size_t need) {
    if (need > *cap) { free(*buf); *buf = aligned_alloc(64, (need * 2 + 63) / 64 * 64); *cap = need; }
    return *buf;
}

// Rows i0 … i0+rows-1 of op(A) (rows ≤ 32) into an A panel of kp/32 blocks.
static void pack_a(const float *a, int lda, int trans, int i0, int rows, int k, int kp, uint16_t *dst) {
    if (!trans) {
        pack_rows(a + (size_t)i0 * lda, lda, rows, k, kp, dst);
        return;
    }
    // op(A)[i, p] = a[p·lda + i]: a's rows pair up along k as a B panel's do.
    uint16_t *t = room(&buf_t, &cap_t, (size_t)kp * 32);
    pack_pairs(a + i0, lda, rows, k, kp, t);
    turn(t, kp, 16, 32, dst);
}

// Columns j0 … j0+cols-1 of op(B) (cols ≤ 32) into a B panel of kp/32 blocks.
static void pack_b(const float *b, int ldb, int trans, int j0, int cols, int k, int kp, uint16_t *dst) {
    if (!trans) {
        pack_pairs(b + j0, ldb, cols, k, kp, dst);
        return;
    }
    // op(B)[p, j] = b[j·ldb + p]: b's rows hold k contiguously, as an A panel's do.
    uint16_t *t = room(&buf_t, &cap_t, (size_t)kp * 32);
    pack_rows(b + (size_t)j0 * ldb, ldb, cols, k, kp, t);
    turn(t, kp, 32, 16, dst);
}

// C[32×32 block] = alpha · (A panel · B panel) + beta · C, for the rows × cols that exist.
// A whole block with alpha 1 and beta 0 or 1 (a product, or a gradient added to) starts its
// tiles from zero or from C and is stored straight back; any other goes through a buffer.
__attribute__((target("amx-tile,amx-bf16")))
static void block(const uint16_t *ap, const uint16_t *bp, int kp, float *c, int ldc, float alpha, float beta,
                  int rows, int cols) {
    int direct = rows == 32 && cols == 32 && alpha == 1 && (beta == 0 || beta == 1);
    long s = (long)ldc * 4;
    float *c1 = c + 16, *c2 = c + (size_t)16 * ldc, *c3 = c2 + 16;
    if (direct && beta == 1) {
        _tile_loadd(0, c, s); _tile_loadd(1, c1, s); _tile_loadd(2, c2, s); _tile_loadd(3, c3, s);
    } else {
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    }
    for (int kb = 0; kb < kp; kb += 32, ap += 1024, bp += 1024) {
        _tile_loadd(4, ap, 64);
        _tile_loadd(5, ap + 512, 64);
        _tile_loadd(6, bp, 128);
        _tile_loadd(7, bp + 32, 128);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    if (direct) {
        _tile_stored(0, c, s); _tile_stored(1, c1, s); _tile_stored(2, c2, s); _tile_stored(3, c3, s);
        return;
    }
    float buf[32 * 32];
    _tile_stored(0, buf, 128); _tile_stored(1, buf + 16, 128);
    _tile_stored(2, buf + 512, 128); _tile_stored(3, buf + 528, 128);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            float *cij = c + (size_t)i * ldc + j, v = alpha * buf[i * 32 + j];
            *cij = beta == 0 ? v : v + beta * *cij;
        }
}


// The same C block as `block`, in AVX-512 registers: 8 rows × 32 columns at a time (16
// accumulators), one VDPBF16PS per row and 16 columns for each pair of k. An A panel row's
// pair is one 32-bit word, broadcast; a B panel's pair row is two vectors of 16 columns.
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void block_avx512(const uint16_t *ap, const uint16_t *bp, int kp, float *c, int ldc, float alpha, float beta,
                         int rows, int cols) {
    __mmask16 lo = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 hi = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r0 = 0; r0 < rows; r0 += 8) {
        __m512 acc[8][2];
        for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        const uint16_t *a = ap + r0 * 32, *b = bp;
        for (int kb = 0; kb < kp; kb += 32, a += 1024, b += 1024) {
            const uint32_t *aw = (const uint32_t *)a;   // row r's pair q: aw[r·16 + q]
            for (int q = 0; q < 16; q++) {
                __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * 64), b1 = (__m512bh)_mm512_loadu_si512(b + q * 64 + 32);
                for (int r = 0; r < 8; r++) {
                    __m512bh x = (__m512bh)_mm512_set1_epi32((int)aw[r * 16 + q]);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
                }
            }
        }
        for (int r = 0; r < 8 && r0 + r < rows; r++) {
            float *ci = c + (size_t)(r0 + r) * ldc;
            __m512 v0 = _mm512_mul_ps(va, acc[r][0]), v1 = _mm512_mul_ps(va, acc[r][1]);
            if (beta != 0) {
                v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(lo, ci), v0);
                v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(hi, ci + 16), v1);
            }
            _mm512_mask_storeu_ps(ci, lo, v0);
            _mm512_mask_storeu_ps(ci + 16, hi, v1);
        }
    }
}


void evolve_bgemm(int transA, int transB, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc) {
    evolve_bgemm_on(evolve_bgemm_kind(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void evolve_bgemm_on(int kernel, int transA, int transB, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb,
                     float beta, float *c, int ldc) {
    if (kernel < 1 || kernel > evolve_bgemm_kind()) {   // a caller's error: the instructions would fault
        fprintf(stderr, "evolve_bgemm_on: kernel %d, this CPU has %d\n", kernel, evolve_bgemm_kind());
        abort();
    }
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0) {   // nothing to multiply: C = beta · C
        evolve_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int tiles = kernel == 2;
    if (tiles && !configured) configure();
    int kp = (k + 31) / 32 * 32;
    uint16_t *pa = room(&buf_a, &cap_a, (size_t)kp * 32);
    uint16_t *pb = room(&buf_b, &cap_b, (size_t)kp * 32 * ((min_i(n, NB) + 31) / 32));
    // op(B) NB columns at a time (a vocabulary's 50k would pack to tens of MB); op(A)'s panels
    // are packed again for each slice, which the model's products (n ≤ NB but the logits) never do.
    for (int j0 = 0; j0 < n; j0 += NB) {
        int cols = min_i(NB, n - j0), panels = (cols + 31) / 32;
        for (int jp = 0; jp < panels; jp++)
            pack_b(b, ldb, transB, j0 + jp * 32, min_i(32, cols - jp * 32), k, kp, pb + (size_t)jp * kp * 32);
        for (int i0 = 0; i0 < m; i0 += 32) {
            int rows = min_i(32, m - i0);
            pack_a(a, lda, transA, i0, rows, k, kp, pa);
            for (int jp = 0; jp < panels; jp++)
                (tiles ? block : block_avx512)(pa, pb + (size_t)jp * kp * 32, kp, c + (size_t)i0 * ldc + j0 + jp * 32,
                                               ldc, alpha, beta, rows, min_i(32, cols - jp * 32));
        }
    }
}
