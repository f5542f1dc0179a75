/* DeepFM family model-file sections (the generic "meta" and "schema" sections are written by
 * model_io.c; the structure is rebuilt from them, so these sections only carry numbers):
 *   deepfm/params  u64 count, f32[count]   the whole parameter arena (layout: deepfm.h)
 *   deepfm/state   u64 count, f32[count]   BN moving statistics
 *   deepfm/optim   (optional) u32 kind, u32 slots, i64 steps, u64 rng[4], f32[count] per slot */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "models/deepfm_impl.h"

static dctr_status add_floats(dctr_container_writer *cw, const char *name, const float *v, int64_t n) {
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u64(&w, (uint64_t)n);
    dctr_wbuf_f32s(&w, v, (size_t)n);
    dctr_status st = dctr_wbuf_status(&w);
    if (st == DCTR_OK)
        st = dctr_cw_add(cw, name, &w);
    dctr_wbuf_free(&w);
    return st;
}

void dfm_optim_header(const dctr_model *model, dctr_wbuf *w) {
    const dfm *d = model->impl;
    dctr_wbuf_u32(w, (uint32_t)d->opt.kind);
    dctr_wbuf_u32(w, (uint32_t)dctr_optim_slots(&d->opt));
    dctr_wbuf_i64(w, model->steps);
    for (int i = 0; i < 4; i++)
        dctr_wbuf_u64(w, d->drop_rng.s[i]);
}

dctr_status dfm_save(const dctr_model *model, dctr_container_writer *cw, int with_optimizer) {
    const dfm *d = model->impl;
    if (model->shard_size > 1 && !d->save_dist)
        return dctr_set_error(DCTR_ERR_STATE,
                              "model save: this model holds rank %d of %d's rows of sharded tables; "
                              "save it with dctr_model_save_collective on every rank",
                              (int)model->shard_rank, (int)model->shard_size);
    if (d->save_dist) /* sharded, rank 0: the rows stream from their owners (deepfm_shard_io.c) */
        DCTR_TRY(dctr_cw_add_stream(cw, "deepfm/params", 8 + 4 * (uint64_t)d->nparams,
                                    dfm_shard_produce_params, model));
    else
        DCTR_TRY(add_floats(cw, "deepfm/params", d->params, d->nparams));
    DCTR_TRY(add_floats(cw, "deepfm/state", d->state, d->nstate));
    int ns = dctr_optim_slots(&d->opt);
    if (!with_optimizer || (ns > 0 && !d->slots[0]))
        return DCTR_OK; /* never trained: no state to store */
    if (d->save_dist)
        return dctr_cw_add_stream(cw, "deepfm/optim",
                                  DFM_OPTIM_HEADER_BYTES + 4 * (uint64_t)ns * (uint64_t)d->nparams,
                                  dfm_shard_produce_optim, model);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dfm_optim_header(model, &w);
    for (int k = 0; k < ns; k++)
        dctr_wbuf_f32s(&w, d->slots[k], (size_t)d->nparams);
    dctr_status st = dctr_wbuf_status(&w);
    if (st == DCTR_OK)
        st = dctr_cw_add(cw, "deepfm/optim", &w);
    dctr_wbuf_free(&w);
    return st;
}

/* n floats of r into dst; a shard (d->lazy) takes only its rows of every table and the dense
 * tail, so it never commits memory for the other ranks' rows. */
static dctr_status read_arena(const dctr_model *m, dctr_rbuf *r, float *dst, int64_t n, const char *what) {
    const dfm *d = m->impl;
    if (!d->lazy || n != d->nparams)
        return dctr_rbuf_f32s(r, dst, (size_t)n, what);
    DCTR_TRY(dctr_rbuf_need(r, (uint64_t)n, sizeof(float), what));
    const dctr_schema *s = m->schema;
    const size_t start = r->pos;
    for (int32_t t = 0; t < d->ntables; t++) {
        int64_t lo, hi;
        dctr_shard_range(s->tables[t].vocab_size, m->shard_rank, m->shard_size, &lo, &hi);
        const int64_t parts[2][2] = {{d->emb_off[t], s->tables[t].dim}, {d->lin_off[t], 1}};
        for (int p = 0; p < 2; p++) {
            if (parts[p][0] < 0)
                continue;
            r->pos = start + sizeof(float) * (size_t)(parts[p][0] + lo * parts[p][1]);
            DCTR_TRY(dctr_rbuf_f32s(r, dst + parts[p][0] + lo * parts[p][1],
                                    (size_t)((hi - lo) * parts[p][1]), what));
        }
    }
    r->pos = start + sizeof(float) * (size_t)d->dense_begin;
    return dctr_rbuf_f32s(r, dst + d->dense_begin, (size_t)(n - d->dense_begin), what);
}

static dctr_status all_finite(const float *dst, int64_t a, int64_t b, const char *name) {
    for (int64_t i = a; i < b; i++)
        if (!isfinite(dst[i]))
            return dctr_set_error(DCTR_ERR_FORMAT, "section '%s': value %lld is not finite", name,
                                  (long long)i);
    return DCTR_OK;
}

/* Every value of dst a read filled is finite (a shard: its rows and the dense tail). */
static dctr_status check_finite(const dctr_model *m, const float *dst, int64_t n, const char *name) {
    const dfm *d = m->impl;
    if (!d->lazy || n != d->nparams)
        return all_finite(dst, 0, n, name);
    const dctr_schema *s = m->schema;
    for (int32_t t = 0; t < d->ntables; t++) {
        int64_t lo, hi, k = s->tables[t].dim;
        dctr_shard_range(s->tables[t].vocab_size, m->shard_rank, m->shard_size, &lo, &hi);
        if (d->emb_off[t] >= 0)
            DCTR_TRY(all_finite(dst, d->emb_off[t] + lo * k, d->emb_off[t] + hi * k, name));
        if (d->lin_off[t] >= 0)
            DCTR_TRY(all_finite(dst, d->lin_off[t] + lo, d->lin_off[t] + hi, name));
    }
    return all_finite(dst, d->dense_begin, n, name);
}

static dctr_status read_floats(const dctr_model *m, const dctr_container *c, const char *name,
                               float *dst, int64_t n) {
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, name, &r));
    uint64_t count = 0;
    DCTR_TRY(dctr_rbuf_u64(&r, &count, "tensor count"));
    if (count != (uint64_t)n)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "section '%s': %llu floats, the model's structure needs %lld", name,
                              (unsigned long long)count, (long long)n);
    DCTR_TRY(read_arena(m, &r, dst, n, name));
    if (dctr_rbuf_remaining(&r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "section '%s': %zu trailing bytes", name,
                              dctr_rbuf_remaining(&r));
    return check_finite(m, dst, n, name);
}

dctr_status dfm_load(dctr_model *model, const dctr_container *c) {
    dfm *d = model->impl;
    DCTR_TRY(read_floats(model, c, "deepfm/params", d->params, d->nparams));
    DCTR_TRY(read_floats(model, c, "deepfm/state", d->state, d->nstate));
    if (!dctr_container_has(c, "deepfm/optim"))
        return DCTR_OK;
    dctr_rbuf r;
    DCTR_TRY(dctr_container_section(c, "deepfm/optim", &r));
    uint32_t kind = 0, ns = 0;
    int64_t steps = 0;
    DCTR_TRY(dctr_rbuf_u32(&r, &kind, "optimizer kind"));
    DCTR_TRY(dctr_rbuf_u32(&r, &ns, "optimizer slots"));
    DCTR_TRY(dctr_rbuf_i64(&r, &steps, "optimizer steps"));
    if (kind != (uint32_t)d->opt.kind || ns != (uint32_t)dctr_optim_slots(&d->opt) || steps < 0)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "section 'deepfm/optim': optimizer kind %u with %u slots, step %lld "
                              "does not match the model's optimizer", kind, ns, (long long)steps);
    dctr_rng rng;
    for (int i = 0; i < 4; i++)
        DCTR_TRY(dctr_rbuf_u64(&r, &rng.s[i], "dropout rng"));
    DCTR_TRY(dctr_rbuf_need(&r, (uint64_t)ns * (uint64_t)d->nparams, sizeof(float), "optimizer slots"));
    if (dctr_rbuf_remaining(&r) != (size_t)ns * (size_t)d->nparams * sizeof(float))
        return dctr_set_error(DCTR_ERR_FORMAT, "section 'deepfm/optim': wrong size");
    DCTR_TRY(dfm_prepare_training(model, 1));
    for (uint32_t k = 0; k < ns; k++)
        DCTR_TRY(read_arena(model, &r, d->slots[k], d->nparams, "optimizer slot"));
    model->steps = steps;
    d->drop_rng = rng;
    return DCTR_OK;
}
