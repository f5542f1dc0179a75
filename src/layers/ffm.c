/* Field-aware FM interaction over gathered per-field rows of F*k floats. */
#include "layers/ffm.h"

#include <stddef.h>

static inline float dotk(const float *a, const float *b, int32_t k) {
    float s = 0.0f;
    for (int32_t j = 0; j < k; j++)
        s += a[j] * b[j];
    return s;
}

#define XV(b, f) (x ? x[(b) * x_stride + (f)] : 1.0f)
#define WV(b, f, g) (W + (b) * w_stride + ((int64_t)(f) * F + (g)) * k)

void dctr_ffm_forward(const float *W, int64_t w_stride, const float *x, int64_t x_stride,
                      const float *r, int64_t B, int32_t F, int32_t k, float *out,
                      int accumulate) {
    for (int64_t b = 0; b < B; b++) {
        float phi = 0.0f;
        for (int32_t f1 = 0; f1 < F; f1++) {
            float x1 = XV(b, f1);
            float s = 0.0f;
            for (int32_t f2 = f1 + 1; f2 < F; f2++)
                s += dotk(WV(b, f1, f2), WV(b, f2, f1), k) * XV(b, f2);
            phi += s * x1;
        }
        if (r)
            phi *= r[b];
        out[b] = accumulate ? out[b] + phi : phi;
    }
}

void dctr_ffm_pairs_forward(const float *W, int64_t w_stride, const float *x, int64_t x_stride,
                            const float *r, int64_t B, int32_t F, int32_t k, float *pairs,
                            int64_t p_stride) {
    for (int64_t b = 0; b < B; b++) {
        float rb = r ? r[b] : 1.0f;
        float *p = pairs + b * p_stride;
        for (int32_t f1 = 0; f1 < F; f1++)
            for (int32_t f2 = f1 + 1; f2 < F; f2++)
                *p++ = rb * dotk(WV(b, f1, f2), WV(b, f2, f1), k) * XV(b, f1) * XV(b, f2);
    }
}

/* Shared backward: the gradient of pair (f1, f2) of row b is gp(b, p) (a scalar times r). */
static void ffm_backward_impl(const float *dout, const float *dpairs, int64_t dp_stride,
                              const float *W, int64_t w_stride, const float *x, int64_t x_stride,
                              const float *r, int64_t B, int32_t F, int32_t k, float *dW,
                              int64_t dw_stride, float *dx, int64_t dx_stride) {
    for (int64_t b = 0; b < B; b++) {
        float rb = r ? r[b] : 1.0f;
        const float *dp = dpairs ? dpairs + b * dp_stride : NULL;
        float d0 = dout ? dout[b] : 0.0f;
        for (int32_t f1 = 0; f1 < F; f1++) {
            float x1 = XV(b, f1);
            for (int32_t f2 = f1 + 1; f2 < F; f2++) {
                float x2 = XV(b, f2);
                float g = (dp ? *dp++ : d0) * rb; /* dL / d(<w12, w21> x1 x2) */
                const float *w12 = WV(b, f1, f2), *w21 = WV(b, f2, f1);
                if (dW) {
                    float c = g * x1 * x2;
                    float *d12 = dW + b * dw_stride + ((int64_t)f1 * F + f2) * k;
                    float *d21 = dW + b * dw_stride + ((int64_t)f2 * F + f1) * k;
                    for (int32_t j = 0; j < k; j++) {
                        d12[j] += c * w21[j];
                        d21[j] += c * w12[j];
                    }
                }
                if (dx) {
                    float ip = dotk(w12, w21, k) * g;
                    dx[b * dx_stride + f1] += ip * x2;
                    dx[b * dx_stride + f2] += ip * x1;
                }
            }
        }
    }
}

void dctr_ffm_backward(const float *dout, const float *W, int64_t w_stride, const float *x,
                       int64_t x_stride, const float *r, int64_t B, int32_t F, int32_t k,
                       float *dW, int64_t dw_stride, float *dx, int64_t dx_stride) {
    ffm_backward_impl(dout, NULL, 0, W, w_stride, x, x_stride, r, B, F, k, dW, dw_stride, dx,
                      dx_stride);
}

void dctr_ffm_pairs_backward(const float *dpairs, int64_t dp_stride, const float *W,
                             int64_t w_stride, const float *x, int64_t x_stride, const float *r,
                             int64_t B, int32_t F, int32_t k, float *dW, int64_t dw_stride,
                             float *dx, int64_t dx_stride) {
    ffm_backward_impl(NULL, dpairs, dp_stride, W, w_stride, x, x_stride, r, B, F, k, dW,
                      dw_stride, dx, dx_stride);
}

void dctr_ffm_instance_norm(const float *x, int64_t x_stride, int64_t B, int32_t F, float *r) {
    for (int64_t b = 0; b < B; b++) {
        double s = 0.0;
        for (int32_t f = 0; f < F; f++) {
            double v = XV(b, f);
            s += v * v;
        }
        r[b] = s > 0.0 ? (float)(1.0 / s) : 1.0f;
    }
}
