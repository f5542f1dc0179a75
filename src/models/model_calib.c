/* Output calibration of a binary model: the negative down-sampling correction (logit + ln rate),
 * then Platt scaling (sigmoid(a * z + b)) or an isotonic map, applied after the family's forward
 * in every predict path, and their optional model-file sections:
 *   calib           u32 version 1, f64 negative rate, u32 platt (0/1), f64 a, f64 b
 *   calib/isotonic  u32 version 1, u32 n, f64 x[n] (strictly increasing in [0, 1]),
 *                   f64 y[n] (non-decreasing in [0, 1])
 * Files without them load with no calibration. */
#include <math.h>

#include "core/alloc.h"

#include "core/error.h"
#include "deepctr/quality.h"
#include "models/model_internal.h"

#define CALIB_VERSION 1u

static int has_rate(const dctr_model *m) { return m->neg_rate > 0.0 && m->neg_rate < 1.0; }

#define ISO_MAX_POINTS (1 << 24)
#define ISO_CLAMP 1e-7

int dctr_model_calib_active(const dctr_model *m) {
    return m->task == DCTR_TASK_BINARY && (has_rate(m) || m->platt || m->iso_n > 0);
}

/* The isotonic map at p: linear between the two points around p, flat outside them. */
static double iso_eval(const dctr_model *m, double p) {
    const double *x = m->iso_x, *y = m->iso_y;
    int32_t n = m->iso_n;
    if (p <= x[0])
        return y[0];
    if (p >= x[n - 1])
        return y[n - 1];
    int32_t lo = 0, hi = n - 1; /* x[lo] < p < x[hi] */
    while (hi - lo > 1) {
        int32_t mid = lo + (hi - lo) / 2;
        if (x[mid] <= p)
            lo = mid;
        else
            hi = mid;
    }
    return y[lo] + (y[hi] - y[lo]) * (p - x[lo]) / (x[hi] - x[lo]);
}

static double iso_apply(const dctr_model *m, double z, double *zout) {
    double y = iso_eval(m, 1.0 / (1.0 + exp(-z)));
    y = y < ISO_CLAMP ? ISO_CLAMP : (y > 1.0 - ISO_CLAMP ? 1.0 - ISO_CLAMP : y);
    *zout = log(y) - log1p(-y);
    return y;
}

/* Works on the logit in double: the shift by ln(rate) moves p by orders of magnitude near 0, so
 * going through float probabilities alone would lose the small ones. */
void dctr_model_calib_apply(const dctr_model *m, int64_t n, float *prob, float *logit) {
    const double shift = has_rate(m) ? log(m->neg_rate) : 0.0;
    const double a = m->platt ? m->platt_a : 1.0, b = m->platt ? m->platt_b : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double z;
        if (logit)
            z = logit[i];
        else {
            double p = prob[i];
            if (!(p > 0.0 && p < 1.0)) /* 0, 1 or NaN: left as is (NaN is reported by the caller) */
                continue;
            z = log(p) - log1p(-p);
        }
        if (m->iso_n > 0) {
            prob[i] = (float)iso_apply(m, z + shift, &z);
        } else {
            z = a * (z + shift) + b;
            prob[i] = (float)(1.0 / (1.0 + exp(-z)));
        }
        if (logit)
            logit[i] = (float)z;
    }
}

static dctr_status iso_save(const dctr_model *m, dctr_container_writer *cw) {
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, CALIB_VERSION);
    dctr_wbuf_u32(&w, (uint32_t)m->iso_n);
    for (int32_t i = 0; i < m->iso_n; i++)
        dctr_wbuf_f64(&w, m->iso_x[i]);
    for (int32_t i = 0; i < m->iso_n; i++)
        dctr_wbuf_f64(&w, m->iso_y[i]);
    return dctr_model_section_put(cw, "calib/isotonic", &w);
}

void dctr_model_calib_release(dctr_model *m) {
    dctr_free(m->iso_x);
    dctr_free(m->iso_y);
    m->iso_x = m->iso_y = NULL;
    m->iso_n = 0;
}

void dctr_model_clear_isotonic(dctr_model *model) {
    if (model)
        dctr_model_calib_release(model);
}

int32_t dctr_model_isotonic_points(const dctr_model *model) { return model ? model->iso_n : 0; }

/* Reads and checks the isotonic points (the section is optional). */
static dctr_status iso_load(dctr_model *m, const dctr_container *c) {
    if (!dctr_container_has(c, "calib/isotonic"))
        return DCTR_OK;
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "calib/isotonic", &r));
    uint32_t version = 0, n = 0;
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "isotonic version"));
    DCTR_TRY(dctr_rbuf_u32(&r, &n, "isotonic points"));
    if (version != CALIB_VERSION || n < 1 || n > ISO_MAX_POINTS || (size_t)n * 16 > dctr_rbuf_remaining(&r))
        return dctr_set_error(DCTR_ERR_FORMAT, "calib/isotonic: version %u, %u points in %zu bytes", version, n,
                              dctr_rbuf_remaining(&r));
    if (m->task != DCTR_TASK_BINARY || m->platt)
        return dctr_set_error(DCTR_ERR_FORMAT, "calib/isotonic: in a regression model or with Platt scaling");
    double *x = dctr_calloc(n, sizeof(double)), *y = dctr_calloc(n, sizeof(double));
    dctr_status st = x && y ? DCTR_OK : DCTR_ERR_NOMEM;
    for (uint32_t i = 0; st == DCTR_OK && i < n; i++)
        st = dctr_rbuf_f64(&r, &x[i], "isotonic x");
    for (uint32_t i = 0; st == DCTR_OK && i < n; i++)
        st = dctr_rbuf_f64(&r, &y[i], "isotonic y");
    for (uint32_t i = 0; st == DCTR_OK && i < n; i++) /* NaN fails every comparison below */
        if (!(x[i] >= 0.0 && x[i] <= 1.0 && y[i] >= 0.0 && y[i] <= 1.0) ||
            (i > 0 && !(x[i] > x[i - 1] && y[i] >= y[i - 1])))
            st = dctr_set_error(DCTR_ERR_FORMAT, "calib/isotonic: point %u (%g, %g) out of order or range", i,
                                x[i], y[i]);
    if (st != DCTR_OK) {
        dctr_free(x);
        dctr_free(y);
        return st;
    }
    dctr_model_calib_release(m);
    m->iso_x = x;
    m->iso_y = y;
    m->iso_n = (int32_t)n;
    return DCTR_OK;
}

dctr_status dctr_model_calib_save(const dctr_model *m, dctr_container_writer *cw) {
    if (m->iso_n > 0)
        DCTR_TRY(iso_save(m, cw));
    if (!has_rate(m) && !m->platt)
        return DCTR_OK; /* files stay byte-identical to older versions when unused */
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, CALIB_VERSION);
    dctr_wbuf_f64(&w, has_rate(m) ? m->neg_rate : 1.0);
    dctr_wbuf_u32(&w, m->platt ? 1u : 0u);
    dctr_wbuf_f64(&w, m->platt ? m->platt_a : 1.0);
    dctr_wbuf_f64(&w, m->platt ? m->platt_b : 0.0);
    return dctr_model_section_put(cw, "calib", &w);
}

dctr_status dctr_model_calib_load(dctr_model *m, const dctr_container *c) {
    if (!dctr_container_has(c, "calib"))
        return iso_load(m, c);
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "calib", &r));
    uint32_t version = 0, platt = 0;
    double rate = 1.0, a = 1.0, b = 0.0;
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "calib version"));
    if (version != CALIB_VERSION)
        return dctr_set_error(DCTR_ERR_FORMAT, "calib: version %u (this build reads %u)", version,
                              CALIB_VERSION);
    DCTR_TRY(dctr_rbuf_f64(&r, &rate, "calib negative rate"));
    DCTR_TRY(dctr_rbuf_u32(&r, &platt, "calib platt flag"));
    DCTR_TRY(dctr_rbuf_f64(&r, &a, "calib platt a"));
    DCTR_TRY(dctr_rbuf_f64(&r, &b, "calib platt b"));
    if (!(rate > 0.0 && rate <= 1.0) || platt > 1u || !isfinite(a) || !isfinite(b))
        return dctr_set_error(DCTR_ERR_FORMAT, "calib: invalid values (rate %g, platt %u, a %g, b %g)",
                              rate, platt, a, b);
    if (m->task != DCTR_TASK_BINARY)
        return dctr_set_error(DCTR_ERR_FORMAT, "calib: section in a regression model");
    m->neg_rate = rate;
    m->platt = (int)platt;
    m->platt_a = a;
    m->platt_b = b;
    return iso_load(m, c);
}

dctr_status dctr_model_set_negative_rate(dctr_model *model, double rate) {
    if (!model)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_set_negative_rate: NULL model");
    if (!(rate > 0.0 && rate <= 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "negative rate %g not in (0, 1]", rate);
    if (model->task != DCTR_TASK_BINARY && rate != 1.0)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "negative rate: the model is not binary");
    model->neg_rate = rate;
    return DCTR_OK;
}

double dctr_model_get_negative_rate(const dctr_model *model) {
    return model && has_rate(model) ? model->neg_rate : 1.0;
}

int dctr_model_get_platt(const dctr_model *model, double *a, double *b) {
    int on = model && model->platt;
    if (a)
        *a = on ? model->platt_a : 1.0;
    if (b)
        *b = on ? model->platt_b : 0.0;
    return on;
}

void dctr_model_clear_platt(dctr_model *model) {
    if (model)
        model->platt = 0;
}
