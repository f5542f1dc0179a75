/* Activation kernels (activation.h), one C body per kernel cloned per SIMD level. */
#include "layers/activation.h"

#include <math.h>
#include <string.h>

#include "core/simd.h"
#include "core/simd_math.h"

/* sigmoid and tanh are core/simd_math.h's (errors documented there): libm calls would keep
 * these loops scalar. */

DCTR_KERNEL_BODY void act_forward_body(dctr_activation act, const float *Z, int64_t B, int32_t n,
                                       const float *alpha, float *Y) {
    int64_t total = B * n;
    switch (act) {
    case DCTR_ACT_RELU:
        for (int64_t i = 0; i < total; i++)
            Y[i] = Z[i] > 0.0f ? Z[i] : 0.0f;
        break;
    case DCTR_ACT_SIGMOID:
        for (int64_t i = 0; i < total; i++)
            Y[i] = dctr_sigmoid_poly(Z[i]);
        break;
    case DCTR_ACT_TANH:
        for (int64_t i = 0; i < total; i++)
            Y[i] = dctr_tanh_poly(Z[i]);
        break;
    case DCTR_ACT_PRELU:
        for (int64_t b = 0; b < B; b++) {
            const float *restrict z = Z + b * n;
            float *restrict y = Y + b * n;
            for (int32_t j = 0; j < n; j++)
                y[j] = dctr_select_f32(z[j] > 0.0f, z[j], alpha[j] * z[j]);
        }
        break;
    default: /* linear (Dice is handled by the DNN) */
        if (Y != Z)
            memcpy(Y, Z, (size_t)total * sizeof(float));
        break;
    }
}
DCTR_SIMD_CLONES(act_forward, (dctr_activation act, const float *Z, int64_t B, int32_t n,
                               const float *alpha, float *Y),
                 (act, Z, B, n, alpha, Y));

void dctr_act_forward(dctr_activation act, const float *Z, int64_t B, int32_t n,
                      const float *alpha, float *Y) {
    DCTR_SIMD_PICK(act_forward)(act, Z, B, n, alpha, Y);
}

/* The activation switch sits outside the row loops so they vectorize. */
#define ACT_ROW(expr)                         \
    do {                                      \
        if (accumulate)                       \
            for (int32_t j = c0; j < c1; j++) \
                o[j] += (expr);               \
        else                                  \
            for (int32_t j = c0; j < c1; j++) \
                o[j] = (expr);                \
    } while (0)

DCTR_KERNEL_BODY void act_backward_body(dctr_activation act, const float *Z, const float *Y,
                                        const float *dY, int64_t B, int32_t n,
                                        const float *alpha, float *dalpha, float *dZ,
                                        int accumulate, float *colsum, int32_t c0, int32_t c1) {
    for (int64_t b = 0; b < B; b++) {
        /* restrict + branch-free selects: otherwise gcc emits a scalar compare-and-branch loop */
        const float *restrict z = Z + b * n, *restrict y = Y + b * n, *restrict d = dY + b * n;
        float *restrict o = dZ + b * n;
        switch (act) {
        case DCTR_ACT_RELU:
            if (accumulate)
                for (int32_t j = c0; j < c1; j++) {
                    float g = d[j];
                    o[j] += z[j] > 0.0f ? g : 0.0f;
                }
            else
                for (int32_t j = c0; j < c1; j++) {
                    float g = d[j];
                    o[j] = z[j] > 0.0f ? g : 0.0f;
                }
            break;
        case DCTR_ACT_SIGMOID: ACT_ROW(d[j] * y[j] * (1.0f - y[j])); break;
        case DCTR_ACT_TANH: ACT_ROW(d[j] * (1.0f - y[j] * y[j])); break;
        case DCTR_ACT_PRELU:
            /* bit selects (core/simd.h): a select with a product arm vectorises only so */
            if (accumulate)
                for (int32_t j = c0; j < c1; j++)
                    o[j] += dctr_select_f32(z[j] > 0.0f, d[j], d[j] * alpha[j]);
            else
                for (int32_t j = c0; j < c1; j++)
                    o[j] = dctr_select_f32(z[j] > 0.0f, d[j], d[j] * alpha[j]);
            if (dalpha)
                for (int32_t j = c0; j < c1; j++)
                    dalpha[j] += dctr_select_f32(z[j] > 0.0f, 0.0f, d[j] * z[j]);
            break;
        default: ACT_ROW(d[j]); break;
        }
        if (colsum)
            for (int32_t j = c0; j < c1; j++)
                colsum[j] += o[j];
    }
}
#undef ACT_ROW
DCTR_SIMD_CLONES(act_backward, (dctr_activation act, const float *Z, const float *Y,
                                const float *dY, int64_t B, int32_t n, const float *alpha,
                                float *dalpha, float *dZ, int accumulate, float *colsum,
                                int32_t c0, int32_t c1),
                 (act, Z, Y, dY, B, n, alpha, dalpha, dZ, accumulate, colsum, c0, c1));

void dctr_act_backward_cols(dctr_activation act, const float *Z, const float *Y, const float *dY,
                            int64_t B, int32_t n, const float *alpha, float *dalpha, float *dZ,
                            int accumulate, float *colsum, int32_t c0, int32_t c1) {
    DCTR_SIMD_PICK(act_backward)(act, Z, Y, dY, B, n, alpha, dalpha, dZ, accumulate, colsum, c0,
                                 c1);
}

void dctr_act_backward(dctr_activation act, const float *Z, const float *Y, const float *dY,
                       int64_t B, int32_t n, const float *alpha, float *dalpha, float *dZ) {
    dctr_act_backward_cols(act, Z, Y, dY, B, n, alpha, dalpha, dZ, 1, NULL, 0, n);
}

DCTR_KERNEL_BODY void bias_act_body(dctr_activation act, const float *bias, int64_t B, int32_t n,
                                    float *Z) {
    for (int64_t b = 0; b < B; b++) {
        float *z = Z + b * n;
        switch (act) {
        case DCTR_ACT_RELU:
            for (int32_t j = 0; j < n; j++) {
                float v = z[j] + bias[j];
                z[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case DCTR_ACT_SIGMOID:
            for (int32_t j = 0; j < n; j++)
                z[j] = dctr_sigmoid_poly(z[j] + bias[j]);
            break;
        case DCTR_ACT_TANH:
            for (int32_t j = 0; j < n; j++)
                z[j] = dctr_tanh_poly(z[j] + bias[j]);
            break;
        default:
            for (int32_t j = 0; j < n; j++)
                z[j] += bias[j];
            break;
        }
    }
}
DCTR_SIMD_CLONES(bias_act, (dctr_activation act, const float *bias, int64_t B, int32_t n,
                            float *Z),
                 (act, bias, B, n, Z));

void dctr_bias_act_inplace(dctr_activation act, const float *bias, int64_t B, int32_t n,
                           float *Z) {
    DCTR_SIMD_PICK(bias_act)(act, bias, B, n, Z);
}

DCTR_KERNEL_BODY void dice_fw_body(const float *A, const float *xhat, const float *alpha,
                                   int64_t B, int32_t n, float *P, float *H) {
    for (int64_t b = 0; b < B; b++)
        for (int32_t j = 0; j < n; j++) {
            int64_t i = b * n + j;
            float p = dctr_sigmoid_poly(xhat[i]);
            P[i] = p;
            H[i] = A[i] * (alpha[j] + p * (1.0f - alpha[j]));
        }
}
DCTR_SIMD_CLONES(dice_fw, (const float *A, const float *xhat, const float *alpha, int64_t B,
                           int32_t n, float *P, float *H),
                 (A, xhat, alpha, B, n, P, H));

void dctr_dice_gate_forward(const float *A, const float *xhat, const float *alpha, int64_t B,
                            int32_t n, float *P, float *H) {
    DCTR_SIMD_PICK(dice_fw)(A, xhat, alpha, B, n, P, H);
}

DCTR_KERNEL_BODY void dice_bw_body(const float *A, const float *P, const float *dH,
                                   const float *alpha, int64_t B, int32_t n, float *dA,
                                   float *dxhat, float *dalpha) {
    for (int64_t b = 0; b < B; b++) {
        const float *restrict x = A + b * n, *restrict p = P + b * n, *restrict d = dH + b * n;
        float *restrict da = dA + b * n, *restrict dx = dxhat + b * n;
        for (int32_t j = 0; j < n; j++) {
            float a = alpha[j];
            da[j] += d[j] * (a + p[j] * (1.0f - a));
            dx[j] = d[j] * (1.0f - a) * x[j] * p[j] * (1.0f - p[j]);
        }
        if (dalpha) /* per unit, summed over rows in row order */
            for (int32_t j = 0; j < n; j++)
                dalpha[j] += d[j] * x[j] * (1.0f - p[j]);
    }
}
DCTR_SIMD_CLONES(dice_bw, (const float *A, const float *P, const float *dH, const float *alpha,
                           int64_t B, int32_t n, float *dA, float *dxhat, float *dalpha),
                 (A, P, dH, alpha, B, n, dA, dxhat, dalpha));

void dctr_dice_gate_backward(const float *A, const float *P, const float *dH, const float *alpha,
                             int64_t B, int32_t n, float *dA, float *dxhat, float *dalpha) {
    DCTR_SIMD_PICK(dice_bw)(A, P, dH, alpha, B, n, dA, dxhat, dalpha);
}
