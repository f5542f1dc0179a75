/* FM: 1/2 sum_j [(sum_f v)^2 - sum_f v^2], O(F k) per row. */
#include "layers/fm.h"

#define FM_STACK_K 256 /* dims per pass over the fields (k above this takes several passes) */

void dctr_fm_forward(const float *V, int64_t v_stride, int64_t B, int32_t F, int32_t k,
                     float *out, int accumulate) {
    float s[FM_STACK_K], sq[FM_STACK_K];
    for (int64_t b = 0; b < B; b++) {
        const float *row = V + b * v_stride;
        float acc = 0.0f;
        /* fields outer, dims inner: the inner loop is contiguous and vectorizes; each dim's sums
         * still run over the fields in order */
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

void dctr_fm_backward(const float *dout, const float *V, int64_t v_stride, int64_t B, int32_t F,
                      int32_t k, float *dV, int64_t dv_stride) {
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
