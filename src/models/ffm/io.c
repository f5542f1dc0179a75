/* FFM model sections.
 *   "ffm.params": u32 version (1), u8 native, u8 use_linear, u8 normalize, u8 0, i32 fields m,
 *                 i64 features n, i32 k, f32 eta, f32 lambda, then n*m*k f32 weights (unpadded,
 *                 feature-major, then field, then factor), then (use_linear) n f32 + f32 bias.
 *   "ffm.opt":    u32 version (1), i32 m, i64 n, i32 k, then the n*m*k AdaGrad accumulators and
 *                 (use_linear) n + 1 more. Optional: without it training resumes with G = 1.
 *   "ffm.native": u32 version (1), i32 m, then m i32: the nodes per row each field's column of
 *                 a libffm-native model's schema holds (native_rows.c). Optional: written only
 *                 when some field has more than one (a file without it serves one per field,
 *                 so a model with one node per field saves the same bytes as before).
 * Every size is checked against the section length before anything is allocated. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "feature/schema_types.h"
#include "models/ffm/ffm.h"
#include "models/model_internal.h"

#define FFM_IO_VERSION 1u

/* The n*m*k weights (or accumulators) of features [j0, j1), then (at the end) the linear part. */
static void put_rows(dctr_wbuf *b, const dctr_ffm_weights *w, int acc, int64_t j0, int64_t j1) {
    const float *p = w->W + (size_t)j0 * w->row;
    for (int64_t j = j0; j < j1; j++)
        for (int32_t f = 0; f < w->m; f++, p += w->blk)
            dctr_wbuf_f32s(b, p + (acc ? w->kp : 0), (size_t)w->k);
    if (j1 == w->n && w->use_linear) {
        for (int64_t j = 0; j < w->n; j++)
            dctr_wbuf_f32(b, w->lin[2 * j + (acc ? 1 : 0)]);
        dctr_wbuf_f32(b, acc ? w->bias_g : w->bias);
    }
}

static void put_head(dctr_wbuf *b, const dctr_ffm_impl *impl, int acc) {
    const dctr_ffm_weights *w = &impl->w;
    dctr_wbuf_u32(b, FFM_IO_VERSION);
    if (!acc) {
        dctr_wbuf_u8(b, (uint8_t)impl->native);
        dctr_wbuf_u8(b, (uint8_t)w->use_linear);
        dctr_wbuf_u8(b, (uint8_t)impl->normalize);
        dctr_wbuf_u8(b, 0);
    }
    dctr_wbuf_i32(b, w->m);
    dctr_wbuf_i64(b, w->n);
    dctr_wbuf_i32(b, w->k);
    if (!acc) {
        dctr_wbuf_f32(b, impl->eta);
        dctr_wbuf_f32(b, impl->lambda);
    }
}

static uint64_t section_bytes(const dctr_ffm_impl *impl, int acc) {
    const dctr_ffm_weights *w = &impl->w;
    uint64_t head = acc ? 20 : 32;
    uint64_t lin = w->use_linear ? ((uint64_t)w->n + 1) * 4 : 0;
    return head + (uint64_t)w->n * (uint64_t)w->m * (uint64_t)w->k * 4 + lin;
}

/* The sections are produced at save time in slices of features (dctr_cw_add_stream), so a
 * multi-GB model is never copied whole into a buffer: saving adds a few hundred KB to RSS. */
#define SAVE_SLICE_BYTES ((size_t)256 << 10)

static dctr_status produce(const dctr_ffm_impl *impl, int acc, dctr_cw_sink sink, void *sctx) {
    const dctr_ffm_weights *w = &impl->w;
    const size_t per_row = (size_t)w->m * (size_t)w->k * 4;
    const int64_t slice = (int64_t)(SAVE_SLICE_BYTES / per_row > 0 ? SAVE_SLICE_BYTES / per_row : 1);
    dctr_wbuf b;
    dctr_wbuf_init(&b);
    put_head(&b, impl, acc);
    dctr_status s = dctr_wbuf_status(&b);
    if (impl->save_dist) { /* sharded: the rows stream from their owners (shard_io.c) */
        if (s == DCTR_OK)
            s = sink(sctx, b.data, b.len);
        dctr_wbuf_free(&b);
        dctr_status body = dctr_ffm_shard_produce(impl, acc, sink, sctx); /* every rank waits on it */
        return s == DCTR_OK ? body : s;
    }
    for (int64_t j = 0; j < w->n && s == DCTR_OK; j += slice) {
        put_rows(&b, w, acc, j, j + slice < w->n ? j + slice : w->n);
        s = dctr_wbuf_status(&b);
        if (s == DCTR_OK)
            s = sink(sctx, b.data, b.len);
        b.len = 0;
    }
    dctr_wbuf_free(&b);
    return s;
}

static dctr_status produce_params(const void *ctx, dctr_cw_sink sink, void *sctx) {
    return produce(ctx, 0, sink, sctx);
}

static dctr_status produce_opt(const void *ctx, dctr_cw_sink sink, void *sctx) {
    return produce(ctx, 1, sink, sctx);
}

static dctr_status save_native(const dctr_model *model, dctr_container_writer *cw) {
    const dctr_ffm_impl *impl = model->impl;
    int more = 0;
    for (int32_t f = 0; f < model->schema->ncols; f++)
        more |= model->schema->cols[f].maxlen > 1;
    if (!more)
        return DCTR_OK;
    dctr_wbuf b;
    dctr_wbuf_init(&b);
    dctr_wbuf_u32(&b, FFM_IO_VERSION);
    dctr_wbuf_i32(&b, impl->w.m);
    for (int32_t f = 0; f < impl->w.m; f++)
        dctr_wbuf_i32(&b, model->schema->cols[f].maxlen);
    return dctr_model_section_put(cw, "ffm.native", &b);
}

/* After "ffm.params": the libffm-native model's schema from the optional "ffm.native". */
static dctr_status load_native(dctr_model *model, const dctr_container *c) {
    const int32_t m = ((const dctr_ffm_impl *)model->impl)->w.m;
    if (!dctr_container_has(c, "ffm.native"))
        return dctr_ffm_native_attach(model, NULL);
    dctr_rbuf r;
    uint32_t version;
    int32_t m2;
    DCTR_TRY(dctr_container_section(c, "ffm.native", &r));
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "ffm.native version"));
    DCTR_TRY(dctr_rbuf_i32(&r, &m2, "field count"));
    if (version != FFM_IO_VERSION || m2 != m)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.native: version or field count differs from ffm.params");
    DCTR_TRY(dctr_rbuf_need(&r, (uint64_t)m, 4, "ffm.native lengths"));
    int32_t *len = dctr_malloc((size_t)m * sizeof *len);
    if (!len)
        return DCTR_ERR_NOMEM;
    dctr_status s = DCTR_OK;
    for (int32_t f = 0; f < m && s == DCTR_OK; f++)
        s = dctr_rbuf_i32(&r, &len[f], "ffm.native length");
    if (s == DCTR_OK && dctr_rbuf_remaining(&r) != 0)
        s = dctr_set_error(DCTR_ERR_FORMAT, "ffm.native: %zu trailing bytes", dctr_rbuf_remaining(&r));
    if (s == DCTR_OK)
        s = dctr_ffm_native_attach(model, len); /* checks each length */
    dctr_free(len);
    return s;
}

dctr_status dctr_ffm_save_sections(const dctr_model *model, dctr_container_writer *cw, int with_optimizer) {
    const dctr_ffm_impl *impl = model->impl;
    if (!impl->w.W)
        return dctr_set_error(DCTR_ERR_STATE, "FFM save: the model has no weights");
    if (!impl->save_dist)
        DCTR_TRY(dctr_ffm_shard_whole(model, "save"));
    DCTR_TRY(dctr_cw_add_stream(cw, "ffm.params", section_bytes(impl, 0), produce_params, impl));
    if (impl->native)
        DCTR_TRY(save_native(model, cw));
    if (!with_optimizer)
        return DCTR_OK;
    return dctr_cw_add_stream(cw, "ffm.opt", section_bytes(impl, 1), produce_opt, impl);
}

/* Reads n*m*k (+ linear) floats into the weights or accumulators of rows [lo, hi) (a shard's;
 * every row is still checked); rejects non-finite values and negative / zero accumulators. */
static dctr_status get_block(dctr_section_reader *r, dctr_ffm_weights *w, int acc, int64_t lo, int64_t hi) {
    float tmp[1024];
    float *p = w->W;
    /* a row's m k floats per read when they fit tmp (fewer calls), else one block's k */
    const int whole_row = (int64_t)w->m * w->k <= 1024;
    for (int64_t j = 0; j < w->n; j++)
        for (int32_t f = 0; f < w->m; f++, p += w->blk) {
            if (f == 0 || !whole_row)
                DCTR_TRY(dctr_section_f32s(r, tmp, (size_t)(whole_row ? w->m : 1) * (size_t)w->k,
                                           acc ? "FFM accumulators" : "FFM weights"));
            const float *v = whole_row ? tmp + (size_t)f * (size_t)w->k : tmp;
            for (int32_t d = 0; d < w->k; d++)
                if (!isfinite(v[d]) || (acc && !(v[d] > 0)))
                    return dctr_set_error(DCTR_ERR_FORMAT, "%s: invalid %s at feature %lld field %d",
                                          r->win.origin ? r->win.origin : "ffm section",
                                          acc ? "accumulator" : "weight", (long long)j, f);
            if (j < lo || j >= hi)
                continue;
            memcpy(p + (acc ? w->kp : 0), v, (size_t)w->k * sizeof(float));
            for (int32_t d = w->k; d < w->kp; d++)
                p[(acc ? w->kp : 0) + d] = acc ? 1.0f : 0.0f;
        }
    if (w->use_linear) {
        for (int64_t j = 0; j < w->n; j++) {
            float v;
            DCTR_TRY(dctr_section_f32s(r, &v, 1, "FFM linear term"));
            if (!isfinite(v) || (acc && !(v > 0)))
                return dctr_set_error(DCTR_ERR_FORMAT, "ffm section: invalid linear value at %lld",
                                      (long long)j);
            if (j >= lo && j < hi)
                w->lin[2 * j + (acc ? 1 : 0)] = v;
        }
        float v;
        DCTR_TRY(dctr_section_f32s(r, &v, 1, "FFM bias"));
        if (!isfinite(v) || (acc && !(v > 0)))
            return dctr_set_error(DCTR_ERR_FORMAT, "ffm section: invalid bias");
        if (acc)
            w->bias_g = v;
        else
            w->bias = v;
    }
    if (dctr_section_left(r) != 0)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm section: %llu unexpected trailing bytes",
                              (unsigned long long)dctr_section_left(r));
    return DCTR_OK;
}

static dctr_status check_shape(int32_t m, int64_t n, int32_t k, int use_linear, dctr_section_reader *r) {
    if (m < 1 || m > (1 << 24) || n < 1 || n > INT32_MAX || k < 1 || k > 1024)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm section: invalid shape fields=%d features=%lld k=%d",
                              m, (long long)n, k);
    uint64_t count = (uint64_t)n * (uint64_t)m; /* < 2^55 */
    if (count > (UINT64_MAX / 4) / (uint64_t)k)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm section: shape overflows");
    count *= (uint64_t)k;
    if (use_linear)
        count += (uint64_t)n + 1;
    return dctr_section_need(r, count, sizeof(float), "FFM tensor");
}

/* "ffm.params": the head (32 bytes), then the weights; a shard keeps rows [*lo, *hi). */
static dctr_status params_body(dctr_model *model, dctr_section_reader *sr, int64_t *lo, int64_t *hi) {
    dctr_ffm_impl *impl = model->impl;
    dctr_rbuf r;
    uint32_t version;
    uint8_t native, use_linear, normalize, pad;
    int32_t m, k;
    int64_t n;
    float eta, lambda;
    DCTR_TRY(dctr_section_head(sr, 32, &r));
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "ffm.params version"));
    if (version != FFM_IO_VERSION)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.params: unsupported version %u", version);
    DCTR_TRY(dctr_rbuf_u8(&r, &native, "native flag"));
    DCTR_TRY(dctr_rbuf_u8(&r, &use_linear, "linear flag"));
    DCTR_TRY(dctr_rbuf_u8(&r, &normalize, "normalize flag"));
    DCTR_TRY(dctr_rbuf_u8(&r, &pad, "padding"));
    DCTR_TRY(dctr_rbuf_i32(&r, &m, "field count"));
    DCTR_TRY(dctr_rbuf_i64(&r, &n, "feature count"));
    DCTR_TRY(dctr_rbuf_i32(&r, &k, "k"));
    DCTR_TRY(dctr_rbuf_f32(&r, &eta, "eta"));
    DCTR_TRY(dctr_rbuf_f32(&r, &lambda, "lambda"));
    if (native > 1 || use_linear > 1 || normalize > 1 || pad != 0 || !isfinite(eta) || !(eta >= 0) ||
        !isfinite(lambda) || !(lambda >= 0))
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.params: invalid flags or hyper-parameters");
    if ((native != 0) != (model->schema == NULL))
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.params: %s model but the file %s a schema",
                              native ? "libffm-native" : "feature-column", model->schema ? "has" : "lacks");
    DCTR_TRY(check_shape(m, n, k, use_linear, sr));
    if (impl->w.W) {
        if (impl->w.m != m || impl->w.n != n || impl->w.k != k || impl->w.use_linear != use_linear)
            return dctr_set_error(DCTR_ERR_FORMAT,
                                  "ffm.params: shape (%d fields, %lld features, k=%d) does not match "
                                  "the schema's (%d, %lld, k=%d)", m, (long long)n, k, impl->w.m,
                                  (long long)impl->w.n, impl->w.k);
    } else {
        DCTR_TRY(dctr_ffm_weights_alloc(&impl->w, m, n, k, use_linear));
    }
    impl->native = native;
    impl->normalize = normalize;
    impl->eta = eta;
    impl->lambda = lambda;
    model->cfg.ffm_k = k;
    model->cfg.ffm_linear = use_linear;
    model->cfg.ffm_normalize = normalize;
    *lo = 0; /* a shard (dctr_model_load_collective) keeps its own rows */
    *hi = n;
    if (model->shard_size > 1)
        dctr_shard_range(n, model->shard_rank, model->shard_size, lo, hi);
    return get_block(sr, &impl->w, 0, *lo, *hi);
}

/* "ffm.opt": the head (20 bytes, the shape again), then the accumulators of rows [lo, hi). */
static dctr_status opt_body(dctr_model *model, dctr_section_reader *sr, int64_t lo, int64_t hi) {
    dctr_ffm_impl *impl = model->impl;
    dctr_rbuf r;
    uint32_t version;
    int32_t m2, k2;
    int64_t n2;
    DCTR_TRY(dctr_section_head(sr, 20, &r));
    DCTR_TRY(dctr_rbuf_u32(&r, &version, "ffm.opt version"));
    DCTR_TRY(dctr_rbuf_i32(&r, &m2, "field count"));
    DCTR_TRY(dctr_rbuf_i64(&r, &n2, "feature count"));
    DCTR_TRY(dctr_rbuf_i32(&r, &k2, "k"));
    if (version != FFM_IO_VERSION || m2 != impl->w.m || n2 != impl->w.n || k2 != impl->w.k)
        return dctr_set_error(DCTR_ERR_FORMAT, "ffm.opt: version or shape differs from ffm.params");
    DCTR_TRY(check_shape(m2, n2, k2, impl->w.use_linear, sr));
    return get_block(sr, &impl->w, 1, lo, hi);
}

/* The weights sections stream through a bounded buffer (dctr_section_open): a shard loaded from
 * a file-backed container holds its rows, not the file. */
dctr_status dctr_ffm_load_sections(dctr_model *model, const dctr_container *c) {
    dctr_ffm_impl *impl = model->impl;
    dctr_section_reader sr;
    int64_t lo = 0, hi = 0;
    DCTR_TRY(dctr_section_open(c, "ffm.params", 0, &sr));
    DCTR_TRY(dctr_section_end(&sr, params_body(model, &sr, &lo, &hi)));
    if (impl->native)
        DCTR_TRY(load_native(model, c));
    if (!dctr_container_has(c, "ffm.opt")) {
        float *p = impl->w.W + (size_t)lo * impl->w.row;
        for (int64_t j = lo; j < hi; j++)
            for (int32_t f = 0; f < impl->w.m; f++, p += impl->w.blk)
                for (int32_t d = 0; d < impl->w.kp; d++)
                    p[impl->w.kp + d] = 1.0f;
        if (impl->w.use_linear) {
            for (int64_t j = lo; j < hi; j++)
                impl->w.lin[2 * j + 1] = 1.0f;
            impl->w.bias_g = 1.0f;
        }
        return DCTR_OK;
    }
    DCTR_TRY(dctr_section_open(c, "ffm.opt", 0, &sr));
    return dctr_section_end(&sr, opt_body(model, &sr, lo, hi));
}

dctr_status dctr_ffm_check_sections(const dctr_schema *s, const dctr_model_config *cfg, const dctr_container *c) {
    if (!s)
        return DCTR_OK; /* libffm-native: ops->load validates the shape before allocating */
    double rows = 0;
    for (int32_t t = 0; t < s->ntables; t++)
        rows += s->tables[t].vocab_size > 0 ? (double)s->tables[t].vocab_size : 0;
    for (int32_t i = 0; i < s->ncols; i++)
        if (s->cols[i].kind == DCTR_COLUMN_DENSE)
            rows += s->cols[i].dense_dim;
    double k = cfg->ffm_k > 0 ? cfg->ffm_k : 4;
    double need = rows * (double)s->ncols * k * sizeof(float);
    uint64_t have = 0; /* the size only: the payload streams at the load */
    DCTR_TRY(dctr_container_section_size(c, "ffm.params", &have));
    if (need > (double)have)
        return dctr_set_error(DCTR_ERR_FORMAT,
                              "ffm.params: the schema implies %.0f bytes of FFM weights, the section has %llu",
                              need, (unsigned long long)have);
    if (cfg->type == DCTR_MODEL_DEEPFFM)
        return dctr_ffm_deep_check_section(s, cfg, c);
    return DCTR_OK;
}
