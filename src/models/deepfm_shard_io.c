/* The streamed save of a sharded DeepFM / FM / LR (docs/distributed.md): rank 0 writes the
 * ordinary model file (the same bytes a gather to rank 0 and dctr_model_save write) without ever
 * holding the other ranks' rows. "deepfm/params" and "deepfm/optim" are streamed sections
 * (dctr_cw_add_stream): rank 0 emits the arena in order, its own rows and the replicated dense
 * tail from memory, every other rank's rows in chunks (CHUNK_MIN..CHUNK_MAX floats) that the owner
 * sends through the personalised exchange. The container runs a producer more than once
 * (checksum, then write), so before each run rank 0 tells the others which section to serve
 * (one allgather), and "done" after the save. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "feature/schema_types.h"
#include "io/container.h"
#include "models/deepfm_impl.h"
#include "models/model_types.h"

/* A chunk: 1/16 of a rank's share of the table, within [256 KiB, 16 MiB]: what a save holds
 * beyond the rank's rows stays a small fraction of them, and large tables take few exchanges. */
#define CHUNK_MIN ((int64_t)64 * 1024)
#define CHUNK_MAX ((int64_t)4 * 1024 * 1024)

enum { CMD_DONE = 0, CMD_PARAMS = 1, CMD_OPTIM = 2 };

/* Where rank 0's bytes go; sink NULL on the other ranks. After a sink failure the data is
 * dropped but the exchanges go on, so no rank is left waiting. */
typedef struct out {
    dctr_cw_sink sink;
    void *ctx;
    dctr_status st;
} out;

#define ENCODE_FLOATS ((int64_t)16 * 1024) /* 64 KiB of encoding scratch */

static void put_floats(out *o, const float *v, int64_t n) {
    for (int64_t i = 0; o->sink && o->st == DCTR_OK && i < n; i += ENCODE_FLOATS) {
        dctr_wbuf w; /* the file's float encoding, a piece at a time */
        dctr_wbuf_init(&w);
        dctr_wbuf_f32s(&w, v + i, (size_t)(n - i < ENCODE_FLOATS ? n - i : ENCODE_FLOATS));
        o->st = dctr_wbuf_status(&w);
        if (o->st == DCTR_OK)
            o->st = o->sink(o->ctx, w.data, w.len);
        dctr_wbuf_free(&w);
    }
}

static void put_wbuf(out *o, dctr_wbuf *w) {
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

/* Rows [lo, hi) (w floats each) of the array at base, owned by rank q > 0, to rank 0's sink. */
static dctr_status from_owner(dctr_dist *dist, const float *base, int64_t lo, int64_t hi, int64_t w,
                              int32_t q, int64_t *counts, out *o) {
    const int32_t me = dist->c->rank, size = dist->c->size;
    const int64_t per = chunk_rows(hi - lo, w);
    for (int64_t r = lo; r < hi; r += per) {
        const int64_t n = hi - r < per ? hi - r : per;
        for (int32_t p = 0; p < size; p++)
            counts[p] = me == q && p == 0 ? n * w * (int64_t)sizeof(float) : 0;
        const void *in;
        const int64_t *in_counts;
        DCTR_TRY(dctr_dist_alltoallv(dist, base + r * w, counts, &in, &in_counts));
        if (me == 0) /* only q sent: its block is first */
            put_floats(o, in, n * w);
    }
    return DCTR_OK;
}

typedef struct region {
    int64_t off, rows, w;
} region;

static int cmp_region(const void *a, const void *b) {
    int64_t x = ((const region *)a)->off, y = ((const region *)b)->off;
    return (x > y) - (x < y);
}

/* The arena `a` (parameters or one optimizer slot) in order: each table region's rows from their
 * owners, everything else (the replicated dense tail) from rank 0's memory. Every rank runs the
 * same schedule of exchanges (it depends only on the structure and the rank count). */
static dctr_status stream_array(const dctr_model *m, dctr_dist *dist, const float *a, out *o) {
    const dfm *d = m->impl;
    const dctr_schema *s = m->schema;
    region *rg = dctr_malloc(sizeof *rg * (2 * (size_t)d->ntables + 1));
    int64_t *counts = dctr_calloc((size_t)dist->c->size, sizeof *counts);
    dctr_status st = rg && counts ? DCTR_OK : DCTR_ERR_NOMEM;
    int32_t nr = 0;
    for (int32_t t = 0; st == DCTR_OK && t < d->ntables; t++) {
        if (d->emb_off[t] >= 0)
            rg[nr++] = (region){d->emb_off[t], s->tables[t].vocab_size, s->tables[t].dim};
        if (d->lin_off[t] >= 0)
            rg[nr++] = (region){d->lin_off[t], s->tables[t].vocab_size, 1};
    }
    if (st == DCTR_OK)
        qsort(rg, (size_t)nr, sizeof *rg, cmp_region);
    int64_t pos = 0;
    for (int32_t i = 0; st == DCTR_OK && i < nr; i++) {
        put_floats(o, a + pos, rg[i].off - pos);
        for (int32_t q = 0; st == DCTR_OK && q < dist->c->size; q++) {
            int64_t lo, hi;
            dctr_shard_range(rg[i].rows, q, dist->c->size, &lo, &hi);
            if (q == 0)
                put_floats(o, a + rg[i].off + lo * rg[i].w, (hi - lo) * rg[i].w);
            else
                st = from_owner(dist, a + rg[i].off, lo, hi, rg[i].w, q, counts, o);
        }
        pos = rg[i].off + rg[i].rows * rg[i].w;
    }
    if (st == DCTR_OK)
        put_floats(o, a + pos, d->nparams - pos);
    dctr_free(rg);
    dctr_free(counts);
    return st;
}

/* Rank 0 names the section the others serve next (CMD_DONE: the save is over). */
static dctr_status command(dctr_dist *dist, int64_t cmd) {
    return dctr_dist_allgather_i64(dist, cmd, dist->counts);
}

dctr_status dfm_shard_produce_params(const void *ctx, dctr_cw_sink sink, void *sink_ctx) {
    const dctr_model *m = ctx;
    const dfm *d = m->impl;
    out o = {sink, sink_ctx, DCTR_OK};
    DCTR_TRY(command(d->save_dist, CMD_PARAMS));
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u64(&w, (uint64_t)d->nparams);
    put_wbuf(&o, &w);
    DCTR_TRY(stream_array(m, d->save_dist, d->params, &o));
    return o.st;
}

dctr_status dfm_shard_produce_optim(const void *ctx, dctr_cw_sink sink, void *sink_ctx) {
    const dctr_model *m = ctx;
    const dfm *d = m->impl;
    out o = {sink, sink_ctx, DCTR_OK};
    DCTR_TRY(command(d->save_dist, CMD_OPTIM));
    const int ns = dctr_optim_slots(&d->opt);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dfm_optim_header(m, &w);
    put_wbuf(&o, &w);
    for (int k = 0; k < ns; k++)
        DCTR_TRY(stream_array(m, d->save_dist, d->slots[k], &o));
    return o.st;
}

/* Ranks other than 0: send their rows for each section rank 0 asks for, until it is done. */
static dctr_status serve(const dctr_model *m, dctr_dist *dist) {
    const dfm *d = m->impl;
    out o = {NULL, NULL, DCTR_OK};
    for (;;) {
        DCTR_TRY(command(dist, CMD_DONE));
        const int64_t cmd = dist->counts[0];
        if (cmd == CMD_DONE)
            return DCTR_OK;
        if (cmd == CMD_PARAMS)
            DCTR_TRY(stream_array(m, dist, d->params, &o));
        for (int k = 0; cmd == CMD_OPTIM && k < dctr_optim_slots(&d->opt); k++)
            DCTR_TRY(stream_array(m, dist, d->slots[k], &o));
    }
}

/* The peak probe during a save: the resident rows do not change, the largest chunk this rank
 * sends or receives (and rank 0's encoding scratch) comes on top. */
static void note_save(const dctr_model *m, const dctr_dist *dist) {
    if (!dctr_shard_probe_on())
        return;
    const dfm *d = m->impl;
    const dctr_schema *s = m->schema;
    const int32_t me = dist->c->rank;
    int64_t most = 0;
    for (int32_t t = 0; t < d->ntables; t++)
        for (int p = 0; p < 2; p++) {
            const int64_t w = p ? 1 : s->tables[t].dim;
            if ((p ? d->lin_off[t] : d->emb_off[t]) < 0)
                continue;
            for (int32_t q = 1; q < dist->c->size; q++) {
                int64_t lo, hi;
                dctr_shard_range(s->tables[t].vocab_size, q, dist->c->size, &lo, &hi);
                int64_t rows = chunk_rows(hi - lo, w);
                rows = rows < hi - lo ? rows : hi - lo;
                if (me == 0 || me == q)
                    most = rows * w > most ? rows * w : most;
            }
        }
    dfm_shard_note(m, (int64_t)sizeof(float) * (most + (me == 0 ? ENCODE_FLOATS : 0)));
}

dctr_status dfm_shard_save(const dctr_model *model, dctr_dist *dist, const char *path,
                           int with_optimizer) {
    dfm *d = model->impl;
    dctr_status st;
    note_save(model, dist);
    if (dist->c->rank == 0) {
        d->save_dist = dist;
        st = dctr_model_save(model, path, with_optimizer);
        d->save_dist = NULL;
        dctr_status done = command(dist, CMD_DONE);
        st = st == DCTR_OK ? done : st;
    } else {
        st = serve(model, dist);
    }
    return dctr_dist_agree(dist, st, "saving the model");
}
