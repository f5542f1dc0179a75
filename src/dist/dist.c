/* Agreement, gathers and deterministic sums over the caller's collective table. Sums gather
 * every rank's vector and add them in rank order: the same bits on every rank and in every run
 * with the same rank count (an MPI_Allreduce's order is the library's choice). */
#include "dist/dist.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

#define MSG_BYTES 240 /* an agreement carries each rank's status and the start of its message */

dctr_status dctr_dist_init(dctr_dist *d, dctr_collective *c) {
    memset(d, 0, sizeof *d);
    if (!c || c->struct_size != sizeof *c || !c->allgather || !c->allgatherv || c->size < 1 ||
        c->rank < 0 || c->rank >= c->size)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "collective: struct_size, callbacks, rank and size must be set");
    d->c = c;
    d->counts = dctr_calloc((size_t)c->size, sizeof *d->counts);
    return d->counts ? DCTR_OK : DCTR_ERR_NOMEM;
}

void dctr_dist_release(dctr_dist *d) {
    if (!d)
        return;
    dctr_free(d->counts);
    dctr_free(d->buf);
    dctr_free(d->pack);
    memset(d, 0, sizeof *d);
}

static dctr_status transfer_failed(const char *op) {
    return dctr_set_error(DCTR_ERR_IO, "collective %s failed (a rank left or the transport broke)",
                          op);
}

/* Grows a scratch buffer to at least `bytes` (contents not kept). */
static dctr_status grow_buf(void **buf, size_t *cap, size_t bytes, const char *what) {
    if (bytes <= *cap)
        return DCTR_OK;
    size_t want = bytes + bytes / 2 + 64;
    void *p = dctr_malloc(want);
    if (!p)
        return dctr_set_error(DCTR_ERR_NOMEM, "collective: %zu bytes of %s buffer", want, what);
    dctr_free(*buf);
    *buf = p;
    *cap = want;
    return DCTR_OK;
}

dctr_status dctr_dist_reserve_pack(dctr_dist *d, size_t bytes) {
    return grow_buf(&d->pack, &d->pack_cap, bytes, "send");
}

dctr_status dctr_dist_reserve_buf(dctr_dist *d, size_t bytes) {
    return grow_buf(&d->buf, &d->buf_cap, bytes, "receive");
}

static dctr_status reserve(dctr_dist *d, size_t bytes) { return dctr_dist_reserve_buf(d, bytes); }

static dctr_status gather_fixed(dctr_dist *d, const void *send, int64_t bytes, void *recv) {
    if (d->c->allgather(d->c->ctx, send, bytes, recv) != 0)
        return transfer_failed("allgather");
    d->c->bytes_received += bytes * (d->c->size - 1);
    return DCTR_OK;
}

typedef struct agree_msg {
    int64_t status;
    char text[MSG_BYTES];
} agree_msg;

dctr_status dctr_dist_agree(dctr_dist *d, dctr_status mine, const char *what) {
    agree_msg m;
    memset(&m, 0, sizeof m);
    m.status = mine;
    if (mine != DCTR_OK)
        snprintf(m.text, sizeof m.text, "%s", dctr_last_error());
    if (reserve(d, (size_t)d->c->size * sizeof m) != DCTR_OK)
        return DCTR_ERR_NOMEM;
    agree_msg *all = d->buf;
    DCTR_TRY(gather_fixed(d, &m, (int64_t)sizeof m, all));
    if (mine != DCTR_OK)
        return mine; /* keep this rank's own message */
    for (int32_t r = 0; r < d->c->size; r++) {
        if (all[r].status == DCTR_OK)
            continue;
        all[r].text[MSG_BYTES - 1] = 0;
        return dctr_set_error(DCTR_ERR_IO, "%s: rank %d of %d failed (%s): %s", what, (int)r,
                              (int)d->c->size, dctr_status_name((dctr_status)all[r].status),
                              all[r].text);
    }
    return DCTR_OK;
}

dctr_status dctr_dist_allgather_i64(dctr_dist *d, int64_t value, int64_t *out) {
    return gather_fixed(d, &value, (int64_t)sizeof value, out);
}

dctr_status dctr_dist_gatherv(dctr_dist *d, const void *send, int64_t bytes, const void **out,
                              const int64_t **counts) {
    DCTR_TRY(dctr_dist_allgather_i64(d, bytes, d->counts));
    int64_t total = 0;
    for (int32_t r = 0; r < d->c->size; r++)
        total += d->counts[r];
    DCTR_TRY(reserve(d, (size_t)total + 1));
    if (d->c->allgatherv(d->c->ctx, send, d->counts, d->buf) != 0)
        return transfer_failed("allgatherv");
    d->c->bytes_received += total - bytes;
    *out = d->buf;
    *counts = d->counts;
    return DCTR_OK;
}

dctr_status dctr_dist_sum_f64(dctr_dist *d, double *x, int64_t n) {
    if (d->c->size == 1 || n == 0)
        return DCTR_OK;
    size_t bytes = sizeof(double) * (size_t)n;
    DCTR_TRY(reserve(d, bytes * (size_t)d->c->size));
    const double *all = d->buf;
    DCTR_TRY(gather_fixed(d, x, (int64_t)bytes, d->buf));
    memcpy(x, all, bytes);
    for (int32_t r = 1; r < d->c->size; r++) {
        const double *v = all + (size_t)r * (size_t)n;
        for (int64_t i = 0; i < n; i++)
            x[i] += v[i];
    }
    return DCTR_OK;
}
