/* Reading the real DeepCTR sample files: criteo_sample.txt (13 dense + 26 sparse) and
 * movielens_sample.txt (genres as a '|'-separated varlen column). Expected vocabularies are
 * computed here independently by counting distinct strings. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "data/batch.h"
#include "feature/schema_types.h"
#include "deepctr/data.h"
#include "sample_schemas.h"
#include "test_env.h"

#define MAXROWS 256
#define MAXF 48

/* Minimal RFC 4180 line splitter for the test's own expectations. */
static int split(const char *line, char out[MAXF][128]) {
    int n = 0, k = 0, q = 0;
    for (const char *p = line;; p++) {
        char c = *p;
        if (q) {
            if (c == '"' && p[1] == '"') {
                out[n][k++] = '"';
                p++;
            } else if (c == '"') {
                q = 0;
            } else {
                out[n][k++] = c;
            }
            continue;
        }
        if (c == '"') {
            q = 1;
        } else if (c == ',' || c == '\n' || c == '\0' || c == '\r') {
            out[n][k] = '\0';
            n++;
            k = 0;
            if (c != ',')
                break;
        } else {
            out[n][k++] = c;
        }
    }
    return n;
}

typedef struct table {
    int rows, cols;
    char cell[MAXROWS][MAXF][128];
    char head[MAXF][128];
} table;

static table *load(const char *path) {
    table *t = calloc(1, sizeof *t);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    t->cols = split(line, t->head);
    while (fgets(line, sizeof line, f)) {
        assert_true(t->rows < MAXROWS);
        assert_int_equal(split(line, t->cell[t->rows]), t->cols);
        t->rows++;
    }
    fclose(f);
    return t;
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted distinct values of column c (optionally splitting on '|'); returns the count. */
static int distinct(const table *t, int c, int split_bar, const char **out) {
    int n = 0;
    for (int r = 0; r < t->rows; r++) {
        char buf[128];
        strcpy(buf, t->cell[r][c]);
        char *save = NULL;
        char *tok = split_bar ? strtok_r(buf, "|", &save) : buf;
        while (tok) {
            int seen = 0;
            for (int i = 0; i < n; i++)
                if (strcmp(out[i], tok) == 0)
                    seen = 1;
            if (!seen)
                out[n++] = strdup(tok);
            tok = split_bar ? strtok_r(NULL, "|", &save) : NULL;
        }
    }
    qsort(out, (size_t)n, sizeof *out, cmpstr);
    return n;
}

static int rank_of(const char **vals, int n, const char *v) {
    for (int i = 0; i < n; i++)
        if (strcmp(vals[i], v) == 0)
            return i;
    return -1;
}

static void free_vals(const char **v, int n) {
    for (int i = 0; i < n; i++)
        free((void *)v[i]);
}

static void minmax(dctr_dense_feat *d, int i) {
    (void)i;
    d->transform = DCTR_TRANSFORM_MINMAX;
}

static dctr_schema *criteo_schema(void) { return sample_criteo_schema(minmax, NULL); }

static void test_criteo_sample(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/criteo_sample.txt");
    table *t = load(path);
    assert_int_equal(t->rows, 200);
    assert_int_equal(t->cols, 40);
    assert_string_equal(t->head[14], "C1");
    dctr_schema *s = criteo_schema();
    assert_int_equal(dctr_schema_fit_csv(s, path, NULL), DCTR_OK);
    assert_true(dctr_schema_is_fitted(s));
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, path, NULL, &ds), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(ds), 200);
    const dctr_batch *b = dctr_dataset_rows(ds);
    const char *vals[256];
    for (int j = 0; j < 26; j++) {
        int col = 14 + j;
        int n = distinct(t, col, 0, vals); /* "" (missing) counts as its own value */
        /* id 0 is the reserved OOV row, values get 1..n in sorted order */
        assert_int_equal(dctr_schema_vocabulary_size(s, t->head[col]), n + 1);
        for (int r = 0; r < 200; r++)
            assert_int_equal(b->cols[13 + j].ids[r], 1 + rank_of(vals, n, t->cell[r][col]));
        free_vals(vals, n);
    }
    /* C1 of the first row */
    assert_string_equal(t->cell[0][14], "05db9164");
    for (int i = 0; i < 13; i++) {
        int col = 1 + i;
        double mn = 0, mx = 0;
        for (int r = 0; r < 200; r++) {
            double x = t->cell[r][col][0] ? atof(t->cell[r][col]) : 0.0; /* fillna(0) */
            if (r == 0 || x < mn)
                mn = x;
            if (r == 0 || x > mx)
                mx = x;
        }
        for (int r = 0; r < 200; r++) {
            double x = t->cell[r][col][0] ? atof(t->cell[r][col]) : 0.0;
            double want = mx > mn ? (x - mn) / (mx - mn) : 0.0;
            assert_float_equal(b->cols[i].dense[r], want, 1e-6);
        }
    }
    /* first row, I3 = 260.0: a spot value computed by hand from the file's I3 range */
    assert_true(b->cols[2].dense[0] > 0.0f && b->cols[2].dense[0] < 1.0f);
    for (int r = 0; r < 200; r++)
        assert_float_equal(dctr_dataset_labels(ds)[r], atof(t->cell[r][0]), 0);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
    free(t);
}

static void test_movielens_sample_genres(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/movielens_sample.txt");
    table *t = load(path);
    assert_int_equal(t->rows, 200);
    assert_string_equal(t->head[5], "genres");
    assert_string_equal(t->head[2], "rating");
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    sample_add_movielens_sparse(s, NULL);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "genres", 5);
    v.sparse.dtype = DCTR_DTYPE_STRING;
    v.length_name = "genres_len"; /* not in the file: lengths are counted */
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    o.allow_extra_columns = 1; /* timestamp, title */
    assert_int_equal(dctr_schema_fit_csv(s, path, &o), DCTR_OK);
    const char *g[64];
    int ng = distinct(t, 5, 1, g);
    assert_int_equal(ng, 17);
    assert_int_equal(dctr_schema_vocabulary_size(s, "genres"), 18); /* 17 genres + padding 0 */
    /* users: ints sorted numerically like LabelEncoder */
    const char *u[256];
    int nu = distinct(t, 0, 0, u);
    assert_int_equal(dctr_schema_vocabulary_size(s, "user_id"), nu + 1);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, path, &o, &ds), DCTR_OK);
    const dctr_batch *b = dctr_dataset_rows(ds);
    int gi = 6;
    assert_non_null(b->cols[gi].lengths);
    int maxlen_seen = 0;
    for (int r = 0; r < 200; r++) {
        char buf[128];
        strcpy(buf, t->cell[r][5]);
        char *save = NULL;
        int k = 0;
        for (char *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
            if (k < 5)
                assert_int_equal(b->cols[gi].ids[r * 5 + k], 1 + rank_of(g, ng, tok));
            k++;
        }
        int kept = k < 5 ? k : 5;
        if (k > maxlen_seen)
            maxlen_seen = k;
        assert_int_equal(b->cols[gi].lengths[r], kept);
        for (int j = kept; j < 5; j++)
            assert_int_equal(b->cols[gi].ids[r * 5 + j], 0);
        assert_float_equal(b->labels[r], atof(t->cell[r][2]), 0);
    }
    assert_true(maxlen_seen >= 2);
    /* first row: Comedy|Drama */
    assert_string_equal(t->cell[0][5], "Comedy|Drama");
    assert_int_equal(b->cols[gi].ids[0], 1 + rank_of(g, ng, "Comedy"));
    assert_int_equal(b->cols[gi].ids[1], 1 + rank_of(g, ng, "Drama"));
    /* user ids sorted numerically: the smallest user gets id 1 */
    int64_t minu = atoll(t->cell[0][0]);
    int rmin = 0;
    for (int r = 0; r < 200; r++)
        if (atoll(t->cell[r][0]) < minu) {
            minu = atoll(t->cell[r][0]);
            rmin = r;
        }
    assert_int_equal(b->cols[0].ids[rmin], 1);
    free_vals(g, ng);
    free_vals(u, nu);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
    free(t);
}

/* DIN-style sharing: a sparse item column and a varlen history share one fitted vocabulary
 * (the union of their values), the table is masked, and equal strings get equal ids. */
static void test_shared_fitted_vocabulary(void **state) {
    (void)state;
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "shared_vocab.csv");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("label,item,hist,cat\n1,b,a|c,x\n0,d,b|b|e,y\n1,a,,x\n", f);
    fclose(f);
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_sparse_feat sp;
    dctr_sparse_feat_default(&sp, "item");
    sp.dtype = DCTR_DTYPE_STRING;
    sp.embedding_name = "items";
    assert_int_equal(dctr_schema_add_sparse(s, &sp), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "hist", 4);
    v.sparse.dtype = DCTR_DTYPE_STRING;
    v.sparse.embedding_name = "items";
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_sparse_feat_default(&sp, "cat");
    sp.dtype = DCTR_DTYPE_STRING;
    sp.oov_policy = DCTR_OOV_ERROR;
    assert_int_equal(dctr_schema_add_sparse(s, &sp), DCTR_OK);
    assert_int_equal(dctr_schema_fit_csv(s, path, NULL), DCTR_OK);
    /* union {a,b,c,d,e}: ids 1..5 (0 = padding / OOV), one table */
    assert_int_equal(dctr_schema_vocabulary_size(s, "item"), 6);
    assert_int_equal(dctr_schema_vocabulary_size(s, "hist"), 6);
    assert_int_equal(dctr_schema_vocabulary_size(s, "cat"), 2); /* ERROR policy: 0..1 */
    assert_int_equal(s->ntables, 2);
    assert_int_equal(s->tables[0].mask_zero, 1);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, path, NULL, &ds), DCTR_OK);
    const dctr_batch *b = dctr_dataset_rows(ds);
    const int64_t item[3] = {2, 4, 1};
    const int64_t hist[12] = {1, 3, 0, 0, 2, 2, 5, 0, 0, 0, 0, 0};
    const int64_t cat[3] = {0, 1, 0};
    for (int r = 0; r < 3; r++) {
        assert_int_equal(b->cols[0].ids[r], item[r]);
        assert_int_equal(b->cols[2].ids[r], cat[r]);
    }
    for (int k = 0; k < 12; k++)
        assert_int_equal(b->cols[1].ids[k], hist[k]);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_criteo_sample),
        cmocka_unit_test(test_movielens_sample_genres),
        cmocka_unit_test(test_shared_fitted_vocabulary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
