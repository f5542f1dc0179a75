/* Row-exact GEMM (see gemm_rows.h): register-blocked kernels, R rows x NV vectors of columns
 * per tile, W read in place (its rows are contiguous in N, so no packing is needed). Which
 * tile computes an element never changes its instruction sequence: one accumulator, k in order. */
#include "core/gemm_rows.h"
#include "core/simd.h"

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

/* Rows of X per chunk: a chunk's rows stay in L2 while every column panel of W passes over them. */
#define CHUNK_ROWS 48

/* AVX-512: 16 lanes, tiles of 8 rows x 32 columns, tails through lane masks. */
DCTR_TARGET_AVX512 static inline __mmask16 mask16(int32_t cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? (__mmask16)0 : (__mmask16)((1u << cols) - 1u);
}
#define GR_TARGET DCTR_TARGET_AVX512
#define GR_SUFFIX avx512
#define GR_VEC __m512
#define GR_MASK __mmask16
#define GR_W 16
#define GR_ROWS 8
#define GR_ZERO() _mm512_setzero_ps()
#define GR_BCAST(p) _mm512_set1_ps(*(p))
#define GR_LOAD(p) _mm512_loadu_ps(p)
#define GR_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define GR_STORE(p, v) _mm512_storeu_ps((p), (v))
#define GR_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define GR_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define GR_MASKOF(cols) mask16(cols)
#include "core/gemm_rows_x86.h"
#undef GR_TARGET
#undef GR_SUFFIX
#undef GR_VEC
#undef GR_MASK
#undef GR_W
#undef GR_ROWS
#undef GR_ZERO
#undef GR_BCAST
#undef GR_LOAD
#undef GR_LOADM
#undef GR_STORE
#undef GR_STOREM
#undef GR_FMA
#undef GR_MASKOF

/* AVX2: 8 lanes, tiles of 6 rows x 16 columns (16 registers), tails through maskload. */
DCTR_TARGET_AVX2 static inline __m256i mask8(int32_t cols) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define GR_TARGET DCTR_TARGET_AVX2
#define GR_SUFFIX avx2
#define GR_VEC __m256
#define GR_MASK __m256i
#define GR_W 8
#define GR_ROWS 6
#define GR_ZERO() _mm256_setzero_ps()
#define GR_BCAST(p) _mm256_broadcast_ss(p)
#define GR_LOAD(p) _mm256_loadu_ps(p)
#define GR_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define GR_STORE(p, v) _mm256_storeu_ps((p), (v))
#define GR_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define GR_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define GR_MASKOF(cols) mask8(cols)
#include "core/gemm_rows_x86.h"

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
    dctr_gemm_rows_variant(dctr_kernel_level())(X, ldx, B, K, N, W, Z, ldz);
}
