/* The x86 FFM pair kernel, written once and included once per instruction set by kernel_x86.c
 * (as src/core/gemm_rows_x86.h does for the GEMM). The includer defines:
 *   FK_TARGET              function attribute (DCTR_TARGET_AVX2 / DCTR_TARGET_AVX512)
 *   FK_SUFFIX              name suffix (avx2 / avx512)
 *   FK_RSQRT4(G)           the 256-bit rsqrt estimate the kp = 4 pair uses
 *   FK_VEC, FK_W           the wide vector type and its lanes (kp % FK_W == 0 runs on it)
 *   FK_SET1 FK_LOAD FK_STORE FK_MUL FK_FMADD FK_FNMADD FK_RSQRTW  wide vector ops (FK_RSQRTW:
 *                          the wide rsqrt estimate)
 *   FK_HSUM(acc)           the wide accumulator's lanes summed to a float
 * Every instruction set runs the same operations in the same order: only the lane count and the
 * rsqrt estimate differ (see kernel_x86.c for what that means for the bits). */

#define FK_CAT2(a, b) a##_##b
#define FK_CAT(a, b) FK_CAT2(a, b)
#define FK_FN(name) FK_CAT(name, FK_SUFFIX)

/* 1/sqrt(G) to about 1 ulp: the hardware estimate and one Newton-Raphson step. */
FK_TARGET X86_INLINE __m256 FK_FN(rsqrt4)(__m256 G) {
    const __m256 y = FK_RSQRT4(G);
    const __m256 h = _mm256_mul_ps(G, _mm256_set1_ps(0.5f));
    const __m256 t = _mm256_fnmadd_ps(h, _mm256_mul_ps(y, y), _mm256_set1_ps(1.5f));
    return _mm256_mul_ps(y, t);
}

FK_TARGET X86_INLINE FK_VEC FK_FN(rsqrtw)(FK_VEC G) {
    const FK_VEC y = FK_RSQRTW(G);
    const FK_VEC h = FK_MUL(G, FK_SET1(0.5f));
    const FK_VEC t = FK_FNMADD(h, FK_MUL(y, y), FK_SET1(1.5f));
    return FK_MUL(y, t);
}

/* The row's pair sum for kp % FK_W == 0: FK_W lanes per step of a pair's two blocks. */
FK_TARGET X86_INLINE float FK_FN(score_wide)(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                             const dctr_ffm_node *e, float r) {
    const float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
    FK_VEC acc = FK_SET1(0.0f);
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        const float *base1 = W + (size_t)x1->index * row;
        const float v1 = x1->value * r;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            const float *w1 = base1 + (size_t)x2->field * blk;
            const float *w2 = W + (size_t)x2->index * row + f1 * blk;
            const FK_VEC v = FK_SET1(v1 * x2->value);
            for (int32_t d = 0; d < kp; d += FK_W)
                acc = FK_FMADD(FK_MUL(FK_LOAD(w1 + d), FK_LOAD(w2 + d)), v, acc);
        }
    }
    return FK_HSUM(acc);
}

/* One pair, kp = 4: B1 = [a G1], B2 = [c G2] at 32-byte aligned blocks. Stores go B1 then B2, so
 * an aliased pair (B1 == B2) ends with the second side, as the portable kernel. */
FK_TARGET X86_INLINE void FK_FN(pair4)(float *p1, float *p2, __m256 kv, __m256 eta, __m256 lam) {
    const __m256 B1 = _mm256_load_ps(p1), B2 = _mm256_load_ps(p2);
    __m256 A = _mm256_permute2f128_ps(B1, B2, 0x20);        /* [a c] */
    __m256 G = _mm256_permute2f128_ps(B1, B2, 0x31);        /* [G1 G2] */
    const __m256 C = _mm256_permute2f128_ps(B2, B1, 0x20);  /* [c a] */
    const __m256 g = _mm256_fmadd_ps(lam, A, _mm256_mul_ps(kv, C));
    G = _mm256_fmadd_ps(g, g, G);
    A = _mm256_fnmadd_ps(_mm256_mul_ps(eta, g), FK_FN(rsqrt4)(G), A);
    _mm256_store_ps(p1, _mm256_permute2f128_ps(A, G, 0x20));
    _mm256_store_ps(p2, _mm256_permute2f128_ps(A, G, 0x31));
}

/* One pair, kp % FK_W == 0: FK_W lanes per side. */
FK_TARGET X86_INLINE void FK_FN(pair_wide)(float *w1, float *w2, int32_t kp, FK_VEC kv, FK_VEC eta, FK_VEC lam) {
    for (int32_t d = 0; d < kp; d += FK_W) {
        FK_VEC a = FK_LOAD(w1 + d), c = FK_LOAD(w2 + d);
        FK_VEC ga = FK_LOAD(w1 + kp + d), gc = FK_LOAD(w2 + kp + d);
        const FK_VEC g1 = FK_FMADD(lam, a, FK_MUL(kv, c));
        const FK_VEC g2 = FK_FMADD(lam, c, FK_MUL(kv, a));
        ga = FK_FMADD(g1, g1, ga);
        gc = FK_FMADD(g2, g2, gc);
        a = FK_FNMADD(FK_MUL(eta, g1), FK_FN(rsqrtw)(ga), a);
        c = FK_FNMADD(FK_MUL(eta, g2), FK_FN(rsqrtw)(gc), c);
        FK_STORE(w1 + d, a);
        FK_STORE(w2 + d, c);
        FK_STORE(w1 + kp + d, ga);
        FK_STORE(w2 + kp + d, gc);
    }
}

/* The AdaGrad update of every pair of the row, in pair order (kp = 4 or kp % FK_W == 0). */
FK_TARGET X86_INLINE void FK_FN(update_pairs)(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e,
                                              float r, float kappa, const dctr_ffm_step *st) {
    float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
    const __m256 eta4 = _mm256_set1_ps(st->eta), lam4 = _mm256_set1_ps(st->lambda);
    const FK_VEC eta = FK_SET1(st->eta), lam = FK_SET1(st->lambda);
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        const size_t f1 = (size_t)x1->field;
        float *base1 = W + (size_t)x1->index * row;
        const float kv1 = kappa * x1->value * r;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            float *w1 = base1 + (size_t)x2->field * blk;
            float *w2 = W + (size_t)x2->index * row + f1 * blk;
            if (kp == 4)
                FK_FN(pair4)(w1, w2, _mm256_set1_ps(kv1 * x2->value), eta4, lam4);
            else
                FK_FN(pair_wide)(w1, w2, kp, FK_SET1(kv1 * x2->value), eta, lam);
        }
    }
}

#undef FK_FN
#undef FK_CAT
#undef FK_CAT2
