/* Row-exact GEMM (see gemm_rows.h) and the training kernels built on the same tiles
 * (gemm_train.h): register-blocked kernels, R rows x NV vectors of columns
 * per tile, W read in place (its rows are contiguous in N, so no packing is needed). Which
 * tile computes an element never changes its instruction sequence: one accumulator, k in order. */
#include "core/gemm_rows.h"
#include "core/gemm_train.h"
#include "core/simd.h"

#include <string.h>

#if DCTR_X86_DISPATCH
#include <immintrin.h>
#endif

/* ---- portable: per element z += x * w in k order (mul then add: no FMA at this level) ---- */

/* One row at a time; acc adds into Z; gate / colsum: the relu backward (gemm_train.h). */
static void nn_portable(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                        const float *W, float *Z, int64_t ldz, int acc, const float *gate,
                        float *colsum) {
    for (int64_t b = 0; b < B; b++) {
        float *restrict z = Z + b * ldz;
        const float *x = X + b * ldx;
        if (!acc)
            memset(z, 0, (size_t)N * sizeof(float));
        for (int32_t k = 0; k < K; k++) {
            const float *restrict w = W + (int64_t)k * N;
            float a = x[k];
            for (int32_t j = 0; j < N; j++)
                z[j] += a * w[j];
        }
        if (gate)
            for (int32_t j = 0; j < N; j++) {
                z[j] = gate[b * ldz + j] > 0.0f ? z[j] : 0.0f;
                if (colsum)
                    colsum[j] += z[j];
            }
    }
}

/* 4 rows share each W row load. */

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
    nn_portable(X + b * ldx, ldx, B - b, K, N, W, Z + b * ldz, ldz, 0, NULL, NULL); /* the rest */
}

#if DCTR_X86_DISPATCH

/* Rows of X per chunk: a chunk's rows stay in L2 while every column panel of W passes over them. */
#define CHUNK_ROWS 48
/* Rows of K per block of the transposed-A kernel: 256 rows of a 221- and a 256-wide operand
 * (the DNN's first layer) take 0.5 MB together, half of a current core's L2. */
#define TN_BLOCK_K 256

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
#define GR_ADD(a, b) _mm512_add_ps((a), (b))
#define GR_FULL(m0, m1) ((m0) == 0xFFFF && (m1) == 0xFFFF)
#define GR_NONE(m) ((m) == 0)
#define GR_GATE(c, y) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((y), _mm512_setzero_ps(), _CMP_GT_OQ), (c))
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
#undef GR_ADD
#undef GR_FULL
#undef GR_NONE
#undef GR_GATE
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
#define GR_ADD(a, b) _mm256_add_ps((a), (b))
#define GR_FULL(m0, m1) (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256((m0), (m1)))) == 0xFF)
#define GR_NONE(m) (_mm256_movemask_ps(_mm256_castsi256_ps(m)) == 0)
#define GR_GATE(c, y) _mm256_and_ps((c), _mm256_cmp_ps((y), _mm256_setzero_ps(), _CMP_GT_OQ))
#define GR_MASKOF(cols) mask8(cols)
#include "core/gemm_rows_x86.h"

#endif /* DCTR_X86_DISPATCH */

/* ---- portable transposed-A kernel: plain loops (training uses OpenBLAS at this level) ---- */


static void tn_portable(const float *A, int64_t lda, int32_t M, int32_t N, int64_t K,
                        const float *W, int64_t ldw, float *C, int64_t ldc, int acc) {
    if (!acc)
        for (int32_t i = 0; i < M; i++)
            memset(C + (int64_t)i * ldc, 0, (size_t)N * sizeof(float));
    for (int64_t k = 0; k < K; k++) {
        const float *a = A + k * lda, *restrict w = W + k * ldw;
        for (int32_t i = 0; i < M; i++) {
            float *restrict c = C + (int64_t)i * ldc;
            float ai = a[i];
            for (int32_t j = 0; j < N; j++)
                c[j] += ai * w[j];
        }
    }
}

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

int dctr_gemm_train_own(int32_t in, int32_t out) {
    /* AVX-512 only: the AVX2 tiles (16 registers) measured 0.75-1.0x OpenBLAS's Haswell kernels
     * on the same shapes, so AVX2 CPUs keep OpenBLAS for training */
    return dctr_kernel_level() == DCTR_SIMD_AVX512 && in > 0 && out > 1 &&
           (int64_t)in * out <= DCTR_GEMM_TRAIN_MAX_WEIGHTS;
}

static void nn_dispatch(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                        const float *W, float *Z, int64_t ldz, int acc, const float *gate,
                        float *colsum) {
    if (B <= 0 || N <= 0)
        return;
#if DCTR_X86_DISPATCH
    dctr_simd_level lv = dctr_kernel_level();
    if (lv == DCTR_SIMD_AVX512) {
        nn_avx512(X, ldx, B, K, N, W, Z, ldz, acc, gate, colsum);
        return;
    }
    if (lv == DCTR_SIMD_AVX2) {
        nn_avx2(X, ldx, B, K, N, W, Z, ldz, acc, gate, colsum);
        return;
    }
#endif
    nn_portable(X, ldx, B, K, N, W, Z, ldz, acc, gate, colsum);
}

void dctr_gemm_nn(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N, const float *W,
                  float *Z, int64_t ldz, int acc) {
    nn_dispatch(X, ldx, B, K, N, W, Z, ldz, acc, NULL, NULL);
}

void dctr_gemm_nn_relu_backward(const float *dY, int64_t ldy, int64_t B, int32_t K, int32_t N,
                                const float *Wt, const float *H, float *dZ, int64_t ldz,
                                float *colsum) {
    nn_dispatch(dY, ldy, B, K, N, Wt, dZ, ldz, 0, H, colsum);
}

void dctr_gemm_tn(const float *A, int64_t lda, int32_t M, int32_t N, int64_t K, const float *W,
                  int64_t ldw, float *C, int64_t ldc, int acc) {
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        if (!acc)
            for (int32_t i = 0; i < M; i++)
                memset(C + (int64_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
#if DCTR_X86_DISPATCH
    dctr_simd_level lv = dctr_kernel_level();
    if (lv == DCTR_SIMD_AVX512) {
        tn_avx512(A, lda, M, N, K, W, ldw, C, ldc, acc);
        return;
    }
    if (lv == DCTR_SIMD_AVX2) {
        tn_avx2(A, lda, M, N, K, W, ldw, C, ldc, acc);
        return;
    }
#endif
    tn_portable(A, lda, M, N, K, W, ldw, C, ldc, acc);
}

static void transpose_portable(const float *A, int64_t lda, int32_t rows, int32_t cols, float *T,
                               int64_t ldt) {
    enum { BLK = 16 }; /* blocks of 16 x 16: both sides touch whole cache lines */
    for (int32_t i0 = 0; i0 < rows; i0 += BLK)
        for (int32_t j0 = 0; j0 < cols; j0 += BLK) {
            int32_t i1 = rows - i0 < BLK ? rows : i0 + BLK, j1 = cols - j0 < BLK ? cols : j0 + BLK;
            for (int32_t j = j0; j < j1; j++)
                for (int32_t i = i0; i < i1; i++)
                    T[(int64_t)j * ldt + i] = A[(int64_t)i * lda + j];
        }
}

#if DCTR_X86_DISPATCH
/* 8 x 8 blocks through registers (unpack / shuffle / lane permute); the ragged edges through
 * the portable loop. The scalar loop was 2 % of a DeepFM step at batch 256. */
DCTR_TARGET_AVX2 static void transpose_avx2(const float *A, int64_t lda, int32_t rows,
                                            int32_t cols, float *T, int64_t ldt) {
    int32_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int32_t i = 0; i < r8; i += 8)
        for (int32_t j = 0; j < c8; j += 8) {
            const float *a = A + (int64_t)i * lda + j;
            __m256 r0 = _mm256_loadu_ps(a), r1 = _mm256_loadu_ps(a + lda),
                   r2 = _mm256_loadu_ps(a + 2 * lda), r3 = _mm256_loadu_ps(a + 3 * lda),
                   r4 = _mm256_loadu_ps(a + 4 * lda), r5 = _mm256_loadu_ps(a + 5 * lda),
                   r6 = _mm256_loadu_ps(a + 6 * lda), r7 = _mm256_loadu_ps(a + 7 * lda);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                   t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                   t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                   t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *t = T + (int64_t)j * ldt + i;
            _mm256_storeu_ps(t, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(t + ldt, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(t + 2 * ldt, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(t + 3 * ldt, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(t + 4 * ldt, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(t + 5 * ldt, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(t + 6 * ldt, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(t + 7 * ldt, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
    if (c8 < cols) /* the right edge, every row */
        transpose_portable(A + c8, lda, rows, cols - c8, T + (int64_t)c8 * ldt, ldt);
    if (r8 < rows) /* the bottom edge, left of the right edge */
        transpose_portable(A + (int64_t)r8 * lda, lda, rows - r8, c8, T + r8, ldt);
}
#endif

void dctr_transpose(const float *A, int64_t lda, int32_t rows, int32_t cols, float *T,
                    int64_t ldt) {
#if DCTR_X86_DISPATCH
    if (dctr_kernel_level() >= DCTR_SIMD_AVX2) {
        transpose_avx2(A, lda, rows, cols, T, ldt);
        return;
    }
#endif
    transpose_portable(A, lda, rows, cols, T, ldt);
}
