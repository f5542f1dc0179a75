/* Sharded tables (DCTR_TABLES_SHARDED): row ownership, the personalised exchange and the release
 * of rows a rank does not own. Rank r owns the contiguous rows [V r / N, V (r + 1) / N) of a
 * table of V rows (vocabulary ids are sorted keys, so a range is a fair share of the ids). */
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"

void dctr_shard_range(int64_t V, int32_t rank, int32_t size, int64_t *lo, int64_t *hi) {
    *lo = (int64_t)((__int128)V * rank / size);
    *hi = (int64_t)((__int128)V * (rank + 1) / size);
}

int32_t dctr_shard_owner(int64_t V, int32_t size, int64_t id) {
    int32_t r = (int32_t)((__int128)id * size / (V > 0 ? V : 1));
    int64_t lo, hi;
    for (;;) { /* the floor above is off by at most one either way */
        dctr_shard_range(V, r, size, &lo, &hi);
        if (id < lo && r > 0)
            r--;
        else if (id >= hi && r + 1 < size)
            r++;
        else
            return r;
    }
}

dctr_status dctr_dist_alltoallv(dctr_dist *d, const void *send, const int64_t *send_counts,
                                const void **out, const int64_t **recv_counts) {
    const int32_t n = d->c->size, me = d->c->rank;
    if (!d->c->alltoallv)
        return dctr_set_error(DCTR_ERR_UNSUPPORTED, "sharded tables: the collective has no alltoallv");
    int64_t *all = dctr_malloc(sizeof(int64_t) * (size_t)n * (size_t)n);
    if (!all)
        return DCTR_ERR_NOMEM;
    dctr_status st = d->c->allgather(d->c->ctx, send_counts, (int64_t)sizeof(int64_t) * n, all) == 0
                         ? DCTR_OK
                         : dctr_set_error(DCTR_ERR_IO, "collective allgather failed");
    int64_t total = 0;
    for (int32_t q = 0; q < n && st == DCTR_OK; q++) {
        d->counts[q] = all[(size_t)q * (size_t)n + (size_t)me];
        total += d->counts[q];
    }
    dctr_free(all);
    DCTR_TRY(st);
    DCTR_TRY(dctr_dist_reserve_buf(d, (size_t)total + 1));
    if (d->c->alltoallv(d->c->ctx, send, send_counts, d->buf, d->counts) != 0)
        return dctr_set_error(DCTR_ERR_IO, "collective alltoallv failed (a rank left or the "
                              "transport broke)");
    d->c->bytes_received += total - d->counts[me];
    *out = d->buf;
    *recv_counts = d->counts;
    return DCTR_OK;
}

void dctr_shard_release(float *base, int64_t a, int64_t b, int32_t dim) {
    if (!base || b <= a)
        return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = (uintptr_t)(base + a * dim), to = (uintptr_t)(base + b * dim);
    from = (from + page - 1) / page * page; /* whole pages inside the rows only */
    to = to / page * page;
    if (to > from) /* anonymous private memory: the pages read back as zeros, not resident */
        (void)madvise((void *)from, to - from, MADV_DONTNEED);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t dctr_shard_sort_unique(int64_t *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    int64_t u = 0;
    for (int64_t j = 0; j < n; j++)
        if (u == 0 || v[j] != v[u - 1])
            v[u++] = v[j];
    return u;
}
float *dctr_shard_alloc(size_t count) {
    size_t bytes;
    if (!dctr_mul_size(count ? count : 1, sizeof(float), &bytes))
        return NULL;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        dctr_set_error(DCTR_ERR_NOMEM, "sharded model: cannot reserve %zu bytes of address space", bytes);
        return NULL;
    }
#ifdef MADV_NOHUGEPAGE
    (void)madvise(p, bytes, MADV_NOHUGEPAGE); /* a huge page would commit other ranks' rows */
#endif
    return p;
}

void dctr_shard_free(float *p, size_t count) {
    if (p)
        (void)munmap(p, (count ? count : 1) * sizeof(float));
}

int64_t dctr_shard_resident(const float *base, int64_t a, int64_t b, int32_t dim) {
    if (!base || b <= a)
        return 0;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = (uintptr_t)(base + a * dim) / page * page, to = (uintptr_t)(base + b * dim);
    size_t pages = (size_t)((to - from + page - 1) / page);
    int64_t total = 0;
    unsigned char vec[4096];
    for (size_t i = 0; i < pages; i += sizeof vec) { /* a window at a time: no allocation */
        size_t n = pages - i < sizeof vec ? pages - i : sizeof vec;
        if (mincore((void *)(from + i * page), n * page, vec) != 0)
            return -1;
        for (size_t j = 0; j < n; j++)
            total += (vec[j] & 1) ? (int64_t)page : 0;
    }
    return total;
}

static _Atomic int probe_on;
static _Atomic int64_t probe_peak;

void dctr_shard_probe_enable(int on) {
    atomic_store(&probe_peak, 0);
    atomic_store(&probe_on, on);
}

int dctr_shard_probe_on(void) { return atomic_load(&probe_on); }

void dctr_shard_probe_note(int64_t bytes) {
    int64_t cur = atomic_load(&probe_peak);
    while (bytes > cur && !atomic_compare_exchange_weak(&probe_peak, &cur, bytes)) {
    }
}

int64_t dctr_shard_probe_peak(void) { return atomic_load(&probe_peak); }
