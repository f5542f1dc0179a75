/* A small persistent fork-join thread pool. dctr_pool_run splits [0, n) into one contiguous
 * chunk per thread (the same split for the same n and thread count, so results that depend on
 * the split are reproducible) and returns when every chunk is done. The caller's thread runs
 * chunk 0. A pool is used by one caller at a time. */
#ifndef DCTR_CORE_POOL_H
#define DCTR_CORE_POOL_H

#include <stdint.h>

#include "deepctr/common.h"

/* The most threads any pool, model or trainer uses (a request above it is clamped). */
#define DCTR_MAX_THREADS 64

typedef struct dctr_pool dctr_pool;
typedef void (*dctr_task_fn)(void *ctx, int worker, int64_t begin, int64_t end);

/* threads >= 1; threads == 1 starts no thread and runs everything inline. */
dctr_status dctr_pool_new(int threads, dctr_pool **out);
void dctr_pool_free(dctr_pool *pool);
int dctr_pool_threads(const dctr_pool *pool);
void dctr_pool_run(dctr_pool *pool, int64_t n, dctr_task_fn fn, void *ctx);
/* The same range in chunks of `grain` items that the threads claim as they finish, so a slow
 * item or a descheduled thread does not hold the others up. Which thread runs which chunk
 * varies from run to run: only for work whose result does not depend on the split (row-local
 * work, one table per item). fn may be called several times per thread. */
void dctr_pool_run_claimed(dctr_pool *pool, int64_t n, int64_t grain, dctr_task_fn fn, void *ctx);

#endif
