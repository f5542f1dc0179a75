/* FM: 1/2 sum_j [(sum_f v)^2 - sum_f v^2], O(F k) per row. */
#include "layers/fm.h"

#include <string.h>

#include "core/simd.h"

#define FM_STACK_K 256 /* dims per pass over the fields (k above this takes several passes) */
#define FM_VEC_MAX 8   /* vectors per running sum in the vector forms (s + sq fit 16 registers) */

/* Rows [0, B). Fields outer, dims inner: the inner loop is contiguous and vectorizes; each
 * dim's sums still run over the fields in order, and the dims are summed in order, so a row's
 * value depends on nothing but the row (and is the same at every SIMD level). */
DCTR_KERNEL_BODY void fm_fw_rows(const float *V, int64_t v_stride, int64_t B, int32_t F,
                                 int32_t k, float *out, int accumulate) {
    float s[FM_STACK_K], sq[FM_STACK_K];
    for (int64_t b = 0; b < B; b++) {
        const float *row = V + b * v_stride;
        float acc = 0.0f;
        for (int32_t j0 = 0; j0 < k; j0 += FM_STACK_K) {
            int32_t kk = k - j0 < FM_STACK_K ? k - j0 : FM_STACK_K;
            for (int32_t j = 0; j < kk; j++)
                s[j] = sq[j] = 0.0f;
            for (int32_t f = 0; f < F; f++) {
                const float *v = row + (int64_t)f * k + j0;
                for (int32_t j = 0; j < kk; j++) {
                    s[j] += v[j];
                    sq[j] += v[j] * v[j];
                }
            }
            for (int32_t j = 0; j < kk; j++)
                acc += s[j] * s[j] - sq[j];
        }
        acc *= 0.5f;
        out[b] = accumulate ? out[b] + acc : acc;
    }
}

#if DCTR_VEC
/* The dims past the last full vector: up to one 4-lane vector (h) and 3 scalars (r), in named
 * variables so they stay in registers like the vector sums. */
typedef struct fm_tail {
    dctr_v4f h, hq;
    float a[3], aq[3];
} fm_tail;

/* The per-dim sums over the fields of one row, in field order: s / hs / a0..a2 (the nv vectors,
 * the 4-lane tail, the scalar tail) and, with SQ = 1, the sums of squares sq / hsq / q0..q2 too
 * (forward needs both, backward the sums only). */
#define FM_IF_SQ_0(...)
#define FM_IF_SQ_1(...) __VA_ARGS__
#define FM_IF_SQ(SQ, ...) FM_IF_SQ_##SQ(__VA_ARGS__)
#define FM_FIELD_SUMS(T, W, SQ)                                                               \
    for (int32_t f = 0; f < F; f++) {                                                         \
        const float *v = row + (int64_t)f * k;                                                \
        for (int32_t q = 0; q < nv; q++) {                                                    \
            T x;                                                                              \
            memcpy(&x, v + q * W, sizeof x);                                                  \
            s[q] += x;                                                                        \
            FM_IF_SQ(SQ, sq[q] += x * x;)                                                     \
        }                                                                                     \
        if (h) {                                                                              \
            dctr_v4f x;                                                                       \
            memcpy(&x, v + o, sizeof x);                                                      \
            hs += x;                                                                          \
            FM_IF_SQ(SQ, hsq += x * x;)                                                       \
        }                                                                                     \
        const float *e = v + o + 4 * h;                                                       \
        if (r > 0) { a0 += e[0]; FM_IF_SQ(SQ, q0 += e[0] * e[0];) }                           \
        if (r > 1) { a1 += e[1]; FM_IF_SQ(SQ, q1 += e[1] * e[1];) }                           \
        if (r > 2) { a2 += e[2]; FM_IF_SQ(SQ, q2 += e[2] * e[2];) }                           \
    }

/* Rows with k = nv * W + tail (tail < W): nv vectors of W lanes plus the tail. The F-long sums
 * stay in registers (the array form above round-trips them through memory on every field).
 * Each dim adds the fields in order and the dims are summed in order at the end (vector lanes,
 * then the tail's): the exact operations of fm_fw_rows. */
#define FM_FW_VEC(T, W)                                                                       \
    DCTR_KERNEL_BODY void fm_fw_v##W(const float *V, int64_t v_stride, int64_t B, int32_t F,  \
                                     int32_t nv, int32_t tail, float *out, int accumulate) {  \
        const int32_t k = nv * W + tail, h = W == 8 && tail >= 4, r = tail - 4 * h;           \
        const int32_t o = nv * W; /* first tail dim */                                        \
        for (int64_t b = 0; b < B; b++) {                                                     \
            const float *row = V + b * v_stride;                                              \
            T s[FM_VEC_MAX], sq[FM_VEC_MAX];                                                  \
            dctr_v4f hs = {0}, hsq = {0};                                                     \
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, q0 = 0.0f, q1 = 0.0f, q2 = 0.0f;           \
            for (int32_t q = 0; q < nv; q++)                                                  \
                s[q] = sq[q] = (T){0};                                                        \
            FM_FIELD_SUMS(T, W, 1)                                                            \
            float acc = 0.0f;                                                                 \
            for (int32_t q = 0; q < nv; q++) {                                                \
                T t = s[q] * s[q] - sq[q];                                                    \
                for (int j = 0; j < W; j++)                                                   \
                    acc += t[j];                                                              \
            }                                                                                 \
            if (h) {                                                                          \
                dctr_v4f t = hs * hs - hsq;                                                   \
                for (int j = 0; j < 4; j++)                                                   \
                    acc += t[j];                                                              \
            }                                                                                 \
            if (r > 0) acc += a0 * a0 - q0;                                                   \
            if (r > 1) acc += a1 * a1 - q1;                                                   \
            if (r > 2) acc += a2 * a2 - q2;                                                   \
            acc *= 0.5f;                                                                      \
            out[b] = accumulate ? out[b] + acc : acc;                                         \
        }                                                                                     \
    }
FM_FW_VEC(dctr_v4f, 4)
FM_FW_VEC(dctr_v8f, 8)
#undef FM_FW_VEC
#endif

#if DCTR_VEC
/* Runs CALL(n) for the vector count n = nvec when 1 <= n <= max (max <= 8), with n a constant in
 * each case so the kernel's loops over the vectors unroll; falls through otherwise. */
#define FM_BY_VECTORS(nvec, max, CALL)                                                        \
    switch ((nvec) <= (max) ? (nvec) : 0) {                                                   \
    case 1: CALL(1); return;                                                                  \
    case 2: CALL(2); return;                                                                  \
    case 3: CALL(3); return;                                                                  \
    case 4: CALL(4); return;                                                                  \
    case 5: CALL(5); return;                                                                  \
    case 6: CALL(6); return;                                                                  \
    case 7: CALL(7); return;                                                                  \
    case 8: CALL(8); return;                                                                  \
    default: break;                                                                           \
    }
/* lanes 8: 8-lane vectors for 8 <= k < 40; then (every level) 4-lane vectors for 4 <= k < 36;
 * KERNEL##8 / KERNEL##4 (n) runs the kernel with n vectors. */
#define FM_VECTOR_FORMS(lanes, KERNEL)                                                        \
    if (lanes == 8)                                                                           \
        FM_BY_VECTORS(k / 8, 4, KERNEL##8)                                                    \
    FM_BY_VECTORS(k / 4, 8, KERNEL##4)
#define FM_FW(W, n) fm_fw_v##W(V, v_stride, B, F, n, k % W, out, accumulate)
#define FM_FW4(n) FM_FW(4, n)
#define FM_FW8(n) FM_FW(8, n)
#else
#define FM_VECTOR_FORMS(lanes, KERNEL) (void)lanes;
#endif

/* The vector forms for the level's lanes (4 portable, 8 AVX2 / AVX-512), else the array form. The
 * vector count is a constant in each case (fully unrolled); the tail is a short loop. */
DCTR_KERNEL_BODY void fm_fw_lanes(int lanes, const float *V, int64_t v_stride, int64_t B, int32_t F,
                                  int32_t k, float *out, int accumulate) {
    FM_VECTOR_FORMS(lanes, FM_FW)
    fm_fw_rows(V, v_stride, B, F, k, out, accumulate);
}
DCTR_KERNEL_BODY void fm_fw_narrow(const float *V, int64_t v_stride, int64_t B, int32_t F,
                                   int32_t k, float *out, int accumulate) {
    fm_fw_lanes(4, V, v_stride, B, F, k, out, accumulate);
}
DCTR_KERNEL_BODY void fm_fw_wide(const float *V, int64_t v_stride, int64_t B, int32_t F,
                                 int32_t k, float *out, int accumulate) {
    fm_fw_lanes(8, V, v_stride, B, F, k, out, accumulate);
}
DCTR_SIMD_CLONES_NW(fm_fw, (const float *V, int64_t v_stride, int64_t B, int32_t F, int32_t k,
                            float *out, int accumulate),
                    (V, v_stride, B, F, k, out, accumulate));

void dctr_fm_forward(const float *V, int64_t v_stride, int64_t B, int32_t F, int32_t k,
                     float *out, int accumulate) {
    DCTR_SIMD_PICK(fm_fw)(V, v_stride, B, F, k, out, accumulate);
}

DCTR_KERNEL_BODY void fm_bw_rows(const float *dout, const float *V, int64_t v_stride, int64_t B,
                                 int32_t F, int32_t k, float *dV, int64_t dv_stride) {
    float sum[FM_STACK_K];
    for (int64_t b = 0; b < B; b++) {
        const float *row = V + b * v_stride;
        float *drow = dV + b * dv_stride;
        float d = dout[b];
        for (int32_t j0 = 0; j0 < k; j0 += FM_STACK_K) {
            int32_t kk = k - j0 < FM_STACK_K ? k - j0 : FM_STACK_K;
            for (int32_t j = 0; j < kk; j++)
                sum[j] = 0.0f;
            for (int32_t f = 0; f < F; f++)
                for (int32_t j = 0; j < kk; j++)
                    sum[j] += row[(int64_t)f * k + j0 + j];
            for (int32_t f = 0; f < F; f++)
                for (int32_t j = 0; j < kk; j++)
                    drow[(int64_t)f * k + j0 + j] += d * (sum[j] - row[(int64_t)f * k + j0 + j]);
        }
    }
}

#if DCTR_VEC
/* dV[f] += d * (sum - V[f]) with the sums in registers (tail as in FM_FW_VEC); per dim the
 * ops of fm_bw_rows. */
#define FM_BW_VEC(T, W)                                                                       \
    DCTR_KERNEL_BODY void fm_bw_v##W(const float *dout, const float *V, int64_t v_stride,     \
                                     int64_t B, int32_t F, int32_t nv, int32_t tail,          \
                                     float *dV, int64_t dv_stride) {                          \
        const int32_t k = nv * W + tail, h = W == 8 && tail >= 4, r = tail - 4 * h;           \
        const int32_t o = nv * W;                                                             \
        for (int64_t b = 0; b < B; b++) {                                                     \
            const float *row = V + b * v_stride;                                              \
            float *drow = dV + b * dv_stride;                                                 \
            const float d = dout[b];                                                          \
            T s[FM_VEC_MAX];                                                                  \
            dctr_v4f hs = {0};                                                                \
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;                                            \
            for (int32_t q = 0; q < nv; q++)                                                  \
                s[q] = (T){0};                                                                \
            FM_FIELD_SUMS(T, W, 0)                                                            \
            for (int32_t f = 0; f < F; f++) {                                                 \
                const float *v = row + (int64_t)f * k;                                        \
                float *g = drow + (int64_t)f * k;                                             \
                for (int32_t q = 0; q < nv; q++) {                                            \
                    T x, y;                                                                   \
                    memcpy(&x, v + q * W, sizeof x);                                          \
                    memcpy(&y, g + q * W, sizeof y);                                          \
                    y += d * (s[q] - x);                                                      \
                    memcpy(g + q * W, &y, sizeof y);                                          \
                }                                                                             \
                if (h) {                                                                      \
                    dctr_v4f x, y;                                                            \
                    memcpy(&x, v + o, sizeof x);                                              \
                    memcpy(&y, g + o, sizeof y);                                              \
                    y += d * (hs - x);                                                        \
                    memcpy(g + o, &y, sizeof y);                                              \
                }                                                                             \
                const float *e = v + o + 4 * h;                                               \
                float *ge = g + o + 4 * h;                                                    \
                if (r > 0) ge[0] += d * (a0 - e[0]);                                          \
                if (r > 1) ge[1] += d * (a1 - e[1]);                                          \
                if (r > 2) ge[2] += d * (a2 - e[2]);                                          \
            }                                                                                 \
        }                                                                                     \
    }
FM_BW_VEC(dctr_v4f, 4)
FM_BW_VEC(dctr_v8f, 8)
#undef FM_BW_VEC
#endif

#if DCTR_VEC
#define FM_BW(W, n) fm_bw_v##W(dout, V, v_stride, B, F, n, k % W, dV, dv_stride)
#define FM_BW4(n) FM_BW(4, n)
#define FM_BW8(n) FM_BW(8, n)
#endif

/* The vector forms as in fm_fw_lanes. */
DCTR_KERNEL_BODY void fm_bw_lanes(int lanes, const float *dout, const float *V, int64_t v_stride,
                                  int64_t B, int32_t F, int32_t k, float *dV, int64_t dv_stride) {
    FM_VECTOR_FORMS(lanes, FM_BW)
    fm_bw_rows(dout, V, v_stride, B, F, k, dV, dv_stride);
}
DCTR_KERNEL_BODY void fm_bw_narrow(const float *dout, const float *V, int64_t v_stride,
                                   int64_t B, int32_t F, int32_t k, float *dV,
                                   int64_t dv_stride) {
    fm_bw_lanes(4, dout, V, v_stride, B, F, k, dV, dv_stride);
}
DCTR_KERNEL_BODY void fm_bw_wide(const float *dout, const float *V, int64_t v_stride, int64_t B,
                                 int32_t F, int32_t k, float *dV, int64_t dv_stride) {
    fm_bw_lanes(8, dout, V, v_stride, B, F, k, dV, dv_stride);
}
DCTR_SIMD_CLONES_NW(fm_bw, (const float *dout, const float *V, int64_t v_stride, int64_t B,
                            int32_t F, int32_t k, float *dV, int64_t dv_stride),
                    (dout, V, v_stride, B, F, k, dV, dv_stride));

void dctr_fm_backward(const float *dout, const float *V, int64_t v_stride, int64_t B, int32_t F,
                      int32_t k, float *dV, int64_t dv_stride) {
    DCTR_SIMD_PICK(fm_bw)(dout, V, v_stride, B, F, k, dV, dv_stride);
}
