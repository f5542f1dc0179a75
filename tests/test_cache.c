/* Binary cache: save -> load gives identical arrays; a different schema, a truncated file or a
 * flipped byte is DCTR_ERR_FORMAT. Streaming reads equal the whole-file read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data/batch.h"
#include "deepctr/data.h"
#include "deepctr/synth.h"
#include "sample_schemas.h"
#include "test_env.h"

static char csv[512];

static int setup(void **state) {
    (void)state;
    dctr_test_tmp_path(csv, sizeof csv, "cache_synth.csv");
    dctr_synth_options o;
    dctr_synth_options_default(&o);
    o.rows = 5000;
    o.max_vocabulary = 5000;
    o.seed = 11;
    o.csv_path = csv;
    dctr_synth_report r;
    return dctr_synth_generate(&o, &r) == DCTR_OK ? 0 : -1;
}

static void log1p_all(dctr_dense_feat *d, int i) {
    (void)i;
    d->transform = DCTR_TRANSFORM_LOG1P;
}

/* Variant 1 differs from variant 0 only in C26, hashed: a different schema fingerprint. */
static void hash_c26(dctr_sparse_feat *f, int i) {
    if (i == 26) {
        f->use_hash = 1;
        f->vocabulary_size = 100;
    }
}

static dctr_schema *make_schema(int variant) {
    dctr_schema *s = sample_criteo_schema(log1p_all, variant == 1 ? hash_c26 : NULL);
    assert_int_equal(dctr_schema_fit_csv(s, csv, NULL), DCTR_OK);
    return s;
}

static void assert_same(const dctr_schema *s, const dctr_batch *a, const dctr_batch *b,
                        int64_t off_b) {
    int64_t n = a->n;
    assert_memory_equal(a->labels, b->labels + off_b, sizeof(float) * (size_t)n);
    for (int32_t i = 0; i < s->ncols; i++) {
        if (s->cols[i].kind == DCTR_COLUMN_DENSE)
            assert_memory_equal(a->cols[i].dense, b->cols[i].dense + off_b,
                                sizeof(float) * (size_t)n);
        else
            assert_memory_equal(a->cols[i].ids, b->cols[i].ids + off_b,
                                sizeof(int64_t) * (size_t)n);
    }
}

static void test_cache_round_trip(void **state) {
    (void)state;
    dctr_schema *s = make_schema(0);
    dctr_dataset *ds, *back;
    assert_int_equal(dctr_dataset_read_csv(s, csv, NULL, &ds), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(ds), 5000);
    char cache[512];
    dctr_test_tmp_path(cache, sizeof cache, "cache_synth.dcc");
    assert_int_equal(dctr_dataset_save_cache(ds, cache), DCTR_OK);
    assert_int_equal(dctr_dataset_load_cache(s, cache, &back), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(back), 5000);
    assert_same(s, dctr_dataset_rows(ds), dctr_dataset_rows(back), 0);
    /* a split of a cached dataset, saved again, is the tail of the original */
    dctr_dataset *head, *tail, *tail2;
    assert_int_equal(dctr_dataset_split_tail(back, 0.1, &head, &tail), DCTR_OK);
    dctr_dataset_free(back);
    assert_int_equal(dctr_dataset_save_cache(tail, cache), DCTR_OK);
    assert_int_equal(dctr_dataset_load_cache(s, cache, &tail2), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(tail2), 500);
    assert_same(s, dctr_dataset_rows(tail2), dctr_dataset_rows(ds), 4500);
    dctr_dataset_free(head);
    dctr_dataset_free(tail);
    dctr_dataset_free(tail2);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_cache_rejects_other_schema_and_corruption(void **state) {
    (void)state;
    dctr_schema *s = make_schema(0), *other = make_schema(1);
    dctr_dataset *ds, *back = NULL;
    assert_int_equal(dctr_dataset_read_csv(s, csv, NULL, &ds), DCTR_OK);
    char cache[512];
    dctr_test_tmp_path(cache, sizeof cache, "cache_bad.dcc");
    assert_int_equal(dctr_dataset_save_cache(ds, cache), DCTR_OK);
    assert_int_equal(dctr_dataset_load_cache(other, cache, &back), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "different schema"));
    assert_null(back);
    FILE *f = fopen(cache, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size);
    assert_int_equal(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    char bad[512];
    dctr_test_tmp_path(bad, sizeof bad, "cache_bad2.dcc");
    /* truncated, then single flipped bytes in the header, the table and the data */
    long cuts[] = {0, 10, 63, 64, 100, size / 2, size - 1};
    long flips[] = {0, 9, 13, 17, 25, 33, 41, 70, 90, 2000, size / 3, size - 5};
    for (int k = 0; k < 7 + 12; k++) {
        f = fopen(bad, "wb");
        assert_non_null(f);
        if (k < 7) {
            fwrite(bytes, 1, (size_t)cuts[k], f);
        } else {
            bytes[flips[k - 7]] ^= 0x10;
            fwrite(bytes, 1, (size_t)size, f);
            bytes[flips[k - 7]] ^= 0x10;
        }
        fclose(f);
        dctr_status st = dctr_dataset_load_cache(s, bad, &back);
        if (st != DCTR_ERR_FORMAT)
            fail_msg("case %d: %s %s", k, dctr_status_name(st), dctr_last_error());
        assert_null(back);
    }
    assert_int_equal(dctr_dataset_load_cache(s, "/nonexistent/c.dcc", &back), DCTR_ERR_IO);
    free(bytes);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
    dctr_schema_free(other);
}

static void test_stream_equals_whole_file(void **state) {
    (void)state;
    dctr_schema *s = make_schema(1);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, csv, NULL, &ds), DCTR_OK);
    const dctr_batch *all = dctr_dataset_rows(ds);
    dctr_stream *st;
    assert_int_equal(dctr_stream_open_csv(s, csv, NULL, &st), DCTR_OK);
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(s, 777, &b), DCTR_OK);
    for (int pass = 0; pass < 2; pass++) {
        int64_t total = 0, rows;
        for (;;) {
            assert_int_equal(dctr_stream_next(st, b, &rows), DCTR_OK);
            if (rows == 0)
                break;
            assert_true(rows <= 777);
            dctr_batch view;
            assert_int_equal(dctr_batch_view_init(&view, s), DCTR_OK);
            dctr_batch_view(b, 0, rows, &view);
            assert_same(s, &view, all, total);
            dctr_batch_view_release(&view);
            total += rows;
        }
        assert_int_equal(total, 5000);
        assert_int_equal(dctr_stream_rewind(st), DCTR_OK);
    }
    dctr_stream_free(st);
    dctr_batch_free(b);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

/* The three readers of a fitted schema (whole file, stream, cache) share one argument check:
 * NULL out, NULL schema / path, an unfitted schema; each error names the entry point and *out
 * is cleared. */
static void test_readers_check_arguments_alike(void **state) {
    (void)state;
    dctr_schema *unfitted = sample_criteo_schema(NULL, NULL);
    dctr_schema *fitted = make_schema(0);
    dctr_dataset *ds = (dctr_dataset *)(uintptr_t)1;
    dctr_stream *st = (dctr_stream *)(uintptr_t)1;

    assert_int_equal(dctr_dataset_read_csv(fitted, csv, NULL, NULL), DCTR_ERR_INVALID_ARG);
    assert_non_null(strstr(dctr_last_error(), "dctr_dataset_read_csv: out is NULL"));
    assert_int_equal(dctr_stream_open_csv(fitted, NULL, NULL, &st), DCTR_ERR_INVALID_ARG);
    assert_null(st);
    assert_non_null(strstr(dctr_last_error(), "dctr_stream_open_csv: NULL argument"));
    assert_int_equal(dctr_dataset_load_cache(NULL, csv, &ds), DCTR_ERR_INVALID_ARG);
    assert_null(ds);

    ds = (dctr_dataset *)(uintptr_t)1;
    assert_int_equal(dctr_dataset_read_csv(unfitted, csv, NULL, &ds), DCTR_ERR_STATE);
    assert_null(ds);
    assert_non_null(strstr(dctr_last_error(), "dctr_dataset_read_csv: the schema is not fitted"));
    st = (dctr_stream *)(uintptr_t)1;
    assert_int_equal(dctr_stream_open_csv(unfitted, csv, NULL, &st), DCTR_ERR_STATE);
    assert_null(st);
    assert_non_null(strstr(dctr_last_error(), "dctr_stream_open_csv: the schema is not fitted"));
    ds = (dctr_dataset *)(uintptr_t)1;
    assert_int_equal(dctr_dataset_load_cache(unfitted, csv, &ds), DCTR_ERR_STATE);
    assert_null(ds);
    assert_non_null(strstr(dctr_last_error(), "dctr_dataset_load_cache: the schema is not fitted"));
    dctr_schema_free(unfitted);
    dctr_schema_free(fitted);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_round_trip),
        cmocka_unit_test(test_cache_rejects_other_schema_and_corruption),
        cmocka_unit_test(test_stream_equals_whole_file),
        cmocka_unit_test(test_readers_check_arguments_alike),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
