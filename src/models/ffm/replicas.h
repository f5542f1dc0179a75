/* Several threads on a small FFM model: one copy of the weights per thread, merged every few
 * thousand rows, instead of Hogwild on the shared weights.
 *
 * Why: on a model that fits in cache, Hogwild threads write the same feature rows all the time
 * (a field with a handful of values is in every row), so nearly every write moves a cache line
 * between cores. Where a round trip between two cores costs ~0.5 us (a VM's vCPUs on different
 * core complexes) two Hogwild threads ran 3x slower than one (docs/ffm.md). With copies, a
 * thread touches only its own lines between merges.
 *
 * Semantics: the threads claim the shuffled rows a window at a time, a round of rows at a time
 * (dctr_ffm_replicas_round_rows), each training its own copy. After a round, every feature row
 * some copy changed becomes the old value plus the sum of the copies' changes, in thread order
 * (the AdaGrad accumulators add up as in one model; the weights as Hogwild's interleaved
 * updates would, to first order), and every copy gets the merged row. As with Hogwild, which
 * thread trains which rows depends on timing, so runs on several threads are not repeatable
 * bit for bit; one thread never uses copies. */
#ifndef DCTR_MODELS_FFM_REPLICAS_H
#define DCTR_MODELS_FFM_REPLICAS_H

#include <stdint.h>

#include "core/pool.h"
#include "models/ffm/kernel.h"

/* Rows per thread between two merges (docs/ffm.md has the measurements). Fewer merge more often
 * (a merge moves every changed row between cores); more let the copies drift apart, which costs
 * accuracy when an epoch has only a few rounds (frappe's 46k rows on 2 threads, a fixed 4096 /
 * 8192 / 16384 rows: first-epoch validation logloss 0.309 / 0.358 / 0.448; 1 thread 0.308). So a
 * pass has at least DCTR_FFM_MIN_ROUNDS rounds, down to DCTR_FFM_SYNC_MIN_ROWS rows per thread. */
#define DCTR_FFM_SYNC_ROWS 4096
#define DCTR_FFM_SYNC_MIN_ROWS 512
#define DCTR_FFM_MIN_ROUNDS 16
/* Copies are made for models whose weights and accumulators take at most this much (where
 * Hogwild's shared lines stay in cache and bounce), while all copies together stay small. */
#define DCTR_FFM_REPLICA_MAX_BYTES ((size_t)8 << 20)
#define DCTR_FFM_REPLICAS_MAX_TOTAL ((size_t)64 << 20)

typedef struct dctr_ffm_replicas {
    int threads;
    int64_t n;
    dctr_ffm_weights *copy; /* [threads], the shape of the model */
    uint8_t *dirty;         /* [threads][n]: copy t changed feature j since the last merge */
    uint8_t *merged;        /* [n], set by a merge: 0 row unchanged, 1 + t only copy t changed it,
                             * MERGED_MANY several copies did */
} dctr_ffm_replicas;

/* Rows of one round (all threads) of a pass over `rows` rows. */
static inline int64_t dctr_ffm_replicas_round_rows(int64_t rows, int threads) {
    int64_t per_thread = rows / ((int64_t)threads * DCTR_FFM_MIN_ROUNDS);
    per_thread = per_thread < DCTR_FFM_SYNC_MIN_ROWS ? DCTR_FFM_SYNC_MIN_ROWS
                 : per_thread > DCTR_FFM_SYNC_ROWS   ? DCTR_FFM_SYNC_ROWS
                                                     : per_thread;
    return per_thread * threads;
}
/* 1 when `threads` threads train w through copies (threads > 1 and the size limits above). */
int dctr_ffm_replicas_wanted(const dctr_ffm_weights *w, int threads);
dctr_status dctr_ffm_replicas_new(const dctr_ffm_weights *w, int threads, dctr_ffm_replicas *r);
void dctr_ffm_replicas_free(dctr_ffm_replicas *r);
/* Every copy := w (at the start of a training pass: w may have changed since, e.g. auto-stop). */
void dctr_ffm_replicas_load(dctr_ffm_replicas *r, const dctr_ffm_weights *w);
/* Copy t is about to update the features of nodes [b, e). */
static inline void dctr_ffm_replicas_touch(dctr_ffm_replicas *r, int t, const dctr_ffm_node *b,
                                           const dctr_ffm_node *e) {
    uint8_t *dirty = r->dirty + (size_t)t * (size_t)r->n;
    for (const dctr_ffm_node *x = b; x < e; x++)
        if ((uint32_t)x->index < (uint64_t)r->n)
            dirty[(uint32_t)x->index] = 1;
}
/* Merges every changed feature row into w, then into every copy. Two pool jobs: the threads
 * merge chunks of the feature rows into w (reading the copies), then each thread brings its own
 * copy up to date from w. Rows move between cores in bulk, not one cache miss at a time inside
 * the pair loops, and a thread's copy stays in its own cache for the next round. */
void dctr_ffm_replicas_merge(dctr_ffm_replicas *r, dctr_ffm_weights *w, dctr_pool *pool);

#endif
