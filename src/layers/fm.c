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
/* Rows whose k is NV vectors of W lanes: the F-long sums stay in registers (the array form
 * above round-trips them through memory on every field). Lane j adds the fields in order and
 * the dims are summed in order at the end, the exact operations of fm_fw_rows. */
#define FM_FW_VEC(T, W)                                                                       \
    DCTR_KERNEL_BODY void fm_fw_v##W(const float *V, int64_t v_stride, int64_t B, int32_t F,  \
                                     int32_t nv, float *out, int accumulate) {               \
        for (int64_t b = 0; b < B; b++) {                                                     \
            const float *row = V + b * v_stride;                                              \
            T s[FM_VEC_MAX], sq[FM_VEC_MAX];                                                  \
            for (int32_t q = 0; q < nv; q++)                                                  \
                s[q] = sq[q] = (T){0};                                                        \
            for (int32_t f = 0; f < F; f++)                                                   \
                for (int32_t q = 0; q < nv; q++) {                                            \
                    T v;                                                                      \
                    memcpy(&v, row + ((int64_t)f * nv + q) * W, sizeof v);                    \
                    s[q] += v;                                                                \
                    sq[q] += v * v;                                                           \
                }                                                                             \
            float acc = 0.0f;                                                                 \
            for (int32_t q = 0; q < nv; q++) {                                                \
                T t = s[q] * s[q] - sq[q];                                                    \
                for (int j = 0; j < W; j++)                                                   \
                    acc += t[j];                                                              \
            }                                                                                 \
            acc *= 0.5f;                                                                      \
            out[b] = accumulate ? out[b] + acc : acc;                                         \
        }                                                                                     \
    }
FM_FW_VEC(dctr_v4f, 4)
FM_FW_VEC(dctr_v8f, 8)
#undef FM_FW_VEC
#endif

/* Portable level: 4-lane vectors when k is a multiple of 4 up to 32, else the array form. */
DCTR_KERNEL_BODY void fm_fw_narrow(const float *V, int64_t v_stride, int64_t B, int32_t F,
                                   int32_t k, float *out, int accumulate) {
#if DCTR_VEC
    switch (k % 4 == 0 ? k / 4 : 0) { /* constant vector counts: fully unrolled */
    case 1: fm_fw_v4(V, v_stride, B, F, 1, out, accumulate); return;
    case 2: fm_fw_v4(V, v_stride, B, F, 2, out, accumulate); return;
    case 3: fm_fw_v4(V, v_stride, B, F, 3, out, accumulate); return;
    case 4: fm_fw_v4(V, v_stride, B, F, 4, out, accumulate); return;
    case 5: fm_fw_v4(V, v_stride, B, F, 5, out, accumulate); return;
    case 6: fm_fw_v4(V, v_stride, B, F, 6, out, accumulate); return;
    case 7: fm_fw_v4(V, v_stride, B, F, 7, out, accumulate); return;
    case 8: fm_fw_v4(V, v_stride, B, F, 8, out, accumulate); return;
    default: break;
    }
#endif
    fm_fw_rows(V, v_stride, B, F, k, out, accumulate);
}

/* AVX2 / AVX-512: 8-lane vectors for k a multiple of 8 up to 32, else as portable. */
DCTR_KERNEL_BODY void fm_fw_wide(const float *V, int64_t v_stride, int64_t B, int32_t F,
                                 int32_t k, float *out, int accumulate) {
#if DCTR_VEC
    switch (k % 8 == 0 ? k / 8 : 0) {
    case 1: fm_fw_v8(V, v_stride, B, F, 1, out, accumulate); return;
    case 2: fm_fw_v8(V, v_stride, B, F, 2, out, accumulate); return;
    case 3: fm_fw_v8(V, v_stride, B, F, 3, out, accumulate); return;
    case 4: fm_fw_v8(V, v_stride, B, F, 4, out, accumulate); return;
    default: break;
    }
#endif
    fm_fw_narrow(V, v_stride, B, F, k, out, accumulate);
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
/* dV[f] += d * (sum - V[f]) with the sums in registers; lanewise the ops of fm_bw_rows. */
#define FM_BW_VEC(T, W)                                                                       \
    DCTR_KERNEL_BODY void fm_bw_v##W(const float *dout, const float *V, int64_t v_stride,     \
                                     int64_t B, int32_t F, int32_t nv, float *dV,            \
                                     int64_t dv_stride) {                                     \
        for (int64_t b = 0; b < B; b++) {                                                     \
            const float *row = V + b * v_stride;                                              \
            float *drow = dV + b * dv_stride;                                                 \
            const float d = dout[b];                                                          \
            T s[FM_VEC_MAX];                                                                  \
            for (int32_t q = 0; q < nv; q++)                                                  \
                s[q] = (T){0};                                                                \
            for (int32_t f = 0; f < F; f++)                                                   \
                for (int32_t q = 0; q < nv; q++) {                                            \
                    T v;                                                                      \
                    memcpy(&v, row + ((int64_t)f * nv + q) * W, sizeof v);                    \
                    s[q] += v;                                                                \
                }                                                                             \
            for (int32_t f = 0; f < F; f++)                                                   \
                for (int32_t q = 0; q < nv; q++) {                                            \
                    T v, g;                                                                   \
                    int64_t o = ((int64_t)f * nv + q) * W;                                    \
                    memcpy(&v, row + o, sizeof v);                                            \
                    memcpy(&g, drow + o, sizeof g);                                           \
                    g += d * (s[q] - v);                                                      \
                    memcpy(drow + o, &g, sizeof g);                                           \
                }                                                                             \
        }                                                                                     \
    }
FM_BW_VEC(dctr_v4f, 4)
FM_BW_VEC(dctr_v8f, 8)
#undef FM_BW_VEC
#endif

DCTR_KERNEL_BODY void fm_bw_narrow(const float *dout, const float *V, int64_t v_stride,
                                   int64_t B, int32_t F, int32_t k, float *dV,
                                   int64_t dv_stride) {
#if DCTR_VEC
    switch (k % 4 == 0 ? k / 4 : 0) {
    case 1: fm_bw_v4(dout, V, v_stride, B, F, 1, dV, dv_stride); return;
    case 2: fm_bw_v4(dout, V, v_stride, B, F, 2, dV, dv_stride); return;
    case 3: fm_bw_v4(dout, V, v_stride, B, F, 3, dV, dv_stride); return;
    case 4: fm_bw_v4(dout, V, v_stride, B, F, 4, dV, dv_stride); return;
    case 5: fm_bw_v4(dout, V, v_stride, B, F, 5, dV, dv_stride); return;
    case 6: fm_bw_v4(dout, V, v_stride, B, F, 6, dV, dv_stride); return;
    case 7: fm_bw_v4(dout, V, v_stride, B, F, 7, dV, dv_stride); return;
    case 8: fm_bw_v4(dout, V, v_stride, B, F, 8, dV, dv_stride); return;
    default: break;
    }
#endif
    fm_bw_rows(dout, V, v_stride, B, F, k, dV, dv_stride);
}

DCTR_KERNEL_BODY void fm_bw_wide(const float *dout, const float *V, int64_t v_stride, int64_t B,
                                 int32_t F, int32_t k, float *dV, int64_t dv_stride) {
#if DCTR_VEC
    switch (k % 8 == 0 ? k / 8 : 0) {
    case 1: fm_bw_v8(dout, V, v_stride, B, F, 1, dV, dv_stride); return;
    case 2: fm_bw_v8(dout, V, v_stride, B, F, 2, dV, dv_stride); return;
    case 3: fm_bw_v8(dout, V, v_stride, B, F, 3, dV, dv_stride); return;
    case 4: fm_bw_v8(dout, V, v_stride, B, F, 4, dV, dv_stride); return;
    default: break;
    }
#endif
    fm_bw_narrow(dout, V, v_stride, B, F, k, dV, dv_stride);
}
DCTR_SIMD_CLONES_NW(fm_bw, (const float *dout, const float *V, int64_t v_stride, int64_t B,
                            int32_t F, int32_t k, float *dV, int64_t dv_stride),
                    (dout, V, v_stride, B, F, k, dV, dv_stride));

void dctr_fm_backward(const float *dout, const float *V, int64_t v_stride, int64_t B, int32_t F,
                      int32_t k, float *dV, int64_t dv_stride) {
    DCTR_SIMD_PICK(fm_bw)(dout, V, v_stride, B, F, k, dV, dv_stride);
}
