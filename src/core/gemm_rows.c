/* Row-exact GEMM (see gemm_rows.h): register-blocked kernels, R rows x NV vectors of columns
 * per tile, W read in place (its rows are contiguous in N, so no packing is needed). Which
 * tile computes an element never changes its instruction sequence: one accumulator, k in order. */
#include "core/gemm_rows.h"

#include <string.h>

#if DCTR_X86_DISPATCH
#include <immintrin.h>
#endif

/* ---- portable: 4 rows share each W row load; per element z += x * w in k order ---- */

static void rows_portable(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                          const float *W, float *Z, int64_t ldz) {
    int64_t b = 0;
    for (; b + 4 <= B; b += 4) {
        float *restrict z0 = Z + b * ldz, *restrict z1 = z0 + ldz, *restrict z2 = z1 + ldz,
                        *restrict z3 = z2 + ldz;
        const float *x0 = X + b * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        memset(z0, 0, (size_t)N * sizeof(float));
        memset(z1, 0, (size_t)N * sizeof(float));
        memset(z2, 0, (size_t)N * sizeof(float));
        memset(z3, 0, (size_t)N * sizeof(float));
        for (int32_t k = 0; k < K; k++) {
            const float *restrict w = W + (int64_t)k * N;
            float a0 = x0[k], a1 = x1[k], a2 = x2[k], a3 = x3[k];
            for (int32_t j = 0; j < N; j++) {
                float wj = w[j];
                z0[j] += a0 * wj;
                z1[j] += a1 * wj;
                z2[j] += a2 * wj;
                z3[j] += a3 * wj;
            }
        }
    }
    for (; b < B; b++) {
        float *restrict z = Z + b * ldz;
        const float *x = X + b * ldx;
        memset(z, 0, (size_t)N * sizeof(float));
        for (int32_t k = 0; k < K; k++) {
            const float *restrict w = W + (int64_t)k * N;
            float a = x[k];
            for (int32_t j = 0; j < N; j++)
                z[j] += a * w[j];
        }
    }
}

#if DCTR_X86_DISPATCH

/* The SIMD kernels keep every accumulator in a named register variable: with arrays of vectors
 * gcc spills them to the stack on every k. A tile of fewer rows than the kernel's height reuses
 * its last row's pointer for the missing rows and stores only the real ones; every element
 * still gets exactly the same instruction sequence, so results stay row-exact. */

/* Rows of X per chunk: a chunk's rows stay in L2 while every column panel of W passes over them. */
#define CHUNK_ROWS 48

#define LD512(w, m) _mm512_maskz_loadu_ps((m), (w))
#define FMA512(r)                                                                             \
    do {                                                                                      \
        __m512 a = _mm512_set1_ps(x##r[k]);                                                   \
        c##r##0 = _mm512_fmadd_ps(a, w0, c##r##0);                                            \
        c##r##1 = _mm512_fmadd_ps(a, w1, c##r##1);                                            \
    } while (0)
#define ST512(r)                                                                              \
    do {                                                                                      \
        if (r < R) {                                                                          \
            _mm512_mask_storeu_ps(z + r * ldz, m0, c##r##0);                                  \
            _mm512_mask_storeu_ps(z + r * ldz + 16, m1, c##r##1);                             \
        }                                                                                     \
    } while (0)

/* Up to 8 rows x up to 32 columns (lane masks m0, m1). */
DCTR_TARGET_AVX512 static void tile512_8x2(const float *X, int64_t ldx, int R, int32_t K,
                                           int32_t N, const float *W, float *z, int64_t ldz,
                                           __mmask16 m0, __mmask16 m1) {
    const float *x0 = X, *x1 = X + (R > 1 ? 1 : 0) * ldx, *x2 = X + (R > 2 ? 2 : R - 1) * ldx,
                *x3 = X + (R > 3 ? 3 : R - 1) * ldx, *x4 = X + (R > 4 ? 4 : R - 1) * ldx,
                *x5 = X + (R > 5 ? 5 : R - 1) * ldx, *x6 = X + (R > 6 ? 6 : R - 1) * ldx,
                *x7 = X + (R > 7 ? 7 : R - 1) * ldx;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00,
           c61 = c00, c70 = c00, c71 = c00;
    for (int32_t k = 0; k < K; k++) {
        const float *w = W + (int64_t)k * N;
        __m512 w0 = LD512(w, m0), w1 = LD512(w + 16, m1);
        FMA512(0);
        FMA512(1);
        FMA512(2);
        FMA512(3);
        FMA512(4);
        FMA512(5);
        FMA512(6);
        FMA512(7);
    }
    ST512(0);
    ST512(1);
    ST512(2);
    ST512(3);
    ST512(4);
    ST512(5);
    ST512(6);
    ST512(7);
}

/* One row x 64 columns: four independent FMA chains hide the latency of a lone row. */
DCTR_TARGET_AVX512 static void row512_x4(const float *x, int32_t K, int32_t N, const float *W,
                                         float *z) {
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int32_t k = 0; k < K; k++) {
        const float *w = W + (int64_t)k * N;
        __m512 a = _mm512_set1_ps(x[k]);
        c0 = _mm512_fmadd_ps(a, _mm512_loadu_ps(w), c0);
        c1 = _mm512_fmadd_ps(a, _mm512_loadu_ps(w + 16), c1);
        c2 = _mm512_fmadd_ps(a, _mm512_loadu_ps(w + 32), c2);
        c3 = _mm512_fmadd_ps(a, _mm512_loadu_ps(w + 48), c3);
    }
    _mm512_storeu_ps(z, c0);
    _mm512_storeu_ps(z + 16, c1);
    _mm512_storeu_ps(z + 32, c2);
    _mm512_storeu_ps(z + 48, c3);
}

DCTR_TARGET_AVX512 static __mmask16 mask16(int32_t cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? (__mmask16)0 : (__mmask16)((1u << cols) - 1u);
}

DCTR_TARGET_AVX512 static void rows_avx512(const float *X, int64_t ldx, int64_t B, int32_t K,
                                           int32_t N, const float *W, float *Z, int64_t ldz) {
    if (B < 4) { /* a lone row (serving): wide single-row tiles, then the narrow tail */
        for (int64_t b = 0; b < B; b++) {
            int32_t j = 0;
            for (; j + 64 <= N; j += 64)
                row512_x4(X + b * ldx, K, N, W + j, Z + b * ldz + j);
            for (; j < N; j += 32)
                tile512_8x2(X + b * ldx, ldx, 1, K, N, W + j, Z + b * ldz + j, ldz,
                            mask16(N - j), mask16(N - j - 16));
        }
        return;
    }
    for (int64_t c = 0; c < B; c += CHUNK_ROWS) {
        int64_t ce = B - c < CHUNK_ROWS ? B : c + CHUNK_ROWS;
        for (int32_t j = 0; j < N; j += 32) {
            __mmask16 m0 = mask16(N - j), m1 = mask16(N - j - 16);
            for (int64_t b = c; b < ce; b += 8) {
                int R = ce - b < 8 ? (int)(ce - b) : 8;
                tile512_8x2(X + b * ldx, ldx, R, K, N, W + j, Z + b * ldz + j, ldz, m0, m1);
            }
        }
    }
}

/* ---- AVX2: 8 lanes, tiles of up to 6 rows x 16 columns, tails through maskload ---- */

#define FMA256(r)                                                                             \
    do {                                                                                      \
        __m256 a = _mm256_broadcast_ss(x##r + k);                                             \
        c##r##0 = _mm256_fmadd_ps(a, w0, c##r##0);                                            \
        c##r##1 = _mm256_fmadd_ps(a, w1, c##r##1);                                            \
    } while (0)
#define ST256(r)                                                                              \
    do {                                                                                      \
        if (r < R) {                                                                          \
            _mm256_maskstore_ps(z + r * ldz, m0, c##r##0);                                    \
            _mm256_maskstore_ps(z + r * ldz + 8, m1, c##r##1);                                \
        }                                                                                     \
    } while (0)

DCTR_TARGET_AVX2 static void tile256_6x2(const float *X, int64_t ldx, int R, int32_t K,
                                         int32_t N, const float *W, float *z, int64_t ldz,
                                         __m256i m0, __m256i m1) {
    const float *x0 = X, *x1 = X + (R > 1 ? 1 : 0) * ldx, *x2 = X + (R > 2 ? 2 : R - 1) * ldx,
                *x3 = X + (R > 3 ? 3 : R - 1) * ldx, *x4 = X + (R > 4 ? 4 : R - 1) * ldx,
                *x5 = X + (R > 5 ? 5 : R - 1) * ldx;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int32_t k = 0; k < K; k++) {
        const float *w = W + (int64_t)k * N;
        __m256 w0 = _mm256_maskload_ps(w, m0), w1 = _mm256_maskload_ps(w + 8, m1);
        FMA256(0);
        FMA256(1);
        FMA256(2);
        FMA256(3);
        FMA256(4);
        FMA256(5);
    }
    ST256(0);
    ST256(1);
    ST256(2);
    ST256(3);
    ST256(4);
    ST256(5);
}

DCTR_TARGET_AVX2 static void row256_x4(const float *x, int32_t K, int32_t N, const float *W,
                                       float *z) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    for (int32_t k = 0; k < K; k++) {
        const float *w = W + (int64_t)k * N;
        __m256 a = _mm256_broadcast_ss(x + k);
        c0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w), c0);
        c1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w + 8), c1);
        c2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w + 16), c2);
        c3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(w + 24), c3);
    }
    _mm256_storeu_ps(z, c0);
    _mm256_storeu_ps(z + 8, c1);
    _mm256_storeu_ps(z + 16, c2);
    _mm256_storeu_ps(z + 24, c3);
}

DCTR_TARGET_AVX2 static __m256i mask8(int32_t cols) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

DCTR_TARGET_AVX2 static void rows_avx2(const float *X, int64_t ldx, int64_t B, int32_t K,
                                       int32_t N, const float *W, float *Z, int64_t ldz) {
    if (B < 3) {
        for (int64_t b = 0; b < B; b++) {
            int32_t j = 0;
            for (; j + 32 <= N; j += 32)
                row256_x4(X + b * ldx, K, N, W + j, Z + b * ldz + j);
            for (; j < N; j += 16)
                tile256_6x2(X + b * ldx, ldx, 1, K, N, W + j, Z + b * ldz + j, ldz,
                            mask8(N - j), mask8(N - j - 8));
        }
        return;
    }
    for (int64_t c = 0; c < B; c += CHUNK_ROWS) {
        int64_t ce = B - c < CHUNK_ROWS ? B : c + CHUNK_ROWS;
        for (int32_t j = 0; j < N; j += 16) {
            __m256i m0 = mask8(N - j), m1 = mask8(N - j - 8);
            for (int64_t b = c; b < ce; b += 6) {
                int R = ce - b < 6 ? (int)(ce - b) : 6;
                tile256_6x2(X + b * ldx, ldx, R, K, N, W + j, Z + b * ldz + j, ldz, m0, m1);
            }
        }
    }
}

#endif /* DCTR_X86_DISPATCH */

dctr_gemm_rows_fn dctr_gemm_rows_variant(dctr_simd_level level) {
#if DCTR_X86_DISPATCH
    if (level == DCTR_SIMD_AVX512)
        return rows_avx512;
    if (level == DCTR_SIMD_AVX2)
        return rows_avx2;
#else
    (void)level;
#endif
    return rows_portable;
}

void dctr_gemm_rows(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N, const float *W,
                    float *Z, int64_t ldz) {
    if (B <= 0 || N <= 0)
        return;
    dctr_gemm_rows_variant(dctr_cpu_simd_level())(X, ldx, B, K, N, W, Z, ldz);
}
