/* Calibration metrics (ECE and the reliability table) and Platt scaling fitted on validation
 * rows (docs/quality.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "data/batch.h"
#include "deepctr/quality.h"
#include "deepctr/services.h"
#include "models/model_internal.h"

dctr_status dctr_calibration_table(const float *labels, const float *pred, const float *weights, int64_t n,
                                   int32_t nbins, dctr_reliability_bin *bins, double *ece) {
    if (!labels || !pred || !ece || n < 0 || nbins < 1 || nbins > 1000000)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_calibration_table: bad arguments (n %lld, nbins %d)",
                              (long long)n, nbins);
    double *acc = dctr_calloc((size_t)nbins * 3, sizeof(double)); /* weight, sum w*p, sum w*y */
    int64_t *cnt = dctr_calloc((size_t)nbins, sizeof(int64_t));
    if (!acc || !cnt) {
        dctr_free(acc);
        dctr_free(cnt);
        return DCTR_ERR_NOMEM;
    }
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p = pred[i], w = weights ? weights[i] : 1.0;
        if (!isfinite(p) || !(w > 0.0))
            continue;
        int32_t k = (int32_t)(p * nbins);
        k = k < 0 ? 0 : (k >= nbins ? nbins - 1 : k);
        acc[3 * k] += w;
        acc[3 * k + 1] += w * p;
        acc[3 * k + 2] += w * (labels[i] > 0.5f ? 1.0 : 0.0);
        cnt[k]++;
        total += w;
    }
    double e = 0.0;
    for (int32_t k = 0; k < nbins; k++) {
        double wk = acc[3 * k];
        double mp = wk > 0 ? acc[3 * k + 1] / wk : NAN, obs = wk > 0 ? acc[3 * k + 2] / wk : NAN;
        if (wk > 0 && total > 0)
            e += wk / total * fabs(mp - obs);
        if (bins)
            bins[k] = (dctr_reliability_bin){(double)k / nbins, (double)(k + 1) / nbins, cnt[k], wk, mp, obs};
    }
    *ece = total > 0 ? e : NAN;
    dctr_free(acc);
    dctr_free(cnt);
    return DCTR_OK;
}

dctr_status dctr_model_calibration(const dctr_model *model, const dctr_dataset *data, int32_t nbins,
                                   dctr_reliability_bin *bins, double *ece) {
    if (!model || !data || !ece)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_calibration: NULL argument");
    if (model->task != DCTR_TASK_BINARY)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "calibration metrics need a binary model");
    const dctr_batch *rows = dctr_dataset_rows(data);
    float *pred = dctr_alloc_floats((size_t)(rows->n > 0 ? rows->n : 1));
    if (!pred)
        return DCTR_ERR_NOMEM;
    dctr_status st = dctr_model_predict(model, data, pred);
    if (st == DCTR_OK)
        st = dctr_calibration_table(rows->labels, pred, rows->sample_weights, rows->n, nbins, bins, ece);
    dctr_aligned_free(pred);
    return st;
}

/* Weighted logloss of sigmoid(a z + b) and its gradient / Hessian in (a, b). */
static double platt_loss(const double *z, const float *y, const double *w, int64_t n, double a, double b,
                         double g[2], double h[3]) {
    double loss = 0.0;
    g[0] = g[1] = h[0] = h[1] = h[2] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double t = a * z[i] + b, yi = y[i] > 0.5f ? 1.0 : 0.0;
        /* log(1 + e^t) - y t, stable for large |t| */
        loss += w[i] * ((t > 0 ? t + log1p(exp(-t)) : log1p(exp(t))) - yi * t);
        double p = 1.0 / (1.0 + exp(-t)), r = w[i] * (p - yi), s = w[i] * p * (1.0 - p);
        g[0] += r * z[i];
        g[1] += r;
        h[0] += s * z[i] * z[i];
        h[1] += s * z[i];
        h[2] += s;
    }
    return loss;
}

/* Newton's method with step halving; a tiny ridge keeps the Hessian invertible. */
static void platt_fit(const double *z, const float *y, const double *w, int64_t n, double *a, double *b) {
    double g[2], h[3], ca = 1.0, cb = 0.0;
    double loss = platt_loss(z, y, w, n, ca, cb, g, h);
    for (int it = 0; it < 100; it++) {
        double h0 = h[0] + 1e-9, h2 = h[2] + 1e-9, det = h0 * h2 - h[1] * h[1];
        if (!(det > 0))
            break;
        double da = (h2 * g[0] - h[1] * g[1]) / det, db = (h0 * g[1] - h[1] * g[0]) / det;
        double step = 1.0, na = ca, nb = cb, nl = loss, ng[2], nh[3];
        for (int k = 0; k < 30; k++, step *= 0.5) {
            na = ca - step * da;
            nb = cb - step * db;
            nl = platt_loss(z, y, w, n, na, nb, ng, nh);
            if (nl <= loss)
                break;
        }
        if (!(nl <= loss))
            break;
        int done = loss - nl < 1e-12 * (fabs(loss) + 1.0);
        ca = na, cb = nb, loss = nl;
        memcpy(g, ng, sizeof g);
        memcpy(h, nh, sizeof h);
        if (done)
            break;
    }
    *a = ca;
    *b = cb;
}

/* The rate-corrected logits of every row (Platt / isotonic off while they are computed). */
static dctr_status corrected_logits(dctr_model *model, const dctr_batch *rows, float *prob, float *logit) {
    const int platt = model->platt;
    const int32_t iso_n = model->iso_n;
    model->platt = 0;
    model->iso_n = 0;
    dctr_predictor *p = NULL;
    int32_t cap = rows->n < 1024 ? (int32_t)rows->n : 1024;
    dctr_status st = dctr_predictor_new(model, cap, &p);
    if (st == DCTR_OK)
        st = dctr_predictor_run_logit(p, rows, prob, logit);
    dctr_predictor_free(p);
    model->platt = platt;
    model->iso_n = iso_n;
    return st;
}

/* The validation rows as (z = corrected logit, label, weight): negatives weigh 1 / rate. */
typedef struct calib_rows {
    int64_t n;
    double *z, *w;
    const float *y;
} calib_rows;

static void calib_rows_free(calib_rows *c) {
    dctr_free(c->z);
    dctr_free(c->w);
}

static dctr_status collect(dctr_model *model, const dctr_dataset *valid, double rate, const char *what,
                           calib_rows *out) {
    memset(out, 0, sizeof(*out));
    if (!model || !valid)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: NULL argument", what);
    if (model->task != DCTR_TASK_BINARY)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "%s needs a binary model", what);
    if (!(rate > 0.0 && rate <= 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: validation negative rate %g not in (0, 1]", what, rate);
    const dctr_batch *rows = dctr_dataset_rows(valid);
    if (rows->n < 2)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: %lld validation rows", what, (long long)rows->n);
    size_t n = (size_t)rows->n;
    float *prob = dctr_alloc_floats(n), *logit = dctr_alloc_floats(n);
    out->z = dctr_calloc(n, sizeof(double));
    out->w = dctr_calloc(n, sizeof(double));
    out->n = rows->n;
    out->y = rows->labels;
    dctr_status st = prob && logit && out->z && out->w ? DCTR_OK : DCTR_ERR_NOMEM;
    if (st == DCTR_OK)
        st = corrected_logits(model, rows, prob, logit);
    int pos = 0, neg = 0;
    for (size_t i = 0; st == DCTR_OK && i < n; i++) {
        out->z[i] = logit[i];
        out->w[i] = rows->sample_weights ? rows->sample_weights[i] : 1.0;
        if (rows->labels[i] > 0.5f)
            pos = 1;
        else {
            neg = 1;
            out->w[i] /= rate;
        }
    }
    if (st == DCTR_OK && !(pos && neg))
        st = dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: the validation rows need both classes", what);
    dctr_aligned_free(prob);
    dctr_aligned_free(logit);
    if (st != DCTR_OK)
        calib_rows_free(out);
    return st;
}

dctr_status dctr_model_calibrate_platt(dctr_model *model, const dctr_dataset *valid,
                                       double valid_negative_rate) {
    calib_rows c;
    DCTR_TRY(collect(model, valid, valid_negative_rate, "Platt scaling", &c));
    double a, b;
    platt_fit(c.z, c.y, c.w, c.n, &a, &b);
    calib_rows_free(&c);
    dctr_model_calib_release(model);
    model->platt = 1;
    model->platt_a = a;
    model->platt_b = b;
    return DCTR_OK;
}

/* ---------------- isotonic (pool adjacent violators) ---------------- */

typedef struct iso_block {
    double w, wp, wy; /* weight, weighted sums of probability and label */
} iso_block;

typedef struct iso_row {
    double p;
    int64_t i;
} iso_row;

static int by_p(const void *a, const void *b) {
    const iso_row *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i); /* a total order: the same fit on every libc */
}

/* Pools blocks[0..*nb) until their label means are non-decreasing and their probability means
 * strictly increasing (a tie of means would make two points at one x). */
static void pav(iso_block *blk, int64_t *nb) {
    int64_t k = 0;
    for (int64_t i = 0; i < *nb; i++) {
        blk[k++] = blk[i];
        while (k > 1 && (blk[k - 2].wy / blk[k - 2].w >= blk[k - 1].wy / blk[k - 1].w ||
                         blk[k - 2].wp / blk[k - 2].w >= blk[k - 1].wp / blk[k - 1].w)) {
            blk[k - 2].w += blk[k - 1].w;
            blk[k - 2].wp += blk[k - 1].wp;
            blk[k - 2].wy += blk[k - 1].wy;
            k--;
        }
    }
    *nb = k;
}

dctr_status dctr_model_calibrate_isotonic(dctr_model *model, const dctr_dataset *valid,
                                          double valid_negative_rate) {
    calib_rows c;
    DCTR_TRY(collect(model, valid, valid_negative_rate, "isotonic calibration", &c));
    iso_row *order = dctr_calloc((size_t)c.n, sizeof(iso_row));
    iso_block *blk = dctr_calloc((size_t)c.n, sizeof(iso_block));
    double *x = NULL, *y = NULL;
    dctr_status st = order && blk ? DCTR_OK : DCTR_ERR_NOMEM;
    int64_t nb = 0;
    if (st == DCTR_OK) {
        for (int64_t i = 0; i < c.n; i++)
            order[i] = (iso_row){1.0 / (1.0 + exp(-c.z[i])), i}; /* the corrected probability */
        qsort(order, (size_t)c.n, sizeof(iso_row), by_p);
        for (int64_t i = 0; i < c.n; i++) {
            const int64_t j = order[i].i;
            c.z[j] = order[i].p;
            if (!(c.w[j] > 0))
                continue;
            blk[nb++] = (iso_block){c.w[j], c.w[j] * c.z[j], c.y[j] > 0.5f ? c.w[j] : 0.0};
        }
        pav(blk, &nb);
        if (nb > (1 << 24)) /* the most a model file holds (src/models/model_calib.c) */
            st = dctr_set_error(DCTR_ERR_UNSUPPORTED, "isotonic: %lld points", (long long)nb);
    }
    if (st == DCTR_OK) {
        x = dctr_calloc((size_t)(nb > 0 ? nb : 1), sizeof(double));
        y = dctr_calloc((size_t)(nb > 0 ? nb : 1), sizeof(double));
        st = x && y ? (nb > 0 ? DCTR_OK : dctr_set_error(DCTR_ERR_INVALID_ARG, "isotonic: no weighted rows"))
                    : DCTR_ERR_NOMEM;
    }
    for (int64_t k = 0; st == DCTR_OK && k < nb; k++) {
        x[k] = blk[k].wp / blk[k].w;
        y[k] = blk[k].wy / blk[k].w;
    }
    if (st == DCTR_OK) {
        dctr_model_calib_release(model);
        model->platt = 0;
        model->iso_x = x;
        model->iso_y = y;
        model->iso_n = (int32_t)nb;
        x = y = NULL;
    }
    dctr_free(x);
    dctr_free(y);
    dctr_free(order);
    dctr_free(blk);
    calib_rows_free(&c);
    return st;
}
