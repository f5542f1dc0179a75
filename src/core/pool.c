/* Fork-join pool over pthreads. Between jobs a worker first spins briefly on the job counter,
 * then sleeps on a condition variable: a training step hands the pool a dozen short jobs, and
 * a sleeping worker costs a futex wake-up (an inter-processor interrupt, tens of microseconds on
 * a virtual machine) per job, while a spinning one starts at once. The caller likewise spins
 * briefly before sleeping while it waits for the workers. */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* About 50-100 microseconds of polling before sleeping (a pause is tens of cycles). */
#define SPIN_ROUNDS 2000

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct dctr_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t start;
    pthread_cond_t done;
    _Atomic uint64_t generation; /* bumped once per job (release: the job fields are set) */
    _Atomic int pending;         /* workers still running the current job */
    _Atomic int stopping;
    dctr_task_fn fn;
    void *ctx;
    int64_t n;
    int64_t grain;           /* 0: one fixed chunk per thread; > 0: chunks of grain, claimed */
    _Atomic int64_t next;    /* the next unclaimed item of a claimed-chunk job */
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

/* This thread's share of the current job: its fixed chunk, or chunks claimed until none is left. */
static void run_share(dctr_pool *pool, int index) {
    if (pool->grain == 0) {
        int64_t begin, end;
        chunk(pool->n, pool->threads, index, &begin, &end);
        if (begin < end)
            pool->fn(pool->ctx, index, begin, end);
        return;
    }
    for (;;) {
        int64_t begin = atomic_fetch_add_explicit(&pool->next, pool->grain, memory_order_relaxed);
        if (begin >= pool->n)
            return;
        int64_t end = begin + pool->grain < pool->n ? begin + pool->grain : pool->n;
        pool->fn(pool->ctx, index, begin, end);
    }
}

/* Waits until the generation differs from `seen` or the pool stops; returns the generation. */
static uint64_t wait_for_job(dctr_pool *pool, uint64_t seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&pool->stopping, memory_order_acquire))
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->mutex);
    uint64_t g;
    while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
           !atomic_load_explicit(&pool->stopping, memory_order_acquire))
        pthread_cond_wait(&pool->start, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
    return g;
}

static void *worker_main(void *arg) {
    worker_arg w = *(worker_arg *)arg;
    dctr_free(arg);
    dctr_pool *pool = w.pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load_explicit(&pool->stopping, memory_order_acquire))
            break;
        /* the acquire load of the new generation makes fn / ctx / n of this job visible */
        run_share(pool, w.index);
        if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) == 1) {
            /* the last worker: wake the caller if it went to sleep (it checks under the lock) */
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
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
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->stopping, 0);
    atomic_init(&pool->next, 0);
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
    atomic_store_explicit(&pool->stopping, 1, memory_order_release);
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

/* grain 0: the fixed split; > 0: claimed chunks. A pool of one thread (or none) runs inline. */
static void run_job(dctr_pool *pool, int64_t n, int64_t grain, dctr_task_fn fn, void *ctx) {
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
    pool->grain = grain;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->pending, pool->threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);

    run_share(pool, 0);

    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&pool->pending, memory_order_acquire) == 0)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->mutex);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0)
        pthread_cond_wait(&pool->done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
}

void dctr_pool_run(dctr_pool *pool, int64_t n, dctr_task_fn fn, void *ctx) {
    run_job(pool, n, 0, fn, ctx);
}

void dctr_pool_run_claimed(dctr_pool *pool, int64_t n, int64_t grain, dctr_task_fn fn, void *ctx) {
    run_job(pool, n, grain > 0 ? grain : 1, fn, ctx);
}
