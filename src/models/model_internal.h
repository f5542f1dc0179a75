/* Generic-model helpers shared by model.c, model_io.c and src/train/fit.c (the training loop). */
#ifndef DCTR_MODELS_MODEL_INTERNAL_H
#define DCTR_MODELS_MODEL_INTERNAL_H

#include <stddef.h>

#include "models/model_types.h"

/* Deep copy of a config (name lists, hidden units); release frees what a copy owns. */
dctr_status dctr_model_config_copy(const dctr_model_config *src, dctr_model_config *dst);
void dctr_model_config_release(dctr_model_config *cfg);
/* Builds a model without the public checks. owned_schema (may be NULL) is taken over, else
 * `schema` is cloned. On failure owned_schema is freed. load_param_cap: see model_types.h. */
dctr_status dctr_model_create(const dctr_schema *schema, const dctr_model_config *cfg,
                              dctr_schema *owned_schema, int64_t load_param_cap, dctr_model **out);
/* The same for rank shard_rank of shard_size holding sharded tables (shard_size 0: the whole
 * model), and dctr_model_new's checks before it (dctr_model_new_collective). */
dctr_status dctr_model_create_shard(const dctr_schema *schema, const dctr_model_config *cfg,
                                    dctr_schema *owned_schema, int64_t load_param_cap,
                                    int32_t shard_rank, int32_t shard_size, dctr_model **out);
/* dctr_model_load keeping only rank shard_rank of shard_size's rows of a DeepFM / FM / LR model's
 * tables and optimizer state (the model is that shard; other families load whole). */
dctr_status dctr_model_load_shard(const char *path, int32_t shard_rank, int32_t shard_size,
                                  dctr_model **out);
/* The same through a file-backed container (dctr_container_open_file): the tables stream in
 * bounded chunks, so the load holds the shard, not the file; *held_peak (may be NULL): the most
 * bytes of the file the container held at once. */
dctr_status dctr_model_load_shard_file(const char *path, int32_t shard_rank, int32_t shard_size,
                                       int64_t *held_peak, dctr_model **out);
dctr_status dctr_model_new_shard(const dctr_schema *schema, const dctr_model_config *cfg,
                                 int32_t shard_rank, int32_t shard_size, dctr_model **out);
/* Predicts `rows` into pred[rows->n] and computes every metric (LOSS = logloss or MSE). */
dctr_status dctr_model_evaluate_batch(const dctr_model *model, const dctr_batch *rows, float *pred,
                                      double values[DCTR_METRIC_COUNT]);

/* The "meta" section: format version, type, task and the whole config. Version 2 appends
 * bn_eps and bn_momentum; it is written only when they differ from the Keras defaults, so every
 * other model stays readable by builds that know version 1 only. */
#define DCTR_MODEL_META_VERSION 1u
#define DCTR_MODEL_META_VERSION_BN 2u
/* Version 3 appends linear_lr_scale after them; written only when it is not 1. */
#define DCTR_MODEL_META_VERSION_LINLR 3u
/* sizeof(dctr_model_config) before bn_eps / bn_momentum were added (accepted by dctr_model_new). */
#define DCTR_MODEL_CONFIG_SIZE_V1 ((uint32_t)offsetof(dctr_model_config, bn_eps))
/* ... and before linear_lr_scale was added. */
#define DCTR_MODEL_CONFIG_SIZE_V2 ((uint32_t)offsetof(dctr_model_config, linear_lr_scale))
dctr_status dctr_model_meta_write(const dctr_model_config *cfg, int64_t steps, dctr_wbuf *w);
/* Reads into cfg (owned lists: release with dctr_model_config_release). */
dctr_status dctr_model_meta_read(dctr_rbuf *r, dctr_model_config *cfg, int64_t *steps);

/* Adds section `name` with the payload built in w (a write that failed is DCTR_ERR_NOMEM) and
 * frees w: the last step of every section writer (model_state.c). */
dctr_status dctr_model_section_put(dctr_container_writer *cw, const char *name, dctr_wbuf *w);

/* src/models/model_state.c: the optional "train/state" section (shuffle generator, epochs run)
 * and the "user/meta" section (key/value metadata); both absent in files of older versions. */
dctr_status dctr_model_train_state_save(const dctr_model *model, dctr_container_writer *cw);
dctr_status dctr_model_train_state_load(dctr_model *model, const dctr_container *c);
dctr_status dctr_model_kv_save(const dctr_model *model, dctr_container_writer *cw);
dctr_status dctr_model_kv_load(dctr_model *model, const dctr_container *c);
void dctr_model_kv_release(dctr_model *model);

/* src/models/model_calib.c: output calibration. active: anything to apply. apply rewrites
 * prob[n] (and logit[n] when not NULL) in place; the "calib" section is optional. */
int dctr_model_calib_active(const dctr_model *model);
void dctr_model_calib_apply(const dctr_model *model, int64_t n, float *prob, float *logit);
dctr_status dctr_model_calib_save(const dctr_model *model, dctr_container_writer *cw);
dctr_status dctr_model_calib_load(dctr_model *model, const dctr_container *c);
void dctr_model_calib_release(dctr_model *model);

/* A predictor's insides for typed serving (model_services.c). */
typedef struct dctr_predictor_parts {
    const dctr_model *model;
    void *ws;
    int32_t max_batch;
    dctr_batch **typed; /* the predictor's typed-row batch slot (NULL until first use) */
} dctr_predictor_parts;
dctr_predictor_parts dctr_predictor_get_parts(dctr_predictor *p);

#endif
