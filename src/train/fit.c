/* dctr_model_fit: epochs of seeded-shuffled mini-batches, validation (a separate dataset or the
 * last fraction of the rows, Keras validation_split), per-epoch metrics, early stopping with
 * restore-best, checkpoints, progress callback, history, and a NaN/Inf guard.
 * Memory: beyond the model, fit holds one mini-batch, the shuffle order and one prediction per
 * training row (train AUC needs them all), a parameter snapshot only for restore-best, and when
 * shuffling, unless the dataset has one (dctr_dataset_pack_rows), a row-major copy of the
 * one-value columns (row_pack.h; at most 64 MiB). */
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/pool.h"
#include "core/radix_sort.h"
#include "core/rng.h"
#include "models/model_internal.h"
#include "train/early_stop.h"
#include "core/metrics.h"
#include "core/blas_probe.h"
#include "data/dataset.h"
#include "data/row_pack.h"
#include "dist/dist.h"
#include "train/fit_dist.h"

enum { STREAM_SHUFFLE = 77 };

void dctr_fit_options_default(dctr_fit_options *o) {
    if (!o)
        return;
    *o = (dctr_fit_options){0};
    o->struct_size = (uint32_t)sizeof(*o);
    o->epochs = 10;
    o->batch_size = 256;
    o->shuffle = 1;
    o->monitor = DCTR_METRIC_LOGLOSS;
    o->restore_best = 1;
    o->threads = 1;
}

void dctr_fit_options_recommended(dctr_fit_options *o, dctr_task task) {
    dctr_fit_options_default(o);
    if (!o)
        return;
    o->epochs = 50;
    o->patience = 4;
    o->monitor = task == DCTR_TASK_REGRESSION ? DCTR_METRIC_MSE : DCTR_METRIC_AUC;
}

void dctr_history_free(dctr_history *h) {
    if (!h)
        return;
    dctr_free(h->train);
    dctr_free(h->valid);
    dctr_free(h->seconds);
    memset(h, 0, sizeof(*h));
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Binary task: every label must be 0 or 1 (checked before training starts). */
static dctr_status check_labels(const dctr_model *m, const dctr_batch *rows, int64_t first_row,
                                const char *what) {
    for (int64_t i = 0; i < rows->n; i++) {
        float y = rows->labels[i];
        if (!isfinite(y))
            return dctr_set_error(DCTR_ERR_NUMERIC, "%s: label of row %lld is not finite", what,
                                  (long long)(first_row + i + 1));
        if (m->task == DCTR_TASK_BINARY && y != 0.0f && y != 1.0f)
            return dctr_set_error(DCTR_ERR_RANGE,
                                  "%s: label %g at row %lld: the binary task needs labels 0 or 1",
                                  what, (double)y, (long long)(first_row + i + 1));
        if (rows->sample_weights && !(rows->sample_weights[i] >= 0.0f && isfinite(rows->sample_weights[i])))
            return dctr_set_error(DCTR_ERR_RANGE, "%s: sample weight %g at row %lld must be >= 0",
                                  what, (double)rows->sample_weights[i],
                                  (long long)(first_row + i + 1));
    }
    return DCTR_OK;
}

static int32_t resolve_threads(int32_t t) {
    if (t > 0)
        return t;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)n : 1;
}

typedef struct fit_state {
    dctr_model *model;
    const dctr_fit_options *o;
    dctr_batch train_view, valid_view, step_view; /* views (cols arrays owned) */
    const dctr_batch *train, *valid; /* NULL valid: none */
    dctr_batch *gathered;            /* shuffled mini-batch buffer */
    const dctr_row_pack *pack;       /* row-major copy of train the gather reads, or NULL */
    int64_t pack_base;               /* its row of train's row 0 */
    dctr_row_pack *own_pack;         /* pack built here (the dataset had none) */
    dctr_pool *pool;                 /* splits the gather of each mini-batch (threads > 1) */
    dctr_pool *own_pool;             /* made here when the model has no training pool */
    uint64_t *sort_tmp;              /* radix-sort scratch: one mini-batch per pool thread */
    int64_t *perm;
    float *tpred;                    /* training predictions of the epoch, in row order */
    float *bpred;                    /* one mini-batch's predictions (shuffled order) */
    float *vpred;
    void *best;                      /* snapshot of the best epoch (restore_best only) */
    dctr_history *h;
    /* distributed (dctr_model_fit_collective) or NULL; fit_dist.c */
    dctr_dist *dist;
    int64_t local_bs;                /* this rank's rows per step (batch_size alone) */
    int64_t steps;                   /* steps per epoch (the same on every rank) */
    int64_t rows_total;              /* training rows over all ranks */
    int cancel;                      /* distributed: a progress callback asked to stop */
    int any_valid;                   /* validation rows on this (or, distributed, any) rank */
} fit_state;

static void fit_state_free(fit_state *s) {
    dctr_batch_view_release(&s->train_view);
    dctr_batch_view_release(&s->valid_view);
    dctr_batch_view_release(&s->step_view);
    dctr_batch_free(s->gathered);
    dctr_row_pack_free(s->own_pack);
    dctr_pool_free(s->own_pool);
    dctr_free(s->sort_tmp);
    dctr_free(s->perm);
    dctr_aligned_free(s->tpred);
    dctr_aligned_free(s->bpred);
    dctr_aligned_free(s->vpred);
    if (s->best)
        s->model->ops->snapshot_free(s->best);
}

/* Without a dataset pack (dctr_dataset_pack_rows), fit builds a temporary one for a ~2-15 %
 * faster shuffled epoch. It is bounded scratch, like the mini-batch: built only while it needs
 * at most 64 MiB (about 400k Criteo-shaped rows) and an eighth of the machine's memory. */
#define PACK_MAX_BYTES ((size_t)64 << 20)
static size_t pack_budget(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    size_t eighth = (size_t)pages / 8 * (size_t)page;
    return eighth < PACK_MAX_BYTES ? eighth : PACK_MAX_BYTES;
}

static dctr_status setup(fit_state *s, const dctr_dataset *train_ds) {
    const dctr_fit_options *o = s->o;
    const dctr_batch *all = dctr_dataset_rows(train_ds);
    if (!all || all->n <= 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "fit: the training dataset is empty");
    const dctr_schema *vs = all->schema ? all->schema : s->model->schema;
    DCTR_TRY(dctr_batch_view_init(&s->train_view, vs));
    DCTR_TRY(dctr_batch_view_init(&s->valid_view, vs));
    DCTR_TRY(dctr_batch_view_init(&s->step_view, vs));
    if (o->validation) {
        s->train = all;
        s->valid = dctr_dataset_rows(o->validation);
        if (s->valid && s->valid->n == 0)
            s->valid = NULL;
    } else if (o->validation_split > 0) {
        if (!(o->validation_split < 1.0))
            return dctr_set_error(DCTR_ERR_INVALID_ARG, "fit: validation_split %g not in [0, 1)",
                                  o->validation_split);
        /* Keras: split_at = int(n * (1 - validation_split)); validation = rows[split_at:] */
        int64_t split_at = (int64_t)((double)all->n * (1.0 - o->validation_split));
        if (split_at <= 0 || split_at >= all->n)
            return dctr_set_error(DCTR_ERR_INVALID_ARG,
                                  "fit: validation_split %g of %lld rows leaves an empty part",
                                  o->validation_split, (long long)all->n);
        dctr_batch_view(all, 0, split_at, &s->train_view);
        dctr_batch_view(all, split_at, all->n - split_at, &s->valid_view);
        s->train = &s->train_view;
        s->valid = &s->valid_view;
    } else {
        s->train = all;
    }
    DCTR_TRY(check_labels(s->model, s->train, 0, "training data"));
    if (s->valid)
        DCTR_TRY(check_labels(s->model, s->valid, o->validation ? 0 : s->train->n,
                              "validation data"));
    int64_t n = s->train->n;
    s->perm = dctr_calloc((size_t)n, sizeof(int64_t));
    s->tpred = dctr_alloc_floats((size_t)n);
    s->bpred = o->shuffle ? dctr_alloc_floats((size_t)o->batch_size) : NULL;
    s->vpred = s->valid ? dctr_alloc_floats((size_t)s->valid->n) : NULL;
    if (!s->perm || !s->tpred || (o->shuffle && !s->bpred) || (s->valid && !s->vpred))
        return DCTR_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        s->perm[i] = i;
    if (o->shuffle) {
        DCTR_TRY(dctr_batch_alloc(s->model->schema, o->batch_size,
                                  s->train->sample_weights != NULL, &s->gathered));
        s->pack = dctr_dataset_row_pack(train_ds, &s->pack_base); /* dctr_dataset_pack_rows */
        size_t need;
        if (!s->pack && dctr_row_pack_build(s->train, pack_budget(), &s->own_pack, &need) == DCTR_OK)
            s->pack = s->own_pack; /* else (no memory) the plain gather: the same batches */
        /* the gather is random reads, a cache miss per element: worth the other cores; the
         * model's pool is idle between steps */
        int32_t threads = resolve_threads(o->threads);
        if (s->model->ops->training_pool)
            s->pool = s->model->ops->training_pool(s->model);
        if (!s->pool && threads > 1) {
            DCTR_TRY(dctr_pool_new(threads, &s->own_pool));
            s->pool = s->own_pool;
        }
        s->sort_tmp = dctr_calloc((size_t)dctr_pool_threads(s->pool) * (size_t)o->batch_size,
                                  sizeof(uint64_t));
        if (!s->sort_tmp)
            return DCTR_ERR_NOMEM;
    }
    s->local_bs = o->batch_size;
    s->steps = (n + o->batch_size - 1) / o->batch_size;
    s->rows_total = n;
    int32_t cap = o->epochs;
    s->h->train = dctr_calloc((size_t)cap * DCTR_METRIC_COUNT, sizeof(double));
    s->h->valid = dctr_calloc((size_t)cap * DCTR_METRIC_COUNT, sizeof(double));
    s->h->seconds = dctr_calloc((size_t)cap, sizeof(double));
    if (!s->h->train || !s->h->valid || !s->h->seconds)
        return DCTR_ERR_NOMEM;
    return DCTR_OK;
}

typedef struct sort_job {
    int64_t *perm;
    int64_t n, batch;
    uint64_t *tmp; /* [threads][batch] */
} sort_job;

static void sort_batches(void *ctx, int worker, int64_t begin, int64_t end) {
    const sort_job *j = ctx;
    for (int64_t b = begin; b < end; b++) {
        int64_t start = b * j->batch, cnt = j->n - start < j->batch ? j->n - start : j->batch;
        /* rows are in [0, n): non-negative, so their unsigned order is the same */
        dctr_radix_sort_u64((uint64_t *)(j->perm + start), (size_t)cnt, (uint64_t)(j->n - 1),
                            j->tmp + (size_t)worker * (size_t)j->batch);
    }
}

/* One epoch of mini-batches. A non-finite loss stops it: the model's train_step does not apply
 * such a step, so the weights stay those after the last good step (no snapshot needed). */
static dctr_status run_epoch(fit_state *s, int32_t epoch, dctr_rng *shuffle_rng, dctr_progress *pg,
                             double *mean_loss, double *mean_reg) {
    dctr_model *m = s->model;
    const dctr_fit_options *o = s->o;
    const int64_t n = s->train->n, bs = s->local_bs, total = s->rows_total;
    if (o->shuffle) {
        /* each epoch shuffles the identity, so its order depends on the generator alone (not on
         * the last epoch's order, which a resumed fit does not have) */
        for (int64_t i = 0; i < n; i++)
            s->perm[i] = i;
        if (s->dist) /* one draw of the shared generator, so its state stays equal on all ranks */
            dctr_fit_dist_shuffle(s->dist, shuffle_rng, s->perm, n);
        else
            dctr_rng_shuffle_i64(shuffle_rng, s->perm, n);
        /* The shuffle decides which rows form each mini-batch; within a batch the rows are
         * read in dataset order, so the gather walks each column forward (pages and cache
         * lines shared by nearby rows) instead of jumping at random. A batch is a sum over
         * its rows, so only the float summation order changes. */
        sort_job sj = {s->perm, n, bs, s->sort_tmp};
        dctr_pool_run_claimed(s->pool, (n + bs - 1) / bs, 1, sort_batches, &sj);
    }
    double t0 = now_seconds(), loss_sum = 0, reg_sum = 0;
    int64_t done = 0;
    for (int64_t batch_no = 0; batch_no < s->steps; batch_no++) {
        int64_t start = batch_no * bs;
        if (start >= n) /* distributed: a short shard starts over (fit_dist.c) */
            start %= n;
        int64_t cnt = n - start < bs ? n - start : bs, step_rows = cnt;
        if (s->dist)
            DCTR_TRY(dctr_fit_dist_step(s->dist, cnt, s->cancel, &step_rows));
        const dctr_batch *b;
        if (o->shuffle) {
            DCTR_TRY(dctr_batch_gather_packed(s->gathered, s->train, s->pack, s->pack_base,
                                              s->perm + start, cnt, s->pool));
            b = s->gathered;
        } else {
            dctr_batch_view(s->train, start, cnt, &s->step_view);
            b = &s->step_view;
        }
        double dl = 0, rl = 0;
        float *pred = o->shuffle ? s->bpred : s->tpred + start;
        dctr_status st = m->ops->train_step(m, b, &dl, &rl, pred);
        if (st == DCTR_ERR_NUMERIC)
            return dctr_error_prefix(st, "epoch %d, batch %lld: training stopped, weights are those "
                                     "after the last good step", epoch, (long long)(batch_no + 1));
        if (st == DCTR_OK && !(isfinite(dl) && isfinite(rl)))
            return dctr_set_error(DCTR_ERR_NUMERIC,
                                  "epoch %d, batch %lld: loss is not finite (data %g, regularization "
                                  "%g); training stopped, the step was not applied (weights are "
                                  "those after the last good step)",
                                  epoch, (long long)(batch_no + 1), dl, rl);
        if (st != DCTR_OK)
            return dctr_error_prefix(st, "epoch %d, batch %lld", epoch, (long long)(batch_no + 1));
        if (o->shuffle) /* back to row order, so the metrics read the labels in place */
            for (int64_t i = 0; i < cnt; i++)
                s->tpred[s->perm[start + i]] = pred[i];
        loss_sum += dl * (double)step_rows;
        reg_sum += rl * (double)step_rows;
        done += step_rows;
        if (o->progress && o->progress_every > 0 && (batch_no + 1) % o->progress_every == 0 &&
            done < total) {
            double el = now_seconds() - t0;
            pg->phase = 0;
            pg->rows_done = done;
            pg->rows_total = total;
            pg->seconds = el;
            pg->samples_per_sec = el > 0 ? (double)done / el : 0;
            pg->eta_seconds = pg->samples_per_sec > 0 ? (double)(total - done) / pg->samples_per_sec : 0;
            pg->running_loss = loss_sum / (double)done;
            pg->reg_loss = rl;
            if (o->progress(pg, o->progress_user)) {
                if (!s->dist)
                    return dctr_set_error(DCTR_ERR_CANCELLED, "fit: cancelled by the progress "
                                          "callback in epoch %d", epoch);
                s->cancel = 1; /* told to the other ranks at the next step or the epoch end */
            }
        }
    }
    *mean_loss = loss_sum / (double)done;
    *mean_reg = reg_sum / (double)done;
    pg->seconds = now_seconds() - t0;
    pg->rows_done = total;
    pg->rows_total = total;
    pg->samples_per_sec = pg->seconds > 0 ? (double)total / pg->seconds : 0;
    pg->eta_seconds = 0;
    pg->running_loss = *mean_loss;
    return DCTR_OK;
}

static dctr_status fit_loop(fit_state *s) {
    dctr_model *m = s->model;
    const dctr_fit_options *o = s->o;
    /* the shuffle continues where the model's last fit left it (also across save + load with
     * the optimizer), so fit(a) then fit(b) draws the same orders as fit(a + b) */
    const uint64_t seed = o->shuffle_seed ? o->shuffle_seed : m->cfg.seed;
    dctr_rng shuffle_rng;
    if (m->shuffle_valid && m->shuffle_seed == seed)
        memcpy(shuffle_rng.s, m->shuffle_state, sizeof shuffle_rng.s);
    else
        dctr_rng_init(&shuffle_rng, seed, STREAM_SHUFFLE);
    m->optimizer_state_present = 1;
    dctr_early_stop es;
    dctr_metric monitor = o->monitor;
    if (monitor == DCTR_METRIC_LOGLOSS && m->task == DCTR_TASK_REGRESSION)
        monitor = DCTR_METRIC_MSE; /* the default monitor, per task */
    dctr_early_stop_init(&es, monitor, o->monitor_mode, o->patience, o->min_delta);
    dctr_history *h = s->h;
    for (int32_t epoch = 1; epoch <= o->epochs; epoch++) {
        dctr_progress pg;
        memset(&pg, 0, sizeof(pg));
        pg.epoch = epoch;
        pg.epochs = o->epochs;
        double loss = 0, reg = 0;
        DCTR_TRY(run_epoch(s, epoch, &shuffle_rng, &pg, &loss, &reg));
        memcpy(m->shuffle_state, shuffle_rng.s, sizeof m->shuffle_state);
        m->shuffle_seed = seed;
        m->shuffle_valid = 1;
        m->epochs_done++;
        double *tr = h->train + (size_t)(epoch - 1) * DCTR_METRIC_COUNT;
        double *va = h->valid + (size_t)(epoch - 1) * DCTR_METRIC_COUNT;
        if (s->dist) /* exact over every rank's rows */
            DCTR_TRY(dctr_dist_metrics(s->dist, m->task, s->train->labels, s->tpred,
                                       s->train->sample_weights, s->train->n, tr));
        else
            DCTR_TRY(dctr_metrics_all(m->task, s->train->labels, s->tpred, s->train->sample_weights,
                                      s->train->n, tr));
        /* the train data loss is the running mean over the epoch (weights changed during it) */
        if (m->task == DCTR_TASK_BINARY)
            tr[DCTR_METRIC_LOGLOSS] = loss;
        else {
            tr[DCTR_METRIC_MSE] = loss;
            tr[DCTR_METRIC_RMSE] = sqrt(loss);
        }
        tr[DCTR_METRIC_LOSS] = loss + reg;
        for (int k = 0; k < DCTR_METRIC_COUNT; k++)
            va[k] = NAN;
        if (s->dist)
            DCTR_TRY(dctr_fit_dist_validate(s->dist, m, s->valid, s->vpred, va));
        else if (s->valid)
            DCTR_TRY(dctr_model_evaluate_batch(m, s->valid, s->vpred, va));
        h->seconds[epoch - 1] = pg.seconds;
        h->epochs_run = epoch;
        double current = s->any_valid ? va[monitor] : tr[monitor];
        int improved = dctr_early_stop_update(&es, current, epoch);
        if (improved) {
            h->best_epoch = epoch;
            if (o->patience > 0 && o->restore_best)
                DCTR_TRY(m->ops->snapshot(m, &s->best));
        }
        if (o->checkpoint_path) {
            /* distributed: the replicas are equal, rank 0 writes and the others learn the outcome */
            dctr_status cs = s->dist ? dctr_fit_dist_save(s->dist, m, o->checkpoint_path)
                                     : dctr_model_save(m, o->checkpoint_path, 1);
            if (cs != DCTR_OK)
                cs = dctr_error_prefix(cs, "epoch %d checkpoint", epoch);
            if (s->dist)
                cs = dctr_dist_agree(s->dist, cs, "checkpoint");
            DCTR_TRY(cs);
        }
        if (o->progress) {
            pg.phase = 1;
            memcpy(pg.train, tr, sizeof(pg.train));
            memcpy(pg.valid, va, sizeof(pg.valid));
            pg.improved = improved;
            pg.reg_loss = reg;
            if (o->progress(&pg, o->progress_user))
                s->cancel = 1;
        }
        if (s->dist) /* every rank stops together */
            DCTR_TRY(dctr_fit_dist_step(s->dist, 0, s->cancel, NULL));
        if (s->cancel)
            return dctr_set_error(DCTR_ERR_CANCELLED,
                                  "fit: cancelled by the progress callback %s epoch %d",
                                  s->dist ? "in or after" : "after", epoch);
        if (dctr_early_stop_should_stop(&es, epoch))
            break;
    }
    if (o->patience > 0 && o->restore_best && s->best && h->best_epoch != h->epochs_run)
        DCTR_TRY(m->ops->restore(m, s->best));
    return DCTR_OK;
}

/* The fit of dctr_model_fit (dist NULL) and of dctr_model_fit_collective (fit_dist.c). */
dctr_status dctr_fit_run(dctr_model *model, const dctr_dataset *train, const dctr_fit_options *opts,
                         dctr_dist *dist, dctr_history *history) {
    if (!model || !train)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_fit: NULL model or dataset");
    dctr_fit_options dflt;
    dctr_fit_options_default(&dflt);
    const dctr_fit_options *o = opts ? opts : &dflt;
    if (o->struct_size != sizeof(*o))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_fit: options struct_size %u: call dctr_fit_options_default",
                              o->struct_size);
    if (o->epochs < 1 || o->batch_size < 1 || o->patience < 0 || o->min_delta < 0 ||
        (int)o->monitor < 0 || o->monitor >= DCTR_METRIC_COUNT)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_fit: epochs %d and batch_size %d must be >= 1, patience and "
                              "min_delta >= 0, monitor a dctr_metric",
                              o->epochs, o->batch_size);
    /* the CLI's checks, so the API accepts nothing the CLI rejects (NaN fails every test) */
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_fit: validation_split %g not in [0, 1)",
                              o->validation_split);
    if (o->threads < 0 || o->progress_every < 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_fit: threads %d and progress_every %d must be >= 0",
                              (int)o->threads, (int)o->progress_every);
    if (!(o->min_delta >= 0 && o->min_delta < HUGE_VAL))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_fit: min_delta %g must be finite and >= 0",
                              o->min_delta);
    if (o->patience > 0 && !o->validation && o->validation_split == 0 && !dist)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_fit: patience %d (early stopping) needs validation data "
                              "(validation or validation_split)",
                              (int)o->patience);
    if (model->task == DCTR_TASK_REGRESSION &&
        (o->monitor == DCTR_METRIC_AUC || o->monitor == DCTR_METRIC_ACCURACY))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_fit: monitor %s is undefined for regression (use MSE or RMSE)",
                              o->monitor == DCTR_METRIC_AUC ? "AUC" : "accuracy");
    if (!model->ops->train_step)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "fit: model family '%s' cannot train",
                              model->ops->name);
    dctr_history local;
    memset(&local, 0, sizeof(local));
    dctr_history *h = history ? history : &local;
    memset(h, 0, sizeof(*h));
    /* OpenBLAS's thread count is process-wide: give it back afterwards, so concurrent
     * predictions elsewhere in the process do not inherit the training setting */
    int prev_blas = dctr_blas_get_threads();
    if (model->ops->set_threads)
        DCTR_TRY(model->ops->set_threads(model, resolve_threads(o->threads)));
    /* a batch larger than the data only costs memory (2^31-1 rows of a 600-row set asked for
     * 8.6 GB): the batch is capped at the training rows */
    dctr_fit_options capped = *o;
    const dctr_batch *rows = dctr_dataset_rows(train);
    int64_t cap_rows = rows ? rows->n : 0;
    dctr_status st = DCTR_OK;
    if (dist) /* distributed, the batch is global: capped at the rows of all ranks */
        st = dctr_fit_dist_total_rows(dist, cap_rows, &cap_rows);
    if (cap_rows > 0 && capped.batch_size > cap_rows)
        capped.batch_size = (int32_t)cap_rows;
    o = &capped;
    fit_state s;
    memset(&s, 0, sizeof(s));
    s.model = model;
    s.o = o;
    s.h = h;
    s.dist = dist;
    if (st == DCTR_OK)
        st = setup(&s, train);
    if (dist)
        st = dctr_dist_agree(dist, st, "fit setup");
    s.any_valid = s.valid != NULL;
    if (st == DCTR_OK && dist)
        st = dctr_fit_dist_schedule(dist, s.train->n, o->batch_size, &s.local_bs, &s.steps,
                                    &s.rows_total);
    int64_t valid_rows = 0; /* distributed: early stopping must see the same monitor everywhere */
    if (st == DCTR_OK && dist)
        st = dctr_fit_dist_total_rows(dist, s.valid ? s.valid->n : 0, &valid_rows);
    if (dist)
        s.any_valid = valid_rows > 0;
    if (st == DCTR_OK && dist && o->patience > 0 && !s.any_valid) /* the same verdict everywhere */
        st = dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_fit_collective: patience %d (early "
                            "stopping) needs validation rows on some rank", (int)o->patience);
    /* the DNN's GEMMs make OpenBLAS allocate a buffer per calling thread, and it retries a failed
     * malloc forever: check the room first (core/blas_probe.h) */
    const int agreed_ok = st == DCTR_OK; /* the same on every rank */
    if (st == DCTR_OK && (model->type == DCTR_MODEL_DEEPFM || model->type == DCTR_MODEL_DEEPFFM))
        st = dctr_blas_probe_memory(resolve_threads(o->threads)); /* one per calling thread */
    if (dist && agreed_ok)
        st = dctr_dist_agree(dist, st, "fit memory check");
    if (st == DCTR_OK)
        st = fit_loop(&s);
    fit_state_free(&s);
    if (model->ops->set_threads && prev_blas > 0)
        dctr_blas_set_threads(prev_blas);
    if (!history)
        dctr_history_free(&local);
    return st;
}

dctr_status dctr_model_fit(dctr_model *model, const dctr_dataset *train, const dctr_fit_options *opts,
                           dctr_history *history) {
    return dctr_fit_run(model, train, opts, NULL, history);
}
