/* Linear part: dense kernel (B x D).(D x 1) and 1-dim sparse tables. */
#include "layers/linear.h"

#include "core/error.h"
#include "core/simd.h"

DCTR_KERNEL_BODY void lin_fw_body(const float *x, int64_t x_stride, int64_t B, int32_t D,
                                  const float *kernel, const float *bias, float *out,
                                  int accumulate) {
    float b0 = bias ? *bias : 0.0f;
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x + b * x_stride;
        float s = b0;
        for (int32_t j = 0; j < D; j++)
            s += xb[j] * kernel[j];
        out[b] = accumulate ? out[b] + s : s;
    }
}
DCTR_SIMD_CLONES_AVX2MAX(lin_fw, (const float *x, int64_t x_stride, int64_t B, int32_t D,
                                  const float *kernel, const float *bias, float *out,
                                  int accumulate),
                         (x, x_stride, B, D, kernel, bias, out, accumulate));

void dctr_linear_dense_forward(const float *x, int64_t x_stride, int64_t B, int32_t D,
                               const float *kernel, const float *bias, float *out,
                               int accumulate) {
    DCTR_SIMD_PICK(lin_fw)(x, x_stride, B, D, kernel, bias, out, accumulate);
}

DCTR_KERNEL_BODY void lin_bw_body(const float *dout, const float *x, int64_t x_stride, int64_t B,
                                  int32_t D, const float *kernel, float *dkernel, float *dbias,
                                  float *dx, int64_t dx_stride) {
    float db = 0.0f;
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x + b * x_stride;
        float d = dout[b];
        db += d;
        for (int32_t j = 0; j < D; j++)
            dkernel[j] += d * xb[j];
        if (dx) {
            float *dxb = dx + b * dx_stride;
            for (int32_t j = 0; j < D; j++)
                dxb[j] += d * kernel[j];
        }
    }
    if (dbias)
        *dbias += db;
}
DCTR_SIMD_CLONES_AVX2MAX(lin_bw, (const float *dout, const float *x, int64_t x_stride, int64_t B,
                                  int32_t D, const float *kernel, float *dkernel, float *dbias,
                                  float *dx, int64_t dx_stride),
                         (dout, x, x_stride, B, D, kernel, dkernel, dbias, dx, dx_stride));

void dctr_linear_dense_backward(const float *dout, const float *x, int64_t x_stride, int64_t B,
                                int32_t D, const float *kernel, float *dkernel, float *dbias,
                                float *dx, int64_t dx_stride) {
    DCTR_SIMD_PICK(lin_bw)(dout, x, x_stride, B, D, kernel, dkernel, dbias, dx, dx_stride);
}

dctr_status dctr_linear_sparse_forward(const float *table, int64_t vocab, const int64_t *ids,
                                       int64_t B, float *out, int accumulate) {
    for (int64_t b = 0; b < B; b++) {
        int64_t id = ids[b];
        if (id < 0 || id >= vocab)
            return dctr_set_error(DCTR_ERR_RANGE,
                                  "linear id %lld at row %lld outside [0, %lld)", (long long)id,
                                  (long long)b, (long long)vocab);
        out[b] = accumulate ? out[b] + table[id] : table[id];
    }
    return DCTR_OK;
}

dctr_status dctr_linear_sparse_backward(dctr_sparse_grad *g, const int64_t *ids, int64_t B,
                                        const float *dout) {
    return dctr_embedding_scatter(g, ids, B, dout, 1);
}
