/* The distributed parts of the fit loop (src/train/fit.c with a dctr_dist): the step schedule,
 * the per-rank shuffle, the per-step row count agreement and global validation metrics. */
#ifndef DCTR_TRAIN_FIT_DIST_H
#define DCTR_TRAIN_FIT_DIST_H

#include "core/rng.h"
#include "dist/dist.h"
#include "models/model_types.h"

/* dctr_model_fit with dist (NULL = single process). */
dctr_status dctr_fit_run(dctr_model *model, const dctr_dataset *train, const dctr_fit_options *opts,
                         dctr_dist *dist, dctr_history *history);
/* *total = the sum of every rank's n. */
dctr_status dctr_fit_dist_total_rows(dctr_dist *dist, int64_t n, int64_t *total);
/* This rank's share of the global batch (batch / size, the first batch % size ranks one more),
 * the steps of an epoch (the most any rank needs: a rank whose shard runs out starts it over)
 * and the training rows of all ranks. */
dctr_status dctr_fit_dist_schedule(dctr_dist *dist, int64_t n, int64_t batch, int64_t *local_bs,
                                   int64_t *steps, int64_t *rows_total);
/* Shuffles perm[n] with a generator seeded by one draw of the shared `rng` and this rank: the
 * shared generator advances the same on every rank (so a checkpoint taken on rank 0 resumes
 * every rank). */
void dctr_fit_dist_shuffle(dctr_dist *dist, dctr_rng *rng, int64_t *perm, int64_t n);
/* Tells the other ranks this step's rows and whether this rank was asked to stop; *step_rows
 * (may be NULL) = the step's rows over all ranks, also kept in dist->step_rows for the model.
 * DCTR_ERR_CANCELLED on every rank when any rank asked to stop. */
dctr_status dctr_fit_dist_step(dctr_dist *dist, int64_t rows, int cancel, int64_t *step_rows);
/* Every metric on the validation rows of all ranks (valid may be NULL: none on this rank). */
dctr_status dctr_fit_dist_validate(dctr_dist *dist, const dctr_model *m, const dctr_batch *valid,
                                   float *pred, double va[DCTR_METRIC_COUNT]);

/* A checkpoint: rank 0 writes the model with optimizer state (sharded: the rows streamed from
 * their owners, dist->save); every rank must call it. */
dctr_status dctr_fit_dist_save(dctr_dist *dist, dctr_model *model, const char *path);

#endif
