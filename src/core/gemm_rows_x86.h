/* The x86 kernels of the row-exact GEMM (gemm_rows.c), written once and included once per
 * instruction set. The includer defines:
 *   GR_TARGET        function attribute (DCTR_TARGET_AVX2 / DCTR_TARGET_AVX512)
 *   GR_SUFFIX        name suffix (avx2 / avx512)
 *   GR_VEC, GR_MASK  vector and lane-mask types; GR_W lanes per vector
 *   GR_ZERO() GR_BCAST(p) GR_LOAD(p) GR_LOADM(p, m) GR_STOREM(p, m, v) GR_STORE(p, v) GR_FMA(a, b, c)
 *   GR_ADD(a, b)     a + b
 *   GR_FULL(m0, m1)  both masks cover every lane
 *   GR_NONE(m)       the mask covers no lane
 *   GR_GATE(c, y)    c where y > 0, else 0 (a relu's backward through its output y)
 *   GR_MASKOF(cols)  the mask of the first min(max(cols, 0), GR_W) lanes
 *   GR_ROWS          tile height: 6 or 8 (registers: GR_ROWS x 2 accumulators + 2 + 1)
 * Every accumulator is a named variable: with arrays of vectors gcc spills them to the stack on
 * every k. A tile of fewer rows than GR_ROWS reuses its last row's pointer for the missing rows
 * and stores only the real ones; every element still gets the same instruction sequence (one
 * accumulator, k in order, fused multiply-add), so results stay row-exact. */

#define GR_CAT2(a, b) a##_##b
#define GR_CAT(a, b) GR_CAT2(a, b)
#define GR_FN(name) GR_CAT(name, GR_SUFFIX)

#define GR_ROW_PTR(r) const float *x##r = X + (R > r ? r : R - 1) * rs
#define GR_ROW_FMA(r)                                                                         \
    do {                                                                                      \
        GR_VEC a = GR_BCAST(x##r + k * ks);                                                   \
        c##r##0 = GR_FMA(a, w0, c##r##0);                                                     \
        if (two)                                                                              \
            c##r##1 = GR_FMA(a, w1, c##r##1);                                                 \
    } while (0)
#define GR_ROW_STORE(r)                                                                       \
    do {                                                                                      \
        if (r < R) {                                                                          \
            float *zr = z + r * ldz;                                                          \
            if (acc) {                                                                        \
                c##r##0 = GR_ADD(GR_LOADM(zr, m0), c##r##0);                                  \
                if (two)                                                                      \
                    c##r##1 = GR_ADD(GR_LOADM(zr + GR_W, m1), c##r##1);                       \
            }                                                                                 \
            if (gate) { /* relu backward: keep the gradient where the layer output is > 0 */ \
                const float *gr = gate + r * ldz;                                             \
                c##r##0 = GR_GATE(c##r##0, GR_LOADM(gr, m0));                                 \
                s0 = GR_ADD(s0, c##r##0);                                                     \
                if (two) {                                                                    \
                    c##r##1 = GR_GATE(c##r##1, GR_LOADM(gr + GR_W, m1));                      \
                    s1 = GR_ADD(s1, c##r##1);                                                 \
                }                                                                             \
            }                                                                                 \
            GR_STOREM(zr, m0, c##r##0);                                                       \
            if (two)                                                                          \
                GR_STOREM(zr + GR_W, m1, c##r##1);                                            \
        }                                                                                     \
    } while (0)

/* Up to GR_ROWS rows x up to 2 * GR_W columns (lane masks m0, m1):
 *   z[r][j] (acc ? z[r][j] + : =) sum_k X[r * rs + k * ks] * W[k * ldw + j].
 * rs = row stride, ks = 1 reads rows of X (Z = X.W); rs = 1, ks = row stride reads its columns
 * (Z = X^T.W). Always inlined into wrappers with constant strides, so each loop is specialised;
 * full (both vectors whole) and two (a second vector at all: tiles of at most GR_W columns skip
 * it instead of multiplying zeros) are constants there too. */
GR_TARGET static inline __attribute__((always_inline)) void GR_FN(tile_gen)(
    const float *X, int64_t rs, int64_t ks, int R, int64_t K, const float *W, int64_t ldw,
    float *z, int64_t ldz, GR_MASK m0, GR_MASK m1, int acc, int full, int two, const float *gate,
    float *colsum) {
    GR_ROW_PTR(0);
    GR_ROW_PTR(1);
    GR_ROW_PTR(2);
    GR_ROW_PTR(3);
    GR_ROW_PTR(4);
    GR_ROW_PTR(5);
    GR_VEC c00 = GR_ZERO(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
           c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#if GR_ROWS == 8
    GR_ROW_PTR(6);
    GR_ROW_PTR(7);
    GR_VEC c60 = c00, c61 = c00, c70 = c00, c71 = c00;
#endif
    for (int64_t k = 0; k < K; k++) {
        const float *w = W + k * ldw;
        /* full tiles load plainly: AVX2's masked loads are slow on some cores (AMD) */
        GR_VEC w0 = full ? GR_LOAD(w) : GR_LOADM(w, m0);
        GR_VEC w1 = two ? (full ? GR_LOAD(w + GR_W) : GR_LOADM(w + GR_W, m1)) : w0;
        GR_ROW_FMA(0);
        GR_ROW_FMA(1);
        GR_ROW_FMA(2);
        GR_ROW_FMA(3);
        GR_ROW_FMA(4);
        GR_ROW_FMA(5);
#if GR_ROWS == 8
        GR_ROW_FMA(6);
        GR_ROW_FMA(7);
#endif
    }
    GR_VEC s0 = GR_ZERO(), s1 = s0; /* the gated tile's column sums (the bias gradient) */
    GR_ROW_STORE(0);
    GR_ROW_STORE(1);
    GR_ROW_STORE(2);
    GR_ROW_STORE(3);
    GR_ROW_STORE(4);
    GR_ROW_STORE(5);
#if GR_ROWS == 8
    GR_ROW_STORE(6);
    GR_ROW_STORE(7);
#endif
    if (gate && colsum) {
        GR_STOREM(colsum, m0, GR_ADD(GR_LOADM(colsum, m0), s0));
        if (two)
            GR_STOREM(colsum + GR_W, m1, GR_ADD(GR_LOADM(colsum + GR_W, m1), s1));
    }
}

/* Rows of X (row-exact when acc = 0 and gate = NULL: one accumulator from zero, k in order).
 * gate (stride ldz, like z): the relu backward fused in, column sums added to colsum. */
GR_TARGET static void GR_FN(tile)(const float *X, int64_t ldx, int R, int32_t K, int32_t N,
                                  const float *W, float *z, int64_t ldz, GR_MASK m0, GR_MASK m1,
                                  int acc, const float *gate, float *colsum) {
    if (GR_FULL(m0, m1) && !gate)
        GR_FN(tile_gen)(X, ldx, 1, R, K, W, N, z, ldz, m0, m1, acc, 1, 1, NULL, NULL);
    else if (GR_FULL(m0, m1))
        GR_FN(tile_gen)(X, ldx, 1, R, K, W, N, z, ldz, m0, m1, acc, 1, 1, gate, colsum);
    else if (GR_NONE(m1))
        GR_FN(tile_gen)(X, ldx, 1, R, K, W, N, z, ldz, m0, m1, acc, 0, 0, gate, colsum);
    else
        GR_FN(tile_gen)(X, ldx, 1, R, K, W, N, z, ldz, m0, m1, acc, 0, 1, gate, colsum);
}

/* Columns of A (Z = A^T.W over K rows of A and W). */
GR_TARGET static void GR_FN(tile_tn)(const float *A, int64_t lda, int R, int64_t K,
                                     const float *W, int64_t ldw, float *z, int64_t ldz,
                                     GR_MASK m0, GR_MASK m1, int acc) {
    if (GR_FULL(m0, m1))
        GR_FN(tile_gen)(A, 1, lda, R, K, W, ldw, z, ldz, m0, m1, acc, 1, 1, NULL, NULL);
    else if (GR_NONE(m1))
        GR_FN(tile_gen)(A, 1, lda, R, K, W, ldw, z, ldz, m0, m1, acc, 0, 0, NULL, NULL);
    else
        GR_FN(tile_gen)(A, 1, lda, R, K, W, ldw, z, ldz, m0, m1, acc, 0, 1, NULL, NULL);
}

/* One row x 4 vectors: four independent FMA chains hide the latency of a lone row. */
GR_TARGET static void GR_FN(row_x4)(const float *x, int32_t K, int32_t N, const float *W,
                                    float *z) {
    GR_VEC c0 = GR_ZERO(), c1 = c0, c2 = c0, c3 = c0;
    for (int32_t k = 0; k < K; k++) {
        const float *w = W + (int64_t)k * N;
        GR_VEC a = GR_BCAST(x + k);
        c0 = GR_FMA(a, GR_LOAD(w), c0);
        c1 = GR_FMA(a, GR_LOAD(w + GR_W), c1);
        c2 = GR_FMA(a, GR_LOAD(w + 2 * GR_W), c2);
        c3 = GR_FMA(a, GR_LOAD(w + 3 * GR_W), c3);
    }
    GR_STORE(z, c0);
    GR_STORE(z + GR_W, c1);
    GR_STORE(z + 2 * GR_W, c2);
    GR_STORE(z + 3 * GR_W, c3);
}

/* Z (acc ? += : =) X.W, then (gate) zero where gate <= 0 and add Z's column sums to colsum.
 * With acc = 0 and no gate every element is row-exact (the inference contract). */
GR_TARGET static void GR_FN(nn)(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                                const float *W, float *Z, int64_t ldz, int acc,
                                const float *gate, float *colsum) {
    const int32_t wide = 4 * GR_W, tile = 2 * GR_W;
    if (B < GR_ROWS / 2 && !acc && !gate) { /* a lone row (serving): wide single-row tiles, then the tail */
        for (int64_t b = 0; b < B; b++) {
            int32_t j = 0;
            for (; j + wide <= N; j += wide)
                GR_FN(row_x4)(X + b * ldx, K, N, W + j, Z + b * ldz + j);
            for (; j < N; j += tile)
                GR_FN(tile)(X + b * ldx, ldx, 1, K, N, W + j, Z + b * ldz + j, ldz,
                            GR_MASKOF(N - j), GR_MASKOF(N - j - GR_W), 0, NULL, NULL);
        }
        return;
    }
    for (int64_t c = 0; c < B; c += CHUNK_ROWS) {
        int64_t ce = B - c < CHUNK_ROWS ? B : c + CHUNK_ROWS;
        for (int32_t j = 0; j < N; j += tile) {
            GR_MASK m0 = GR_MASKOF(N - j), m1 = GR_MASKOF(N - j - GR_W);
            for (int64_t b = c; b < ce; b += GR_ROWS) {
                int R = ce - b < GR_ROWS ? (int)(ce - b) : GR_ROWS;
                GR_FN(tile)(X + b * ldx, ldx, R, K, N, W + j, Z + b * ldz + j, ldz, m0, m1, acc,
                            gate ? gate + b * ldz + j : NULL, colsum ? colsum + j : NULL);
            }
        }
    }
}

GR_TARGET static void GR_FN(rows)(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                                  const float *W, float *Z, int64_t ldz) {
    GR_FN(nn)(X, ldx, B, K, N, W, Z, ldz, 0, NULL, NULL);
}

/* C[M x N] (acc ? += : =) A^T.W, A [K x M] (stride lda), W [K x N] (stride ldw). K runs in
 * blocks of TN_BLOCK_K rows: a block of A and W stays in L2 while every tile passes over it,
 * and a tile's column slab of A stays in L1 across the tiles of its row of C. */
GR_TARGET static void GR_FN(tn)(const float *A, int64_t lda, int32_t M, int32_t N, int64_t K,
                                const float *W, int64_t ldw, float *C, int64_t ldc, int acc) {
    const int32_t tile = 2 * GR_W;
    for (int64_t k0 = 0; k0 < K; k0 += TN_BLOCK_K) {
        int64_t kn = K - k0 < TN_BLOCK_K ? K - k0 : TN_BLOCK_K;
        int a = acc || k0 > 0;
        for (int32_t i = 0; i < M; i += GR_ROWS) {
            int R = M - i < GR_ROWS ? M - i : GR_ROWS;
            for (int32_t j = 0; j < N; j += tile)
                GR_FN(tile_tn)(A + k0 * lda + i, lda, R, kn, W + k0 * ldw + j, ldw,
                               C + (int64_t)i * ldc + j, ldc, GR_MASKOF(N - j),
                               GR_MASKOF(N - j - GR_W), a);
        }
    }
}

#undef GR_CAT2
#undef GR_CAT
#undef GR_FN
#undef GR_ROW_PTR
#undef GR_ROW_FMA
#undef GR_ROW_STORE
