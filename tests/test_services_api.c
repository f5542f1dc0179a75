/* The services API (include/deepctr/services.h) on the shared sample files: datasets and
 * encoders from arrays equal the CSV path, chunked appends equal one append, typed serving
 * gives exactly the string path's predictions (and logits), embeddings get / set / export,
 * introspection of a loaded model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/deepctr.h"
#include "sample_schemas.h"
#include "test_env.h"

#define MAXROWS 256
#define NCOL 39 /* criteo: I1..I13, C1..C26 */

/* criteo_sample.txt as columns: dense floats (NaN = empty) and strings. */
typedef struct criteo_cols {
    int64_t n;
    float label[MAXROWS];
    float dense[13][MAXROWS];
    char *text[26][MAXROWS];
    dctr_array_column cols[NCOL];
    dctr_arrays arrays;
} criteo_cols;

static void read_criteo(const char *path, criteo_cols *cc) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    cc->n = 0;
    while (cc->n < MAXROWS && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line;
        for (int j = 0; j <= NCOL; j++) {
            char *e = strchr(p, ',');
            if (e)
                *e = '\0';
            if (j == 0)
                cc->label[cc->n] = (float)atof(p);
            else if (j <= 13)
                cc->dense[j - 1][cc->n] = *p ? (float)atof(p) : NAN;
            else
                cc->text[j - 14][cc->n] = strdup(p);
            p = e ? e + 1 : p + strlen(p);
        }
        cc->n++;
    }
    fclose(f);
    for (int i = 0; i < NCOL; i++) {
        dctr_array_column *c = &cc->cols[i];
        memset(c, 0, sizeof *c);
        c->column = i;
        if (i < 13)
            c->values = cc->dense[i];
        else
            c->strings = (const char *const *)cc->text[i - 13];
    }
    dctr_arrays_init(&cc->arrays);
    cc->arrays.num_rows = cc->n;
    cc->arrays.columns = cc->cols;
    cc->arrays.num_columns = NCOL;
    cc->arrays.labels = cc->label;
}

static void free_criteo(criteo_cols *cc) {
    for (int j = 0; j < 26; j++)
        for (int64_t r = 0; r < cc->n; r++)
            free(cc->text[j][r]);
}

static void minmax(dctr_dense_feat *d, int i) {
    (void)i;
    d->transform = DCTR_TRANSFORM_MINMAX;
}

static dctr_model *train_small(const dctr_schema *s, const dctr_dataset *ds) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    static const int32_t hidden[] = {16, 8};
    cfg.hidden_units = hidden;
    cfg.num_hidden = 2;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = 32;
    assert_int_equal(dctr_model_fit(m, ds, &o, NULL), DCTR_OK);
    return m;
}

static criteo_cols cc;

/* Fit + dataset from arrays == fit + dataset from the CSV file: same predictions after the same
 * training; typed serving == the string path; chunked appends == one dataset. */
static void test_arrays_equal_csv_path(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/criteo_sample.txt");
    read_criteo(path, &cc);
    dctr_schema *sc = sample_criteo_schema(minmax, NULL), *sa = sample_criteo_schema(minmax, NULL);
    assert_int_equal(dctr_schema_fit_csv(sc, path, NULL), DCTR_OK);
    assert_int_equal(dctr_schema_fit_arrays(sa, &cc.arrays), DCTR_OK);
    for (int i = 13; i < NCOL; i++)
        assert_int_equal(dctr_schema_vocabulary_size(sa, dctr_schema_column_name(sa, i)),
                         dctr_schema_vocabulary_size(sc, dctr_schema_column_name(sc, i)));
    dctr_dataset *dc = NULL, *da = NULL, *chunks = NULL;
    assert_int_equal(dctr_dataset_read_csv(sc, path, NULL, &dc), DCTR_OK);
    assert_int_equal(dctr_dataset_from_arrays(sa, &cc.arrays, &da), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(da), cc.n);
    /* streaming: three chunks of the same rows */
    assert_int_equal(dctr_dataset_new_empty(sa, &chunks), DCTR_OK);
    int64_t cuts[] = {0, 7, 150, cc.n};
    for (int k = 0; k < 3; k++) {
        dctr_array_column part[NCOL];
        memcpy(part, cc.cols, sizeof part);
        for (int i = 0; i < NCOL; i++) {
            if (part[i].values)
                part[i].values += cuts[k];
            else
                part[i].strings += cuts[k];
        }
        dctr_arrays a = cc.arrays;
        a.columns = part;
        a.num_rows = cuts[k + 1] - cuts[k];
        a.labels = cc.label + cuts[k];
        assert_int_equal(dctr_dataset_append_arrays(chunks, &a), DCTR_OK);
    }
    assert_int_equal(dctr_dataset_num_rows(chunks), cc.n);
    dctr_model *mc = train_small(sc, dc), *ma = train_small(sa, da), *mk = train_small(sa, chunks);
    float pc[MAXROWS], pa[MAXROWS], pk[MAXROWS], pt[MAXROWS], lt[MAXROWS];
    assert_int_equal(dctr_model_predict(mc, dc, pc), DCTR_OK);
    assert_int_equal(dctr_model_predict(ma, da, pa), DCTR_OK);
    assert_int_equal(dctr_model_predict(mk, chunks, pk), DCTR_OK);
    /* typed serving through a predictor smaller than the rows (chunks of 64) */
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(mc, 64, &p), DCTR_OK);
    assert_int_equal(dctr_predictor_predict_arrays(p, &cc.arrays, pt, lt), DCTR_OK);
    for (int64_t r = 0; r < cc.n; r++) {
        assert_true(pa[r] == pc[r]);
        assert_true(pk[r] == pc[r]);
        assert_true(pt[r] == pc[r]);
        assert_true(fabs(1.0 / (1.0 + exp(-(double)lt[r])) - pc[r]) < 1e-6);
    }
    dctr_predictor_free(p);
    dctr_model_free(mc);
    dctr_model_free(ma);
    dctr_model_free(mk);
    dctr_dataset_free(dc);
    dctr_dataset_free(da);
    dctr_dataset_free(chunks);
    dctr_schema_free(sc);
    dctr_schema_free(sa);
}

/* Arrays with a missing column or the wrong kind of values: clear errors. */
static void test_arrays_errors(void **state) {
    (void)state;
    dctr_schema *s = sample_criteo_schema(minmax, NULL);
    dctr_arrays a = cc.arrays;
    a.num_columns = NCOL - 1;
    assert_int_equal(dctr_schema_fit_arrays(s, &a), DCTR_ERR_SCHEMA);
    assert_non_null(strstr(dctr_last_error(), "no array for column 'C26'"));
    dctr_array_column bad[NCOL];
    memcpy(bad, cc.cols, sizeof bad);
    bad[0].values = NULL;
    a = cc.arrays;
    a.columns = bad;
    assert_int_equal(dctr_schema_fit_arrays(s, &a), DCTR_ERR_INVALID_ARG);
    assert_non_null(strstr(dctr_last_error(), "'I1'"));
    a.struct_size = 3;
    assert_int_equal(dctr_schema_fit_arrays(s, &a), DCTR_ERR_INVALID_ARG);
    dctr_schema_free(s);
}

/* Movielens with a varlen column given as offsets + ids (strings): typed == string path. */
static void test_varlen_typed_equals_string_path(void **state) {
    (void)state;
    char path[512];
    dctr_test_data_path(path, sizeof path, "deepctr-samples/movielens_sample.txt");
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    sample_add_movielens_sparse(s, NULL);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "genres", 3);
    v.sparse.dtype = DCTR_DTYPE_STRING;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    o.allow_extra_columns = 1;
    assert_int_equal(dctr_schema_fit_csv(s, path, &o), DCTR_OK);
    dctr_dataset *ds = NULL;
    assert_int_equal(dctr_dataset_read_csv(s, path, &o, &ds), DCTR_OK);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.task = DCTR_TASK_REGRESSION;
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    dctr_fit_options fo;
    dctr_fit_options_default(&fo);
    fo.epochs = 1;
    assert_int_equal(dctr_model_fit(m, ds, &fo, NULL), DCTR_OK);
    float want[MAXROWS];
    assert_int_equal(dctr_model_predict(m, ds, want), DCTR_OK);
    /* the file as arrays: user_id,movie_id,rating,timestamp,title,genres,gender,age,occupation,zip */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    assert_non_null(fgets(line, sizeof line, f));
    static int64_t uid[MAXROWS], mid[MAXROWS], age[MAXROWS], occ[MAXROWS], off[MAXROWS + 1];
    static char *gender[MAXROWS], *zip[MAXROWS], *genre[MAXROWS * 8];
    int64_t n = 0, ng = 0;
    off[0] = 0;
    while (n < MAXROWS && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fld[10];
        char *p = line;
        for (int j = 0; j < 10; j++) { /* a quoted title may hold commas */
            fld[j] = p;
            char *e = *p == '"' ? strchr(strchr(p + 1, '"'), ',') : strchr(p, ',');
            if (e) {
                *e = '\0';
                p = e + 1;
            }
        }
        uid[n] = atoll(fld[0]);
        mid[n] = atoll(fld[1]);
        gender[n] = strdup(fld[6]);
        age[n] = atoll(fld[7]);
        occ[n] = atoll(fld[8]);
        zip[n] = strdup(fld[9]);
        for (char *g = strtok(fld[5], "|"); g; g = strtok(NULL, "|"))
            genre[ng++] = strdup(g);
        off[++n] = ng;
    }
    fclose(f);
    assert_int_equal(n, dctr_dataset_num_rows(ds));
    dctr_array_column cols[7] = {
        {.column = -1, .name = "user_id", .ids = uid},
        {.column = -1, .name = "movie_id", .ids = mid},
        {.column = -1, .name = "gender", .strings = (const char *const *)gender},
        {.column = -1, .name = "age", .ids = age},
        {.column = -1, .name = "occupation", .ids = occ},
        {.column = -1, .name = "zip", .strings = (const char *const *)zip},
        {.column = -1, .name = "genres", .strings = (const char *const *)genre, .offsets = off},
    };
    dctr_arrays a;
    dctr_arrays_init(&a);
    a.num_rows = n;
    a.columns = cols;
    a.num_columns = 7;
    dctr_predictor *p = NULL;
    assert_int_equal(dctr_predictor_new(m, 32, &p), DCTR_OK);
    float got[MAXROWS], logit[MAXROWS];
    assert_int_equal(dctr_predictor_predict_arrays(p, &a, got, logit), DCTR_OK);
    for (int64_t r = 0; r < n; r++) {
        assert_true(got[r] == want[r]);
        assert_true(logit[r] == want[r]); /* regression: the logit is the value */
    }
    for (int64_t r = 0; r < n; r++) {
        free(gender[r]);
        free(zip[r]);
    }
    for (int64_t k = 0; k < ng; k++)
        free(genre[k]);
    dctr_predictor_free(p);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

/* Embeddings: shape, set then get, the TSV export; introspection of the loaded model. */
static void test_embeddings_and_introspection(void **state) {
    (void)state;
    dctr_schema *s = sample_criteo_schema(minmax, NULL);
    assert_int_equal(dctr_schema_fit_arrays(s, &cc.arrays), DCTR_OK);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(s, &cfg, &m), DCTR_OK);
    int32_t t = dctr_model_find_table(m, "C6");
    assert_true(t >= 0);
    int64_t rows = 0;
    int32_t dim = 0;
    assert_int_equal(dctr_model_table_shape(m, t, &rows, &dim), DCTR_OK);
    assert_int_equal(rows, dctr_schema_vocabulary_size(s, "C6"));
    assert_int_equal(dim, 4);
    float v[8] = {1, 2, 3, 4, -1, -2, -3, -4}, back[8];
    /* id 1 is the empty (missing) value, the first fitted key; id 2 a real one */
    assert_int_equal(dctr_model_set_embeddings(m, t, 2, 2, v), DCTR_OK);
    assert_int_equal(dctr_model_get_embeddings(m, t, 2, 2, back), DCTR_OK);
    assert_memory_equal(v, back, sizeof v);
    assert_int_equal(dctr_model_get_embeddings(m, t, rows - 1, 2, back), DCTR_ERR_RANGE);
    char tsv[512];
    dctr_test_tmp_path(tsv, sizeof tsv, "services_c6.tsv");
    assert_int_equal(dctr_model_export_embeddings_tsv(m, t, tsv), DCTR_OK);
    FILE *f = fopen(tsv, "r");
    assert_non_null(f);
    char line[512];
    int lines = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        if (strncmp(line, "2\t", 2) == 0) {
            char key[64];
            float a, b, c, d;
            assert_int_equal(sscanf(line, "2\t%63s\t%f\t%f\t%f\t%f", key, &a, &b, &c, &d), 5);
            assert_true(strlen(key) == 8 && a == 1 && d == 4); /* a fitted C6 value */
            found = 1;
        }
    }
    fclose(f);
    assert_int_equal(lines, rows);
    assert_true(found);
    /* introspection survives save + load */
    assert_int_equal(dctr_model_set_metadata(m, "dataset", "criteo_sample"), DCTR_OK);
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    dctr_model *l = NULL;
    assert_int_equal(dctr_model_load_from_memory(buf, size, &l), DCTR_OK);
    dctr_free_buffer(buf);
    const dctr_schema *ls = dctr_model_schema(l);
    dctr_column_info ci;
    memset(&ci, 0, sizeof ci);
    ci.struct_size = sizeof ci;
    assert_int_equal(dctr_schema_column_info(ls, 1, &ci), DCTR_OK);
    assert_string_equal(ci.name, "I2");
    assert_int_equal(ci.kind, DCTR_COLUMN_DENSE);
    assert_int_equal(ci.transform, DCTR_TRANSFORM_MINMAX);
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t r = 0; r < cc.n; r++) {
        float x = isnan(cc.dense[1][r]) ? 0.0f : cc.dense[1][r];
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
    }
    assert_true(ci.stat_min == mn && ci.stat_max == mx);
    assert_int_equal(dctr_schema_column_info(ls, 20, &ci), DCTR_OK);
    assert_string_equal(ci.name, "C8");
    assert_int_equal(ci.dtype, DCTR_DTYPE_STRING);
    assert_true(ci.fitted_values > 0 && ci.vocabulary_size >= ci.fitted_values);
    assert_string_equal(ci.group_name, "default_group");
    assert_string_equal(dctr_schema_label(ls), "label");
    dctr_model_config lc;
    assert_int_equal(dctr_model_get_config(l, &lc), DCTR_OK);
    assert_int_equal(lc.type, DCTR_MODEL_DEEPFM);
    assert_int_equal(lc.num_hidden, cfg.num_hidden);
    assert_string_equal(dctr_model_get_metadata(l, "dataset"), "criteo_sample");
    assert_int_equal(dctr_model_format_version(), 1);
    dctr_model_free(l);
    dctr_model_free(m);
    dctr_schema_free(s);
    free_criteo(&cc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arrays_equal_csv_path),
        cmocka_unit_test(test_arrays_errors),
        cmocka_unit_test(test_varlen_typed_equals_string_path),
        cmocka_unit_test(test_embeddings_and_introspection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
