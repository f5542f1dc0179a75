/* FM: 1/2 sum_j [(sum_f v)^2 - sum_f v^2], O(F k) per row. */
#include "layers/fm.h"

#include "core/simd.h"

#define FM_STACK_K 256 /* dims per pass over the fields (k above this takes several passes) */

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

/* The common dims get a copy with k a constant: the sums stay in registers. Same operations in
 * the same order as the general case. */
DCTR_KERNEL_BODY void fm_fw_body(const float *V, int64_t v_stride, int64_t B, int32_t F, int32_t k,
                                 float *out, int accumulate) {
    switch (k) {
    case 4: fm_fw_rows(V, v_stride, B, F, 4, out, accumulate); break;
    case 8: fm_fw_rows(V, v_stride, B, F, 8, out, accumulate); break;
    case 16: fm_fw_rows(V, v_stride, B, F, 16, out, accumulate); break;
    case 32: fm_fw_rows(V, v_stride, B, F, 32, out, accumulate); break;
    default: fm_fw_rows(V, v_stride, B, F, k, out, accumulate); break;
    }
}
DCTR_SIMD_CLONES(fm_fw, (const float *V, int64_t v_stride, int64_t B, int32_t F, int32_t k,
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

DCTR_KERNEL_BODY void fm_bw_body(const float *dout, const float *V, int64_t v_stride, int64_t B,
                                 int32_t F, int32_t k, float *dV, int64_t dv_stride) {
    switch (k) {
    case 4: fm_bw_rows(dout, V, v_stride, B, F, 4, dV, dv_stride); break;
    case 8: fm_bw_rows(dout, V, v_stride, B, F, 8, dV, dv_stride); break;
    case 16: fm_bw_rows(dout, V, v_stride, B, F, 16, dV, dv_stride); break;
    case 32: fm_bw_rows(dout, V, v_stride, B, F, 32, dV, dv_stride); break;
    default: fm_bw_rows(dout, V, v_stride, B, F, k, dV, dv_stride); break;
    }
}
DCTR_SIMD_CLONES(fm_bw, (const float *dout, const float *V, int64_t v_stride, int64_t B,
                         int32_t F, int32_t k, float *dV, int64_t dv_stride),
                 (dout, V, v_stride, B, F, k, dV, dv_stride));

void dctr_fm_backward(const float *dout, const float *V, int64_t v_stride, int64_t B, int32_t F,
                      int32_t k, float *dV, int64_t dv_stride) {
    DCTR_SIMD_PICK(fm_bw)(dout, V, v_stride, B, F, k, dV, dv_stride);
}
