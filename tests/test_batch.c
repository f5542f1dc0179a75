/* Batches: the serving path (row by row from raw values) gives exactly the CSV reader's
 * encoding; views and gathers (also split across a thread pool); state errors.
 * ctest-label: threads */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pool.h"
#include "data/batch.h"
#include "data/row_pack.h"
#include "deepctr/data.h"
#include "sample_schemas.h"
#include "test_env.h"

#define MAXF 48

/* RFC 4180 line splitter (the test's own, independent of the library's tokenizer). */
static int split(char *line, char *out[MAXF]) {
    int n = 0;
    char *w = line, *p = line;
    out[n] = w;
    int q = 0;
    for (;; p++) {
        char c = *p;
        if (q) {
            if (c == '"' && p[1] == '"') {
                *w++ = '"';
                p++;
            } else if (c == '"') {
                q = 0;
            } else {
                *w++ = c;
            }
            continue;
        }
        if (c == '"') {
            q = 1;
        } else if (c == ',' || c == '\n' || c == '\0' || c == '\r') {
            *w++ = '\0';
            n++;
            if (c != ',')
                break;
            out[n] = w;
        } else {
            *w++ = c;
        }
    }
    return n;
}

static void assert_rows_equal(const dctr_schema *s, const dctr_batch *a, int64_t ra,
                              const dctr_batch *b, int64_t rb) {
    assert_true(a->labels[ra] == b->labels[rb]);
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_DENSE) {
            for (int k = 0; k < c->dense_dim; k++)
                assert_true(a->cols[i].dense[ra * c->dense_dim + k] ==
                            b->cols[i].dense[rb * c->dense_dim + k]);
        } else {
            int64_t T = c->kind == DCTR_COLUMN_VARLEN ? c->maxlen : 1;
            for (int64_t k = 0; k < T; k++)
                assert_int_equal(a->cols[i].ids[ra * T + k], b->cols[i].ids[rb * T + k]);
            if (a->cols[i].lengths)
                assert_int_equal(a->cols[i].lengths[ra], b->cols[i].lengths[rb]);
        }
    }
}

static void alternate_transforms(dctr_dense_feat *d, int i) {
    d->transform = i % 2 ? DCTR_TRANSFORM_MINMAX : DCTR_TRANSFORM_LOG1P;
}

static void hash_last_columns(dctr_sparse_feat *f, int i) {
    if (i > 20) { /* a few hashed columns too */
        f->use_hash = 1;
        f->vocabulary_size = 1000;
    }
}

static dctr_schema *criteo_schema(void) {
    return sample_criteo_schema(alternate_transforms, hash_last_columns);
}

static void check_serving_matches_reader(dctr_schema *s, const char *path,
                                         const dctr_csv_options *o, int by_header) {
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, path, o, &ds), DCTR_OK);
    const dctr_batch *rows = dctr_dataset_rows(ds);
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(s, rows->n, &b), DCTR_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char head[4096], line[4096];
    char *names[MAXF], *vals[MAXF];
    assert_non_null(fgets(head, sizeof head, f));
    int nh = split(head, names);
    int64_t r = 0;
    while (fgets(line, sizeof line, f)) {
        int nv = split(line, vals);
        assert_int_equal(nv, nh);
        if (by_header) {
            assert_int_equal(dctr_batch_add_csv_row(b, (const char *const *)names,
                                                    (const char *const *)vals, nv),
                             DCTR_OK);
        } else {
            /* one value at a time, numbers through set_number where they parse */
            assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
            for (int k = 0; k < nv; k++) {
                if (dctr_schema_find(s, names[k]) < 0 && strcmp(names[k], "label") != 0 &&
                    strcmp(names[k], "rating") != 0)
                    continue; /* extra columns */
                char *end;
                double x = strtod(vals[k], &end);
                if (names[k][0] == 'I' && *vals[k] && *end == '\0')
                    assert_int_equal(dctr_batch_set_number(b, names[k], x), DCTR_OK);
                else
                    assert_int_equal(dctr_batch_set_string(b, names[k], vals[k]), DCTR_OK);
            }
            assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
        }
        assert_rows_equal(s, rows, r, b, r);
        r++;
    }
    fclose(f);
    assert_int_equal(r, rows->n);
    assert_int_equal(dctr_batch_num_rows(b), r);
    dctr_batch_free(b);
    dctr_dataset_free(ds);
}

static void test_serving_equals_reader_criteo(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/criteo_sample.txt");
    dctr_schema *s = criteo_schema();
    assert_int_equal(dctr_schema_fit_csv(s, path, NULL), DCTR_OK);
    check_serving_matches_reader(s, path, NULL, 1);
    check_serving_matches_reader(s, path, NULL, 0);
    dctr_schema_free(s);
}

/* movielens_sample with a weighted varlen "genres" (maxlen 3: truncation too), fitted; path gets
 * the file and o its CSV options. */
static dctr_schema *movielens_genres_schema(char *path, size_t cap, dctr_csv_options *o) {
    dctr_test_data_path(path, cap, "deepctr-samples/movielens_sample.txt");
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    sample_add_movielens_sparse(s, NULL);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "genres", 3);
    v.sparse.dtype = DCTR_DTYPE_STRING;
    v.length_name = "genres_len";
    v.weight_name = "genres_w";
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_csv_options_default(o);
    o->allow_extra_columns = 1;
    assert_int_equal(dctr_schema_fit_csv(s, path, o), DCTR_OK);
    return s;
}

/* criteo_sample read with criteo_schema(), fitted (*s gets the schema). */
static dctr_dataset *criteo_sample_dataset(dctr_schema **s) {
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/criteo_sample.txt");
    *s = criteo_schema();
    assert_int_equal(dctr_schema_fit_csv(*s, path, NULL), DCTR_OK);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(*s, path, NULL, &ds), DCTR_OK);
    return ds;
}

static void test_serving_equals_reader_movielens(void **state) {
    (void)state;
    char path[512];
    dctr_csv_options o;
    dctr_schema *s = movielens_genres_schema(path, sizeof path, &o);
    check_serving_matches_reader(s, path, &o, 1);
    check_serving_matches_reader(s, path, &o, 0);

    /* positional rows follow the fit header; without the label column too */
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(s, 2, &b), DCTR_OK);
    const char *row[] = {"3299", "235", "4", "968035345", "Ed Wood (1994)", "Comedy|Drama",
                         "F", "25", "4", "19119"};
    assert_int_equal(dctr_batch_add_csv_row(b, NULL, row, 10), DCTR_OK);
    const char *nolabel[] = {"3299", "235", "968035345", "Ed Wood (1994)", "Comedy|Drama",
                             "F", "25", "4", "19119"};
    assert_int_equal(dctr_batch_add_csv_row(b, NULL, nolabel, 9), DCTR_OK);
    assert_true(b->labels[0] == 4.0f && b->labels[1] == 0.0f);
    assert_rows_equal(s, b, 0, b, 0);
    for (int32_t i = 0; i < s->ncols; i++) {
        int64_t T = s->cols[i].kind == DCTR_COLUMN_VARLEN ? s->cols[i].maxlen : 1;
        for (int64_t k = 0; k < T; k++)
            assert_int_equal(b->cols[i].ids[k], b->cols[i].ids[T + k]);
    }
    assert_int_equal(b->cols[6].lengths[0], 2);
    assert_true(b->cols[6].weights[0] == 1.0f && b->cols[6].weights[2] == 0.0f);
    /* the batch is full now */
    assert_int_equal(dctr_batch_add_csv_row(b, NULL, row, 10), DCTR_ERR_LIMIT);
    assert_int_equal(dctr_batch_add_csv_row(b, NULL, row, 4), DCTR_ERR_INVALID_ARG);
    dctr_batch_clear(b);
    assert_int_equal(dctr_batch_num_rows(b), 0);
    /* unseen values: reserved OOV row 0 (default policy) */
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "zip", "no-such-zip"), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "genres", "Comedy|NewGenre|Drama"), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "nope", "1"), DCTR_ERR_INVALID_ARG);
    assert_non_null(strstr(dctr_last_error(), "unknown column 'nope'"));
    assert_int_equal(dctr_batch_set_number(b, "user_id", NAN), DCTR_ERR_NUMERIC);
    assert_int_equal(dctr_batch_set_string(b, "age", "x"), DCTR_ERR_PARSE);
    assert_non_null(strstr(dctr_last_error(), "row 0: column 'age'"));
    assert_int_equal(dctr_batch_set_string(b, "genres_w", "1|1e39"), DCTR_ERR_NUMERIC);
    assert_non_null(strstr(dctr_last_error(), "row 0: column 'genres_w'"));
    /* a failed set spoils the row: end_row refuses it and the batch keeps no row (issue 14) */
    assert_int_equal(dctr_batch_end_row(b), DCTR_ERR_STATE);
    assert_int_equal(dctr_batch_num_rows(b), 0);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "zip", "no-such-zip"), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "genres", "Comedy|NewGenre|Drama"), DCTR_OK);
    assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
    assert_int_equal(b->cols[5].ids[0], 0);
    assert_int_equal(b->cols[6].ids[1], 0); /* OOV element: masked like padding */
    assert_int_equal(b->cols[6].lengths[0], 3);
    dctr_batch_free(b);
    dctr_schema_free(s);
}

static void test_views_and_gather(void **state) {
    (void)state;
    dctr_schema *s;
    dctr_dataset *ds = criteo_sample_dataset(&s);
    const dctr_batch *all = dctr_dataset_rows(ds);
    dctr_batch view;
    assert_int_equal(dctr_batch_view_init(&view, s), DCTR_OK);
    dctr_batch_view(all, 50, 10, &view);
    assert_int_equal(view.n, 10);
    assert_int_equal(view.owns_memory, 0);
    for (int r = 0; r < 10; r++)
        assert_rows_equal(s, &view, r, all, 50 + r);
    assert_int_equal(dctr_batch_begin_row(&view), DCTR_ERR_STATE);
    dctr_batch_view_release(&view);
    dctr_batch *g;
    assert_int_equal(dctr_batch_alloc(s, 5, 0, &g), DCTR_OK);
    int64_t idx[5] = {199, 0, 7, 7, 123};
    assert_int_equal(dctr_batch_gather(g, all, idx, 5), DCTR_OK);
    for (int r = 0; r < 5; r++)
        assert_rows_equal(s, g, r, all, idx[r]);
    int64_t badidx[1] = {200};
    assert_int_equal(dctr_batch_gather(g, all, badidx, 1), DCTR_ERR_RANGE);
    /* split across a pool: the same rows (600 >= 256 per thread, so the pool path runs) */
    dctr_pool *pool;
    assert_int_equal(dctr_pool_new(2, &pool), DCTR_OK);
    dctr_batch *big, *big_pooled;
    assert_int_equal(dctr_batch_alloc(s, 600, 0, &big), DCTR_OK);
    assert_int_equal(dctr_batch_alloc(s, 600, 0, &big_pooled), DCTR_OK);
    int64_t many[600];
    for (int r = 0; r < 600; r++)
        many[r] = (r * 7919) % 200;
    assert_int_equal(dctr_batch_gather(big, all, many, 600), DCTR_OK);
    assert_int_equal(dctr_batch_gather_on(big_pooled, all, many, 600, pool), DCTR_OK);
    assert_int_equal(big_pooled->n, 600);
    for (int r = 0; r < 600; r++) {
        assert_rows_equal(s, big_pooled, r, all, many[r]);
        assert_rows_equal(s, big_pooled, r, big, r);
    }
    many[599] = -1;
    assert_int_equal(dctr_batch_gather_on(big_pooled, all, many, 600, pool), DCTR_ERR_RANGE);
    dctr_batch_free(big);
    dctr_batch_free(big_pooled);
    dctr_pool_free(pool);
    assert_int_equal(dctr_batch_gather(g, all, idx, 6), DCTR_ERR_INVALID_ARG);
    dctr_batch_free(g);
    /* Keras validation_split: the last 20% before shuffling */
    dctr_dataset *head, *tail;
    assert_int_equal(dctr_dataset_split_tail(ds, 0.2, &head, &tail), DCTR_OK);
    dctr_dataset_free(ds); /* the splits keep the storage alive */
    assert_int_equal(dctr_dataset_num_rows(head), 160);
    assert_int_equal(dctr_dataset_num_rows(tail), 40);
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/criteo_sample.txt");
    dctr_dataset *again;
    assert_int_equal(dctr_dataset_read_csv(s, path, NULL, &again), DCTR_OK);
    for (int r = 0; r < 40; r++)
        assert_rows_equal(s, dctr_dataset_rows(tail), r, dctr_dataset_rows(again), 160 + r);
    dctr_dataset_free(head);
    dctr_dataset_free(tail);
    assert_int_equal(dctr_dataset_split_tail(again, 1.0, &head, &tail), DCTR_ERR_INVALID_ARG);
    assert_null(head);
    assert_null(tail);
    dctr_dataset_free(again);
    dctr_schema_free(s);
}

/* The packed gather gives the plain gather's batch: plain and pooled, 32- and 64-bit ids, sample
 * weights, and columns left out of the pack (varlen) read in place. */
static void assert_packed_gather_equal(const dctr_schema *s, const dctr_batch *src, int with_w) {
    dctr_row_pack *pack;
    size_t need;
    assert_int_equal(dctr_row_pack_build(src, SIZE_MAX, &pack, &need), DCTR_OK);
    assert_non_null(pack);
    dctr_pool *pool;
    assert_int_equal(dctr_pool_new(2, &pool), DCTR_OK);
    dctr_batch *plain, *packed, *pooled;
    assert_int_equal(dctr_batch_alloc(s, 600, with_w, &plain), DCTR_OK);
    assert_int_equal(dctr_batch_alloc(s, 600, with_w, &packed), DCTR_OK);
    assert_int_equal(dctr_batch_alloc(s, 600, with_w, &pooled), DCTR_OK);
    int64_t rows[600];
    for (int r = 0; r < 600; r++)
        rows[r] = (r * 7919) % src->n;
    assert_int_equal(dctr_batch_gather(plain, src, rows, 600), DCTR_OK);
    assert_int_equal(dctr_batch_gather_packed(packed, src, pack, 0, rows, 600, NULL), DCTR_OK);
    assert_int_equal(dctr_batch_gather_packed(pooled, src, pack, 0, rows, 600, pool), DCTR_OK);
    for (int r = 0; r < 600; r++) {
        assert_rows_equal(s, packed, r, plain, r);
        assert_rows_equal(s, pooled, r, plain, r);
        if (with_w) {
            assert_true(packed->sample_weights[r] == plain->sample_weights[r]);
            assert_true(pooled->sample_weights[r] == plain->sample_weights[r]);
        }
    }
    rows[9] = src->n; /* still range-checked */
    assert_int_equal(dctr_batch_gather_packed(packed, src, pack, 0, rows, 600, NULL), DCTR_ERR_RANGE);
    dctr_batch_free(plain);
    dctr_batch_free(packed);
    dctr_batch_free(pooled);
    dctr_pool_free(pool);
    dctr_row_pack_free(pack);
}

static void test_row_pack_gather(void **state) {
    (void)state;
    dctr_schema *s;
    dctr_dataset *ds = criteo_sample_dataset(&s);
    const dctr_batch *all = dctr_dataset_rows(ds);
    assert_packed_gather_equal(s, all, 0);
    assert_packed_gather_equal(s, all, 1); /* the batch wants weights the data has not: 1 */
    dctr_row_pack *none;
    size_t need;
    assert_int_equal(dctr_row_pack_build(all, 1000, &none, &need), DCTR_OK); /* over the budget */
    assert_null(none);
    /* weights, an id beyond 32 bits (kept whole) and a negative one (left to the model to refuse) */
    dctr_batch *w;
    assert_int_equal(dctr_batch_alloc(s, all->n, 1, &w), DCTR_OK);
    int64_t *ident = malloc((size_t)all->n * sizeof *ident);
    for (int64_t r = 0; r < all->n; r++)
        ident[r] = r;
    assert_int_equal(dctr_batch_gather(w, all, ident, all->n), DCTR_OK);
    for (int64_t r = 0; r < all->n; r++)
        w->sample_weights[r] = 0.5f + (float)r;
    w->cols[20].ids[3] = (int64_t)1 << 40;
    w->cols[21].ids[4] = -7;
    assert_packed_gather_equal(s, w, 1);
    free(ident);
    dctr_batch_free(w);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
    /* a weighted varlen column stays out of the pack */
    char path[512];
    dctr_csv_options o;
    s = movielens_genres_schema(path, sizeof path, &o);
    assert_int_equal(dctr_dataset_read_csv(s, path, &o, &ds), DCTR_OK);
    assert_packed_gather_equal(s, dctr_dataset_rows(ds), 0);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_state_errors(void **state) {
    (void)state;
    dctr_schema *s = criteo_schema();
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(s, 2, &b), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_ERR_STATE); /* not fitted */
    assert_int_equal(dctr_batch_end_row(b), DCTR_ERR_STATE);
    dctr_batch_free(b);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, "x.csv", NULL, &ds), DCTR_ERR_STATE);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serving_equals_reader_criteo),
        cmocka_unit_test(test_serving_equals_reader_movielens),
        cmocka_unit_test(test_views_and_gather),
        cmocka_unit_test(test_row_pack_gather),
        cmocka_unit_test(test_state_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
