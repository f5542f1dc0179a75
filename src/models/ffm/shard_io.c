/* The streamed save of a sharded FFM / DeepFFM (docs/distributed.md): rank 0 writes the ordinary
 * model file (the bytes a gather and dctr_model_save write) without holding the other ranks'
 * rows. "ffm.params" / "ffm.opt" (io.c) are streamed sections: after the head, rank 0 asks the
 * others to serve the section (src/dist/shard_stream.h), then the rows' m k weights (or
 * accumulators) come in row order from their owners, then the linear part likewise, then the
 * replicated bias. The DNN of DeepFFM is replicated: rank 0 writes it from its memory. */
#include "core/error.h"
#include "dist/shard_stream.h"
#include "models/ffm/dist.h"
#include "models/ffm/ffm.h"

enum { CMD_PARAMS = 1, CMD_OPT = 2 }; /* the sections rank 0 asks for (0: done) */

typedef struct pack_ctx {
    const dctr_ffm_weights *w;
    int acc; /* the accumulator half of each block (and of each linear pair) */
} pack_ctx;

/* Rows [a, b): the file's unpadded m k floats of each, feature-major then field. */
static void pack_rows(const void *p, int64_t a, int64_t b, float *out) {
    const pack_ctx *c = p;
    const dctr_ffm_weights *w = c->w;
    const float *blk = w->W + (size_t)a * w->row + (c->acc ? (size_t)w->kp : 0);
    for (int64_t j = a; j < b; j++)
        for (int32_t f = 0; f < w->m; f++, blk += w->blk)
            for (int32_t d = 0; d < w->k; d++)
                *out++ = blk[d];
}

static void pack_linear(const void *p, int64_t a, int64_t b, float *out) {
    const pack_ctx *c = p;
    for (int64_t j = a; j < b; j++)
        *out++ = c->w->lin[2 * j + (c->acc ? 1 : 0)];
}

/* A section's body on every rank (rank 0's o writes, the others' drops). */
static dctr_status stream_section(const dctr_ffm_weights *w, dctr_dist *dist, int acc,
                                  dctr_shard_out *o) {
    pack_ctx c = {w, acc};
    DCTR_TRY(dctr_shard_stream_rows(dist, w->n, (int64_t)w->m * w->k, pack_rows, &c, o));
    if (!w->use_linear)
        return DCTR_OK;
    DCTR_TRY(dctr_shard_stream_rows(dist, w->n, 1, pack_linear, &c, o));
    const float bias = acc ? w->bias_g : w->bias;
    dctr_shard_put_floats(o, &bias, 1);
    return DCTR_OK;
}

dctr_status dctr_ffm_shard_produce(const dctr_ffm_impl *impl, int acc, dctr_cw_sink sink, void *sctx) {
    dctr_shard_out o = {sink, sctx, DCTR_OK};
    DCTR_TRY(dctr_shard_command(impl->save_dist, acc ? CMD_OPT : CMD_PARAMS));
    DCTR_TRY(stream_section(&impl->w, impl->save_dist, acc, &o));
    return o.st;
}

/* Rank 0: the dist its streamed sections use while it saves (NULL after). */
static void attach(const dctr_model *m, dctr_dist *dist) {
    ((dctr_ffm_impl *)m->impl)->save_dist = dist;
}

/* Ranks other than 0: send their rows for the section rank 0 asks for. */
static dctr_status serve(const dctr_model *m, dctr_dist *dist, int64_t cmd) {
    const dctr_ffm_impl *impl = m->impl;
    dctr_shard_out o = {NULL, NULL, DCTR_OK};
    if (cmd != CMD_PARAMS && cmd != CMD_OPT)
        return dctr_set_error(DCTR_ERR_INTERNAL, "streamed FFM save: unknown section %lld", (long long)cmd);
    return stream_section(&impl->w, dist, cmd == CMD_OPT, &o);
}

dctr_status dctr_ffm_shard_save(const dctr_model *model, dctr_dist *dist, const char *path,
                                int with_optimizer) {
    const dctr_ffm_weights *w = &((const dctr_ffm_impl *)model->impl)->w;
    /* the peak: the resident rows plus the largest chunk in flight (and the encoding scratch) */
    dctr_ffm_shard_note(model, (int64_t)sizeof(float) *
                                   dctr_shard_stream_floats(dist, w->n, (int64_t)w->m * w->k));
    return dctr_shard_save_run(dist, model, path, with_optimizer, attach, serve);
}
