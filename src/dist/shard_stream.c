/* Streams sharded tables from their owners into rank 0's model file (shard_stream.h). */
#include "dist/shard_stream.h"

#include "core/alloc.h"
#include "core/error.h"
#include "deepctr/model.h"
#include "models/model_types.h"

/* A chunk: 1/16 of a rank's share of the table, within [256 KiB, 16 MiB]: what a save holds
 * beyond the rank's rows stays a small fraction of them, and large tables take few exchanges. */
#define CHUNK_MIN ((int64_t)64 * 1024)
#define CHUNK_MAX ((int64_t)4 * 1024 * 1024)

void dctr_shard_put_floats(dctr_shard_out *o, const float *v, int64_t n) {
    for (int64_t i = 0; o->sink && o->st == DCTR_OK && i < n; i += DCTR_SHARD_ENCODE_FLOATS) {
        dctr_wbuf w; /* the file's float encoding, a piece at a time */
        dctr_wbuf_init(&w);
        int64_t c = n - i < DCTR_SHARD_ENCODE_FLOATS ? n - i : DCTR_SHARD_ENCODE_FLOATS;
        dctr_wbuf_f32s(&w, v + i, (size_t)c);
        o->st = dctr_wbuf_status(&w);
        if (o->st == DCTR_OK)
            o->st = o->sink(o->ctx, w.data, w.len);
        dctr_wbuf_free(&w);
    }
}

void dctr_shard_put_wbuf(dctr_shard_out *o, dctr_wbuf *w) {
    if (o->sink && o->st == DCTR_OK)
        o->st = dctr_wbuf_status(w);
    if (o->sink && o->st == DCTR_OK)
        o->st = o->sink(o->ctx, w->data, w->len);
    dctr_wbuf_free(w);
}

/* Rows a chunk of an owner's n rows of width w carries. */
static int64_t chunk_rows(int64_t n, int64_t w) {
    int64_t floats = n * w / 16;
    floats = floats < CHUNK_MIN ? CHUNK_MIN : floats > CHUNK_MAX ? CHUNK_MAX : floats;
    return floats / w > 0 ? floats / w : 1;
}

/* Chunk [r, r + n) of q's rows: packed by q (pack set), sent from memory otherwise. */
static const float *chunk_of(dctr_dist *dist, int64_t r, int64_t n, int64_t w,
                             dctr_shard_pack_fn pack, const void *ctx, dctr_status *st) {
    if (!pack)
        return (const float *)ctx + r * w;
    *st = dctr_dist_reserve_pack(dist, sizeof(float) * (size_t)(n * w) + 1);
    if (*st != DCTR_OK)
        return NULL;
    pack(ctx, r, r + n, dist->pack);
    return dist->pack;
}

/* Rows [lo, hi) owned by rank q to rank 0's sink, a chunk at a time. A rank whose pack fails
 * goes on through the schedule (sending nothing), so no rank is left waiting; rank 0 then fails
 * the sink. */
static dctr_status from_owner(dctr_dist *dist, int32_t q, int64_t lo, int64_t hi, int64_t w,
                              dctr_shard_pack_fn pack, const void *ctx, int64_t *counts,
                              dctr_shard_out *o, dctr_status *failed) {
    const int32_t me = dist->c->rank, size = dist->c->size;
    const int64_t per = chunk_rows(hi - lo, w);
    for (int64_t r = lo; r < hi; r += per) {
        const int64_t n = hi - r < per ? hi - r : per, bytes = n * w * (int64_t)sizeof(float);
        dctr_status st = DCTR_OK;
        const float *send = me == q ? chunk_of(dist, r, n, w, pack, ctx, &st) : NULL;
        *failed = *failed == DCTR_OK ? st : *failed;
        if (q == 0) { /* rank 0's own rows: no exchange */
            if (me == 0 && st == DCTR_OK)
                dctr_shard_put_floats(o, send, n * w);
            continue;
        }
        for (int32_t p = 0; p < size; p++)
            counts[p] = me == q && p == 0 && st == DCTR_OK ? bytes : 0;
        const void *in;
        const int64_t *in_counts;
        DCTR_TRY(dctr_dist_alltoallv(dist, send ? (const void *)send : (const void *)counts, counts,
                                     &in, &in_counts));
        if (me == 0 && in_counts[q] != bytes && o->st == DCTR_OK)
            o->st = dctr_set_error(DCTR_ERR_IO, "streamed save: rank %d could not send its rows",
                                   (int)q);
        if (me == 0) /* only q sent: its block is first */
            dctr_shard_put_floats(o, in, n * w);
    }
    if (me == 0 && *failed != DCTR_OK && o->st == DCTR_OK)
        o->st = *failed;
    return DCTR_OK; /* only a broken exchange stops the schedule */
}

dctr_status dctr_shard_stream_rows(dctr_dist *dist, int64_t V, int64_t w, dctr_shard_pack_fn pack,
                                   const void *ctx, dctr_shard_out *o) {
    int64_t *counts = dctr_calloc((size_t)dist->c->size, sizeof *counts);
    if (!counts)
        return DCTR_ERR_NOMEM;
    dctr_status st = DCTR_OK, failed = DCTR_OK;
    for (int32_t q = 0; st == DCTR_OK && q < dist->c->size; q++) {
        int64_t lo, hi;
        dctr_shard_range(V, q, dist->c->size, &lo, &hi);
        st = from_owner(dist, q, lo, hi, w, pack, ctx, counts, o, &failed);
    }
    dctr_free(counts);
    return st == DCTR_OK ? failed : st;
}

int64_t dctr_shard_stream_floats(const dctr_dist *dist, int64_t V, int64_t w) {
    const int32_t me = dist->c->rank;
    int64_t most = 0;
    for (int32_t q = 0; q < dist->c->size; q++) {
        int64_t lo, hi;
        dctr_shard_range(V, q, dist->c->size, &lo, &hi);
        int64_t rows = chunk_rows(hi - lo, w);
        rows = rows < hi - lo ? rows : hi - lo;
        if (me == 0 || me == q)
            most = rows * w > most ? rows * w : most;
    }
    return most + (me == 0 ? DCTR_SHARD_ENCODE_FLOATS : 0);
}

dctr_status dctr_shard_command(dctr_dist *dist, int64_t cmd) {
    return dctr_dist_allgather_i64(dist, cmd, dist->counts);
}

dctr_status dctr_shard_save_run(dctr_dist *dist, const struct dctr_model *m, const char *path,
                                int with_optimizer, dctr_shard_attach_fn attach,
                                dctr_shard_serve_fn serve) {
    dctr_status st = DCTR_OK;
    if (dist->c->rank == 0) { /* the ordinary save, whose streamed sections pull the rows */
        attach(m, dist);
        st = dctr_model_save(m, path, with_optimizer);
        attach(m, NULL);
        dctr_status done = dctr_shard_command(dist, 0);
        st = st == DCTR_OK ? done : st;
    } else {
        for (;;) { /* until rank 0 is done; a failed section still ran its whole schedule */
            dctr_status cs = dctr_shard_command(dist, 0);
            if (cs != DCTR_OK || dist->counts[0] == 0) {
                st = st == DCTR_OK ? cs : st;
                break;
            }
            dctr_status ss = serve(m, dist, dist->counts[0]);
            st = st == DCTR_OK ? ss : st;
        }
    }
    return dctr_dist_agree(dist, st, "saving the model");
}

dctr_status dctr_shard_gather_save(struct dctr_model *model, dctr_collective *coll,
                                   dctr_status (*gather)(struct dctr_model *m),
                                   void (*release)(struct dctr_model *m, int with_slots),
                                   const char *path, int with_optimizer) {
    dctr_dist dist;
    DCTR_TRY(dctr_dist_init(&dist, coll));
    model->dist = &dist;
    dctr_status st = gather(model);
    const int32_t size = model->shard_size;
    if (st == DCTR_OK && coll->rank == 0) { /* rank 0 now holds the whole model */
        model->shard_size = 0;
        st = dctr_model_save(model, path, with_optimizer);
        model->shard_size = size;
    }
    release(model, 1);
    model->dist = NULL;
    st = dctr_dist_agree(&dist, st, "gather and save");
    dctr_dist_release(&dist);
    return st;
}
