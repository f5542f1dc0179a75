/* Per-position weights (softmax-normalised or raw) applied to a padded sequence. */
#include "layers/weighted_seq.h"

#include <math.h>

#include "core/simd.h"
#include "layers/sequence_pool.h"

DCTR_KERNEL_BODY void wseq_fw_body(int weight_norm, const float *E, const float *w, int64_t B,
                                   int32_t T, int32_t k, const int64_t *ids, const int32_t *lengths,
                                   float *out, float *alpha) {
    for (int64_t b = 0; b < B; b++) {
        float *a = alpha + b * T;
        const float *wb = w + b * T;
        if (weight_norm) {
            /* Upstream: masked logits become -2^32+1, then a plain softmax over all T. */
            float mx = -INFINITY;
            for (int32_t t = 0; t < T; t++) {
                a[t] = dctr_seq_valid(ids, lengths, b, T, t) ? wb[t] : DCTR_WEIGHTED_SEQ_MASK_VALUE;
                if (a[t] > mx)
                    mx = a[t];
            }
            double sum = 0.0;
            for (int32_t t = 0; t < T; t++) {
                a[t] = expf(a[t] - mx);
                sum += a[t];
            }
            float inv = (float)(1.0 / sum);
            for (int32_t t = 0; t < T; t++)
                a[t] *= inv;
        } else {
            for (int32_t t = 0; t < T; t++)
                a[t] = dctr_seq_valid(ids, lengths, b, T, t) ? wb[t] : 0.0f;
        }
        for (int32_t t = 0; t < T; t++) {
            const float *e = E + (b * T + t) * k;
            float *o = out + (b * T + t) * k;
            for (int32_t j = 0; j < k; j++)
                o[j] = a[t] * e[j];
        }
    }
}
DCTR_SIMD_CLONES(wseq_fw, (int weight_norm, const float *E, const float *w, int64_t B, int32_t T,
                           int32_t k, const int64_t *ids, const int32_t *lengths, float *out,
                           float *alpha),
                 (weight_norm, E, w, B, T, k, ids, lengths, out, alpha));

void dctr_weighted_seq_forward(int weight_norm, const float *E, const float *w, int64_t B,
                               int32_t T, int32_t k, const int64_t *ids, const int32_t *lengths,
                               float *out, float *alpha) {
    DCTR_SIMD_PICK(wseq_fw)(weight_norm, E, w, B, T, k, ids, lengths, out, alpha);
}

static float dot(const float *x, const float *y, int32_t k) {
    float s = 0.0f;
    for (int32_t j = 0; j < k; j++)
        s += x[j] * y[j];
    return s;
}

DCTR_KERNEL_BODY void wseq_bw_body(int weight_norm, const float *dout, const float *E,
                                   const float *alpha, int64_t B, int32_t T, int32_t k,
                                   const int64_t *ids, const int32_t *lengths, float *dE,
                                   float *dw) {
    for (int64_t b = 0; b < B; b++) {
        const float *a = alpha + b * T;
        if (dE)
            for (int32_t t = 0; t < T; t++) {
                const float *d = dout + (b * T + t) * k;
                float *de = dE + (b * T + t) * k;
                for (int32_t j = 0; j < k; j++)
                    de[j] += a[t] * d[j];
            }
        if (!dw)
            continue;
        /* g_t = <dout_t, E_t> = dL/dalpha_t; recomputed in the second pass (T is small). */
        double gsum = 0.0; /* sum_s alpha_s g_s for the softmax Jacobian */
        if (weight_norm)
            for (int32_t t = 0; t < T; t++)
                gsum += (double)a[t] * dot(dout + (b * T + t) * k, E + (b * T + t) * k, k);
        for (int32_t t = 0; t < T; t++) {
            if (!dctr_seq_valid(ids, lengths, b, T, t))
                continue; /* masked logits are constants upstream: no gradient */
            float g = dot(dout + (b * T + t) * k, E + (b * T + t) * k, k);
            dw[b * T + t] += weight_norm ? a[t] * (g - (float)gsum) : g;
        }
    }
}
DCTR_SIMD_CLONES(wseq_bw, (int weight_norm, const float *dout, const float *E, const float *alpha,
                           int64_t B, int32_t T, int32_t k, const int64_t *ids,
                           const int32_t *lengths, float *dE, float *dw),
                 (weight_norm, dout, E, alpha, B, T, k, ids, lengths, dE, dw));

void dctr_weighted_seq_backward(int weight_norm, const float *dout, const float *E,
                                const float *alpha, int64_t B, int32_t T, int32_t k,
                                const int64_t *ids, const int32_t *lengths, float *dE, float *dw) {
    DCTR_SIMD_PICK(wseq_bw)(weight_norm, dout, E, alpha, B, T, k, ids, lengths, dE, dw);
}
