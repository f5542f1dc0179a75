/* Sum / mean / max pooling over the valid positions of a padded sequence. */
#include "layers/sequence_pool.h"

#include <string.h>

#include "core/simd.h"

int64_t dctr_seq_count(const int64_t *ids, const int32_t *lengths, int64_t b, int32_t T) {
    if (lengths)
        return lengths[b] > 0 ? lengths[b] : 0; /* raw length, even above T (upstream) */
    int64_t n = 0;
    for (int32_t t = 0; t < T; t++)
        n += ids[b * T + t] != 0;
    return n;
}

DCTR_KERNEL_BODY void pool_fw_body(dctr_combiner mode, const float *E, int64_t B, int32_t T,
                                   int32_t k, const int64_t *ids, const int32_t *lengths,
                                   float *out, int64_t out_stride, int32_t *argmax) {
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * out_stride;
        const float *Eb = E + b * T * k;
        if (mode == DCTR_COMBINER_MAX) {
            int32_t *am = argmax ? argmax + b * k : NULL;
            int any = 0;
            for (int32_t t = 0; t < T; t++) {
                if (!dctr_seq_valid(ids, lengths, b, T, t))
                    continue;
                const float *e = Eb + (int64_t)t * k;
                for (int32_t j = 0; j < k; j++) {
                    /* strict > keeps the first maximum on ties */
                    if (!any || e[j] > o[j]) {
                        o[j] = e[j];
                        if (am)
                            am[j] = t;
                    }
                }
                any = 1;
            }
            if (!any) { /* all padding: 0, not upstream's -1e9 */
                memset(o, 0, (size_t)k * sizeof(float));
                if (am)
                    for (int32_t j = 0; j < k; j++)
                        am[j] = -1;
            }
            continue;
        }
        memset(o, 0, (size_t)k * sizeof(float));
        for (int32_t t = 0; t < T; t++) {
            if (!dctr_seq_valid(ids, lengths, b, T, t))
                continue;
            const float *e = Eb + (int64_t)t * k;
            for (int32_t j = 0; j < k; j++)
                o[j] += e[j];
        }
        if (mode == DCTR_COMBINER_MEAN) {
            float inv = 1.0f / ((float)dctr_seq_count(ids, lengths, b, T) + DCTR_SEQ_MEAN_EPS);
            for (int32_t j = 0; j < k; j++)
                o[j] *= inv;
        }
    }
}
DCTR_SIMD_CLONES_AVX2MAX(pool_fw, (dctr_combiner mode, const float *E, int64_t B, int32_t T,
                                   int32_t k, const int64_t *ids, const int32_t *lengths,
                                   float *out, int64_t out_stride, int32_t *argmax),
                         (mode, E, B, T, k, ids, lengths, out, out_stride, argmax));

void dctr_seq_pool_forward(dctr_combiner mode, const float *E, int64_t B, int32_t T, int32_t k,
                           const int64_t *ids, const int32_t *lengths, float *out,
                           int64_t out_stride, int32_t *argmax) {
    DCTR_SIMD_PICK(pool_fw)(mode, E, B, T, k, ids, lengths, out, out_stride, argmax);
}

DCTR_KERNEL_BODY void pool_bw_body(dctr_combiner mode, const float *dout, int64_t dout_stride,
                                   int64_t B, int32_t T, int32_t k, const int64_t *ids,
                                   const int32_t *lengths, const int32_t *argmax, float *dE) {
    for (int64_t b = 0; b < B; b++) {
        const float *d = dout + b * dout_stride;
        float *dEb = dE + b * T * k;
        if (mode == DCTR_COMBINER_MAX) {
            const int32_t *am = argmax + b * k;
            for (int32_t j = 0; j < k; j++)
                if (am[j] >= 0)
                    dEb[(int64_t)am[j] * k + j] += d[j];
            continue;
        }
        float scale = 1.0f;
        if (mode == DCTR_COMBINER_MEAN)
            scale = 1.0f / ((float)dctr_seq_count(ids, lengths, b, T) + DCTR_SEQ_MEAN_EPS);
        for (int32_t t = 0; t < T; t++) {
            if (!dctr_seq_valid(ids, lengths, b, T, t))
                continue;
            float *de = dEb + (int64_t)t * k;
            for (int32_t j = 0; j < k; j++)
                de[j] += d[j] * scale;
        }
    }
}
DCTR_SIMD_CLONES_AVX2MAX(pool_bw, (dctr_combiner mode, const float *dout, int64_t dout_stride,
                                   int64_t B, int32_t T, int32_t k, const int64_t *ids,
                                   const int32_t *lengths, const int32_t *argmax, float *dE),
                         (mode, dout, dout_stride, B, T, k, ids, lengths, argmax, dE));

void dctr_seq_pool_backward(dctr_combiner mode, const float *dout, int64_t dout_stride, int64_t B,
                            int32_t T, int32_t k, const int64_t *ids, const int32_t *lengths,
                            const int32_t *argmax, float *dE) {
    DCTR_SIMD_PICK(pool_bw)(mode, dout, dout_stride, B, T, k, ids, lengths, argmax, dE);
}
