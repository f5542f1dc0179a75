/* The model object behind the public dctr_model handle (CONTRACT between the generic model code
 * in src/models/model.c, model_io.c + src/train/, and each model family: DeepFM/FM/LR in
 * src/models/deepfm*, FFM/DeepFFM in the FFM files). Fields may be added, never renamed or removed. */
#ifndef DCTR_MODELS_MODEL_TYPES_H
#define DCTR_MODELS_MODEL_TYPES_H

#include "deepctr/model.h"
#include "data/batch.h"
#include "io/bytes.h"
#include "io/container.h"

/* One named tensor of a model: rows x cols floats, row-major; state = 1 for non-trainable
 * arrays (batch-norm moving statistics). */
typedef struct dctr_tensor_view {
    const char *name;
    float *data;
    int64_t rows, cols;
    int state;
} dctr_tensor_view;

typedef struct dctr_model_ops {
    const char *name; /* "deepfm", "ffm", ... */
    void (*free_impl)(void *impl);
    /* Per-thread forward workspace for up to max_batch rows. */
    dctr_status (*workspace_new)(const dctr_model *model, int32_t max_batch, void **out);
    void (*workspace_free)(void *ws);
    /* Inference forward: probabilities (binary) or values (regression) into out[batch->n]. */
    dctr_status (*predict)(const dctr_model *model, void *ws, const dctr_batch *batch, float *out);
    /* One optimizer step on a batch: forward, loss, backward, update. Reports the mean data
     * loss and the regularization loss of the batch, and the predictions (may be NULL). */
    dctr_status (*train_step)(dctr_model *model, const dctr_batch *batch, double *data_loss,
                              double *reg_loss, float *pred);
    /* Copies all trainable and non-trainable state into *state (for restore-best): allocates it
     * when *state is NULL, else overwrites it in place; snapshot_free releases it. */
    dctr_status (*snapshot)(const dctr_model *model, void **state);
    dctr_status (*restore)(dctr_model *model, const void *state);
    void (*snapshot_free)(void *state);
    /* Serialization of the family's parameters (+ optimizer state) into container sections. */
    dctr_status (*save)(const dctr_model *model, dctr_container_writer *cw, int with_optimizer);
    dctr_status (*load)(dctr_model *model, const dctr_container *c);
    int64_t (*num_parameters)(const dctr_model *model);
    int64_t (*parameter_bytes)(const dctr_model *model);
    int64_t (*optimizer_bytes)(const dctr_model *model);
    /* Training threads (called by fit before the first step). May be NULL. */
    dctr_status (*set_threads)(dctr_model *model, int32_t threads);
    /* The thread pool set_threads made, or NULL: fit runs its mini-batch gather on it between
     * steps rather than start threads of its own. May be NULL. */
    struct dctr_pool *(*training_pool)(const dctr_model *model);
    /* Like predict, also writing the raw logit (before the output activation) into logit[n].
     * May be NULL: the generic code then inverts the sigmoid of the prediction. */
    dctr_status (*predict_logit)(const dctr_model *model, void *ws, const dctr_batch *batch, float *out,
                                 float *logit);
    /* An embedding table's parameters: row-major [rows * dim] floats (writable: set_embeddings
     * writes through it), or NULL with *rows = 0 when the table has no embedding in this model.
     * May be NULL (family without schema tables). */
    float *(*embedding_table)(const dctr_model *model, int32_t table, int64_t *rows, int32_t *dim);
    /* Named tensors (dctr_model_tensor_*): returns the count; for 0 <= i < count fills *out
     * with tensor i (data writable: dctr_model_set_tensor writes through it). May be NULL. */
    int32_t (*tensor)(const dctr_model *model, int32_t i, struct dctr_tensor_view *out);
} dctr_model_ops;

struct dctr_model {
    dctr_model_type type;
    dctr_task task;
    dctr_model_config cfg;   /* string arrays deep-copied and owned */
    dctr_schema *schema;     /* owned copy; NULL only for a libffm-native FFM model */
    const dctr_model_ops *ops;
    void *impl;
    int64_t steps;           /* optimizer steps taken */
    /* Loading only: the parameter floats the file holds (0 = no limit). A family compares its
     * structure's size with it BEFORE allocating, so a forged header cannot make load allocate
     * more than the file could fill. */
    int64_t load_param_cap;
    /* Training state that makes fit(a) + save(with optimizer) + load + fit(b) equal fit(a + b):
     * the shuffle generator after the last epoch, the seed it was started from and the epochs
     * run (src/train/fit.c; saved in the "train/state" section by model_io.c). */
    uint64_t shuffle_state[4];
    uint64_t shuffle_seed;
    int shuffle_valid;
    int64_t epochs_done;
    /* 1 once the optimizer state holds something: trained here, or loaded from a file saved with
     * it (dctr_model_has_optimizer_state). */
    int optimizer_state_present;
    /* User key/value metadata saved with the model (src/models/model_meta.c). */
    struct dctr_model_kv *kv;
    int32_t nkv;
    /* Predictors and other holders (dctr_model_retain); dctr_model_free only frees at zero. */
    int refcount;
    /* Output calibration (src/models/model_calib.c, the optional "calib" section): the rate
     * negatives were kept with in training (0 or 1 = none) and Platt scaling of the logit. */
    double neg_rate;
    int platt;
    double platt_a, platt_b;
    /* Isotonic calibration (exclusive with Platt): iso_n points (iso_x increasing probabilities
     * after the rate correction, iso_y their calibrated values), interpolated linearly. */
    int32_t iso_n;
    double *iso_x, *iso_y;
    /* Set by dctr_model_fit_collective for the length of the fit (src/dist/dist.h), else NULL:
     * the family's train step then sums its gradients over the ranks (deepfm_dist.c). */
    struct dctr_dist *dist;
    /* Sharded tables (dctr_model_new_collective, or after a sharded fit): this model holds only
     * rank shard_rank of shard_size's rows of its tables (docs/distributed.md); 0 = whole. */
    int32_t shard_rank, shard_size;
};

/* Family constructors: fill model->ops and model->impl (model->schema / cfg already set). */
dctr_status dctr_deepfm_init(dctr_model *model);
dctr_status dctr_ffm_init(dctr_model *model);

#endif
