/* The AVX2 and AVX-512 variants of the FFM pair kernel (kernel.c holds the portable one and the
 * dispatch). Both compute what the portable kernel computes, in the same pair order, with two
 * documented differences in rounding (docs/ffm.md "SIMD variants"):
 *   - products are fused (FMA), so sums round once instead of twice;
 *   - eta g / sqrt(G) is eta g * rsqrt(G), the hardware estimate (AVX2: 12 bits, AVX-512:
 *     14 bits) refined by one Newton step to about 1 ulp; the portable kernel divides exactly.
 * A score agrees with the portable one to 1e-5 relative and one update to 1e-6 relative per
 * weight (tests/test_ffm_kernel.c checks both for every level the CPU can run).
 *
 * k <= 4 (kp = 4, the common FFM case) is specialised: a field pair's two blocks are each
 * [w(4) G(4)] = 32 bytes, so one 256-bit register holds both sides of the pair and one rsqrt
 * serves both. kp a multiple of 8 runs 8 lanes per side; other kp use the portable kernel. */
#include "models/ffm/kernel.h"

#include "core/cpu.h"
#include "core/hogwild.h"

#if DCTR_X86_DISPATCH
#include <immintrin.h>

#define X86_INLINE static inline __attribute__((always_inline)) DCTR_HOGWILD

/* Sum of the 8 lanes as (l0+l4 + l1+l5) + (l2+l6 + l3+l7). */
DCTR_TARGET_AVX2 X86_INLINE float hsum_avx2(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    float l[4];
    _mm_storeu_ps(l, a);
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* ---- AVX2: the 12-bit rsqrt estimate, 8 lanes for kp % 8 == 0 ---- */

#define FK_TARGET DCTR_TARGET_AVX2
#define FK_SUFFIX avx2
#define FK_RSQRT4 _mm256_rsqrt_ps
#define FK_VEC __m256
#define FK_W 8
#define FK_SET1 _mm256_set1_ps
#define FK_LOAD _mm256_load_ps
#define FK_STORE _mm256_store_ps
#define FK_MUL _mm256_mul_ps
#define FK_FMADD _mm256_fmadd_ps
#define FK_FNMADD _mm256_fnmadd_ps
#define FK_RSQRTW _mm256_rsqrt_ps
#define FK_HSUM hsum_avx2
#include "models/ffm/kernel_x86_pair.h"
#undef FK_TARGET
#undef FK_SUFFIX
#undef FK_RSQRT4
#undef FK_VEC
#undef FK_W
#undef FK_SET1
#undef FK_LOAD
#undef FK_STORE
#undef FK_MUL
#undef FK_FMADD
#undef FK_FNMADD
#undef FK_RSQRTW
#undef FK_HSUM

/* kp = 4: two pairs per register, lanes 0-3 pair (x1, x2), lanes 4-7 pair (x1, x2 + 1). */
DCTR_TARGET_AVX2 X86_INLINE float score4_avx2(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                              const dctr_ffm_node *e, float r) {
    const float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    __m256 acc = _mm256_setzero_ps();
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        const float *base1 = W + (size_t)x1->index * row;
        const float v1 = x1->value * r;
        const dctr_ffm_node *x2 = x1 + 1;
        for (; x2 + 1 < e; x2 += 2) {
            __m256 a = _mm256_loadu2_m128(base1 + (size_t)x2[1].field * blk, base1 + (size_t)x2[0].field * blk);
            __m256 c = _mm256_loadu2_m128(W + (size_t)x2[1].index * row + f1 * blk,
                                          W + (size_t)x2[0].index * row + f1 * blk);
            __m256 v = _mm256_setr_m128(_mm_set1_ps(v1 * x2[0].value), _mm_set1_ps(v1 * x2[1].value));
            acc = _mm256_fmadd_ps(_mm256_mul_ps(a, c), v, acc);
        }
        if (x2 < e) {
            __m128 a = _mm_load_ps(base1 + (size_t)x2->field * blk);
            __m128 c = _mm_load_ps(W + (size_t)x2->index * row + f1 * blk);
            __m256 p = _mm256_castps128_ps256(_mm_mul_ps(_mm_mul_ps(a, c), _mm_set1_ps(v1 * x2->value)));
            acc = _mm256_add_ps(acc, _mm256_blend_ps(_mm256_setzero_ps(), p, 0x0f));
        }
    }
    return hsum_avx2(acc);
}

DCTR_TARGET_AVX2 DCTR_HOGWILD static float score_avx2(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                      const dctr_ffm_node *e, float r) {
    return w->kp == 4 ? score4_avx2(w, b, e, r) : score_wide_avx2(w, b, e, r);
}

DCTR_TARGET_AVX2 DCTR_HOGWILD static void update_avx2(dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                      const dctr_ffm_node *e, float r, float kappa,
                                                      const dctr_ffm_step *st) {
    update_pairs_avx2(w, b, e, r, kappa, st);
}

/* ---- AVX-512: the 14-bit rsqrt estimate (kp = 4 on 256-bit registers), 16 lanes for kp % 16 == 0 ---- */

DCTR_TARGET_AVX512 X86_INLINE float hsum_avx512(__m512 acc) {
    return hsum_avx2(_mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)));
}

#define FK_TARGET DCTR_TARGET_AVX512
#define FK_SUFFIX avx512
#define FK_RSQRT4 _mm256_rsqrt14_ps
#define FK_VEC __m512
#define FK_W 16
#define FK_SET1 _mm512_set1_ps
#define FK_LOAD _mm512_load_ps
#define FK_STORE _mm512_store_ps
#define FK_MUL _mm512_mul_ps
#define FK_FMADD _mm512_fmadd_ps
#define FK_FNMADD _mm512_fnmadd_ps
#define FK_RSQRTW _mm512_rsqrt14_ps
#define FK_HSUM hsum_avx512
#include "models/ffm/kernel_x86_pair.h"

/* kp = 4 (two pairs per 256-bit register, as AVX2: gathering four 16-byte blocks into a 512-bit
 * register costs more than it saves) and kp = 8 score with the AVX2 loop. */
DCTR_TARGET_AVX512 DCTR_HOGWILD static float score_avx512(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                          const dctr_ffm_node *e, float r) {
    return w->kp % 16 != 0 ? score_avx2(w, b, e, r) : score_wide_avx512(w, b, e, r);
}

/* kp = 4 updates with the 14-bit estimate; kp = 8 (or 24, ...) is the AVX2 kernel's. */
DCTR_TARGET_AVX512 DCTR_HOGWILD static void update_avx512(dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                          const dctr_ffm_node *e, float r, float kappa,
                                                          const dctr_ffm_step *st) {
    if (w->kp != 4 && w->kp % 16 != 0)
        update_avx2(w, b, e, r, kappa, st);
    else
        update_pairs_avx512(w, b, e, r, kappa, st);
}

static int x86_supported(const dctr_ffm_weights *w) { return w->kp == 4 || w->kp % 8 == 0; }

const dctr_ffm_pair_kernel dctr_ffm_kernel_avx2 = {DCTR_SIMD_AVX2, x86_supported, score_avx2, update_avx2};
const dctr_ffm_pair_kernel dctr_ffm_kernel_avx512 = {DCTR_SIMD_AVX512, x86_supported, score_avx512,
                                                     update_avx512};
#endif
