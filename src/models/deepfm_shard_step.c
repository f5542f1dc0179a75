/* A training step of a sharded model created as a shard (dfm->lazy, docs/distributed.md): the
 * distinct rows the batch uses (its own and the other ranks', row 0 always) are fetched into a
 * compact window, the second half of the parameter arena, in sorted id order; the batch's ids
 * are rewritten to window rows (id 0 stays 0: varlen padding) and the table offsets point into
 * the window for the forward and the local backward. Before the gradient exchange the offsets
 * come back and the accumulators' rows become ids again, so everything after (gradients to the
 * owners, L2, the optimizer) is the ordinary sharded step. A step thus commits memory for the
 * rows it uses (O(batch)) and never a page of another rank's rows in the arena. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "feature/schema_types.h"
#include "models/deepfm_impl.h"

struct dfm_shard_step {
    int32_t ncols;            /* schema columns */
    int swapped;              /* the offsets point into the window */
    int64_t **ids, *n;        /* per table: window row i holds row ids[t][i] */
    int64_t *emb_off, *lin_off; /* the arena offsets, while swapped */
    dctr_batch view;          /* the batch with window rows for ids */
    int64_t **col_ids;        /* per schema column: the rewritten ids, or NULL */
};

void dfm_shard_step_free(dfm *d) {
    struct dfm_shard_step *st = d->sstep;
    if (!st)
        return;
    for (int32_t t = 0; st->ids && t < d->ntables; t++)
        dctr_free(st->ids[t]);
    for (int32_t c = 0; st->col_ids && c < st->ncols; c++)
        dctr_free(st->col_ids[c]);
    dctr_free(st->ids);
    dctr_free(st->n);
    dctr_free(st->emb_off);
    dctr_free(st->lin_off);
    dctr_free(st->col_ids);
    dctr_free(st->view.cols);
    dctr_free(st);
    d->sstep = NULL;
}

/* Window row of id in the sorted list (present: the list holds every id of the batch). */
static int64_t window_row(const int64_t *ids, int64_t n, int64_t id) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Column c's ids as window rows of its table (every column feeding the FM/DNN or linear part). */
static dctr_status rewrite_column(struct dfm_shard_step *st, const dfm_col *c, const dctr_batch *b) {
    if (st->col_ids[c->col])
        return DCTR_OK; /* the same column in the other part */
    const int64_t cnt = b->n * (c->varlen ? c->T : 1);
    int64_t *x = dctr_malloc(sizeof(int64_t) * (size_t)(cnt + 1));
    if (!x)
        return DCTR_ERR_NOMEM;
    const int64_t *src = b->cols[c->col].ids;
    for (int64_t j = 0; j < cnt; j++)
        x[j] = window_row(st->ids[c->table], st->n[c->table], src[j]);
    st->col_ids[c->col] = x;
    st->view.cols[c->col].ids = x;
    return DCTR_OK;
}

static dctr_status build_view(dfm *d, struct dfm_shard_step *st, const dctr_batch *b) {
    const int32_t ncols = st->ncols;
    st->view = *b;
    st->view.cols = dctr_malloc(sizeof(dctr_column_data) * ((size_t)ncols + 1));
    st->col_ids = dctr_calloc((size_t)ncols + 1, sizeof *st->col_ids);
    if (!st->view.cols || !st->col_ids)
        return DCTR_ERR_NOMEM;
    memcpy(st->view.cols, b->cols, sizeof(dctr_column_data) * (size_t)ncols);
    st->view.owns_memory = 0;
    st->view.builder = NULL;
    for (int32_t i = 0; i < d->nemb; i++)
        DCTR_TRY(rewrite_column(st, &d->emb[i], b));
    for (int32_t i = 0; i < d->nlin; i++)
        DCTR_TRY(rewrite_column(st, &d->lin[i], b));
    return DCTR_OK;
}

dctr_status dfm_shard_step_begin(dctr_model *model, const dctr_batch *b, const dctr_batch **use) {
    dfm *d = model->impl;
    *use = b;
    if (!d->lazy) /* a whole model made a shard by the fit: rows fetched to their places */
        return dfm_shard_fetch(model, b);
    dfm_shard_step_free(d);
    struct dfm_shard_step *st = dctr_calloc(1, sizeof *st);
    if (!st)
        return DCTR_ERR_NOMEM;
    d->sstep = st;
    st->ncols = model->schema->ncols;
    const size_t nt = (size_t)d->ntables + 1;
    st->ids = dctr_calloc(nt, sizeof *st->ids);
    st->n = dctr_calloc(nt, sizeof *st->n);
    st->emb_off = dctr_malloc(nt * sizeof(int64_t));
    st->lin_off = dctr_malloc(nt * sizeof(int64_t));
    if (!st->ids || !st->n || !st->emb_off || !st->lin_off)
        return DCTR_ERR_NOMEM;
    DCTR_TRY(dfm_shard_fetch_ids(model, b, 1, st->ids, st->n));
    DCTR_TRY(build_view(d, st, b));
    dfm_shard_note(model, 0); /* the step's peak: own rows and the window (arena offsets) */
    /* the window has the arena's layout: table t's rows at nparams + its offset */
    for (int32_t t = 0; t < d->ntables; t++) {
        st->emb_off[t] = d->emb_off[t];
        st->lin_off[t] = d->lin_off[t];
        if (d->emb_off[t] >= 0)
            d->emb_off[t] += d->nparams;
        if (d->lin_off[t] >= 0)
            d->lin_off[t] += d->nparams;
    }
    st->swapped = 1;
    *use = &st->view;
    return DCTR_OK;
}

static void unswap(dfm *d, struct dfm_shard_step *st) {
    if (!st->swapped)
        return;
    for (int32_t t = 0; t < d->ntables; t++) {
        d->emb_off[t] = st->emb_off[t];
        d->lin_off[t] = st->lin_off[t];
    }
    st->swapped = 0;
}

/* Accumulator rows from window rows to ids (the same order: first touch). */
static dctr_status to_ids(dctr_sparse_grad *g, const int64_t *ids) {
    const int64_t cnt = g->count;
    if (cnt == 0)
        return DCTR_OK;
    int64_t *rows = dctr_malloc(sizeof(int64_t) * (size_t)cnt);
    float *grad = dctr_malloc(sizeof(float) * (size_t)cnt * (size_t)g->dim);
    dctr_status st = rows && grad ? DCTR_OK : DCTR_ERR_NOMEM;
    if (st == DCTR_OK) {
        memcpy(rows, g->rows, sizeof(int64_t) * (size_t)cnt);
        memcpy(grad, g->grad, sizeof(float) * (size_t)cnt * (size_t)g->dim);
        dctr_sparse_grad_clear(g);
    }
    for (int64_t i = 0; i < cnt && st == DCTR_OK; i++) {
        float *row = dctr_sparse_grad_row(g, ids[rows[i]]);
        if (row)
            memcpy(row, grad + (size_t)i * (size_t)g->dim, sizeof(float) * (size_t)g->dim);
        else
            st = DCTR_ERR_LIMIT;
    }
    dctr_free(rows);
    dctr_free(grad);
    return st;
}

dctr_status dfm_shard_step_ids(dctr_model *model) {
    dfm *d = model->impl;
    struct dfm_shard_step *st = d->sstep;
    if (!st || !st->swapped)
        return DCTR_OK;
    unswap(d, st);
    dctr_status s = DCTR_OK;
    for (int32_t t = 0; t < d->ntables && s == DCTR_OK; t++) {
        if (d->emb_off[t] >= 0)
            s = to_ids(&d->g_emb[t], st->ids[t]);
        if (s == DCTR_OK && d->lin_off[t] >= 0)
            s = to_ids(&d->g_lin[t], st->ids[t]);
    }
    return s;
}

void dfm_shard_step_end(dctr_model *model) {
    dfm *d = model->impl;
    if (d->sstep)
        unswap(d, d->sstep);
    dfm_shard_step_free(d);
}
