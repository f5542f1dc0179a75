/* The transport-independent side of distributed training (include/deepctr/collective.h): status
 * agreement between ranks, deterministic sums (gathered, then added in rank order, so a run is
 * reproducible for a given rank count), the sparse-gradient merge and exact global metrics.
 * Used by src/train/fit.c, src/models/deepfm_dist.c and the encoder fit. */
#ifndef DCTR_DIST_DIST_H
#define DCTR_DIST_DIST_H

#include "deepctr/collective.h"
#include "data/batch.h"
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
    /* sharded tables (set by dctr_model_fit_collective for the model family): fetch the rows a
     * batch uses from their owners; release rows not owned */
    dctr_status (*fetch)(struct dctr_model *m, const dctr_batch *b);
    void (*release)(struct dctr_model *m, int with_slots);
    /* sharded tables: a model file written by rank 0 with the rows streamed from their owners
     * (every rank calls it; returns the agreed status); NULL: rank 0 saves what it holds */
    dctr_status (*save)(const struct dctr_model *m, struct dctr_dist *d, const char *path,
                        int with_optimizer);
    int slots_released;      /* this fit released the optimizer state of rows not owned */
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
/* Grows d->pack (send scratch) / d->buf (receive scratch) to at least `bytes`. */
dctr_status dctr_dist_reserve_buf(dctr_dist *d, size_t bytes);
dctr_status dctr_dist_reserve_pack(dctr_dist *d, size_t bytes);
/* One step's gradients summed over the ranks in one gather, in rank order: *loss, the dense
 * gradients and the ng sparse accumulators (cleared, then every rank's touched rows added, so
 * the union and its sums are identical on every rank; an accumulator grows when the union
 * exceeds its capacity). */
dctr_status dctr_dist_sum_grads(dctr_dist *d, double *loss, float *dense, int64_t ndense,
                                dctr_sparse_grad *const *gs, int32_t ng);
/* Sharded tables (dist_shard.c): rank's rows [lo, hi) of a V-row table, the owner of a row,
 * the personalised exchange (send blocks in rank order with send_counts; *out = the received
 * blocks in rank order, recv_counts[q] bytes from rank q; owned by d, valid until the next
 * call), and the release of the whole pages inside rows [a, b) of a table at base. */
void dctr_shard_range(int64_t V, int32_t rank, int32_t size, int64_t *lo, int64_t *hi);
int32_t dctr_shard_owner(int64_t V, int32_t size, int64_t id);
dctr_status dctr_dist_alltoallv(dctr_dist *d, const void *send, const int64_t *send_counts,
                                const void **out, const int64_t **recv_counts);
void dctr_shard_release(float *base, int64_t a, int64_t b, int32_t dim);
/* Sorts v[0..n) ascending and drops repeats; returns the distinct count (the ids a rank asks
 * its owners for, grouped by owner since ownership is by ranges). */
int64_t dctr_shard_sort_unique(int64_t *v, int64_t n);
/* A sharded model's float arrays (dist_shard.c): address space for `count` floats whose pages
 * are committed only when written (anonymous, MAP_NORESERVE; reads of untouched pages see zeros
 * and commit nothing), so a rank that writes only its own rows holds only them. */
float *dctr_shard_alloc(size_t count);
void dctr_shard_free(float *p, size_t count);
/* Resident bytes of rows [a, b) (dim floats each) of an array at base (whole pages touching
 * them, as mincore reports; 0 for NULL). */
int64_t dctr_shard_resident(const float *base, int64_t a, int64_t b, int32_t dim);
/* Peak probe for tests and bench_dist (off unless enabled; process-wide): the sharded code
 * reports its table + optimizer + exchange-buffer bytes at each peak point (after a fetch,
 * during a streamed save, at creation), the probe keeps the maximum. */
void dctr_shard_probe_enable(int on);
int dctr_shard_probe_on(void);
void dctr_shard_probe_note(int64_t bytes);
int64_t dctr_shard_probe_peak(void);
/* Each rank's touched rows of the ng accumulators go to their owners (gs[t]->vocab rows, owner
 * ranges as dctr_shard_range), which add them in rank order into their cleared accumulators:
 * afterwards an accumulator holds exactly the rows this rank owns that any rank touched. */
dctr_status dctr_dist_rows_to_owners(dctr_dist *d, dctr_sparse_grad *const *gs, int32_t ng);
/* Every metric over all ranks' rows (labels y, predictions p, weights w or NULL: n local rows). */
dctr_status dctr_dist_metrics(dctr_dist *d, dctr_task task, const float *y, const float *p,
                              const float *w, int64_t n, double values[DCTR_METRIC_COUNT]);

#endif
