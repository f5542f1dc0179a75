/* Test fixtures: tiny schemas and random batches (see dfm_fixture.h). */
#include "dfm_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "feature/schema_types.h"

dctr_schema *fx_schema(const fx_col *cols, int n) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    static char names[64][2][64];
    for (int i = 0; i < n; i++) {
        const fx_col *c = &cols[i];
        if (c->kind == DCTR_COLUMN_DENSE) {
            dctr_dense_feat f;
            dctr_dense_feat_default(&f, c->name);
            f.dimension = c->dense_dim > 0 ? c->dense_dim : 1;
            assert_int_equal(dctr_schema_add_dense(s, &f), DCTR_OK);
            continue;
        }
        dctr_sparse_feat sf;
        dctr_sparse_feat_default(&sf, c->name);
        sf.vocabulary_size = c->vocab;
        sf.embedding_dim = c->k;
        sf.group_name = c->group;
        sf.embedding_name = c->emb_name;
        sf.trainable = !c->frozen;
        if (c->init_std > 0)
            sf.init_std = c->init_std;
        if (c->kind == DCTR_COLUMN_SPARSE) {
            assert_int_equal(dctr_schema_add_sparse(s, &sf), DCTR_OK);
            continue;
        }
        dctr_varlen_feat vf;
        dctr_varlen_feat_default(&vf, c->name, c->maxlen);
        vf.sparse = sf;
        vf.combiner = c->combiner;
        if (c->weighted) {
            snprintf(names[i][0], sizeof(names[i][0]), "%s_w", c->name);
            vf.weight_name = names[i][0];
        }
        if (c->with_length) {
            snprintf(names[i][1], sizeof(names[i][1]), "%s_len", c->name);
            vf.length_name = names[i][1];
        }
        assert_int_equal(dctr_schema_add_varlen(s, &vf), DCTR_OK);
    }
    dctr_status st = dctr_schema_validate(s);
    if (st != DCTR_OK)
        fail_msg("schema: %s", dctr_last_error());
    st = dctr_schema_fit_none(s);
    if (st != DCTR_OK)
        fail_msg("fit_none: %s", dctr_last_error());
    return s;
}

dctr_batch *fx_batch(const dctr_schema *s, int64_t n, uint64_t seed, int regression,
                     int with_weights) {
    dctr_batch *b = NULL;
    assert_int_equal(dctr_batch_alloc(s, n, with_weights, &b), DCTR_OK);
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 9);
    for (int32_t c = 0; c < s->ncols; c++) {
        const dctr_column *col = &s->cols[c];
        dctr_column_data *d = &b->cols[c];
        int64_t V = s->tables[col->table >= 0 ? col->table : 0].vocab_size;
        if (col->kind == DCTR_COLUMN_SPARSE) {
            for (int64_t r = 0; r < n; r++)
                d->ids[r] = (int64_t)dctr_rng_below(&rng, (uint64_t)V);
        } else if (col->kind == DCTR_COLUMN_VARLEN) {
            int32_t T = col->maxlen;
            for (int64_t r = 0; r < n; r++) {
                int32_t len = (int32_t)dctr_rng_below(&rng, (uint64_t)T + 1);
                if (r == 0)
                    len = T; /* at least one full row */
                if (d->lengths)
                    d->lengths[r] = len;
                for (int32_t t = 0; t < T; t++) {
                    int64_t id = t < len ? 1 + (int64_t)dctr_rng_below(&rng, (uint64_t)(V - 1)) : 0;
                    d->ids[r * T + t] = id;
                    if (d->weights)
                        d->weights[r * T + t] = (float)dctr_rng_uniform(&rng);
                }
            }
        } else {
            for (int64_t i = 0; i < n * col->dense_dim; i++)
                d->dense[i] = (float)dctr_rng_uniform(&rng);
        }
    }
    for (int64_t r = 0; r < n; r++) {
        b->labels[r] = regression ? (float)(1 + dctr_rng_below(&rng, 5))
                                  : (float)(r % 2 == 0 ? 1 : dctr_rng_below(&rng, 2));
        if (with_weights)
            b->sample_weights[r] = 0.5f + (float)dctr_rng_uniform(&rng);
    }
    b->n = n;
    return b;
}

dctr_model *fx_model(const dctr_schema *s, const dctr_model_config *cfg) {
    dctr_model *m = NULL;
    dctr_status st = dctr_model_new(s, cfg, &m);
    if (st != DCTR_OK)
        fail_msg("dctr_model_new: %s", dctr_last_error());
    return m;
}

dctr_dataset *fx_dataset(const dctr_schema *s, dctr_batch *batch) {
    dctr_ds_store *store = dctr_calloc(1, sizeof(*store));
    assert_non_null(store);
    store->owned = batch;
    store->fd = -1;
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_dataset_wrap(s, store, batch, 0, batch->n, &ds), DCTR_OK);
    return ds;
}
