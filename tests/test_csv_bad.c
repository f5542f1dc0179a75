/* The bad-input table: malformed CSV files, each with its specific status and a message that
 * names the location (file:line:column) and, where there is one, the column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "data/batch.h"
#include "deepctr/data.h"
#include "test_env.h"

#define H "label,d,d2,c,i,v\n"
#define OKROW "1,1.5,1|2,a,3,x|y\n"

typedef struct bad_case {
    const char *text;
    size_t len; /* 0 = strlen */
    dctr_status status;
    const char *where;  /* substring after "bad_NN.csv" (the location) */
    const char *detail; /* another substring, or NULL */
    size_t max_line;    /* 0 = default */
    int32_t max_fields; /* 0 = default */
} bad_case;

static const bad_case CASES[] = {
    {H "1,1.5,1|2,a,3\n", 0, DCTR_ERR_PARSE, ":2:14:", "missing field", 0, 0},
    {H "1,1.5,1|2,a,3,x,extra\n", 0, DCTR_ERR_PARSE, ":2:17:", "extra field", 0, 0},
    {H "1,abc,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:3: column 'd'", "not a number", 0, 0},
    {H "1,nan,1|2,a,3,x\n", 0, DCTR_ERR_NUMERIC, ":2:3: column 'd'", "not finite", 0, 0},
    {H "1,-Inf,1|2,a,3,x\n", 0, DCTR_ERR_NUMERIC, ":2:3: column 'd'", "not finite", 0, 0},
    {H "1,1e999,1|2,a,3,x\n", 0, DCTR_ERR_NUMERIC, ":2:3: column 'd'", "not finite", 0, 0},
    {H "1,\"1.5,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:3:", "unterminated quoted field", 0, 0},
    {H OKROW "1,1.5,1|2,a,3,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     0, DCTR_ERR_LIMIT, ":3:", "longer than 64 bytes", 64, 0},
    {"", 0, DCTR_ERR_PARSE, ": empty file", NULL, 0, 0},
    {H, 0, DCTR_ERR_PARSE, ": no data rows", NULL, 0, 0},
    {H "1,1.5,1|2,\xff\xfe,3,x\n", 0, DCTR_ERR_PARSE, ":2:11:", "invalid UTF-8", 0, 0},
    {"label,d,d,d2,c,i,v\n" OKROW, 0, DCTR_ERR_PARSE, ":1:9:", "duplicate column name 'd'", 0, 0},
    {"label,d,d2,c,i,v,zz\n" OKROW, 0, DCTR_ERR_PARSE, ":1:18:", "unknown column 'zz'", 0, 0},
    {"label,d,d2,c,v\n1,1.5,1|2,a,x\n", 0, DCTR_ERR_PARSE, ":1:", "missing column 'i'", 0, 0},
    {H "1,1.5,1|2,a,10,x\n", 0, DCTR_ERR_RANGE, ":2:13: column 'i'", "outside [0, 10)", 0, 0},
    {H "1,1.5,1|2,a,-1,x\n", 0, DCTR_ERR_RANGE, ":2:13: column 'i'", "outside [0, 10)", 0, 0},
    {H "1,1.5,1|2,a,x7,x\n", 0, DCTR_ERR_PARSE, ":2:13: column 'i'", "not an integer", 0, 0},
    {H "1,1.5,1|2,a,99999999999999999999,x\n", 0, DCTR_ERR_RANGE, ":2:13: column 'i'", NULL, 0, 0},
    {H "1,1.5,1|2,zzz,3,x\n", 0, DCTR_ERR_OOV, ":2:11: column 'c'", "value 'zzz'", 0, 0},
    {H "yes,1.5,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:1: column 'label'", "not a number", 0, 0},
    {H ",1.5,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:1: column 'label'", "missing label", 0, 0},
    {H "NaN,1.5,1|2,a,3,x\n", 0, DCTR_ERR_NUMERIC, ":2:1: column 'label'", "not finite", 0, 0},
    {H "inf,1.5,1|2,a,3,x\n", 0, DCTR_ERR_NUMERIC, ":2:1: column 'label'", NULL, 0, 0},
    {H "1,1.5,1|2,a\"b,3,x\n", 0, DCTR_ERR_PARSE, ":2:12:", "quote character inside", 0, 0},
    {H "1,1.5,1|2,\"a\"b,3,x\n", 0, DCTR_ERR_PARSE, ":2:14:", "after a closing quote", 0, 0},
    {H "1,1.5,1|2|3,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:7: column 'd2'", "more than 2 values", 0, 0},
    {H "1,1.5,7,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:7: column 'd2'", "1 values, expected 2", 0, 0},
    {H "1,1.5,1|2,a\0b,3,x\n", sizeof(H "1,1.5,1|2,a\0b,3,x\n") - 1, DCTR_ERR_PARSE, ":2:12:",
     "NUL byte", 0, 0},
    {"d,d2,c,i,v\n1.5,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":1:", "missing label column 'label'", 0, 0},
    {"label,,d,d2,c,i,v\n" OKROW, 0, DCTR_ERR_PARSE, ":1:7:", "empty column name", 0, 0},
    {H "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n", 0, DCTR_ERR_LIMIT, ":2:", "more than 8 fields", 0,
     8},
    {H "1,1.5,1|2,\xc0\xaf,3,x\n", 0, DCTR_ERR_PARSE, ":2:11:", "invalid UTF-8", 0, 0},
    {H "1,1.5x,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:3: column 'd'", "not a number", 0, 0},
    {H "1,0x10,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:3: column 'd'", "not a number", 0, 0},
    {"label,d,d2,c,i,v\r\n1,1.5,1|2,a,3,x\r\n1,bad,1|2,a,3,x\r\n", 0, DCTR_ERR_PARSE,
     ":3:3: column 'd'", NULL, 0, 0},
    /* a quoted field spanning two lines: the error on the next record is on line 4 */
    {H "1,1.5,1|2,a,3,\"x\ny\"\n1,zz,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":4:3: column 'd'", NULL, 0, 0},
    {H "1,1.5,1|2,a,3,x|\xe2\x82\n", 0, DCTR_ERR_PARSE, ":2:15:", "invalid UTF-8", 0, 0},
    {H "2e,1.5,1|2,a,3,x\n", 0, DCTR_ERR_PARSE, ":2:1: column 'label'", NULL, 0, 0},
};

static dctr_schema *make_schema(void) {
    dctr_schema *s;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    dctr_dense_feat d;
    dctr_dense_feat_default(&d, "d");
    d.transform = DCTR_TRANSFORM_STANDARDIZE;
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    dctr_dense_feat_default(&d, "d2");
    d.dimension = 2;
    assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "c");
    f.dtype = DCTR_DTYPE_STRING;
    f.oov_policy = DCTR_OOV_ERROR;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_sparse_feat_default(&f, "i");
    f.vocabulary_size = 10;
    assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    dctr_varlen_feat v;
    dctr_varlen_feat_default(&v, "v", 3);
    v.sparse.use_hash = 1;
    v.sparse.vocabulary_size = 100;
    v.sparse.dtype = DCTR_DTYPE_STRING;
    assert_int_equal(dctr_schema_add_varlen(s, &v), DCTR_OK);
    return s;
}

static void write_bytes(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void test_good_file_reads(void **state) {
    (void)state;
    dctr_schema *s = make_schema();
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "bad_fit.csv");
    const char *good = H OKROW "0,2.5,3|4,b,0,\n";
    write_bytes(path, good, strlen(good));
    assert_int_equal(dctr_schema_fit_csv(s, path, NULL), DCTR_OK);
    dctr_dataset *ds;
    assert_int_equal(dctr_dataset_read_csv(s, path, NULL, &ds), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(ds), 2);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static void test_bad_inputs_table(void **state) {
    (void)state;
    size_t n = sizeof CASES / sizeof CASES[0];
    assert_true(n >= 25);
    dctr_schema *s = make_schema();
    char fit[512];
    dctr_test_tmp_path(fit, sizeof fit, "bad_fit.csv");
    const char *good = H OKROW "0,2.5,3|4,b,0,\n";
    write_bytes(fit, good, strlen(good));
    assert_int_equal(dctr_schema_fit_csv(s, fit, NULL), DCTR_OK);
    for (size_t k = 0; k < n; k++) {
        const bad_case *c = &CASES[k];
        char name[32], path[512];
        snprintf(name, sizeof name, "bad_%02zu.csv", k);
        dctr_test_tmp_path(path, sizeof path, name);
        write_bytes(path, c->text, c->len ? c->len : strlen(c->text));
        dctr_csv_options o;
        dctr_csv_options_default(&o);
        if (c->max_line)
            o.max_line_bytes = c->max_line;
        if (c->max_fields)
            o.max_fields = c->max_fields;
        dctr_dataset *ds = NULL;
        dctr_status st = dctr_dataset_read_csv(s, path, &o, &ds);
        const char *msg = dctr_last_error();
        char where[160];
        snprintf(where, sizeof where, "%s%s", name, c->where);
        if (st != c->status || !strstr(msg, where) || (c->detail && !strstr(msg, c->detail)))
            fail_msg("case %zu: status %s (want %s), message '%s' (want '%s' and '%s')", k,
                     dctr_status_name(st), dctr_status_name(c->status), msg, where,
                     c->detail ? c->detail : "");
        assert_null(ds);
        /* fitting a fresh schema on the same file fails too (same reader), never crashes */
        dctr_schema *f = make_schema();
        dctr_status fst = dctr_schema_fit_csv(f, path, &o);
        assert_true(fst != DCTR_OK || c->status == DCTR_ERR_OOV || c->status == DCTR_ERR_RANGE ||
                    c->status == DCTR_ERR_PARSE || c->status == DCTR_ERR_NUMERIC);
        dctr_schema_free(f);
    }
    dctr_schema_free(s);
}

static void test_missing_file_is_io_error(void **state) {
    (void)state;
    dctr_schema *s = make_schema();
    assert_int_equal(dctr_schema_fit_csv(s, "/nonexistent/x.csv", NULL), DCTR_ERR_IO);
    assert_non_null(strstr(dctr_last_error(), "/nonexistent/x.csv"));
    dctr_schema_free(s);
}

/* Valid but unusual files: tab delimiter, BOM, CRLF, blank lines, quoted delimiters, quotes and
 * newlines, a file without a header (schema order), columns in another order. */
static void test_format_variants(void **state) {
    (void)state;
    dctr_schema *s = make_schema();
    char fit[512];
    dctr_test_tmp_path(fit, sizeof fit, "variants_fit.csv");
    const char *good = H OKROW "0,2.5,3|4,b,0,\n";
    write_bytes(fit, good, strlen(good));
    assert_int_equal(dctr_schema_fit_csv(s, fit, NULL), DCTR_OK);
    dctr_dataset *ref;
    assert_int_equal(dctr_dataset_read_csv(s, fit, NULL, &ref), DCTR_OK);
    const dctr_batch *r = dctr_dataset_rows(ref);
    struct {
        const char *text;
        char delim;
        int header;
    } v[] = {
        {"\xef\xbb\xbflabel\td\td2\tc\ti\tv\r\n\r\n1\t1.5\t1|2\ta\t3\tx|y\r\n\n0\t2.5\t\"3|4\"\tb\t0\t\r\n",
         '\t', 1},
        {"v,i,c,d2,d,label\n\"x|y\",3,\"a\",1|2,1.5,1\n,0,b,3|4,2.5,0", ',', 1},
        {"1,1.5,1|2,a,3,x|y\n0,2.5,3|4,b,0,\n", ',', 0},
        {"label;d;d2;c;i;v\n1;\" 1.5 \";1|2;a;3;x|y\n0;2.5;3|4;b;0;\n", ';', 1},
    };
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        char path[512];
        dctr_test_tmp_path(path, sizeof path, "variants.csv");
        write_bytes(path, v[k].text, strlen(v[k].text));
        dctr_csv_options o;
        dctr_csv_options_default(&o);
        o.delimiter = v[k].delim;
        o.has_header = v[k].header;
        dctr_dataset *ds;
        dctr_status st = dctr_dataset_read_csv(s, path, &o, &ds);
        if (st != DCTR_OK)
            fail_msg("variant %zu: %s", k, dctr_last_error());
        const dctr_batch *b = dctr_dataset_rows(ds);
        assert_int_equal(b->n, 2);
        for (int32_t i = 0; i < s->ncols; i++) {
            size_t per = s->cols[i].kind == DCTR_COLUMN_DENSE ? (size_t)s->cols[i].dense_dim * 4
                         : s->cols[i].kind == DCTR_COLUMN_VARLEN ? (size_t)s->cols[i].maxlen * 8
                                                                 : 8;
            const void *x = s->cols[i].kind == DCTR_COLUMN_DENSE ? (const void *)b->cols[i].dense
                                                                 : (const void *)b->cols[i].ids;
            const void *y = s->cols[i].kind == DCTR_COLUMN_DENSE ? (const void *)r->cols[i].dense
                                                                 : (const void *)r->cols[i].ids;
            assert_memory_equal(x, y, per * 2);
        }
        assert_memory_equal(b->labels, r->labels, 8);
        dctr_dataset_free(ds);
    }
    /* a quoted field with a delimiter, an escaped quote and a newline is one value */
    dctr_schema *q;
    assert_int_equal(dctr_schema_new(&q), DCTR_OK);
    dctr_sparse_feat f;
    dctr_sparse_feat_default(&f, "t");
    f.dtype = DCTR_DTYPE_STRING;
    assert_int_equal(dctr_schema_add_sparse(q, &f), DCTR_OK);
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "variants_q.csv");
    const char *qt = "label,t\n1,\"a,\"\"b\"\"\nc\"\n0,other\n1,\"a,\"\"b\"\"\nc\"\n";
    write_bytes(path, qt, strlen(qt));
    assert_int_equal(dctr_schema_fit_csv(q, path, NULL), DCTR_OK);
    assert_int_equal(dctr_schema_vocabulary_size(q, "t"), 3); /* 2 values + OOV row */
    dctr_batch *b;
    assert_int_equal(dctr_batch_new(q, 1, &b), DCTR_OK);
    assert_int_equal(dctr_batch_begin_row(b), DCTR_OK);
    assert_int_equal(dctr_batch_set_string(b, "t", "a,\"b\"\nc"), DCTR_OK);
    assert_int_equal(dctr_batch_end_row(b), DCTR_OK);
    assert_int_equal(b->cols[0].ids[0], 1); /* "a,..." sorts before "other" */
    dctr_batch_free(b);
    dctr_schema_free(q);
    dctr_dataset_free(ref);
    dctr_schema_free(s);
}

/* Random byte mutations of a valid file: every outcome is OK or a clean error. */
static void test_mutations_never_crash(void **state) {
    (void)state;
    dctr_schema *s = make_schema();
    char fit[512], path[512];
    dctr_test_tmp_path(fit, sizeof fit, "mut_fit.csv");
    dctr_test_tmp_path(path, sizeof path, "mut.csv");
    const char *good = H OKROW "0,2.5,3|4,b,0,\n" "1,\"7\",5|6,a,9,\"x|y|z|w\"\n";
    size_t len = strlen(good);
    write_bytes(fit, good, len);
    assert_int_equal(dctr_schema_fit_csv(s, fit, NULL), DCTR_OK);
    static const char alphabet[] = ",\"\n\r|0a\xff\xc3\x80 9e-.";
    char buf[256];
    dctr_rng rng;
    dctr_rng_init(&rng, 2024, 0);
    int ok = 0, failed = 0;
    for (int it = 0; it < 1500; it++) {
        memcpy(buf, good, len);
        size_t n = len;
        int edits = 1 + (int)dctr_rng_below(&rng, 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = (size_t)dctr_rng_below(&rng, n);
            uint64_t op = dctr_rng_below(&rng, 3);
            char c = alphabet[dctr_rng_below(&rng, sizeof alphabet - 1)];
            if (op == 0) {
                buf[pos] = c;
            } else if (op == 1 && n + 1 < sizeof buf) {
                memmove(buf + pos + 1, buf + pos, n - pos);
                buf[pos] = c;
                n++;
            } else if (n > 1) {
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
            }
        }
        write_bytes(path, buf, n);
        dctr_csv_options o;
        dctr_csv_options_default(&o);
        o.max_line_bytes = 64;
        dctr_dataset *ds = NULL;
        dctr_status st = dctr_dataset_read_csv(s, path, &o, &ds);
        if (st == DCTR_OK) {
            ok++;
            dctr_dataset_free(ds);
        } else {
            failed++;
            assert_null(ds);
            assert_true(st == DCTR_ERR_PARSE || st == DCTR_ERR_NUMERIC || st == DCTR_ERR_RANGE ||
                        st == DCTR_ERR_OOV || st == DCTR_ERR_LIMIT);
            assert_non_null(strstr(dctr_last_error(), "mut.csv"));
        }
    }
    assert_true(ok > 0 && failed > 0);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file_reads),
        cmocka_unit_test(test_bad_inputs_table),
        cmocka_unit_test(test_missing_file_is_io_error),
        cmocka_unit_test(test_format_variants),
        cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
