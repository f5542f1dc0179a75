/* Permutation feature importance (docs/quality.md): each column of a labelled dataset in turn is
 * shuffled across the rows (or set to its missing value) in a working copy, the model is scored
 * again, and the change of AUC and loss against the untouched rows is the column's importance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "data/batch.h"
#include "deepctr/quality.h"
#include "models/model_internal.h"

#define IMPORTANCE_STREAM 0x696d706f72740000ull /* "import": one stream per column from here */

void dctr_importance_options_default(dctr_importance_options *opts) {
    if (!opts)
        return;
    *opts = (dctr_importance_options){0};
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->repeats = 3;
    opts->seed = 1;
    opts->missing = 1;
}

void dctr_importance_result_free(dctr_importance_result *r) {
    if (!r)
        return;
    dctr_free(r->items);
    r->items = NULL;
    r->count = 0;
}

/* dst column c, row r = src column c, row idx[r] (idx NULL: row 0 of src for every r). */
static void copy_column(dctr_batch *dst, const dctr_batch *src, int32_t c, const int64_t *idx) {
    const dctr_column *col = &dst->schema->cols[c];
    const dctr_column_data *a = &src->cols[c];
    dctr_column_data *d = &dst->cols[c];
    for (int64_t r = 0; r < dst->n; r++) {
        size_t j = idx ? (size_t)idx[r] : 0;
        if (col->kind == DCTR_COLUMN_SPARSE) {
            d->ids[r] = a->ids[j];
        } else if (col->kind == DCTR_COLUMN_VARLEN) {
            size_t T = (size_t)col->maxlen;
            memcpy(d->ids + (size_t)r * T, a->ids + j * T, T * sizeof(int64_t));
            if (d->lengths && a->lengths)
                d->lengths[r] = a->lengths[j];
            if (d->weights && a->weights)
                memcpy(d->weights + (size_t)r * T, a->weights + j * T, T * sizeof(float));
        } else {
            size_t D = (size_t)col->dense_dim;
            memcpy(d->dense + (size_t)r * D, a->dense + j * D, D * sizeof(float));
        }
    }
}

typedef struct imp_ctx {
    const dctr_model *model;
    const dctr_batch *rows; /* the dataset, untouched */
    dctr_batch *work;       /* copy whose one column is perturbed at a time */
    dctr_batch *missing;    /* one all-missing row */
    int64_t *ident, *perm;
    float *pred;
} imp_ctx;

/* AUC (NaN for regression) and loss (logloss / MSE) of the model on the working copy. */
static dctr_status score(imp_ctx *x, double *auc, double *loss) {
    DCTR_TRY(dctr_model_predict_batch(x->model, x->work, x->pred));
    const dctr_batch *w = x->work;
    if (x->model->task == DCTR_TASK_BINARY) {
        *auc = dctr_metric_auc(w->labels, x->pred, w->sample_weights, w->n);
        *loss = dctr_metric_logloss(w->labels, x->pred, w->sample_weights, w->n);
    } else {
        *auc = NAN;
        *loss = dctr_metric_mse(w->labels, x->pred, w->sample_weights, w->n);
    }
    return DCTR_OK;
}

static double sd(const double *v, int32_t n, double mean) {
    if (n < 2)
        return 0.0;
    double s = 0.0;
    for (int32_t i = 0; i < n; i++)
        s += (v[i] - mean) * (v[i] - mean);
    return sqrt(s / (n - 1));
}

/* One column: repeats shuffles (+ the missing value), restored afterwards. */
static dctr_status one_column(imp_ctx *x, const dctr_importance_options *o, int32_t c, double base_auc,
                              double base_loss, double *auc_d, double *loss_d, dctr_importance *it) {
    const int64_t n = x->rows->n;
    dctr_rng rng;
    dctr_rng_init(&rng, o->seed, IMPORTANCE_STREAM + (uint64_t)c);
    double sa = 0.0, sl = 0.0;
    for (int32_t k = 0; k < o->repeats; k++) {
        memcpy(x->perm, x->ident, sizeof(int64_t) * (size_t)n);
        dctr_rng_shuffle_i64(&rng, x->perm, n);
        copy_column(x->work, x->rows, c, x->perm);
        double a, l;
        DCTR_TRY(score(x, &a, &l));
        auc_d[k] = base_auc - a;
        loss_d[k] = l - base_loss;
        sa += auc_d[k];
        sl += loss_d[k];
    }
    it->auc_drop = sa / o->repeats;
    it->loss_rise = sl / o->repeats;
    it->auc_drop_sd = sd(auc_d, o->repeats, it->auc_drop);
    it->loss_rise_sd = sd(loss_d, o->repeats, it->loss_rise);
    it->missing_auc_drop = it->missing_loss_rise = NAN;
    if (o->missing) {
        copy_column(x->work, x->missing, c, NULL);
        double a, l;
        DCTR_TRY(score(x, &a, &l));
        it->missing_auc_drop = base_auc - a;
        it->missing_loss_rise = l - base_loss;
    }
    copy_column(x->work, x->rows, c, x->ident);
    return DCTR_OK;
}

/* Most important first: loss rise, then AUC drop (NaN last), then column order. */
static int by_importance(const void *pa, const void *pb) {
    const dctr_importance *a = pa, *b = pb;
    if (a->loss_rise != b->loss_rise)
        return a->loss_rise > b->loss_rise ? -1 : 1;
    double x = isnan(a->auc_drop) ? -INFINITY : a->auc_drop, y = isnan(b->auc_drop) ? -INFINITY : b->auc_drop;
    if (x != y)
        return x > y ? -1 : 1;
    return a->column_index - b->column_index;
}

static dctr_status check_args(const dctr_model *model, const dctr_dataset *data,
                              const dctr_importance_options *o, dctr_importance_result *result) {
    if (!model || !data || !result)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_permutation_importance: NULL argument");
    if (o->struct_size != sizeof(*o))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "permutation importance: options struct_size %u (expected "
                              "%zu): call dctr_importance_options_default first", o->struct_size, sizeof(*o));
    if (o->repeats < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "permutation importance: repeats %d < 1", o->repeats);
    if (!model->schema)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "permutation importance: the model has no schema");
    const dctr_batch *rows = dctr_dataset_rows(data);
    if (rows->n < 2)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "permutation importance: %lld rows", (long long)rows->n);
    if (rows->schema->ncols != model->schema->ncols)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "permutation importance: the dataset has %d columns, the "
                              "model %d", rows->schema->ncols, model->schema->ncols);
    return DCTR_OK;
}

static dctr_status ctx_init(imp_ctx *x, const dctr_model *model, const dctr_batch *rows) {
    const int64_t n = rows->n;
    x->model = model;
    x->rows = rows;
    x->ident = dctr_calloc((size_t)n, sizeof(int64_t));
    x->perm = dctr_calloc((size_t)n, sizeof(int64_t));
    x->pred = dctr_alloc_floats((size_t)n);
    if (!x->ident || !x->perm || !x->pred)
        return DCTR_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        x->ident[i] = i;
    DCTR_TRY(dctr_batch_alloc(rows->schema, n, rows->sample_weights != NULL, &x->work));
    DCTR_TRY(dctr_batch_gather(x->work, rows, x->ident, n));
    DCTR_TRY(dctr_batch_new(rows->schema, 1, &x->missing));
    DCTR_TRY(dctr_batch_begin_row(x->missing)); /* no column set: each one is missing */
    return dctr_batch_end_row(x->missing);
}

static void ctx_free(imp_ctx *x) {
    dctr_free(x->ident);
    dctr_free(x->perm);
    dctr_aligned_free(x->pred);
    dctr_batch_free(x->work);
    dctr_batch_free(x->missing);
}

dctr_status dctr_model_permutation_importance(const dctr_model *model, const dctr_dataset *data,
                                              const dctr_importance_options *opts,
                                              dctr_importance_result *result) {
    dctr_importance_options dflt;
    dctr_importance_options_default(&dflt);
    const dctr_importance_options *o = opts ? opts : &dflt;
    if (result)
        memset(result, 0, sizeof(*result));
    DCTR_TRY(check_args(model, data, o, result));
    const dctr_schema *s = model->schema;
    imp_ctx x = {0};
    dctr_importance *items = dctr_calloc((size_t)s->ncols, sizeof(*items));
    double *auc_d = dctr_calloc((size_t)o->repeats, sizeof(double));
    double *loss_d = dctr_calloc((size_t)o->repeats, sizeof(double));
    dctr_status st = items && auc_d && loss_d ? DCTR_OK : DCTR_ERR_NOMEM;
    if (st == DCTR_OK)
        st = ctx_init(&x, model, dctr_dataset_rows(data));
    double base_auc = NAN, base_loss = NAN;
    if (st == DCTR_OK)
        st = score(&x, &base_auc, &base_loss);
    for (int32_t c = 0; st == DCTR_OK && c < s->ncols; c++) {
        items[c].column = s->cols[c].name;
        items[c].column_index = c;
        st = one_column(&x, o, c, base_auc, base_loss, auc_d, loss_d, &items[c]);
    }
    ctx_free(&x);
    dctr_free(auc_d);
    dctr_free(loss_d);
    if (st != DCTR_OK) {
        dctr_free(items);
        return st;
    }
    qsort(items, (size_t)s->ncols, sizeof(*items), by_importance);
    result->count = s->ncols;
    result->items = items;
    result->base_auc = base_auc;
    result->base_loss = base_loss;
    return DCTR_OK;
}
