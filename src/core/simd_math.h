/* exp / expm1 / sigmoid / tanh from float arithmetic and integer bit operations only, so loops
 * over them vectorise at every SIMD level (a libm call keeps a loop scalar), and every level
 * gives the same bits (no FMA, fixed operation order: see core/simd.h).
 *
 * exp: x = k ln2 + r with k = round(x log2 e) (the 1.5 * 2^23 rounding trick, no float -> int
 * conversion) and ln2 split in two (k * LN2_HI is exact for |k| <= 2^15); e^r by its Taylor
 * series to r^7 / 7! (truncation < 1e-8 relative for |r| <= ln2 / 2); 2^k applied as two
 * exponent-field multiplications so subnormal results come out right. Maximum errors against
 * double-precision libm, measured over every 97th float (docs/layers.md; tests/test_simd_variants.c
 * keeps a sweep with bounds):
 *   dctr_expf_poly    relative 1.03e-7 (results >= FLT_MIN; glibc's expf: 5.96e-8)
 *   dctr_sigmoid_poly relative 1.9e-7 (results >= FLT_MIN), absolute 8.9e-8
 *   dctr_tanh_poly    relative 2.93e-7 */
#ifndef DCTR_CORE_SIMD_MATH_H
#define DCTR_CORE_SIMD_MATH_H

#include <math.h>

#include "core/simd.h"

/* e^x for x in [-103, 88.7] (clamped to it: below, e^x is under half the smallest subnormal;
 * above, it overflows). NaN propagates. */
DCTR_KERNEL_BODY float dctr_expf_poly(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = dctr_select_f32(x < -103.0f, -103.0f, x);
    x = dctr_select_f32(x > 88.7f, 88.7f, x);
    float t = x * 1.44269504f + magic;
    float k = t - magic;
    float r = x - k * 0.693359375f; /* LN2_HI: 9 significant bits */
    r = r - k * -2.12194440e-4f;    /* LN2_LO = ln 2 - LN2_HI */
    float p = 1.98412698e-4f;       /* 1/7! */
    p = p * r + 1.38888889e-3f;     /* 1/6! */
    p = p * r + 8.33333333e-3f;     /* 1/5! */
    p = p * r + 4.16666667e-2f;     /* 1/4! */
    p = p * r + 1.66666667e-1f;     /* 1/3! */
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t tb;
    memcpy(&tb, &t, sizeof tb);
    int32_t n = (int32_t)(tb - 0x4B400000u); /* k as an integer: t's low mantissa bits */
    int32_t n1 = n / 2, n2 = n - n1;         /* 2^n in two steps: each within [-75, 65] */
    uint32_t b1 = ((uint32_t)n1 + 127u) << 23, b2 = ((uint32_t)n2 + 127u) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return p * s1 * s2;
}

/* e^y - 1 for y >= 0 (clamped to <= 88.7): the Taylor series to y^8 / 8! below ln 2 / 2, where
 * e^y - 1 would cancel, else dctr_expf_poly(y) - 1. */
DCTR_KERNEL_BODY float dctr_expm1_poly_pos(float y) {
    float p = 2.48015873e-5f;   /* 1/8! */
    p = p * y + 1.98412698e-4f; /* 1/7! */
    p = p * y + 1.38888889e-3f;
    p = p * y + 8.33333333e-3f;
    p = p * y + 4.16666667e-2f;
    p = p * y + 1.66666667e-1f;
    p = p * y + 0.5f;
    p = p * y + 1.0f;
    p = p * y;
    return dctr_select_f32(y < 0.34657359f, p, dctr_expf_poly(y) - 1.0f);
}

/* 1 / (1 + e^-z), from e = e^-|z| <= 1 on both sides (no overflow, no cancellation). */
DCTR_KERNEL_BODY float dctr_sigmoid_poly(float z) {
    float e = dctr_expf_poly(-fabsf(z));
    float d = 1.0f + e;
    return dctr_select_f32(z >= 0.0f, 1.0f / d, e / d);
}

/* tanh x = sign(x) m / (m + 2), m = e^{2|x|} - 1; |x| >= 9 gives +-1 (tanh 9 rounds to 1). */
DCTR_KERNEL_BODY float dctr_tanh_poly(float x) {
    float a = fabsf(x);
    a = dctr_select_f32(a > 9.0f, 9.0f, a);
    float m = dctr_expm1_poly_pos(2.0f * a);
    return copysignf(m / (m + 2.0f), x);
}

#endif
