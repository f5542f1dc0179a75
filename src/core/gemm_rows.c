/* Row-exact GEMM (see gemm_rows.h): register-blocked kernels, R rows x NV vectors of columns
 * per tile, W read in place (its rows are contiguous in N, so no packing is needed). */
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

/* ---- AVX-512: 16 lanes; tiles of up to 8 rows x 2 vectors, tails through lane masks ---- */

#define TILE512(R, NV)                                                                        \
    DCTR_TARGET_AVX512 static void tile512_##R##_##NV(const float *X, int64_t ldx, int32_t K,  \
                                                      int32_t N, const float *W, float *Z,     \
                                                      int64_t ldz, __mmask16 last) {           \
        __m512 acc[R][NV];                                                                     \
        for (int r = 0; r < R; r++)                                                            \
            for (int v = 0; v < NV; v++)                                                       \
                acc[r][v] = _mm512_setzero_ps();                                               \
        for (int32_t k = 0; k < K; k++) {                                                      \
            const float *w = W + (int64_t)k * N;                                               \
            __m512 wv[NV];                                                                     \
            for (int v = 0; v < NV; v++)                                                       \
                wv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, w + 16 * v)                  \
                                    : _mm512_loadu_ps(w + 16 * v);                             \
            for (int r = 0; r < R; r++) {                                                      \
                __m512 a = _mm512_set1_ps(X[r * ldx + k]);                                     \
                for (int v = 0; v < NV; v++)                                                   \
                    acc[r][v] = _mm512_fmadd_ps(a, wv[v], acc[r][v]);                          \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < R; r++)                                                            \
            for (int v = 0; v < NV; v++) {                                                     \
                if (v == NV - 1)                                                               \
                    _mm512_mask_storeu_ps(Z + r * ldz + 16 * v, last, acc[r][v]);              \
                else                                                                           \
                    _mm512_storeu_ps(Z + r * ldz + 16 * v, acc[r][v]);                         \
            }                                                                                  \
    }

/* 8 x 2 is the main tile (16 accumulators); 1-row tiles widen to 4 vectors so that four
 * independent FMA chains hide the latency when a service predicts one row. */
TILE512(8, 2)
TILE512(4, 2)
TILE512(2, 2)
TILE512(1, 2)
TILE512(8, 1)
TILE512(4, 1)
TILE512(2, 1)
TILE512(1, 1)
TILE512(1, 4)
TILE512(2, 4)

typedef void (*tile512_fn)(const float *, int64_t, int32_t, int32_t, const float *, float *,
                           int64_t, __mmask16);

DCTR_TARGET_AVX512 static void rows_avx512(const float *X, int64_t ldx, int64_t B, int32_t K,
                                           int32_t N, const float *W, float *Z, int64_t ldz) {
    for (int64_t b = 0; b < B;) {
        int64_t left = B - b;
        int R = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const float *x = X + b * ldx;
        float *z = Z + b * ldz;
        int32_t j = 0;
        if (R <= 2) /* few rows: 64-column tiles first */
            for (; j + 64 <= N; j += 64)
                (R == 2 ? tile512_2_4 : tile512_1_4)(x, ldx, K, N, W + j, z + j, ldz, 0xFFFF);
        for (; j < N; j += 32) {
            int32_t cols = N - j < 32 ? N - j : 32;
            int nv = cols > 16 ? 2 : 1;
            int rem = cols - 16 * (nv - 1);
            __mmask16 last = (__mmask16)(rem == 16 ? 0xFFFF : (1u << rem) - 1u);
            tile512_fn f = nv == 2 ? (R == 8 ? tile512_8_2 : R == 4 ? tile512_4_2
                                                          : R == 2 ? tile512_2_2 : tile512_1_2)
                                   : (R == 8 ? tile512_8_1 : R == 4 ? tile512_4_1
                                                          : R == 2 ? tile512_2_1 : tile512_1_1);
            f(x, ldx, K, N, W + j, z + j, ldz, last);
        }
        b += R;
    }
}

/* ---- AVX2: 8 lanes; tiles of up to 6 rows x 2 vectors, tails through maskload ---- */

#define TILE256(R, NV)                                                                         \
    DCTR_TARGET_AVX2 static void tile256_##R##_##NV(const float *X, int64_t ldx, int32_t K,     \
                                                    int32_t N, const float *W, float *Z,        \
                                                    int64_t ldz, __m256i last) {                \
        __m256 acc[R][NV];                                                                      \
        for (int r = 0; r < R; r++)                                                             \
            for (int v = 0; v < NV; v++)                                                        \
                acc[r][v] = _mm256_setzero_ps();                                                \
        for (int32_t k = 0; k < K; k++) {                                                       \
            const float *w = W + (int64_t)k * N;                                                \
            __m256 wv[NV];                                                                      \
            for (int v = 0; v < NV; v++)                                                        \
                wv[v] = v == NV - 1 ? _mm256_maskload_ps(w + 8 * v, last)                       \
                                    : _mm256_loadu_ps(w + 8 * v);                               \
            for (int r = 0; r < R; r++) {                                                       \
                __m256 a = _mm256_broadcast_ss(X + r * ldx + k);                                \
                for (int v = 0; v < NV; v++)                                                    \
                    acc[r][v] = _mm256_fmadd_ps(a, wv[v], acc[r][v]);                           \
            }                                                                                   \
        }                                                                                       \
        for (int r = 0; r < R; r++)                                                             \
            for (int v = 0; v < NV; v++) {                                                      \
                if (v == NV - 1)                                                                \
                    _mm256_maskstore_ps(Z + r * ldz + 8 * v, last, acc[r][v]);                  \
                else                                                                            \
                    _mm256_storeu_ps(Z + r * ldz + 8 * v, acc[r][v]);                           \
            }                                                                                   \
    }

TILE256(6, 2)
TILE256(4, 2)
TILE256(2, 2)
TILE256(1, 2)
TILE256(6, 1)
TILE256(4, 1)
TILE256(2, 1)
TILE256(1, 1)
TILE256(1, 4)
TILE256(2, 4)

typedef void (*tile256_fn)(const float *, int64_t, int32_t, int32_t, const float *, float *,
                           int64_t, __m256i);

DCTR_TARGET_AVX2 static void rows_avx2(const float *X, int64_t ldx, int64_t B, int32_t K,
                                       int32_t N, const float *W, float *Z, int64_t ldz) {
    for (int64_t b = 0; b < B;) {
        int64_t left = B - b;
        int R = left >= 6 ? 6 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
        const float *x = X + b * ldx;
        float *z = Z + b * ldz;
        int32_t j = 0;
        const __m256i all = _mm256_set1_epi32(-1);
        if (R <= 2)
            for (; j + 32 <= N; j += 32)
                (R == 2 ? tile256_2_4 : tile256_1_4)(x, ldx, K, N, W + j, z + j, ldz, all);
        for (; j < N; j += 16) {
            int32_t cols = N - j < 16 ? N - j : 16;
            int nv = cols > 8 ? 2 : 1;
            int rem = cols - 8 * (nv - 1);
            __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), lane);
            tile256_fn f = nv == 2 ? (R == 6 ? tile256_6_2 : R == 4 ? tile256_4_2
                                                          : R == 2 ? tile256_2_2 : tile256_1_2)
                                   : (R == 6 ? tile256_6_1 : R == 4 ? tile256_4_1
                                                          : R == 2 ? tile256_2_1 : tile256_1_1);
            f(x, ldx, K, N, W + j, z + j, ldz, last);
        }
        b += R;
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
