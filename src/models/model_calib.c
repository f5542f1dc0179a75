/* Output calibration of a binary model: the negative down-sampling correction (logit + ln rate)
 * and Platt scaling (sigmoid(a * z + b)), applied after the family's forward in every predict
 * path, and their optional "calib" model-file section:
 *   calib  u32 version 1, f64 negative rate, u32 platt (0/1), f64 a, f64 b
 * Files without the section load with no calibration. */
#include <math.h>

#include "core/error.h"
#include "deepctr/quality.h"
#include "models/model_internal.h"

#define CALIB_VERSION 1u

static int has_rate(const dctr_model *m) { return m->neg_rate > 0.0 && m->neg_rate < 1.0; }

int dctr_model_calib_active(const dctr_model *m) {
    return m->task == DCTR_TASK_BINARY && (has_rate(m) || m->platt);
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
        z = a * (z + shift) + b;
        prob[i] = (float)(1.0 / (1.0 + exp(-z)));
        if (logit)
            logit[i] = (float)z;
    }
}

dctr_status dctr_model_calib_save(const dctr_model *m, dctr_container_writer *cw) {
    if (!has_rate(m) && !m->platt)
        return DCTR_OK; /* files stay byte-identical to older versions when unused */
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, CALIB_VERSION);
    dctr_wbuf_f64(&w, has_rate(m) ? m->neg_rate : 1.0);
    dctr_wbuf_u32(&w, m->platt ? 1u : 0u);
    dctr_wbuf_f64(&w, m->platt ? m->platt_a : 1.0);
    dctr_wbuf_f64(&w, m->platt ? m->platt_b : 0.0);
    dctr_status st = dctr_wbuf_status(&w);
    if (st == DCTR_OK)
        st = dctr_cw_add(cw, "calib", &w);
    dctr_wbuf_free(&w);
    return st;
}

dctr_status dctr_model_calib_load(dctr_model *m, const dctr_container *c) {
    if (!dctr_container_has(c, "calib"))
        return DCTR_OK;
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
    return DCTR_OK;
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
