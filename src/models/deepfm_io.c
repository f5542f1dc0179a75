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

/* n floats of the section into dst; a shard (d->lazy) keeps only its rows of every table and
 * the dense tail, reading past the rest in order (the file streams through a bounded buffer), so
 * it never commits memory for the other ranks' rows. */
static dctr_status read_arena(const dctr_model *m, dctr_section_reader *r, float *dst, int64_t n,
                              const char *what) {
    const dfm *d = m->impl;
    if (!d->lazy || n != d->nparams)
        return dctr_section_f32s(r, dst, (size_t)n, what);
    DCTR_TRY(dctr_section_need(r, (uint64_t)n, sizeof(float), what));
    dfm_region *rg = NULL;
    int32_t nr = 0;
    DCTR_TRY(dfm_shard_regions(m, &rg, &nr));
    dctr_status st = DCTR_OK;
    int64_t pos = 0; /* the arena element the reader is at */
    for (int32_t i = 0; st == DCTR_OK && i < nr; i++) {
        int64_t lo, hi;
        dctr_shard_range(rg[i].rows, m->shard_rank, m->shard_size, &lo, &hi);
        const int64_t a = rg[i].off + lo * rg[i].w, b = rg[i].off + hi * rg[i].w;
        st = dctr_section_f32s(r, NULL, (size_t)(a - pos), what);
        if (st == DCTR_OK)
            st = dctr_section_f32s(r, dst + a, (size_t)(b - a), what);
        pos = b;
    }
    dctr_free(rg);
    if (st == DCTR_OK && pos > d->dense_begin)
        st = dctr_set_error(DCTR_ERR_INTERNAL, "%s: a table region lies in the dense tail", what);
    if (st == DCTR_OK)
        st = dctr_section_f32s(r, NULL, (size_t)(d->dense_begin - pos), what);
    if (st == DCTR_OK)
        st = dctr_section_f32s(r, dst + d->dense_begin, (size_t)(n - d->dense_begin), what);
    return st;
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

static dctr_status floats_body(const dctr_model *m, dctr_section_reader *r, const char *name,
                               float *dst, int64_t n) {
    dctr_rbuf h;
    uint64_t count = 0;
    DCTR_TRY(dctr_section_head(r, 8, &h));
    DCTR_TRY(dctr_rbuf_u64(&h, &count, "tensor count"));
    if (count != (uint64_t)n)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "section '%s': %llu floats, the model's structure needs %lld", name,
                              (unsigned long long)count, (long long)n);
    DCTR_TRY(read_arena(m, r, dst, n, name));
    if (dctr_section_left(r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "section '%s': %llu trailing bytes", name,
                              (unsigned long long)dctr_section_left(r));
    return DCTR_OK;
}

static dctr_status read_floats(const dctr_model *m, const dctr_container *c, const char *name,
                               float *dst, int64_t n) {
    dctr_section_reader r;
    DCTR_TRY(dctr_section_open(c, name, 0, &r));
    DCTR_TRY(dctr_section_end(&r, floats_body(m, &r, name, dst, n)));
    return check_finite(m, dst, n, name);
}

/* "deepfm/optim": the header (kind, slots, steps, dropout stream), then each slot's arena. */
static dctr_status optim_body(dctr_model *model, dctr_section_reader *r) {
    dfm *d = model->impl;
    dctr_rbuf h;
    uint32_t kind = 0, ns = 0;
    int64_t steps = 0;
    DCTR_TRY(dctr_section_head(r, DFM_OPTIM_HEADER_BYTES, &h));
    DCTR_TRY(dctr_rbuf_u32(&h, &kind, "optimizer kind"));
    DCTR_TRY(dctr_rbuf_u32(&h, &ns, "optimizer slots"));
    DCTR_TRY(dctr_rbuf_i64(&h, &steps, "optimizer steps"));
    if (kind != (uint32_t)d->opt.kind || ns != (uint32_t)dctr_optim_slots(&d->opt) || steps < 0)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "section 'deepfm/optim': optimizer kind %u with %u slots, step %lld "
                              "does not match the model's optimizer", kind, ns, (long long)steps);
    dctr_rng rng;
    for (int i = 0; i < 4; i++)
        DCTR_TRY(dctr_rbuf_u64(&h, &rng.s[i], "dropout rng"));
    DCTR_TRY(dctr_section_need(r, (uint64_t)ns * (uint64_t)d->nparams, sizeof(float), "optimizer slots"));
    if (dctr_section_left(r) != (uint64_t)ns * (uint64_t)d->nparams * sizeof(float))
        return dctr_set_error(DCTR_ERR_FORMAT, "section 'deepfm/optim': wrong size");
    DCTR_TRY(dfm_prepare_training(model, 1));
    for (uint32_t k = 0; k < ns; k++)
        DCTR_TRY(read_arena(model, r, d->slots[k], d->nparams, "optimizer slot"));
    model->steps = steps;
    d->drop_rng = rng;
    return DCTR_OK;
}

dctr_status dfm_load(dctr_model *model, const dctr_container *c) {
    dfm *d = model->impl;
    DCTR_TRY(read_floats(model, c, "deepfm/params", d->params, d->nparams));
    DCTR_TRY(read_floats(model, c, "deepfm/state", d->state, d->nstate));
    if (!dctr_container_has(c, "deepfm/optim"))
        return DCTR_OK;
    dctr_section_reader r;
    DCTR_TRY(dctr_section_open(c, "deepfm/optim", 0, &r));
    return dctr_section_end(&r, optim_body(model, &r));
}
