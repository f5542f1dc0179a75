/* Distributed fit (include/deepctr/collective.h): the schedule and agreements fit.c calls when
 * it runs with a collective, and the public entry point. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/metrics.h"
#include "models/deepfm_impl.h"
#include "models/ffm/dist.h"
#include "models/model_internal.h"
#include "train/fit_dist.h"

dctr_status dctr_fit_dist_total_rows(dctr_dist *dist, int64_t n, int64_t *total) {
    DCTR_TRY(dctr_dist_allgather_i64(dist, n, dist->counts));
    int64_t t = 0;
    for (int32_t r = 0; r < dist->c->size; r++)
        t += dist->counts[r];
    *total = t;
    return DCTR_OK;
}

dctr_status dctr_fit_dist_schedule(dctr_dist *dist, int64_t n, int64_t batch, int64_t *local_bs,
                                   int64_t *steps, int64_t *rows_total) {
    const int32_t size = dist->c->size, rank = dist->c->rank;
    int64_t bs = batch / size + (rank < batch % size ? 1 : 0);
    dctr_status st = bs > 0 ? DCTR_OK
                            : dctr_set_error(DCTR_ERR_INVALID_ARG,
                                             "fit: global batch %lld is smaller than the %d ranks",
                                             (long long)batch, (int)size);
    DCTR_TRY(dctr_dist_agree(dist, st, "fit schedule"));
    DCTR_TRY(dctr_dist_allgather_i64(dist, (n + bs - 1) / bs, dist->counts));
    int64_t most = 0;
    for (int32_t r = 0; r < size; r++)
        most = dist->counts[r] > most ? dist->counts[r] : most;
    *local_bs = bs;
    *steps = most;
    return dctr_fit_dist_total_rows(dist, n, rows_total);
}

void dctr_fit_dist_shuffle(dctr_dist *dist, dctr_rng *rng, int64_t *perm, int64_t n) {
    dctr_rng local;
    dctr_rng_init(&local, dctr_rng_next(rng), 1000u + (uint64_t)dist->c->rank);
    dctr_rng_shuffle_i64(&local, perm, n);
}

dctr_status dctr_fit_dist_step(dctr_dist *dist, int64_t rows, int cancel, int64_t *step_rows) {
    DCTR_TRY(dctr_dist_allgather_i64(dist, cancel ? -1 : rows, dist->counts));
    int64_t total = 0;
    int32_t who = -1;
    for (int32_t r = 0; r < dist->c->size; r++) {
        if (dist->counts[r] < 0 && who < 0)
            who = r;
        total += dist->counts[r] > 0 ? dist->counts[r] : 0;
    }
    if (who >= 0)
        return dctr_set_error(DCTR_ERR_CANCELLED, "fit: cancelled by the progress callback of rank %d",
                              (int)who);
    dist->step_rows = total;
    if (step_rows)
        *step_rows = total;
    return DCTR_OK;
}

dctr_status dctr_fit_dist_validate(dctr_dist *dist, const dctr_model *m, const dctr_batch *valid,
                                   float *pred, double va[DCTR_METRIC_COUNT]) {
    dctr_status st = DCTR_OK;
    if (dist->fetch) /* sharded tables: every rank fetches (maybe nothing), then predicts */
        st = dist->fetch((dctr_model *)m, valid ? valid : NULL);
    if (st == DCTR_OK && valid)
        st = dctr_model_predict_batch(m, valid, pred);
    if (dist->release) /* the fetched rows go back */
        dist->release((dctr_model *)m, 0);
    DCTR_TRY(dctr_dist_agree(dist, st, "validation predict"));
    int64_t total;
    DCTR_TRY(dctr_fit_dist_total_rows(dist, valid ? valid->n : 0, &total));
    for (int k = 0; k < DCTR_METRIC_COUNT; k++)
        va[k] = NAN;
    if (total == 0)
        return DCTR_OK;
    DCTR_TRY(dctr_dist_metrics(dist, m->task, valid ? valid->labels : NULL, pred,
                               valid ? valid->sample_weights : NULL, valid ? valid->n : 0, va));
    va[DCTR_METRIC_LOSS] = m->task == DCTR_TASK_BINARY ? va[DCTR_METRIC_LOGLOSS] : va[DCTR_METRIC_MSE];
    return DCTR_OK;
}

dctr_status dctr_fit_dist_save(dctr_dist *dist, dctr_model *model, const char *path) {
    if (dist->save) /* sharded tables: streamed from their owners, nobody gathers them */
        return dist->save(model, dist, path, 1);
    return dist->c->rank == 0 ? dctr_model_save(model, path, 1) : DCTR_OK;
}

/* A model that holds a shard must train in the same sharding; a whole model becomes this
 * rank's shard (its other rows are released at the first step). */
static dctr_status adopt_shard(dctr_model *model, const dctr_collective *coll) {
    const int sharded = coll->table_mode == DCTR_TABLES_SHARDED && coll->size > 1;
    if (model->shard_size > 1 && (!sharded || model->shard_size != coll->size ||
                                  model->shard_rank != coll->rank))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_model_fit_collective: the model holds rank %d of %d's rows of "
                              "sharded tables; this collective is rank %d of %d, tables %s",
                              (int)model->shard_rank, (int)model->shard_size, (int)coll->rank,
                              (int)coll->size, sharded ? "sharded" : "replicated");
    if (sharded) {
        model->shard_rank = coll->rank;
        model->shard_size = coll->size;
    }
    return DCTR_OK;
}

dctr_status dctr_model_fit_collective(dctr_model *model, const dctr_dataset *train,
                                      const dctr_fit_options *opts, dctr_collective *coll,
                                      dctr_history *history) {
    if (!model || !train)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_fit_collective: NULL model or dataset");
    dctr_dist dist;
    DCTR_TRY(dctr_dist_init(&dist, coll));
    const int ffm = model->type == DCTR_MODEL_FFM || model->type == DCTR_MODEL_DEEPFFM;
    dctr_status st = model->type == DCTR_MODEL_DEEPFM || model->type == DCTR_MODEL_FM ||
                             model->type == DCTR_MODEL_LR || ffm
                         ? DCTR_OK
                         : dctr_set_error(DCTR_ERR_UNSUPPORTED,
                                          "dctr_model_fit_collective: model family '%s' trains on "
                                          "one process only", model->ops->name);
    if (st == DCTR_OK && ffm && dctr_ffm_is_native(model)) /* before it is taken as a shard */
        st = dctr_set_error(DCTR_ERR_UNSUPPORTED, "dctr_model_fit_collective: a libffm-native "
                            "FFM model trains with dctr_ffm_train on one process only");
    if (st == DCTR_OK && coll->table_mode == DCTR_TABLES_SHARDED) {
        dist.fetch = dfm_shard_fetch;
        dist.release = dfm_shard_release;
        dist.save = dfm_shard_save;
    } else if (st == DCTR_OK && coll->table_mode != DCTR_TABLES_REPLICATED) {
        st = dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_fit_collective: table_mode %d",
                            (int)coll->table_mode);
    }
    if (st == DCTR_OK && ffm && dist.fetch) { /* the FFM family's sharded rows (ffm/dist.h) */
        dist.fetch = dctr_ffm_shard_fetch;
        dist.release = dctr_ffm_shard_release;
        dist.save = dctr_ffm_shard_save;
    }
    if (st == DCTR_OK)
        st = adopt_shard(model, coll);
    if (st == DCTR_OK) {
        model->dist = &dist;
        st = dctr_fit_run(model, train, opts, &dist, history);
        if (dist.release) /* sharded: every rank ends with its own rows (and their state) */
            dist.release(model, 1);
        model->dist = NULL;
    }
    dctr_dist_release(&dist);
    return st;
}

/* DeepFM, FM, LR, FFM and DeepFFM keep sharded tables; other families hold the whole model. */
static int shards_tables(dctr_model_type type) {
    return type == DCTR_MODEL_DEEPFM || type == DCTR_MODEL_FM || type == DCTR_MODEL_LR ||
           type == DCTR_MODEL_FFM || type == DCTR_MODEL_DEEPFFM;
}

static int ffm_family(dctr_model_type type) {
    return type == DCTR_MODEL_FFM || type == DCTR_MODEL_DEEPFFM;
}

dctr_status dctr_model_new_collective(const dctr_schema *schema, const dctr_model_config *cfg,
                                      dctr_collective *coll, dctr_model **out) {
    if (!coll || !cfg)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_new_collective: NULL argument");
    const int sharded = coll->table_mode == DCTR_TABLES_SHARDED && coll->size > 1 &&
                        shards_tables(cfg->type);
    DCTR_TRY(dctr_model_new_shard(schema, cfg, sharded ? coll->rank : 0, sharded ? coll->size : 0,
                                  out));
    if (sharded && ffm_family(cfg->type))
        dctr_ffm_shard_note(*out, 0);
    else if (sharded)
        dfm_shard_note(*out, 0);
    return DCTR_OK;
}

dctr_status dctr_model_save_collective(const dctr_model *model, const char *path, int with_optimizer,
                                       dctr_collective *coll) {
    if (!model || !path || !coll)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_save_collective: NULL argument");
    dctr_dist dist;
    DCTR_TRY(dctr_dist_init(&dist, coll));
    dctr_status st;
    if (model->shard_size > 1 && (model->shard_size != coll->size || model->shard_rank != coll->rank))
        st = dctr_dist_agree(&dist, dctr_set_error(DCTR_ERR_INVALID_ARG,
                                                   "dctr_model_save_collective: the model holds rank "
                                                   "%d of %d's rows, the collective is rank %d of %d",
                                                   (int)model->shard_rank, (int)model->shard_size,
                                                   (int)coll->rank, (int)coll->size),
                             "saving the model");
    else if (model->shard_size > 1)
        st = ffm_family(model->type) ? dctr_ffm_shard_save(model, &dist, path, with_optimizer)
                                     : dfm_shard_save(model, &dist, path, with_optimizer);
    else
        st = dctr_dist_agree(&dist, coll->rank == 0 ? dctr_model_save(model, path, with_optimizer)
                                                    : DCTR_OK,
                             "saving the model");
    dctr_dist_release(&dist);
    return st;
}

dctr_status dctr_model_load_collective(const char *path, dctr_collective *coll, dctr_model **out) {
    if (!path || !coll || !out)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_model_load_collective: NULL argument");
    dctr_dist dist;
    DCTR_TRY(dctr_dist_init(&dist, coll));
    const int sharded = coll->table_mode == DCTR_TABLES_SHARDED && coll->size > 1;
    dctr_model *m = NULL; /* sharded: the model is built as this rank's shard and keeps its rows */
    int64_t held = 0;     /* sharded: the tables stream from the file (file-backed container) */
    dctr_status st = sharded ? dctr_model_load_shard_file(path, coll->rank, coll->size, &held, &m)
                             : dctr_model_load_shard(path, 0, 0, &m);
    /* the load's peak: the rows it filled plus the most of the file held at once (the small
     * sections and a chunk) */
    if (st == DCTR_OK && m->shard_size > 1 && ffm_family(m->type))
        dctr_ffm_shard_note(m, held);
    else if (st == DCTR_OK && m->shard_size > 1)
        dfm_shard_note(m, held);
    st = dctr_dist_agree(&dist, st, "loading the model");
    dctr_dist_release(&dist);
    if (st != DCTR_OK) {
        dctr_model_free(m);
        return st;
    }
    *out = m;
    return DCTR_OK;
}
