/* Batch normalisation (declared in dnn.h): column statistics in double over the batch, one body
 * per SIMD level (core/simd.h; the variants are bit-identical: same operations, same order). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/simd.h"
#include "layers/dnn.h"

#define CHUNK 256 /* columns per stack-buffer chunk of the reductions */

/* gamma / beta NULL mean 1 / 0: filled into g / be so the loops have no branch. */
DCTR_KERNEL_BODY void scale_shift(const float *gamma, const float *beta, int32_t c0, int32_t nc,
                                  float *g, float *be) {
    for (int32_t j = 0; j < nc; j++) {
        g[j] = gamma ? gamma[c0 + j] : 1.0f;
        be[j] = beta ? beta[c0 + j] : 0.0f;
    }
}

DCTR_KERNEL_BODY void bn_forward_train_body(const float *Z, int64_t B, int32_t n,
                                            const float *gamma, const float *beta, float eps,
                                            float momentum, float *moving_mean,
                                            float *moving_var, float *xhat, float *istd,
                                            float *Y) {
    double s1[CHUNK], s2[CHUNK];
    float mu[CHUNK], is[CHUNK], g[CHUNK], be[CHUNK];
    for (int32_t c0 = 0; c0 < n; c0 += CHUNK) {
        int32_t nc = n - c0 < CHUNK ? n - c0 : CHUNK;
        memset(s1, 0, sizeof s1);
        memset(s2, 0, sizeof s2);
        for (int64_t b = 0; b < B; b++) {
            const float *restrict z = Z + b * n + c0;
            for (int32_t j = 0; j < nc; j++)
                s1[j] += z[j];
        }
        for (int32_t j = 0; j < nc; j++)
            s1[j] /= (double)B;
        for (int64_t b = 0; b < B; b++) {
            const float *restrict z = Z + b * n + c0;
            for (int32_t j = 0; j < nc; j++) {
                double d = z[j] - s1[j];
                s2[j] += d * d;
            }
        }
        for (int32_t j = 0; j < nc; j++) {
            double var = s2[j] / (double)B; /* biased, as tf.nn.moments */
            mu[j] = (float)s1[j];
            is[j] = (float)(1.0 / sqrt(var + eps));
            if (istd)
                istd[c0 + j] = is[j];
            if (moving_mean) {
                moving_mean[c0 + j] = momentum * moving_mean[c0 + j] + (1.0f - momentum) * mu[j];
                moving_var[c0 + j] = momentum * moving_var[c0 + j] + (1.0f - momentum) * (float)var;
            }
        }
        scale_shift(gamma, beta, c0, nc, g, be);
        for (int64_t b = 0; b < B; b++) { /* Y may alias Z: no restrict here */
            const float *z = Z + b * n + c0;
            float *y = Y + b * n + c0;
            if (xhat) {
                float *xh = xhat + b * n + c0;
                for (int32_t j = 0; j < nc; j++) {
                    float h = (z[j] - mu[j]) * is[j];
                    xh[j] = h;
                    y[j] = g[j] * h + be[j];
                }
            } else {
                for (int32_t j = 0; j < nc; j++) {
                    float h = (z[j] - mu[j]) * is[j];
                    y[j] = g[j] * h + be[j];
                }
            }
        }
    }
}
DCTR_SIMD_CLONES(bn_forward_train,
                 (const float *Z, int64_t B, int32_t n, const float *gamma, const float *beta,
                  float eps, float momentum, float *moving_mean, float *moving_var, float *xhat,
                  float *istd, float *Y),
                 (Z, B, n, gamma, beta, eps, momentum, moving_mean, moving_var, xhat, istd, Y));

void dctr_bn_forward_train(const float *Z, int64_t B, int32_t n, const float *gamma,
                           const float *beta, float eps, float momentum, float *moving_mean,
                           float *moving_var, float *xhat, float *istd, float *Y) {
    DCTR_SIMD_PICK(bn_forward_train)(Z, B, n, gamma, beta, eps, momentum, moving_mean, moving_var,
                                     xhat, istd, Y);
}

void dctr_bn_forward_infer(const float *Z, int64_t B, int32_t n, const float *gamma,
                           const float *beta, float eps, const float *moving_mean,
                           const float *moving_var, float *Y) {
    for (int64_t b = 0; b < B; b++) {
        const float *z = Z + b * n;
        float *y = Y + b * n;
        for (int32_t j = 0; j < n; j++) {
            float h = (z[j] - moving_mean[j]) / sqrtf(moving_var[j] + eps);
            y[j] = (gamma ? gamma[j] : 1.0f) * h + (beta ? beta[j] : 0.0f);
        }
    }
}

DCTR_KERNEL_BODY void bn_backward_body(const float *dY, const float *xhat, const float *istd,
                                       int64_t B, int32_t n, const float *gamma, float *dgamma,
                                       float *dbeta, float *dZ) {
    /* dZ = istd / B * (B dxh - sum dxh - xhat sum(dxh xhat)), dxh = dY gamma */
    double sd[CHUNK], sdx[CHUNK];
    float g[CHUNK], unused[CHUNK], gi[CHUNK], m1[CHUNK], m2[CHUNK];
    for (int32_t c0 = 0; c0 < n; c0 += CHUNK) {
        int32_t nc = n - c0 < CHUNK ? n - c0 : CHUNK;
        memset(sd, 0, sizeof sd);
        memset(sdx, 0, sizeof sdx);
        for (int64_t b = 0; b < B; b++) {
            const float *restrict dy = dY + b * n + c0, *restrict xh = xhat + b * n + c0;
            for (int32_t j = 0; j < nc; j++) {
                sd[j] += dy[j];
                sdx[j] += (double)dy[j] * xh[j];
            }
        }
        scale_shift(gamma, NULL, c0, nc, g, unused);
        for (int32_t j = 0; j < nc; j++) {
            if (dgamma)
                dgamma[c0 + j] += (float)sdx[j];
            if (dbeta)
                dbeta[c0 + j] += (float)sd[j];
            gi[j] = g[j] * istd[c0 + j];
            m1[j] = (float)(sd[j] / (double)B);
            m2[j] = (float)(sdx[j] / (double)B);
        }
        for (int64_t b = 0; b < B; b++) {
            const float *restrict dy = dY + b * n + c0, *restrict xh = xhat + b * n + c0;
            float *restrict dz = dZ + b * n + c0;
            for (int32_t j = 0; j < nc; j++)
                dz[j] += gi[j] * (dy[j] - m1[j] - xh[j] * m2[j]);
        }
    }
}
DCTR_SIMD_CLONES(bn_backward,
                 (const float *dY, const float *xhat, const float *istd, int64_t B, int32_t n,
                  const float *gamma, float *dgamma, float *dbeta, float *dZ),
                 (dY, xhat, istd, B, n, gamma, dgamma, dbeta, dZ));

void dctr_bn_backward(const float *dY, const float *xhat, const float *istd, int64_t B, int32_t n,
                      const float *gamma, float *dgamma, float *dbeta, float *dZ) {
    DCTR_SIMD_PICK(bn_backward)(dY, xhat, istd, B, n, gamma, dgamma, dbeta, dZ);
}

/* ---- distributed: the same statistics over a batch split across replicas (dnn.h) ---- */

dctr_status dctr_bn_forward_train_sync(const dctr_bn_sync *sy, const float *Z, int64_t B, int32_t n,
                                       const float *gamma, const float *beta, float eps,
                                       float momentum, float *moving_mean, float *moving_var,
                                       float *xhat, float *istd, float *Y) {
    double *s = dctr_calloc(2 * (size_t)n + 1, sizeof(double));
    if (!s)
        return dctr_set_error(DCTR_ERR_NOMEM, "batch norm: %d column sums", (int)n);
    double *s2 = s + n;
    const double rows = (double)sy->rows;
    for (int64_t b = 0; b < B; b++)
        for (int32_t j = 0; j < n; j++)
            s[j] += Z[b * n + j];
    dctr_status st = sy->sum(sy->ctx, s, n); /* two passes, as the single-batch kernel */
    for (int32_t j = 0; j < n; j++)
        s[j] /= rows;
    for (int64_t b = 0; b < B && st == DCTR_OK; b++)
        for (int32_t j = 0; j < n; j++) {
            double d = Z[b * n + j] - s[j];
            s2[j] += d * d;
        }
    if (st == DCTR_OK)
        st = sy->sum(sy->ctx, s2, n);
    for (int32_t j = 0; j < n && st == DCTR_OK; j++) {
        double var = s2[j] / rows;
        float mu = (float)s[j], is = (float)(1.0 / sqrt(var + eps));
        float g = gamma ? gamma[j] : 1.0f, be = beta ? beta[j] : 0.0f;
        if (istd)
            istd[j] = is;
        if (moving_mean) {
            moving_mean[j] = momentum * moving_mean[j] + (1.0f - momentum) * mu;
            moving_var[j] = momentum * moving_var[j] + (1.0f - momentum) * (float)var;
        }
        for (int64_t b = 0; b < B; b++) {
            float h = (Z[b * n + j] - mu) * is;
            if (xhat)
                xhat[b * n + j] = h;
            Y[b * n + j] = g * h + be;
        }
    }
    dctr_free(s);
    return st;
}

void dctr_bn_backward_sync(const dctr_bn_sync *sy, const float *dY, const float *xhat,
                           const float *istd, int64_t B, int32_t n, const float *gamma,
                           float *dgamma, float *dbeta, float *dZ) {
    double *s = dctr_calloc(2 * (size_t)n + 1, sizeof(double));
    if (!s)
        return; /* the sum callback's owner sees no sum arrive: it reports the step failed */
    double *sx = s + n;
    for (int64_t b = 0; b < B; b++)
        for (int32_t j = 0; j < n; j++) {
            s[j] += dY[b * n + j];
            sx[j] += (double)dY[b * n + j] * xhat[b * n + j];
        }
    for (int32_t j = 0; j < n; j++) { /* this replica's share; summed with the other gradients */
        if (dgamma)
            dgamma[j] += (float)sx[j];
        if (dbeta)
            dbeta[j] += (float)s[j];
    }
    if (sy->sum(sy->ctx, s, 2 * (int64_t)n) == DCTR_OK) {
        const double rows = (double)sy->rows;
        for (int32_t j = 0; j < n; j++) {
            float gi = (gamma ? gamma[j] : 1.0f) * istd[j];
            float m1 = (float)(s[j] / rows), m2 = (float)(sx[j] / rows);
            for (int64_t b = 0; b < B; b++)
                dZ[b * n + j] += gi * (dY[b * n + j] - m1 - xhat[b * n + j] * m2);
        }
    }
    dctr_free(s);
}
