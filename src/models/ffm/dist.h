/* FFM / DeepFFM under dctr_model_fit_collective (dist.c: the synchronous mini-batch step;
 * shard.c: sharded feature rows). The FFM weights are one table of n feature rows; rank r owns
 * the rows [n r / N, n (r + 1) / N) (dctr_shard_range), each with its m blocks (weights and
 * AdaGrad accumulators) and its linear weight. */
#ifndef DCTR_MODELS_FFM_DIST_H
#define DCTR_MODELS_FFM_DIST_H

#include "layers/embedding.h"
#include "models/ffm/ffm.h"

struct dctr_ffm_dist_ws {
    dctr_sparse_grad acc; /* [n rows x (m kp + linear)] */
    float *dense;         /* [ndense + 2]: the family's dense gradients, bias, weight sum */
    int64_t ndense_cap;
    int64_t *fetched;     /* sharded: the rows the last fetch brought (sorted), released next */
    int64_t nfetched;
    float **rowp;         /* [max_nodes]: a row's accumulator rows (pair form) */
};

/* impl->dws, made on first use (NULL: out of memory). */
dctr_ffm_dist_ws *dctr_ffm_dist_ws_get(dctr_ffm_impl *impl);
void dctr_ffm_dist_free(dctr_ffm_dist_ws *ws);
/* The step's rows over all ranks (B, this rank's, on one process). */
int64_t dctr_ffm_dist_rows(const dctr_model *model, int64_t B);
/* The family's train_step when model->dist is set (plain FFM). */
dctr_status dctr_ffm_dist_train_step(dctr_model *model, const dctr_batch *b, double *data_loss,
                                     double *reg_loss, float *pred);
/* The pieces, for DeepFFM (deep.c): begin clears the gradient accumulators (room for ndense
 * dense gradients) and, sharded, fetches the batch's rows; accumulate adds one row's data
 * gradient (per pair dpairs, or kappa for every pair); finish sums the loss, the weight sum,
 * dense[ndense] and the feature rows over the ranks, applies one AdaGrad step to the touched
 * blocks (owned ones when sharded) and leaves the summed dense gradients in dense. A
 * non-finite summed loss is DCTR_ERR_NUMERIC on every rank, nothing applied. */
dctr_status dctr_ffm_dist_begin(dctr_model *model, const dctr_batch *b, int64_t ndense);
dctr_status dctr_ffm_dist_accumulate(dctr_ffm_impl *impl, const dctr_ffm_node *x, int32_t n, float r,
                                     const dctr_ffm_pooled *ps, float kappa, const float *dpairs,
                                     int64_t ndense);
dctr_status dctr_ffm_dist_finish(dctr_model *model, double *loss, double *wsum, float *dense,
                                 int64_t ndense);

/* Sharded tables (shard.c), the dctr_dist hooks: fetch the rows batch b uses (b NULL: none)
 * from their owners; release the rows this rank does not own (with_slots: all of them, at the
 * first fetch of a fit; otherwise the pages of the rows the last fetch brought); the streamed
 * model file (shard_io.c: rank 0 writes, every other rank sends its rows; the agreed status). */
dctr_status dctr_ffm_shard_fetch(struct dctr_model *model, const dctr_batch *b);
void dctr_ffm_shard_release(struct dctr_model *model, int with_slots);
dctr_status dctr_ffm_shard_save(const struct dctr_model *model, struct dctr_dist *dist,
                                const char *path, int with_optimizer);
/* The peak probe (dctr_shard_probe_*): the resident rows of the table plus in_flight bytes. */
void dctr_ffm_shard_note(const struct dctr_model *model, int64_t in_flight);
/* Test reference for the streamed save: every row gathered, rank 0 saves (every rank calls). */
struct dctr_collective;
dctr_status dctr_ffm_shard_gather_save(struct dctr_model *model, struct dctr_collective *coll,
                                       const char *path, int with_optimizer);

#endif
