/* Fork-join pool over pthreads: workers sleep on a condition variable between jobs. */
#include "core/pool.h"

#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

struct dctr_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t start;
    pthread_cond_t done;
    uint64_t generation; /* bumped once per job */
    int pending;         /* workers still running the current job */
    int stopping;
    dctr_task_fn fn;
    void *ctx;
    int64_t n;
};

typedef struct {
    dctr_pool *pool;
    int index;
} worker_arg;

static void chunk(int64_t n, int threads, int index, int64_t *begin, int64_t *end) {
    int64_t base = n / threads, extra = n % threads;
    *begin = index * base + (index < extra ? index : extra);
    *end = *begin + base + (index < extra ? 1 : 0);
}

static void *worker_main(void *arg) {
    worker_arg w = *(worker_arg *)arg;
    dctr_free(arg);
    dctr_pool *pool = w.pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        while (!pool->stopping && pool->generation == seen)
            pthread_cond_wait(&pool->start, &pool->mutex);
        if (pool->stopping)
            break;
        seen = pool->generation;
        dctr_task_fn fn = pool->fn;
        void *ctx = pool->ctx;
        int64_t begin, end;
        chunk(pool->n, pool->threads, w.index, &begin, &end);
        pthread_mutex_unlock(&pool->mutex);
        if (begin < end)
            fn(ctx, w.index, begin, end);
        pthread_mutex_lock(&pool->mutex);
        if (--pool->pending == 0)
            pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mutex);
    return NULL;
}

dctr_status dctr_pool_new(int threads, dctr_pool **out) {
    *out = NULL;
    if (threads < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "thread count must be >= 1 (got %d)", threads);
    dctr_pool *pool = dctr_calloc(1, sizeof *pool);
    if (!pool)
        return DCTR_ERR_NOMEM;
    pool->threads = threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (threads > 1) {
        pool->workers = dctr_calloc((size_t)threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            dctr_pool_free(pool);
            return DCTR_ERR_NOMEM;
        }
        for (int i = 1; i < threads; i++) {
            worker_arg *arg = dctr_malloc(sizeof *arg);
            if (arg) {
                arg->pool = pool;
                arg->index = i;
            }
            if (!arg || pthread_create(&pool->workers[i - 1], NULL, worker_main, arg) != 0) {
                dctr_free(arg);
                pool->threads = i; /* only the started workers are joined */
                dctr_pool_free(pool);
                return dctr_set_error(DCTR_ERR_NOMEM, "could not start thread %d of %d", i,
                                      threads);
            }
        }
    }
    *out = pool;
    return DCTR_OK;
}

void dctr_pool_free(dctr_pool *pool) {
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mutex);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->threads && pool->workers; i++)
        pthread_join(pool->workers[i - 1], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    dctr_free(pool->workers);
    dctr_free(pool);
}

int dctr_pool_threads(const dctr_pool *pool) { return pool ? pool->threads : 1; }

void dctr_pool_run(dctr_pool *pool, int64_t n, dctr_task_fn fn, void *ctx) {
    if (n <= 0)
        return;
    if (!pool || pool->threads == 1) {
        fn(ctx, 0, 0, n);
        return;
    }
    pthread_mutex_lock(&pool->mutex);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    pool->pending = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);

    int64_t begin, end;
    chunk(n, pool->threads, 0, &begin, &end);
    if (begin < end)
        fn(ctx, 0, begin, end);

    pthread_mutex_lock(&pool->mutex);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
}
