/* The transport-independent side of distributed training (include/deepctr/collective.h): status
 * agreement between ranks, deterministic sums (gathered, then added in rank order, so a run is
 * reproducible for a given rank count), the sparse-gradient merge and exact global metrics.
 * Used by src/train/fit.c, src/models/deepfm_dist.c and the encoder fit. */
#ifndef DCTR_DIST_DIST_H
#define DCTR_DIST_DIST_H

#include "deepctr/collective.h"
#include "layers/dnn.h"
#include "layers/embedding.h"

typedef struct dctr_dist {
    dctr_collective *c;
    int64_t step_rows;       /* rows of the current step over all ranks (set by fit) */
    int64_t *counts;         /* [size] scratch */
    void *buf;               /* gather scratch */
    size_t buf_cap;
    void *pack;              /* send-side scratch (sparse rows, metric rows) */
    size_t pack_cap;
    dctr_bn_sync bn;         /* batch norm over the global batch (deepfm_dist.c) */
    dctr_status failed;      /* a sum inside the DNN's backward failed (it has no status) */
} dctr_dist;

dctr_status dctr_dist_init(dctr_dist *d, dctr_collective *c);
void dctr_dist_release(dctr_dist *d);

/* Every rank passes its status (with its last error set when failing); all ranks then return
 * the same verdict: OK, the failing rank's own error on that rank, and DCTR_ERR_IO naming the
 * lowest failed rank and its status on the others. `what` names the agreement point. */
dctr_status dctr_dist_agree(dctr_dist *d, dctr_status mine, const char *what);
/* out[r] = value of rank r. */
dctr_status dctr_dist_allgather_i64(dctr_dist *d, int64_t value, int64_t *out);
/* In-place sum over ranks, added in rank order (identical result on every rank). */
dctr_status dctr_dist_sum_f64(dctr_dist *d, double *x, int64_t n);
/* Gathers `bytes` bytes of every rank (any count per rank) into a buffer owned by d:
 * *out = all blocks in rank order, counts[r] = rank r's byte count. Valid until the next call. */
dctr_status dctr_dist_gatherv(dctr_dist *d, const void *send, int64_t bytes, const void **out,
                              const int64_t **counts);
/* Grows d->pack to at least `bytes`. */
dctr_status dctr_dist_reserve_pack(dctr_dist *d, size_t bytes);
/* One step's gradients summed over the ranks in one gather, in rank order: *loss, the dense
 * gradients and the ng sparse accumulators (cleared, then every rank's touched rows added, so
 * the union and its sums are identical on every rank; an accumulator grows when the union
 * exceeds its capacity). */
dctr_status dctr_dist_sum_grads(dctr_dist *d, double *loss, float *dense, int64_t ndense,
                                dctr_sparse_grad *const *gs, int32_t ng);
/* Every metric over all ranks' rows (labels y, predictions p, weights w or NULL: n local rows). */
dctr_status dctr_dist_metrics(dctr_dist *d, dctr_task task, const float *y, const float *p,
                              const float *w, int64_t n, double values[DCTR_METRIC_COUNT]);

#endif
