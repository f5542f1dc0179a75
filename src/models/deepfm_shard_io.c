/* The streamed save of a sharded DeepFM / FM / LR (docs/distributed.md): rank 0 writes the
 * ordinary model file (the same bytes a gather to rank 0 and dctr_model_save write) without ever
 * holding the other ranks' rows. "deepfm/params" and "deepfm/optim" are streamed sections
 * (dctr_cw_add_stream): rank 0 emits the arena in order, its own rows and the replicated dense
 * tail from memory, every other rank's rows in chunks that the owner sends through the
 * personalised exchange (the protocol: src/dist/shard_stream.h). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "dist/shard_stream.h"
#include "feature/schema_types.h"
#include "io/container.h"
#include "models/deepfm_impl.h"
#include "models/model_types.h"

enum { CMD_PARAMS = 1, CMD_OPTIM = 2 }; /* the sections rank 0 asks for (0: done) */

static int cmp_region(const void *a, const void *b) {
    int64_t x = ((const dfm_region *)a)->off, y = ((const dfm_region *)b)->off;
    return (x > y) - (x < y);
}

dctr_status dfm_shard_regions(const dctr_model *m, dfm_region **out, int32_t *n) {
    const dfm *d = m->impl;
    const dctr_schema *s = m->schema;
    dfm_region *rg = dctr_malloc(sizeof *rg * (2 * (size_t)d->ntables + 1));
    if (!rg)
        return DCTR_ERR_NOMEM;
    int32_t nr = 0;
    for (int32_t t = 0; t < d->ntables; t++) {
        if (d->emb_off[t] >= 0)
            rg[nr++] = (dfm_region){d->emb_off[t], s->tables[t].vocab_size, s->tables[t].dim};
        if (d->lin_off[t] >= 0)
            rg[nr++] = (dfm_region){d->lin_off[t], s->tables[t].vocab_size, 1};
    }
    qsort(rg, (size_t)nr, sizeof *rg, cmp_region);
    *out = rg;
    *n = nr;
    return DCTR_OK;
}

/* The arena `a` (parameters or one optimizer slot) in order: each table region's rows from their
 * owners, everything else (the replicated dense tail) from rank 0's memory. Every rank runs the
 * same schedule of exchanges (it depends only on the structure and the rank count). */
static dctr_status stream_array(const dctr_model *m, dctr_dist *dist, const float *a,
                                dctr_shard_out *o) {
    const dfm *d = m->impl;
    dfm_region *rg = NULL;
    int32_t nr = 0;
    DCTR_TRY(dfm_shard_regions(m, &rg, &nr));
    dctr_status st = DCTR_OK;
    int64_t pos = 0;
    for (int32_t i = 0; st == DCTR_OK && i < nr; i++) {
        dctr_shard_put_floats(o, a + pos, rg[i].off - pos);
        st = dctr_shard_stream_rows(dist, rg[i].rows, rg[i].w, NULL, a + rg[i].off, o);
        pos = rg[i].off + rg[i].rows * rg[i].w;
    }
    if (st == DCTR_OK)
        dctr_shard_put_floats(o, a + pos, d->nparams - pos);
    dctr_free(rg);
    return st;
}

dctr_status dfm_shard_produce_params(const void *ctx, dctr_cw_sink sink, void *sink_ctx) {
    const dctr_model *m = ctx;
    const dfm *d = m->impl;
    dctr_shard_out o = {sink, sink_ctx, DCTR_OK};
    DCTR_TRY(dctr_shard_command(d->save_dist, CMD_PARAMS));
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u64(&w, (uint64_t)d->nparams);
    dctr_shard_put_wbuf(&o, &w);
    DCTR_TRY(stream_array(m, d->save_dist, d->params, &o));
    return o.st;
}

dctr_status dfm_shard_produce_optim(const void *ctx, dctr_cw_sink sink, void *sink_ctx) {
    const dctr_model *m = ctx;
    const dfm *d = m->impl;
    dctr_shard_out o = {sink, sink_ctx, DCTR_OK};
    DCTR_TRY(dctr_shard_command(d->save_dist, CMD_OPTIM));
    const int ns = dctr_optim_slots(&d->opt);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dfm_optim_header(m, &w);
    dctr_shard_put_wbuf(&o, &w);
    for (int k = 0; k < ns; k++)
        DCTR_TRY(stream_array(m, d->save_dist, d->slots[k], &o));
    return o.st;
}

/* Rank 0: the dist its streamed sections use while it saves (NULL after). */
static void attach(const dctr_model *m, dctr_dist *dist) {
    ((dfm *)m->impl)->save_dist = dist;
}

/* Ranks other than 0: send their rows for the section rank 0 asks for. */
static dctr_status serve(const dctr_model *m, dctr_dist *dist, int64_t cmd) {
    const dfm *d = m->impl;
    dctr_shard_out o = {NULL, NULL, DCTR_OK};
    if (cmd == CMD_PARAMS)
        DCTR_TRY(stream_array(m, dist, d->params, &o));
    for (int k = 0; cmd == CMD_OPTIM && k < dctr_optim_slots(&d->opt); k++)
        DCTR_TRY(stream_array(m, dist, d->slots[k], &o));
    return DCTR_OK;
}

/* The peak probe during a save: the resident rows do not change, the largest chunk this rank
 * sends or receives (and rank 0's encoding scratch) comes on top. */
static void note_save(const dctr_model *m, const dctr_dist *dist) {
    if (!dctr_shard_probe_on())
        return;
    const dfm *d = m->impl;
    const dctr_schema *s = m->schema;
    int64_t most = 0;
    for (int32_t t = 0; t < d->ntables; t++)
        for (int p = 0; p < 2; p++) {
            if ((p ? d->lin_off[t] : d->emb_off[t]) < 0)
                continue;
            int64_t f = dctr_shard_stream_floats(dist, s->tables[t].vocab_size, p ? 1 : s->tables[t].dim);
            most = f > most ? f : most;
        }
    dfm_shard_note(m, (int64_t)sizeof(float) * most);
}

dctr_status dfm_shard_save(const dctr_model *model, dctr_dist *dist, const char *path,
                           int with_optimizer) {
    note_save(model, dist);
    return dctr_shard_save_run(dist, model, path, with_optimizer, attach, serve);
}
