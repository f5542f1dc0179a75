/* The x86 kernels of the row-exact GEMM (gemm_rows.c), written once and included once per
 * instruction set. The includer defines:
 *   GR_TARGET        function attribute (DCTR_TARGET_AVX2 / DCTR_TARGET_AVX512)
 *   GR_SUFFIX        name suffix (avx2 / avx512)
 *   GR_VEC, GR_MASK  vector and lane-mask types; GR_W lanes per vector
 *   GR_ZERO() GR_BCAST(p) GR_LOAD(p) GR_LOADM(p, m) GR_STOREM(p, m, v) GR_STORE(p, v) GR_FMA(a, b, c)
 *   GR_MASKOF(cols)  the mask of the first min(max(cols, 0), GR_W) lanes
 *   GR_ROWS          tile height: 6 or 8 (registers: GR_ROWS x 2 accumulators + 2 + 1)
 * Every accumulator is a named variable: with arrays of vectors gcc spills them to the stack on
 * every k. A tile of fewer rows than GR_ROWS reuses its last row's pointer for the missing rows
 * and stores only the real ones; every element still gets the same instruction sequence (one
 * accumulator, k in order, fused multiply-add), so results stay row-exact. */

#define GR_CAT2(a, b) a##_##b
#define GR_CAT(a, b) GR_CAT2(a, b)
#define GR_FN(name) GR_CAT(name, GR_SUFFIX)

#define GR_ROW_PTR(r) const float *x##r = X + (R > r ? r : R - 1) * ldx
#define GR_ROW_FMA(r)                                                                         \
    do {                                                                                      \
        GR_VEC a = GR_BCAST(x##r + k);                                                        \
        c##r##0 = GR_FMA(a, w0, c##r##0);                                                     \
        c##r##1 = GR_FMA(a, w1, c##r##1);                                                     \
    } while (0)
#define GR_ROW_STORE(r)                                                                       \
    do {                                                                                      \
        if (r < R) {                                                                          \
            GR_STOREM(z + r * ldz, m0, c##r##0);                                              \
            GR_STOREM(z + r * ldz + GR_W, m1, c##r##1);                                       \
        }                                                                                     \
    } while (0)

/* Up to GR_ROWS rows x up to 2 * GR_W columns (lane masks m0, m1). */
GR_TARGET static void GR_FN(tile)(const float *X, int64_t ldx, int R, int32_t K, int32_t N,
                                  const float *W, float *z, int64_t ldz, GR_MASK m0, GR_MASK m1) {
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
    for (int32_t k = 0; k < K; k++) {
        const float *w = W + (int64_t)k * N;
        GR_VEC w0 = GR_LOADM(w, m0), w1 = GR_LOADM(w + GR_W, m1);
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

GR_TARGET static void GR_FN(rows)(const float *X, int64_t ldx, int64_t B, int32_t K, int32_t N,
                                  const float *W, float *Z, int64_t ldz) {
    const int32_t wide = 4 * GR_W, tile = 2 * GR_W;
    if (B < GR_ROWS / 2) { /* a lone row (serving): wide single-row tiles, then the tail */
        for (int64_t b = 0; b < B; b++) {
            int32_t j = 0;
            for (; j + wide <= N; j += wide)
                GR_FN(row_x4)(X + b * ldx, K, N, W + j, Z + b * ldz + j);
            for (; j < N; j += tile)
                GR_FN(tile)(X + b * ldx, ldx, 1, K, N, W + j, Z + b * ldz + j, ldz,
                            GR_MASKOF(N - j), GR_MASKOF(N - j - GR_W));
        }
        return;
    }
    for (int64_t c = 0; c < B; c += CHUNK_ROWS) {
        int64_t ce = B - c < CHUNK_ROWS ? B : c + CHUNK_ROWS;
        for (int32_t j = 0; j < N; j += tile) {
            GR_MASK m0 = GR_MASKOF(N - j), m1 = GR_MASKOF(N - j - GR_W);
            for (int64_t b = c; b < ce; b += GR_ROWS) {
                int R = ce - b < GR_ROWS ? (int)(ce - b) : GR_ROWS;
                GR_FN(tile)(X + b * ldx, ldx, R, K, N, W + j, Z + b * ldz + j, ldz, m0, m1);
            }
        }
    }
}

#undef GR_CAT2
#undef GR_CAT
#undef GR_FN
#undef GR_ROW_PTR
#undef GR_ROW_FMA
#undef GR_ROW_STORE
