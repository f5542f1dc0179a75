/* libffm-native FFM: training in memory or streamed from disk, prediction, evaluation.
 * The epoch loop is libffm's: shuffle (blocks, then rows inside a block) every epoch including
 * the first, per row a forward pass then the AdaGrad update of every pair, validation logloss
 * after each epoch, auto-stop restoring the previous epoch's weights when it rises. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "models/ffm/ffm.h"
#include "models/ffm/replicas.h"
#include "core/metrics.h"

void dctr_ffm_options_default(dctr_ffm_options *o) {
    if (!o) /* like the other _default calls: NULL is a no-op, never a crash */
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    dctr_model_config_default(&o->model, DCTR_MODEL_FFM);
    o->model.ffm_k = 4;
    o->model.ffm_normalize = 1;
    o->model.ffm_linear = 0;
    o->model.task = DCTR_TASK_BINARY;
    o->model.seed = 1;
    dctr_optimizer_config_default(&o->model.optimizer, DCTR_OPT_ADAGRAD);
    o->model.optimizer.learning_rate = 0.2;
    o->model.l2_embedding = 2e-5f;
    o->epochs = 15;
    o->auto_stop = 0;
    o->threads = 1;
    o->shuffle = 1;
    o->chunk_rows = 65536;
}

static dctr_status check_options(const dctr_ffm_options *o) {
    if (!o)
        return DCTR_OK;
    if (o->struct_size != sizeof *o)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_options: struct_size %u, expected %zu "
                              "(call dctr_ffm_options_default)", o->struct_size, sizeof *o);
    const dctr_model_config *m = &o->model;
    if (m->ffm_k < 1 || m->ffm_k > 1024)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: k must be in [1, 1024] (got %d)", m->ffm_k);
    if (o->epochs < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: epochs must be >= 1 (got %d)", o->epochs);
    if (!(m->optimizer.learning_rate > 0) || !isfinite(m->optimizer.learning_rate))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: learning rate must be > 0 (got %g)",
                              m->optimizer.learning_rate);
    if (!(m->l2_embedding >= 0) || !isfinite(m->l2_embedding))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: lambda must be >= 0 (got %g)", (double)m->l2_embedding);
    if (o->threads < 1 || o->threads > DCTR_MAX_THREADS)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: threads must be in [1, %d] (got %d)",
                              DCTR_MAX_THREADS, o->threads);
    if (m->task != DCTR_TASK_BINARY && m->task != DCTR_TASK_REGRESSION)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: unknown task %d", (int)m->task);
    if (o->chunk_rows < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "FFM: chunk_rows must be >= 1");
    return DCTR_OK;
}

/* opts checked (NULL: the defaults) into *o. */
static dctr_status resolve_options(const dctr_ffm_options *opts, dctr_ffm_options *o) {
    DCTR_TRY(check_options(opts));
    if (opts)
        *o = *opts;
    else
        dctr_ffm_options_default(o);
    return DCTR_OK;
}

/* Label rule of the FFM objective (libffm's file format): a binary label is positive when > 0, so
 * 0/1 and -1/+1 files both work. The labels are binarised to 0/1 here and handed to the library's
 * one set of metrics (src/core/metrics.c, positive at >= 0.5); AUC ranks the outputs t, and
 * logloss is computed from t exactly (log1p(exp(-s t)), as libffm prints it, no clipping). */
dctr_status dctr_ffm_metrics(const float *t, const float *labels, int64_t n, int regression,
                             double values[DCTR_METRIC_COUNT]) {
    for (int i = 0; i < DCTR_METRIC_COUNT; i++)
        values[i] = NAN;
    if (n <= 0)
        return DCTR_OK;
    if (regression) {
        dctr_metrics_all(DCTR_TASK_REGRESSION, labels, t, NULL, n, values);
        values[DCTR_METRIC_LOSS] = values[DCTR_METRIC_MSE];
        return DCTR_OK;
    }
    float *y = dctr_malloc((size_t)n * 2 * sizeof *y);
    if (!y)
        return DCTR_ERR_NOMEM;
    float *p = y + n;
    double loss = 0;
    for (int64_t i = 0; i < n; i++) {
        float kappa;
        loss += dctr_ffm_loss(t[i], labels[i], 0, &kappa);
        y[i] = labels[i] > 0 ? 1.0f : 0.0f;
        p[i] = (float)(1.0 / (1.0 + exp(-(double)t[i])));
    }
    dctr_metrics_all(DCTR_TASK_BINARY, y, p, NULL, n, values);
    values[DCTR_METRIC_AUC] = dctr_metric_auc(y, t, NULL, n); /* t: no ties from saturation */
    values[DCTR_METRIC_LOGLOSS] = loss / (double)n;
    values[DCTR_METRIC_LOSS] = values[DCTR_METRIC_LOGLOSS];
    dctr_free(y);
    return DCTR_OK;
}

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- one pass over rows (train or score), split over the pool ---- */

typedef struct {
    dctr_ffm_weights *w;
    const dctr_ffm_data *d;
    const uint32_t *order; /* NULL = row order */
    dctr_ffm_step st;
    int normalize, regression, update;
    float *t_out;          /* [rows] by row index, may be NULL */
    double loss[DCTR_MAX_THREADS];
    struct row_window *windows; /* [threads], for shuffled passes */
    dctr_ffm_replicas *reps;    /* training on per-thread copies (replicas.h), or NULL: Hogwild */
    int64_t round;              /* a replica pass: the first row of the current round */
} pass_ctx;

/* Rows come in shuffled order, so a row's offset, label and nodes are cache (and TLB) misses
 * the pair loops would wait for one by one. The worker copies a window of rows first (the
 * copies are independent loads, which the CPU overlaps), then trains from that small buffer;
 * a large model's weight rows are prefetched one row ahead. The row order is unchanged. */
#define WIN_NODES 4096
#define WIN_ROWS 512
#define PF_WEIGHTS_MIN_BYTES ((size_t)4 << 20)

typedef struct row_window {
    dctr_ffm_node nodes[WIN_NODES];
    int32_t off[WIN_ROWS + 1];
    int64_t row[WIN_ROWS];
    float label[WIN_ROWS], r[WIN_ROWS];
} row_window;

static inline void prefetch_weights(const dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e) {
    const size_t bytes = w->row * sizeof(float);
    for (const dctr_ffm_node *x = b; x < e; x++)
        if ((uint32_t)x->index < (uint64_t)w->n) {
            const char *a = (const char *)(w->W + (size_t)x->index * w->row);
            for (size_t o = 0; o < bytes; o += 64)
                __builtin_prefetch(a + o, 1);
        }
}

/* One row on weights w (the model's, or thread `worker`'s copy): output, loss, then (training)
 * the update. */
static inline double pass_row(pass_ctx *c, dctr_ffm_weights *w, int worker, const dctr_ffm_node *b,
                              const dctr_ffm_node *e, float r, float y, int64_t i) {
    float t = dctr_ffm_score(w, b, e, r);
    float kappa;
    double loss = dctr_ffm_loss(t, y, c->regression, &kappa);
    if (c->t_out)
        c->t_out[i] = t;
    if (c->update) {
        if (c->reps)
            dctr_ffm_replicas_touch(c->reps, worker, b, e);
        dctr_ffm_update(w, b, e, r, kappa, &c->st);
    }
    return loss;
}

/* Copies rows order[*ii ...] into the window until it is full; 0 rows when the next row alone
 * exceeds it (the caller then runs that row in place). */
static int32_t fill_window(const pass_ctx *c, int64_t *ii, int64_t end, row_window *wd) {
    const dctr_ffm_data *d = c->d;
    int32_t nr = 0, nn = 0;
    wd->off[0] = 0;
    while (*ii < end && nr < WIN_ROWS) {
        const int64_t i = c->order[*ii];
        const int64_t b = d->row_ptr[i], len = d->row_ptr[i + 1] - b;
        if (len > WIN_NODES - nn)
            break;
        memcpy(wd->nodes + nn, d->nodes + b, (size_t)len * sizeof(dctr_ffm_node));
        nn += (int32_t)len;
        wd->row[nr] = i;
        wd->label[nr] = d->labels[i];
        wd->r[nr] = c->normalize ? d->inv_norm[i] : 1.0f;
        wd->off[++nr] = nn;
        ++*ii;
    }
    return nr;
}

/* Positions [begin, end) of the pass on weights w. */
static void pass_rows(pass_ctx *c, dctr_ffm_weights *w, int worker, int64_t begin, int64_t end) {
    const dctr_ffm_data *d = c->d;
    const int pf = (size_t)w->n * w->row * sizeof(float) >= PF_WEIGHTS_MIN_BYTES;
    double loss = 0;
    if (!c->order || !c->windows) { /* row order (the data streams by itself), or no window memory */
        for (int64_t ii = begin; ii < end; ii++) {
            const int64_t i = c->order ? c->order[ii] : ii;
            loss += pass_row(c, w, worker, d->nodes + d->row_ptr[i], d->nodes + d->row_ptr[i + 1],
                             c->normalize ? d->inv_norm[i] : 1.0f, d->labels[i], i);
        }
        c->loss[worker] += loss;
        return;
    }
    row_window *wd = &c->windows[worker];
    for (int64_t ii = begin; ii < end;) {
        int32_t nr = fill_window(c, &ii, end, wd);
        if (nr == 0) { /* one row longer than the window */
            const int64_t i = c->order[ii++];
            loss += pass_row(c, w, worker, d->nodes + d->row_ptr[i], d->nodes + d->row_ptr[i + 1],
                             c->normalize ? d->inv_norm[i] : 1.0f, d->labels[i], i);
            continue;
        }
        for (int32_t q = 0; q < nr; q++) {
            const dctr_ffm_node *b = wd->nodes + wd->off[q], *e = wd->nodes + wd->off[q + 1];
            if (pf && q + 1 < nr)
                prefetch_weights(w, e, wd->nodes + wd->off[q + 2]);
            loss += pass_row(c, w, worker, b, e, wd->r[q], wd->label[q], wd->row[q]);
        }
    }
    c->loss[worker] += loss;
}

/* Hogwild or scoring: every thread on the model's weights. */
static void pass_worker(void *p, int worker, int64_t begin, int64_t end) {
    pass_ctx *c = p;
    pass_rows(c, c->w, worker, begin, end);
}

/* Rows [begin, end) of the current round of a replica pass, claimed a window at a time by the
 * threads as they finish (a VM's vCPUs need not run at one speed); each thread trains its own
 * copy. */
static void round_worker(void *p, int worker, int64_t begin, int64_t end) {
    pass_ctx *c = p;
    pass_rows(c, &c->reps->copy[worker], worker, c->round + begin, c->round + end);
}

static void replica_pass(dctr_pool *pool, pass_ctx *c, int64_t rows) {
    const int64_t per_round = dctr_ffm_replicas_round_rows(rows, c->reps->threads);
    dctr_ffm_replicas_load(c->reps, c->w);
    for (c->round = 0; c->round < rows; c->round += per_round) {
        dctr_pool_run_claimed(pool, rows - c->round < per_round ? rows - c->round : per_round, WIN_ROWS,
                              round_worker, c);
        dctr_ffm_replicas_merge(c->reps, c->w, pool);
    }
}

static double run_pass(dctr_pool *pool, pass_ctx *c, int64_t rows) {
    memset(c->loss, 0, sizeof c->loss);
    const int threads = pool ? dctr_pool_threads(pool) : 1;
    /* without this memory the pass runs unwindowed: slower, same result */
    c->windows = c->order ? dctr_malloc((size_t)threads * sizeof *c->windows) : NULL;
    if (c->reps && c->update)
        replica_pass(pool, c, rows);
    else
        dctr_pool_run(pool, rows, pass_worker, c);
    dctr_free(c->windows);
    c->windows = NULL;
    double s = 0;
    for (int i = 0; i < DCTR_MAX_THREADS; i++)
        s += c->loss[i];
    return s;
}

/* uint32: the order is the largest buffer after the data (libffm's is 32-bit too); more rows
 * than that in one pass are refused before training. */
static void shuffled_order(dctr_rng *rng, uint32_t *order, int64_t n, int shuffle) {
    for (int64_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    if (shuffle)
        dctr_rng_shuffle_u32(rng, order, n);
}

/* Room for `need` outputs t and labels y (capacity *cap, doubling from `first`); on failure the
 * arrays keep what they held. */
static dctr_status grow_scores(float **t, float **y, int64_t *cap, int64_t need, int64_t first) {
    if (need <= *cap)
        return DCTR_OK;
    int64_t nc = *cap ? *cap * 2 : first;
    while (nc < need)
        nc *= 2;
    float *nt = dctr_realloc_array(*t, (size_t)nc, sizeof *nt);
    if (nt)
        *t = nt;
    float *ny = nt ? dctr_realloc_array(*y, (size_t)nc, sizeof *ny) : NULL;
    if (ny)
        *y = ny;
    if (!nt || !ny)
        return DCTR_ERR_NOMEM;
    *cap = nc;
    return DCTR_OK;
}

/* ---- validation source: in memory or streamed ---- */

typedef struct {
    const dctr_ffm_data *mem;
    const char *path;
    int64_t chunk_rows;
} valid_src;

/* Scores the validation set: loss (logloss / MSE) and AUC. */
static dctr_status validate(dctr_pool *pool, dctr_ffm_weights *w, const dctr_ffm_options *o,
                            const valid_src *vs, double *loss, double *auc) {
    double values[DCTR_METRIC_COUNT];
    int regression = o->model.task == DCTR_TASK_REGRESSION;
    pass_ctx c = {.w = w, .normalize = o->model.ffm_normalize, .regression = regression};
    if (vs->mem) {
        float *t = dctr_malloc((size_t)(vs->mem->rows > 0 ? vs->mem->rows : 1) * sizeof *t);
        if (!t)
            return DCTR_ERR_NOMEM;
        c.d = vs->mem;
        c.t_out = t;
        run_pass(pool, &c, vs->mem->rows);
        dctr_status s = dctr_ffm_metrics(t, vs->mem->labels, vs->mem->rows, regression, values);
        dctr_free(t);
        DCTR_TRY(s);
    } else {
        dctr_libffm_reader *rd = NULL;
        dctr_ffm_data *chunk = NULL;
        DCTR_TRY(dctr_libffm_reader_open(vs->path, NULL, &rd));
        dctr_status s = dctr_ffm_data_new_empty(&chunk);
        float *t = NULL, *y = NULL;
        int64_t n = 0, cap = 0;
        while (s == DCTR_OK) {
            int64_t got;
            dctr_ffm_data_clear(chunk);
            s = dctr_libffm_reader_read(rd, chunk, vs->chunk_rows, &got);
            if (s != DCTR_OK || got == 0)
                break;
            s = grow_scores(&t, &y, &cap, n + got, 65536);
            if (s != DCTR_OK)
                break;
            c.d = chunk;
            c.t_out = t + n;
            run_pass(pool, &c, got);
            memcpy(y + n, chunk->labels, (size_t)got * sizeof *y);
            n += got;
        }
        if (s == DCTR_OK)
            s = dctr_ffm_metrics(t, y, n, regression, values);
        dctr_free(t);
        dctr_free(y);
        dctr_ffm_data_free(chunk);
        dctr_libffm_reader_close(rd);
        DCTR_TRY(s);
    }
    *loss = regression ? values[DCTR_METRIC_MSE] : values[DCTR_METRIC_LOGLOSS];
    *auc = values[DCTR_METRIC_AUC];
    return DCTR_OK;
}

/* ---- the epoch loop shared by both trainers ---- */

typedef struct {
    const dctr_ffm_data *mem;     /* in-memory training data, or NULL */
    dctr_libffm_reader *rd;       /* on-disk: reader and chunk start positions */
    int64_t *chunk_off, *chunk_line;
    int64_t nchunks, rows;
    dctr_ffm_data *chunk;
} train_src;

static dctr_status train_epoch(dctr_pool *pool, dctr_ffm_weights *w, dctr_ffm_replicas *reps,
                               const dctr_ffm_options *o, dctr_rng *rng, train_src *ts, uint32_t *order,
                               double *loss_out) {
    pass_ctx c = {.w = w,
                  .reps = reps,
                  .st = {(float)o->model.optimizer.learning_rate, o->model.l2_embedding},
                  .normalize = o->model.ffm_normalize,
                  .regression = o->model.task == DCTR_TASK_REGRESSION,
                  .update = 1};
    double loss = 0;
    if (ts->mem) {
        shuffled_order(rng, order, ts->mem->rows, o->shuffle);
        c.d = ts->mem;
        c.order = order;
        loss = run_pass(pool, &c, ts->mem->rows);
    } else {
        uint32_t *blocks = dctr_malloc((size_t)(ts->nchunks > 0 ? ts->nchunks : 1) * sizeof *blocks);
        if (!blocks)
            return DCTR_ERR_NOMEM;
        shuffled_order(rng, blocks, ts->nchunks, o->shuffle);
        dctr_status s = DCTR_OK;
        for (int64_t bi = 0; bi < ts->nchunks && s == DCTR_OK; bi++) {
            int64_t b = blocks[bi], got;
            s = dctr_libffm_reader_seek(ts->rd, ts->chunk_off[b], ts->chunk_line[b]);
            if (s != DCTR_OK)
                break;
            dctr_ffm_data_clear(ts->chunk);
            s = dctr_libffm_reader_read(ts->rd, ts->chunk, o->chunk_rows, &got);
            if (s != DCTR_OK)
                break;
            shuffled_order(rng, order, got, o->shuffle);
            c.d = ts->chunk;
            c.order = order;
            loss += run_pass(pool, &c, got);
        }
        dctr_free(blocks);
        DCTR_TRY(s);
    }
    *loss_out = ts->rows > 0 ? loss / (double)ts->rows : NAN;
    if (!isfinite(loss))
        return dctr_set_error(DCTR_ERR_NUMERIC, "FFM training diverged (non-finite loss); lower -r");
    return DCTR_OK;
}

static dctr_status fit(dctr_model *model, const dctr_ffm_options *o, train_src *ts, const valid_src *vs,
                       dctr_ffm_epoch_fn cb, void *user, int64_t order_len) {
    dctr_ffm_impl *impl = model->impl;
    dctr_ffm_weights *w = &impl->w;
    dctr_ffm_weights_init(w, o->model.seed);
    impl->eta = (float)o->model.optimizer.learning_rate;
    impl->lambda = o->model.l2_embedding;
    impl->seed = o->model.seed;
    dctr_rng rng;
    dctr_rng_init(&rng, o->model.seed, 0x53485546 /* shuffle stream */);
    dctr_pool *pool = NULL;
    dctr_ffm_replicas reps = {0}, *use_reps = NULL;
    dctr_ffm_weights prev = {0};
    int have_valid = vs->mem || vs->path;
    int auto_stop = o->auto_stop && have_valid;
    if (order_len > (int64_t)UINT32_MAX)
        return dctr_set_error(DCTR_ERR_LIMIT, "FFM: %lld rows in one pass (at most %lu; use the "
                              "on-disk mode, which shuffles chunks)", (long long)order_len,
                              (unsigned long)UINT32_MAX);
    uint32_t *order = dctr_malloc((size_t)(order_len > 0 ? order_len : 1) * sizeof *order);
    dctr_status s = order ? DCTR_OK : DCTR_ERR_NOMEM;
    if (s == DCTR_OK && o->threads > 1)
        s = dctr_pool_new(o->threads, &pool);
    if (s == DCTR_OK && dctr_ffm_replicas_wanted(w, o->threads)) {
        s = dctr_ffm_replicas_new(w, o->threads, &reps);
        use_reps = &reps;
    }
    if (s == DCTR_OK && auto_stop)
        s = dctr_ffm_weights_alloc(&prev, w->m, w->n, w->k, w->use_linear);
    double best = INFINITY;
    for (int32_t it = 1; it <= o->epochs && s == DCTR_OK; it++) {
        dctr_ffm_epoch ep = {.epoch = it, .epochs = o->epochs, .valid_loss = NAN, .valid_auc = NAN,
                             .rows = ts->rows};
        double t0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        s = train_epoch(pool, w, use_reps, o, &rng, ts, order, &ep.train_loss);
        ep.seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
        ep.cpu_seconds = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (s != DCTR_OK)
            break;
        if (have_valid) {
            s = validate(pool, w, o, vs, &ep.valid_loss, &ep.valid_auc);
            if (s != DCTR_OK)
                break;
            if (auto_stop) {
                if (ep.valid_loss > best) {
                    dctr_ffm_weights_copy(w, &prev);
                    ep.stopped = 1;
                } else {
                    dctr_ffm_weights_copy(&prev, w);
                    best = ep.valid_loss;
                }
            }
        }
        model->steps = it;
        if (cb && cb(&ep, user)) {
            s = dctr_set_error(DCTR_ERR_CANCELLED, "FFM training stopped by the callback at epoch %d", it);
            break;
        }
        if (ep.stopped)
            break;
    }
    dctr_ffm_weights_free(&prev);
    if (use_reps)
        dctr_ffm_replicas_free(use_reps);
    dctr_pool_free(pool);
    dctr_free(order);
    return s;
}

/* Nodes per row of each field over the training data, for the model's schema (native_rows.c):
 * the array grows with the fields seen (chunks of an on-disk file); fields without a node get 1. */
typedef struct {
    int32_t *len;
    int32_t cap;
} field_lens;

static dctr_status field_lens_add(field_lens *fl, const dctr_ffm_data *d) {
    if (d->num_fields > fl->cap) {
        int32_t *a = dctr_realloc_array(fl->len, (size_t)d->num_fields, sizeof *a);
        if (!a)
            return DCTR_ERR_NOMEM;
        for (int32_t f = fl->cap; f < d->num_fields; f++)
            a[f] = 1;
        fl->len = a;
        fl->cap = d->num_fields;
    }
    return dctr_ffm_field_maxlen(d, d->num_fields, fl->len);
}

/* The model's own config records what trained it (the scalar fields of opts->model). */
static void native_config(dctr_model *model, const dctr_ffm_options *o) {
    model->cfg.seed = o->model.seed;
    model->cfg.optimizer = o->model.optimizer;
    model->cfg.l2_embedding = o->model.l2_embedding;
}

dctr_status dctr_ffm_train(const dctr_ffm_data *train, const dctr_ffm_data *valid,
                           const dctr_ffm_options *opts, dctr_ffm_epoch_fn cb, void *user, dctr_model **out) {
    if (!train || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_train: NULL training data or output");
    *out = NULL;
    dctr_ffm_options o;
    DCTR_TRY(resolve_options(opts, &o));
    if (train->rows < 1 || train->num_fields < 1 || train->num_features < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_train: the training data has no features");
    dctr_model *model = NULL;
    field_lens fl = {0};
    dctr_status st = field_lens_add(&fl, train);
    if (st == DCTR_OK)
        st = dctr_ffm_native_new(train->num_fields, train->num_features, o.model.ffm_k, o.model.ffm_linear,
                                 o.model.ffm_normalize, o.model.task, fl.len, &model);
    dctr_free(fl.len);
    DCTR_TRY(st);
    native_config(model, &o);
    train_src ts = {.mem = train, .rows = train->rows};
    valid_src vs = {.mem = valid};
    dctr_status s = fit(model, &o, &ts, &vs, cb, user, train->rows);
    if (s != DCTR_OK) {
        dctr_ffm_model_destroy(model);
        return s;
    }
    *out = model;
    return DCTR_OK;
}

dctr_status dctr_ffm_train_on_disk(const char *train_path, const char *valid_path,
                                   const dctr_ffm_options *opts, dctr_ffm_epoch_fn cb, void *user,
                                   dctr_model **out) {
    if (!train_path || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_train_on_disk: NULL path or output");
    *out = NULL;
    dctr_ffm_options o;
    DCTR_TRY(resolve_options(opts, &o));
    train_src ts = {0};
    dctr_model *model = NULL;
    field_lens fl = {0};
    int64_t cap_chunks = 0;
    int32_t m = 0;
    int64_t n = 0;
    dctr_status s = dctr_libffm_reader_open(train_path, NULL, &ts.rd);
    if (s == DCTR_OK)
        s = dctr_ffm_data_new_empty(&ts.chunk);
    /* Counting pass: shape, rows and where each chunk starts (for shuffling the chunk order). */
    while (s == DCTR_OK) {
        int64_t off, line, got;
        dctr_libffm_reader_tell(ts.rd, &off, &line);
        dctr_ffm_data_clear(ts.chunk);
        s = dctr_libffm_reader_read(ts.rd, ts.chunk, o.chunk_rows, &got);
        if (s != DCTR_OK || got == 0)
            break;
        if (ts.nchunks == cap_chunks) {
            int64_t nc = cap_chunks ? cap_chunks * 2 : 64;
            int64_t *a = dctr_realloc_array(ts.chunk_off, (size_t)nc, sizeof *a);
            if (a)
                ts.chunk_off = a;
            int64_t *b = a ? dctr_realloc_array(ts.chunk_line, (size_t)nc, sizeof *b) : NULL;
            if (b)
                ts.chunk_line = b;
            if (!a || !b) {
                s = DCTR_ERR_NOMEM;
                break;
            }
            cap_chunks = nc;
        }
        ts.chunk_off[ts.nchunks] = off;
        ts.chunk_line[ts.nchunks] = line;
        ts.nchunks++;
        ts.rows += got;
        s = field_lens_add(&fl, ts.chunk);
        if (ts.chunk->num_fields > m)
            m = ts.chunk->num_fields;
        if (ts.chunk->num_features > n)
            n = ts.chunk->num_features;
    }
    if (s == DCTR_OK && (ts.rows < 1 || m < 1 || n < 1))
        s = dctr_set_error(DCTR_ERR_INVALID_ARG, "%s: the training data has no features", train_path);
    if (s == DCTR_OK)
        s = dctr_ffm_native_new(m, n, o.model.ffm_k, o.model.ffm_linear, o.model.ffm_normalize, o.model.task,
                                fl.len, &model);
    dctr_free(fl.len);
    if (s == DCTR_OK) {
        native_config(model, &o);
        valid_src vs = {.path = valid_path, .chunk_rows = o.chunk_rows};
        s = fit(model, &o, &ts, &vs, cb, user, o.chunk_rows);
    }
    dctr_libffm_reader_close(ts.rd);
    dctr_ffm_data_free(ts.chunk);
    dctr_free(ts.chunk_off);
    dctr_free(ts.chunk_line);
    if (s != DCTR_OK) {
        dctr_ffm_model_destroy(model);
        return s;
    }
    *out = model;
    return DCTR_OK;
}

/* ---- prediction ---- */

static dctr_status native_impl(const dctr_model *model, const dctr_ffm_impl **out) {
    if (!dctr_ffm_family(model))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "not an FFM model");
    const dctr_ffm_impl *impl = model->impl;
    if (model->ops != &dctr_ffm_native_ops || !impl->w.W)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED,
                              "this FFM model was built from feature columns: predict it with "
                              "dctr_model_predict on a dataset");
    *out = impl;
    return DCTR_OK;
}

static void scores(const dctr_ffm_impl *impl, const dctr_ffm_data *d, float *t) {
    for (int64_t i = 0; i < d->rows; i++) {
        const dctr_ffm_node *b = d->nodes + d->row_ptr[i], *e = d->nodes + d->row_ptr[i + 1];
        t[i] = dctr_ffm_score(&impl->w, b, e, impl->normalize ? d->inv_norm[i] : 1.0f);
    }
}

dctr_status dctr_ffm_predict(const dctr_model *model, const dctr_ffm_data *data, float *out) {
    const dctr_ffm_impl *impl = NULL;
    DCTR_TRY(native_impl(model, &impl));
    if (!data || (!out && data->rows))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_predict: NULL data or output");
    scores(impl, data, out);
    if (model->task == DCTR_TASK_BINARY)
        for (int64_t i = 0; i < data->rows; i++)
            out[i] = 1.0f / (1.0f + expf(-out[i]));
    return DCTR_OK;
}

dctr_status dctr_ffm_evaluate(const dctr_model *model, const dctr_ffm_data *data,
                              double values[DCTR_METRIC_COUNT]) {
    const dctr_ffm_impl *impl = NULL;
    DCTR_TRY(native_impl(model, &impl));
    if (!data || !values)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_evaluate: NULL data or output");
    float *t = dctr_malloc((size_t)(data->rows > 0 ? data->rows : 1) * sizeof *t);
    if (!t)
        return DCTR_ERR_NOMEM;
    scores(impl, data, t);
    dctr_status s = dctr_ffm_metrics(t, data->labels, data->rows, model->task == DCTR_TASK_REGRESSION, values);
    dctr_free(t);
    return s;
}

dctr_status dctr_ffm_predict_file(const dctr_model *model, const char *data_path, const char *out_path,
                                  double values[DCTR_METRIC_COUNT], int64_t *rows) {
    const dctr_ffm_impl *impl = NULL;
    DCTR_TRY(native_impl(model, &impl));
    if (!data_path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_ffm_predict_file: NULL data path");
    dctr_libffm_reader *rd = NULL;
    DCTR_TRY(dctr_libffm_reader_open(data_path, NULL, &rd));
    dctr_ffm_data *chunk = NULL;
    FILE *fo = NULL;
    float *t = NULL, *y = NULL, *tc = NULL;
    int64_t n = 0, cap = 0;
    const int64_t chunk_rows = 65536;
    dctr_status s = dctr_ffm_data_new_empty(&chunk);
    if (s == DCTR_OK) {
        tc = dctr_malloc((size_t)chunk_rows * sizeof *tc);
        if (!tc)
            s = DCTR_ERR_NOMEM;
    }
    if (s == DCTR_OK && out_path) {
        fo = fopen(out_path, "w");
        if (!fo)
            s = dctr_set_error(DCTR_ERR_IO, "%s: cannot open for writing", out_path);
    }
    int regression = model->task == DCTR_TASK_REGRESSION;
    while (s == DCTR_OK) {
        int64_t got;
        dctr_ffm_data_clear(chunk);
        s = dctr_libffm_reader_read(rd, chunk, chunk_rows, &got);
        if (s != DCTR_OK || got == 0)
            break;
        scores(impl, chunk, tc);
        if (fo)
            for (int64_t i = 0; i < got; i++)
                fprintf(fo, "%.6g\n", regression ? tc[i] : 1.0 / (1.0 + exp(-(double)tc[i])));
        if (values) {
            s = grow_scores(&t, &y, &cap, n + got, chunk_rows);
            if (s != DCTR_OK)
                break;
            memcpy(t + n, tc, (size_t)got * sizeof *t);
            memcpy(y + n, chunk->labels, (size_t)got * sizeof *y);
        }
        n += got;
    }
    if (fo && fclose(fo) != 0 && s == DCTR_OK)
        s = dctr_set_error(DCTR_ERR_IO, "%s: write failed", out_path);
    if (s == DCTR_OK && values)
        s = dctr_ffm_metrics(t, y, n, regression, values);
    if (rows)
        *rows = n;
    dctr_free(t);
    dctr_free(y);
    dctr_free(tc);
    dctr_ffm_data_free(chunk);
    dctr_libffm_reader_close(rd);
    return s;
}

int dctr_ffm_is_native(const dctr_model *model) {
    return model && model->ops == &dctr_ffm_native_ops;
}
int32_t dctr_ffm_num_fields(const dctr_model *model) {
    return dctr_ffm_family(model) ? ((const dctr_ffm_impl *)model->impl)->w.m : 0;
}
int64_t dctr_ffm_num_features(const dctr_model *model) {
    return dctr_ffm_family(model) ? ((const dctr_ffm_impl *)model->impl)->w.n : 0;
}
int32_t dctr_ffm_k(const dctr_model *model) {
    return dctr_ffm_family(model) ? ((const dctr_ffm_impl *)model->impl)->w.k : 0;
}
