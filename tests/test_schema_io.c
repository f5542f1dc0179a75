/* Schema serialization: write -> read gives the same encoding of the same rows; every
 * truncation and many bit flips of the bytes are rejected cleanly (or read as a schema that
 * still validates), never crash; a fuzz-found schema whose vocabulary ids leave a shared table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "data/batch.h"
#include "deepctr/data.h"
#include "feature/schema_io.h"
#include "sample_schemas.h"
#include "test_env.h"

/* movie_id hashes its OOV values, age is a hashed column with an "auto" dim. */
static void vary_encoders(dctr_sparse_feat *f, int i) {
    if (i == 1) {
        f->oov_policy = DCTR_OOV_HASH;
        f->oov_buckets = 7;
    }
    if (i == 3) {
        f->use_hash = 1;
        f->vocabulary_size = 50;
        f->embedding_dim = DCTR_EMBEDDING_DIM_AUTO;
    }
}

static dctr_schema *movielens_schema(const char *path, const dctr_csv_options *o) {
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    sample_add_movielens_sparse(s, vary_encoders);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "genres", 4);
    v.sparse.dtype = DCTR_DTYPE_STRING;
    v.sparse.embedding_name = "genre_table";
    v.combiner = DCTR_COMBINER_SUM;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "timestamp");
    d.transform = DCTR_TRANSFORM_STANDARDIZE;
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    assert_int_equal(dctr_schema_fit_csv(s, path, o), DCTR_OK);
    return s;
}

static void test_round_trip_same_encoding(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/movielens_sample.txt");
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    o.allow_extra_columns = 1;
    dctr_schema *s = movielens_schema(path, &o);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    assert_int_equal(dctr_schema_write(s, &w), DCTR_OK);
    dctr_rbuf r;
    dctr_rbuf_init(&r, w.data, w.len, "test");
    dctr_schema *back;
    assert_int_equal(dctr_schema_read(&r, &back), DCTR_OK);
    assert_int_equal(dctr_rbuf_remaining(&r), 0);
    assert_true(dctr_schema_is_fitted(back));
    assert_int_equal(dctr_schema_vocabulary_size(back, "genres"),
                     dctr_schema_vocabulary_size(s, "genres"));
    assert_int_equal(dctr_schema_embedding_dim(back, "age"), 12); /* auto, V = 50 */
    /* the same bytes again (canonical order), hence the same fingerprint */
    dctr_wbuf w2;
    dctr_wbuf_init(&w2);
    assert_int_equal(dctr_schema_write(back, &w2), DCTR_OK);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.data, w2.data, w.len);
    uint64_t f1, f2;
    assert_int_equal(dctr_schema_fingerprint(s, &f1), DCTR_OK);
    assert_int_equal(dctr_schema_fingerprint(back, &f2), DCTR_OK);
    assert_true(f1 == f2);
    dctr_dataset *a, *b;
    assert_int_equal(dctr_dataset_read_csv(s, path, &o, &a), DCTR_OK);
    assert_int_equal(dctr_dataset_read_csv(back, path, &o, &b), DCTR_OK);
    const dctr_batch *x = dctr_dataset_rows(a), *y = dctr_dataset_rows(b);
    assert_int_equal(x->n, y->n);
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE)
            assert_memory_equal(x->cols[i].dense, y->cols[i].dense, sizeof(float) * (size_t)x->n);
        else
            assert_memory_equal(x->cols[i].ids, y->cols[i].ids,
                                sizeof(int64_t) * (size_t)x->n *
                                    (size_t)(c->kind == DCTR_COLUMN_VARLEN ? c->maxlen : 1));
    }
    /* serving with the loaded schema: unseen movie ids land in the 7 hash buckets */
    dctr_batch *bt;
    assert_int_equal(dctr_batch_new(back, 1, &bt), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(bt), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(bt, "movie_id", "999999"), DCTR_OK);
    assert_int_equal(dctr_batch_end_row(bt), DCTR_OK);
    const dctr_column *mc = &back->cols[1];
    assert_true(bt->cols[1].ids[0] >= mc->vocab_count && bt->cols[1].ids[0] < mc->vocab_size);
    assert_int_equal(mc->vocab_size, mc->vocab_count + 7);
    dctr_batch_free(bt);
    dctr_dataset_free(a);
    dctr_dataset_free(b);
    dctr_schema_free(back);
    dctr_schema_free(s);
    dctr_wbuf_free(&w);
    dctr_wbuf_free(&w2);
}

static void test_truncations_and_bit_flips_are_safe(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/movielens_sample.txt");
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    o.allow_extra_columns = 1;
    dctr_schema *s = movielens_schema(path, &o);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    assert_int_equal(dctr_schema_write(s, &w), DCTR_OK);
    for (size_t len = 0; len < w.len; len++) {
        dctr_rbuf r;
        dctr_rbuf_init(&r, w.data, len, "trunc");
        dctr_schema *back = NULL;
        dctr_status st = dctr_schema_read(&r, &back);
        assert_int_equal(st, DCTR_ERR_FORMAT);
        assert_null(back);
    }
    uint8_t *copy = dctr_malloc(w.len);
    dctr_rng rng;
    dctr_rng_init(&rng, 7, 0);
    for (int it = 0; it < 3000; it++) {
        memcpy(copy, w.data, w.len);
        size_t pos = (size_t)dctr_rng_below(&rng, w.len);
        copy[pos] ^= (uint8_t)(1u << dctr_rng_below(&rng, 8));
        dctr_rbuf r;
        dctr_rbuf_init(&r, copy, w.len, "flip");
        dctr_schema *back = NULL;
        dctr_status st = dctr_schema_read(&r, &back);
        assert_true(st == DCTR_OK || st == DCTR_ERR_FORMAT || st == DCTR_ERR_NOMEM);
        if (st == DCTR_OK) { /* a flip in a value that stays valid: the schema is usable */
            dctr_batch *b;
            if (dctr_schema_is_fitted(back) && dctr_batch_new(back, 1, &b) == DCTR_OK) {
                dctr_status ig = dctr_batch_add_csv_row(b, NULL, NULL, 0);
                (void)ig;
                dctr_batch_free(b);
            }
            dctr_schema_free(back);
        }
    }
    dctr_free(copy);
    dctr_wbuf_free(&w);
    dctr_schema_free(s);
}

/* Fuzz finding (kept as tests/fuzz/corpus/fuzz_schema_read/regress-shared-table-vocab-ids): two
 * fitted columns share one embedding table, so validation gives the second the first's table
 * size (3), but its stored vocabulary maps a key to id 65536. It used to load, encode ids
 * beyond the table, and write a schema the reader then refused. Now the load refuses it. */
static const unsigned char shared_table_vocab_ids[] = {
  0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0x01, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x43,
  0x31, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01,
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00,
  0x43, 0x30, 0x0d, 0x00, 0x00, 0x00, 0x64, 0x65, 0x66, 0x9f, 0x8a, 0x93,
  0x8b, 0xa0, 0x98, 0x8d, 0x90, 0x75, 0x70, 0x01, 0x17, 0xb7, 0xd1, 0x36,
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
  0x00, 0x61, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
  0x00, 0x00, 0x3d, 0x00, 0x02, 0x00, 0x00, 0x00, 0x43, 0x32, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x21, 0x00, 0x00,
  0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x43, 0x30, 0x0d,
  0x00, 0x00, 0x00, 0x64, 0x65, 0x66, 0x9f, 0x8a, 0x93, 0x8b, 0xa0, 0x98,
  0x8d, 0x90, 0x75, 0x70, 0x01, 0x17, 0xb7, 0xd1, 0x38, 0x01, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x61, 0x02,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3d,
  0x01, 0x02, 0x00, 0x00, 0x00, 0x49, 0x31, 0x01, 0x00, 0x00, 0x00, 0x03,
  0x00, 0x00, 0x00, 0x00, 0x7c, 0xab, 0xaa, 0xaa, 0xaa, 0x01, 0x02, 0x00,
  0x00, 0x00, 0x49, 0x31, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
  0x00, 0xc0, 0xc0, 0xc0
};

static void test_vocab_ids_beyond_a_shared_table_are_refused(void **state) {
    (void)state;
    dctr_rbuf r;
    dctr_rbuf_init(&r, shared_table_vocab_ids, sizeof shared_table_vocab_ids, "model 'x' schema");
    dctr_schema *s = (dctr_schema *)1;
    assert_int_equal(dctr_schema_read(&r, &s), DCTR_ERR_FORMAT);
    assert_null(s);
    assert_non_null(strstr(dctr_last_error(), "column 'C2': vocabulary id beyond the table of 3"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_same_encoding),
        cmocka_unit_test(test_truncations_and_bit_flips_are_safe),
        cmocka_unit_test(test_vocab_ids_beyond_a_shared_table_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
