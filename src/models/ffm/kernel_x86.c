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

/* ---- AVX2 ---- */

/* 1/sqrt(G) to about 1 ulp: the 12-bit estimate and one Newton-Raphson step. */
DCTR_TARGET_AVX2 X86_INLINE __m256 rsqrt_nr_avx2(__m256 G) {
    const __m256 y = _mm256_rsqrt_ps(G);
    const __m256 h = _mm256_mul_ps(G, _mm256_set1_ps(0.5f));
    const __m256 t = _mm256_fnmadd_ps(h, _mm256_mul_ps(y, y), _mm256_set1_ps(1.5f));
    return _mm256_mul_ps(y, t);
}

/* Sum of the 8 lanes as (l0+l4 + l1+l5) + (l2+l6 + l3+l7). */
DCTR_TARGET_AVX2 X86_INLINE float hsum_avx2(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    float l[4];
    _mm_storeu_ps(l, a);
    return (l[0] + l[1]) + (l[2] + l[3]);
}

DCTR_TARGET_AVX2 DCTR_HOGWILD static float score_avx2(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                      const dctr_ffm_node *e, float r) {
    const float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
    __m256 acc = _mm256_setzero_ps();
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        const float *base1 = W + (size_t)x1->index * row;
        const float v1 = x1->value * r;
        const dctr_ffm_node *x2 = x1 + 1;
        if (kp == 4) {
            /* two pairs per register: lanes 0-3 pair (x1, x2), lanes 4-7 pair (x1, x2 + 1) */
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
            continue;
        }
        for (; x2 < e; x2++) { /* kp % 8 == 0 */
            const float *w1 = base1 + (size_t)x2->field * blk;
            const float *w2 = W + (size_t)x2->index * row + f1 * blk;
            const __m256 v = _mm256_set1_ps(v1 * x2->value);
            for (int32_t d = 0; d < kp; d += 8)
                acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_load_ps(w1 + d), _mm256_load_ps(w2 + d)), v, acc);
        }
    }
    return hsum_avx2(acc);
}

/* One pair, kp = 4: B1 = [a G1], B2 = [c G2] at 32-byte aligned blocks. Stores go B1 then B2, so
 * an aliased pair (B1 == B2) ends with the second side, as the portable kernel. */
DCTR_TARGET_AVX2 X86_INLINE void pair4_avx2(float *p1, float *p2, __m256 kv, __m256 eta, __m256 lam) {
    const __m256 B1 = _mm256_load_ps(p1), B2 = _mm256_load_ps(p2);
    __m256 A = _mm256_permute2f128_ps(B1, B2, 0x20);        /* [a c] */
    __m256 G = _mm256_permute2f128_ps(B1, B2, 0x31);        /* [G1 G2] */
    const __m256 C = _mm256_permute2f128_ps(B2, B1, 0x20);  /* [c a] */
    const __m256 g = _mm256_fmadd_ps(lam, A, _mm256_mul_ps(kv, C));
    G = _mm256_fmadd_ps(g, g, G);
    A = _mm256_fnmadd_ps(_mm256_mul_ps(eta, g), rsqrt_nr_avx2(G), A);
    _mm256_store_ps(p1, _mm256_permute2f128_ps(A, G, 0x20));
    _mm256_store_ps(p2, _mm256_permute2f128_ps(A, G, 0x31));
}

/* One pair, kp % 8 == 0: 8 lanes per side. */
DCTR_TARGET_AVX2 X86_INLINE void pair8_avx2(float *w1, float *w2, int32_t kp, __m256 kv, __m256 eta, __m256 lam) {
    for (int32_t d = 0; d < kp; d += 8) {
        __m256 a = _mm256_load_ps(w1 + d), c = _mm256_load_ps(w2 + d);
        __m256 ga = _mm256_load_ps(w1 + kp + d), gc = _mm256_load_ps(w2 + kp + d);
        const __m256 g1 = _mm256_fmadd_ps(lam, a, _mm256_mul_ps(kv, c));
        const __m256 g2 = _mm256_fmadd_ps(lam, c, _mm256_mul_ps(kv, a));
        ga = _mm256_fmadd_ps(g1, g1, ga);
        gc = _mm256_fmadd_ps(g2, g2, gc);
        a = _mm256_fnmadd_ps(_mm256_mul_ps(eta, g1), rsqrt_nr_avx2(ga), a);
        c = _mm256_fnmadd_ps(_mm256_mul_ps(eta, g2), rsqrt_nr_avx2(gc), c);
        _mm256_store_ps(w1 + d, a);
        _mm256_store_ps(w2 + d, c);
        _mm256_store_ps(w1 + kp + d, ga);
        _mm256_store_ps(w2 + kp + d, gc);
    }
}

DCTR_TARGET_AVX2 DCTR_HOGWILD static void update_avx2(dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                      const dctr_ffm_node *e, float r, float kappa,
                                                      const dctr_ffm_step *st) {
    float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
    const __m256 eta = _mm256_set1_ps(st->eta), lam = _mm256_set1_ps(st->lambda);
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        float *base1 = W + (size_t)x1->index * row;
        const float kv1 = kappa * x1->value * r;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            float *w1 = base1 + (size_t)x2->field * blk;
            float *w2 = W + (size_t)x2->index * row + f1 * blk;
            const __m256 kv = _mm256_set1_ps(kv1 * x2->value);
            if (kp == 4)
                pair4_avx2(w1, w2, kv, eta, lam);
            else
                pair8_avx2(w1, w2, kp, kv, eta, lam);
        }
    }
}

/* ---- AVX-512: the 14-bit rsqrt estimate (kp = 4 on 256-bit registers), 16 lanes for kp % 16 == 0 ---- */

DCTR_TARGET_AVX512 X86_INLINE __m256 rsqrt_nr_avx512(__m256 G) {
    const __m256 y = _mm256_rsqrt14_ps(G);
    const __m256 h = _mm256_mul_ps(G, _mm256_set1_ps(0.5f));
    const __m256 t = _mm256_fnmadd_ps(h, _mm256_mul_ps(y, y), _mm256_set1_ps(1.5f));
    return _mm256_mul_ps(y, t);
}

DCTR_TARGET_AVX512 X86_INLINE __m512 rsqrt_nr_avx512z(__m512 G) {
    const __m512 y = _mm512_rsqrt14_ps(G);
    const __m512 h = _mm512_mul_ps(G, _mm512_set1_ps(0.5f));
    const __m512 t = _mm512_fnmadd_ps(h, _mm512_mul_ps(y, y), _mm512_set1_ps(1.5f));
    return _mm512_mul_ps(y, t);
}

DCTR_TARGET_AVX512 DCTR_HOGWILD static float score_avx512(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                          const dctr_ffm_node *e, float r) {
    const float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
    /* kp = 4 (two pairs per 256-bit register, as AVX2: gathering four 16-byte blocks into a
     * 512-bit register costs more than it saves) and kp = 8 run the AVX2 loop */
    if (kp % 16 != 0)
        return score_avx2(w, b, e, r);
    __m512 acc = _mm512_setzero_ps();
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        const float *base1 = W + (size_t)x1->index * row;
        const float v1 = x1->value * r;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            const float *w1 = base1 + (size_t)x2->field * blk;
            const float *w2 = W + (size_t)x2->index * row + f1 * blk;
            const __m512 v = _mm512_set1_ps(v1 * x2->value);
            for (int32_t d = 0; d < kp; d += 16)
                acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_load_ps(w1 + d), _mm512_load_ps(w2 + d)), v, acc);
        }
    }
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
    return hsum_avx2(h);
}

DCTR_TARGET_AVX512 X86_INLINE void pair4_avx512(float *p1, float *p2, __m256 kv, __m256 eta, __m256 lam) {
    const __m256 B1 = _mm256_load_ps(p1), B2 = _mm256_load_ps(p2);
    __m256 A = _mm256_permute2f128_ps(B1, B2, 0x20);
    __m256 G = _mm256_permute2f128_ps(B1, B2, 0x31);
    const __m256 C = _mm256_permute2f128_ps(B2, B1, 0x20);
    const __m256 g = _mm256_fmadd_ps(lam, A, _mm256_mul_ps(kv, C));
    G = _mm256_fmadd_ps(g, g, G);
    A = _mm256_fnmadd_ps(_mm256_mul_ps(eta, g), rsqrt_nr_avx512(G), A);
    _mm256_store_ps(p1, _mm256_permute2f128_ps(A, G, 0x20));
    _mm256_store_ps(p2, _mm256_permute2f128_ps(A, G, 0x31));
}

DCTR_TARGET_AVX512 X86_INLINE void pair16_avx512(float *w1, float *w2, int32_t kp, __m512 kv, __m512 eta, __m512 lam) {
    for (int32_t d = 0; d < kp; d += 16) {
        __m512 a = _mm512_load_ps(w1 + d), c = _mm512_load_ps(w2 + d);
        __m512 ga = _mm512_load_ps(w1 + kp + d), gc = _mm512_load_ps(w2 + kp + d);
        const __m512 g1 = _mm512_fmadd_ps(lam, a, _mm512_mul_ps(kv, c));
        const __m512 g2 = _mm512_fmadd_ps(lam, c, _mm512_mul_ps(kv, a));
        ga = _mm512_fmadd_ps(g1, g1, ga);
        gc = _mm512_fmadd_ps(g2, g2, gc);
        a = _mm512_fnmadd_ps(_mm512_mul_ps(eta, g1), rsqrt_nr_avx512z(ga), a);
        c = _mm512_fnmadd_ps(_mm512_mul_ps(eta, g2), rsqrt_nr_avx512z(gc), c);
        _mm512_store_ps(w1 + d, a);
        _mm512_store_ps(w2 + d, c);
        _mm512_store_ps(w1 + kp + d, ga);
        _mm512_store_ps(w2 + kp + d, gc);
    }
}

DCTR_TARGET_AVX512 DCTR_HOGWILD static void update_avx512(dctr_ffm_weights *w, const dctr_ffm_node *b,
                                                          const dctr_ffm_node *e, float r, float kappa,
                                                          const dctr_ffm_step *st) {
    const int32_t kp = w->kp;
    if (kp != 4 && kp % 16 != 0) {
        update_avx2(w, b, e, r, kappa, st);
        return;
    }
    float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        float *base1 = W + (size_t)x1->index * row;
        const float kv1 = kappa * x1->value * r;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            float *w1 = base1 + (size_t)x2->field * blk;
            float *w2 = W + (size_t)x2->index * row + f1 * blk;
            if (kp == 4)
                pair4_avx512(w1, w2, _mm256_set1_ps(kv1 * x2->value), _mm256_set1_ps(st->eta),
                             _mm256_set1_ps(st->lambda));
            else
                pair16_avx512(w1, w2, kp, _mm512_set1_ps(kv1 * x2->value), _mm512_set1_ps(st->eta),
                              _mm512_set1_ps(st->lambda));
        }
    }
}

static int x86_supported(const dctr_ffm_weights *w) { return w->kp == 4 || w->kp % 8 == 0; }

const dctr_ffm_pair_kernel dctr_ffm_kernel_avx2 = {DCTR_SIMD_AVX2, x86_supported, score_avx2, update_avx2};
const dctr_ffm_pair_kernel dctr_ffm_kernel_avx512 = {DCTR_SIMD_AVX512, x86_supported, score_avx512,
                                                     update_avx512};
#endif
