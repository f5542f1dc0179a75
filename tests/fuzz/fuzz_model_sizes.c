/* libFuzzer target, structure-aware: the fuzzer's bytes choose the *declared sizes* of a model
 * file (columns, vocabulary sizes, embedding dims, dense dims, varlen maxlen, table sharing,
 * hidden units, the weight section's element count) from a dictionary of edge values (0, 1,
 * 2^31 - 1, 2^32, 2^40, 2^62, INT64_MAX, negatives, ...) and from raw bytes; the file is then
 * written with the library's own writers (valid checksums), so every mutation reaches the
 * size arithmetic of the loader instead of dying at a CRC. A file must fail to load with an
 * error or load as a model that saves; nothing may allocate from an unchecked size (ASan aborts
 * on an allocation above its limit) or write past a buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "deepctr/deepctr.h"
#include "feature/schema_io.h"
#include "feature/schema_types.h"
#include "io/container.h"
#include "models/model_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size);

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static uint8_t take8(cursor *c) {
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

static uint64_t take64(cursor *c) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)take8(c) << (8 * i);
    return v;
}

/* A size: an edge value, a small value, or 8 raw bytes. */
static int64_t take_size(cursor *c) {
    static const int64_t edges[] = {0, 1, 2, 3, 4, 8, 255, 65535, 65536, 65537, INT32_MAX,
                                    (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 38,
                                    (int64_t)1 << 40, ((int64_t)1 << 40) + 1, (int64_t)1 << 56,
                                    (int64_t)1 << 62, INT64_MAX, -1, INT64_MIN};
    uint8_t sel = take8(c);
    if (sel < 128)
        return edges[sel % (sizeof edges / sizeof edges[0])];
    if (sel < 224)
        return take8(c) + 1;
    return (int64_t)take64(c);
}

static dctr_schema *build_schema(cursor *c) {
    dctr_schema *s = NULL;
    if (dctr_schema_new(&s) != DCTR_OK)
        return NULL;
    int ncols = 1 + take8(c) % 12;
    int wide = take8(c) % 8 == 0; /* sometimes hundreds of columns sharing declared sizes */
    if (wide)
        ncols = 1 + (take8(c) | (take8(c) << 8)) % 1024;
    for (int i = 0; i < ncols; i++) {
        char name[16], emb[16];
        snprintf(name, sizeof name, "c%d", i);
        uint8_t kind = (uint8_t)((wide ? i : take8(c)) % 3);
        dctr_status st;
        if (kind == 0) {
            dctr_dense_feat d;
            dctr_dense_feat_default(&d, name);
            st = dctr_schema_add_dense(s, &d);
        } else {
            dctr_varlen_feat v;
            dctr_varlen_feat_default(&v, name, 2);
            dctr_sparse_feat_default(&v.sparse, name);
            v.sparse.use_hash = 1;
            v.sparse.vocabulary_size = 16;
            snprintf(emb, sizeof emb, "t%d", wide ? 0 : take8(c) % 4);
            v.sparse.embedding_name = emb;
            st = kind == 1 ? dctr_schema_add_sparse(s, &v.sparse) : dctr_schema_add_varlen(s, &v);
        }
        if (st != DCTR_OK)
            break;
    }
    if (dctr_schema_validate(s) != DCTR_OK || dctr_schema_fit_none(s) != DCTR_OK) {
        dctr_schema_free(s);
        return NULL;
    }
    /* now the declared sizes, past any API validation: what a crafted file can say */
    int64_t shared_v = take_size(c), shared_k = take_size(c);
    for (int32_t i = 0; i < s->ncols; i++) {
        dctr_column *col = &s->cols[i];
        int64_t v = wide ? shared_v : take_size(c), k = wide ? shared_k : take_size(c);
        if (col->kind == DCTR_COLUMN_DENSE) {
            col->dense_dim = (int32_t)k;
            continue;
        }
        col->requested_vocab = col->vocab_size = v;
        col->requested_dim = (int32_t)k;
        if (col->kind == DCTR_COLUMN_VARLEN)
            col->maxlen = (int32_t)take_size(c);
    }
    return s;
}

static uint8_t *build_file(cursor *c, size_t *size) {
    dctr_schema *s = build_schema(c);
    if (!s)
        return NULL;
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, (dctr_model_type)(take8(c) % 3)); /* DeepFM, FM, LR */
    int32_t units[4];
    cfg.num_hidden = take8(c) % 5;
    for (int i = 0; i < cfg.num_hidden; i++)
        units[i] = (int32_t)take_size(c);
    cfg.hidden_units = units;
    dctr_container_writer *cw = NULL;
    uint8_t *out = NULL;
    dctr_wbuf w;
    if (dctr_cw_new(&cw) != DCTR_OK)
        goto done;
    dctr_wbuf_init(&w);
    int ok = dctr_model_meta_write(&cfg, 0, &w) == DCTR_OK && dctr_cw_add(cw, "meta", &w) == DCTR_OK;
    dctr_wbuf_free(&w);
    dctr_wbuf_init(&w);
    ok = ok && dctr_schema_write(s, &w) == DCTR_OK && dctr_cw_add(cw, "schema", &w) == DCTR_OK;
    dctr_wbuf_free(&w);
    /* the weights: a declared count and up to 64 floats actually present */
    dctr_wbuf_init(&w);
    int64_t declared = take_size(c);
    size_t present = take8(c) % 65;
    float few[64] = {0};
    dctr_wbuf_u64(&w, (uint64_t)declared);
    dctr_wbuf_f32s(&w, few, present);
    ok = ok && dctr_cw_add(cw, "deepfm/params", &w) == DCTR_OK;
    dctr_wbuf_free(&w);
    void *buf = NULL;
    if (ok && dctr_cw_to_memory(cw, &buf, size) == DCTR_OK)
        out = buf;
done:
    dctr_cw_free(cw);
    dctr_schema_free(s);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    cursor c = {input, input_size};
    size_t size = 0;
    uint8_t *file = build_file(&c, &size);
    if (!file)
        return 0;
    dctr_model *m = NULL;
    dctr_status st = dctr_model_load_from_memory(file, size, &m);
    dctr_free(file);
    if (st != DCTR_OK) {
        if (m || !dctr_last_error()[0])
            abort(); /* a failure returns no model and says why */
        return 0;
    }
    void *a = NULL;
    size_t na = 0;
    if (dctr_model_save_to_memory(m, 0, &a, &na) != DCTR_OK)
        abort(); /* a loaded model must save */
    dctr_free_buffer(a);
    dctr_model_free(m);
    return 0;
}
