/* libffm reader: CSR contents of good input, a table of malformed inputs (status + file:line:col),
 * caps, chunked reading with tell/seek, and the real data files' shapes. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"
#include "data/libffm_reader.h"
#include "test_env.h"

static void test_good_input_csr(void **state) {
    (void)state;
    const char *text = "1 0:3:1 2:5:0.5\n"
                       "\n"
                       "  -1\t1:0:2.25e0   0:7:-0.125 \r\n"
                       "0\n"
                       "0.5 3:1:1";
    dctr_ffm_data *d;
    assert_int_equal(dctr_ffm_data_from_text(text, strlen(text), "t.ffm", NULL, &d), DCTR_OK);
    assert_int_equal(dctr_ffm_data_num_rows(d), 4);
    assert_int_equal(dctr_ffm_data_num_nonzeros(d), 5);
    assert_int_equal(dctr_ffm_data_num_fields(d), 4);
    assert_int_equal(dctr_ffm_data_num_features(d), 8);
    const float *y = dctr_ffm_data_labels(d);
    assert_true(y[0] == 1.0f && y[1] == -1.0f && y[2] == 0.0f && y[3] == 0.5f);
    assert_int_equal(d->row_ptr[0], 0);
    assert_int_equal(d->row_ptr[1], 2);
    assert_int_equal(d->row_ptr[2], 4);
    assert_int_equal(d->row_ptr[3], 4); /* a label-only row */
    assert_int_equal(d->row_ptr[4], 5);
    assert_int_equal(d->nodes[1].field, 2);
    assert_int_equal(d->nodes[1].index, 5);
    assert_true(d->nodes[1].value == 0.5f);
    assert_true(d->nodes[2].value == 2.25f);
    assert_true(d->nodes[3].value == -0.125f);
    assert_true(fabsf(d->inv_norm[0] - 1.0f / 1.25f) < 1e-7f);
    assert_true(d->inv_norm[2] == 1.0f); /* no features: r = 1 */
    dctr_ffm_data_free(d);
}

/* Fuzzing found rows whose 1/sum(v^2) leaves the float range (findings libffm-inf-norm and
 * libffm-zero-norm): the factor is clamped to a finite positive float. */
static void test_norm_stays_finite(void **state) {
    (void)state;
    const char *text = "9 0:5:1e-30\n9 0:0:1e30\n1 0:1:0\n";
    dctr_ffm_data *d;
    assert_int_equal(dctr_ffm_data_from_text(text, strlen(text), "n.ffm", NULL, &d), DCTR_OK);
    assert_true(d->inv_norm[0] == FLT_MAX);
    assert_true(d->inv_norm[1] == FLT_MIN);
    assert_true(d->inv_norm[2] == 1.0f); /* only zero values */
    for (int i = 0; i < 3; i++)
        assert_true(isfinite(d->inv_norm[i]) && d->inv_norm[i] > 0);
    dctr_ffm_data_free(d);
}

static void test_decimal_fast_path_matches_strtod(void **state) {
    (void)state;
    const char *vals[] = {"0.3651", "0.28868", "0.35355", "1", "0.5", "123456.789012", "0.1",
                          "3.4028234e38", "1e-3", "7.000000000000000001", "-0.0"};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        char line[128];
        snprintf(line, sizeof line, "1 0:0:%s\n", vals[i]);
        dctr_ffm_data *d;
        assert_int_equal(dctr_ffm_data_from_text(line, strlen(line), "v", NULL, &d), DCTR_OK);
        assert_true(d->nodes[0].value == (float)strtod(vals[i], NULL));
        dctr_ffm_data_free(d);
    }
}

typedef struct {
    const char *text;
    dctr_status status;
    const char *where; /* substring of the message */
} bad_case;

static void test_bad_input_table(void **state) {
    (void)state;
    const bad_case cases[] = {
        {"1 0:1:1\n1 0-1:1\n", DCTR_ERR_PARSE, "bad.ffm:2:3: field is not a non-negative integer"},
        {"1 01\n", DCTR_ERR_PARSE, "bad.ffm:1:5: missing ':'"},
        {"1 0:5\n", DCTR_ERR_PARSE, "bad.ffm:1:6: missing second ':'"},
        {"1 x:1:1\n", DCTR_ERR_PARSE, "bad.ffm:1:3: field is not"},
        {"1 0:y:1\n", DCTR_ERR_PARSE, "bad.ffm:1:5: feature index is not"},
        {"1 -1:2:1\n", DCTR_ERR_RANGE, "bad.ffm:1:3: negative field"},
        {"1 0:-2:1\n", DCTR_ERR_RANGE, "bad.ffm:1:5: negative feature index"},
        {"1 0:99999999999999999999999:1\n", DCTR_ERR_LIMIT, "bad.ffm:1:5: feature index exceeds"},
        {"1 0:2147483647:1\n", DCTR_ERR_LIMIT, "bad.ffm:1:5: feature index exceeds"},
        {"1 70000:1:1\n", DCTR_ERR_LIMIT, "bad.ffm:1:3: field exceeds the limit (must be < 65536)"},
        {"1 0:1:abc\n", DCTR_ERR_PARSE, "bad.ffm:1:7: value is not a number"},
        {"1 0:1:\n", DCTR_ERR_PARSE, "bad.ffm:1:7: missing value"},
        {"1 0:1:1:2\n", DCTR_ERR_PARSE, "bad.ffm:1:7: value is not a number"},
        {"1 0:1:nan\n", DCTR_ERR_NUMERIC, "bad.ffm:1:7: value is NaN or infinite"},
        {"1 0:1:-inf\n", DCTR_ERR_NUMERIC, "bad.ffm:1:7: value is NaN"},
        {"1 0:1:1e39\n", DCTR_ERR_RANGE, "bad.ffm:1:7: value is outside the float range"},
        {"yes 0:1:1\n", DCTR_ERR_PARSE, "bad.ffm:1:1: label is not a number"},
        {"0:1:1 1:2:1\n", DCTR_ERR_PARSE, "bad.ffm:1:1: label is not a number"},
        {"1 0:1:1\n\n nan 0:1:1\n", DCTR_ERR_NUMERIC, "bad.ffm:3:2: label is NaN"},
        {"1 0:1:1\x01\n", DCTR_ERR_PARSE, "bad.ffm:1:7: value is not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dctr_ffm_data *d = (dctr_ffm_data *)1;
        dctr_status s = dctr_ffm_data_from_text(cases[i].text, strlen(cases[i].text), "bad.ffm", NULL, &d);
        if (s != cases[i].status || !strstr(dctr_last_error(), cases[i].where))
            fail_msg("case %zu: got %s '%s', expected %s '%s'", i, dctr_status_name(s), dctr_last_error(),
                     dctr_status_name(cases[i].status), cases[i].where);
        assert_null(d);
    }
}

static void test_blank_lines_policy_and_caps(void **state) {
    (void)state;
    dctr_libffm_options o;
    dctr_libffm_options_default(&o);
    o.skip_blank_lines = 0;
    dctr_ffm_data *d;
    const char *t1 = "1 0:1:1\n   \n";
    assert_int_equal(dctr_ffm_data_from_text(t1, strlen(t1), "b.ffm", &o, &d), DCTR_ERR_PARSE);
    assert_non_null(strstr(dctr_last_error(), "b.ffm:2:1: empty line"));

    dctr_libffm_options_default(&o);
    o.max_line_bytes = 16;
    const char *t2 = "1 0:1:1\n1 0:1:1 1:2:1 2:3:1\n";
    assert_int_equal(dctr_ffm_data_from_text(t2, strlen(t2), "long.ffm", &o, &d), DCTR_ERR_LIMIT);
    assert_non_null(strstr(dctr_last_error(), "long.ffm:2:17: line longer than 16 bytes"));

    dctr_libffm_options_default(&o);
    o.max_fields = 3;
    const char *t3 = "1 2:1:1\n0 3:1:1\n";
    assert_int_equal(dctr_ffm_data_from_text(t3, strlen(t3), "f.ffm", &o, &d), DCTR_ERR_LIMIT);
    assert_non_null(strstr(dctr_last_error(), "f.ffm:2:3: field exceeds the limit (must be < 3)"));

    o.struct_size = 3;
    assert_int_equal(dctr_ffm_data_from_text(t3, strlen(t3), "f.ffm", &o, &d), DCTR_ERR_INVALID_ARG);
    assert_int_equal(dctr_ffm_data_read("/nonexistent/x.ffm", NULL, &d), DCTR_ERR_IO);
    assert_non_null(strstr(dctr_last_error(), "/nonexistent/x.ffm"));
}

static void test_overlong_line_in_file_without_newline(void **state) {
    (void)state;
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "libffm_long.ffm");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("1 0:1:1\n1", f);
    for (int i = 0; i < 5000; i++)
        fputs(" 0:1:1", f);
    fclose(f);
    dctr_libffm_options o;
    dctr_libffm_options_default(&o);
    o.max_line_bytes = 1000;
    dctr_ffm_data *d;
    assert_int_equal(dctr_ffm_data_read(path, &o, &d), DCTR_ERR_LIMIT);
    assert_non_null(strstr(dctr_last_error(), ":2:1001: line longer than 1000 bytes"));
    o.max_line_bytes = 40000;
    assert_int_equal(dctr_ffm_data_read(path, &o, &d), DCTR_OK);
    assert_int_equal(dctr_ffm_data_num_rows(d), 2);
    assert_int_equal(dctr_ffm_data_num_nonzeros(d), 5001);
    dctr_ffm_data_free(d);
}

static void test_chunked_reading_tell_seek(void **state) {
    (void)state;
    char path[512];
    dctr_test_tmp_path(path, sizeof path, "libffm_chunks.ffm");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "%d 0:%d:1 1:%d:0.5\n", i % 2, i, 2000 + i);
    fclose(f);
    dctr_libffm_reader *r;
    assert_int_equal(dctr_libffm_reader_open(path, NULL, &r), DCTR_OK);
    dctr_ffm_data *d;
    assert_int_equal(dctr_ffm_data_new_empty(&d), DCTR_OK);
    int64_t got, total = 0, off_mid = -1, line_mid = -1;
    for (int c = 0;; c++) {
        if (c == 3)
            dctr_libffm_reader_tell(r, &off_mid, &line_mid);
        dctr_ffm_data_clear(d);
        assert_int_equal(dctr_libffm_reader_read(r, d, 128, &got), DCTR_OK);
        if (got == 0)
            break;
        assert_int_equal(d->nodes[0].index, total);
        total += got;
    }
    assert_int_equal(total, 1000);
    assert_int_equal(line_mid, 384);
    assert_int_equal(dctr_libffm_reader_seek(r, off_mid, line_mid), DCTR_OK);
    dctr_ffm_data_clear(d);
    assert_int_equal(dctr_libffm_reader_read(r, d, 2, &got), DCTR_OK);
    assert_int_equal(got, 2);
    assert_int_equal(d->nodes[0].index, 384);
    assert_int_equal(d->nodes[3].index, 2385);
    assert_int_equal(dctr_libffm_reader_rewind(r), DCTR_OK);
    dctr_ffm_data_clear(d);
    assert_int_equal(dctr_libffm_reader_read(r, d, 1, &got), DCTR_OK);
    assert_int_equal(d->nodes[0].index, 0);
    dctr_ffm_data_free(d);
    dctr_libffm_reader_close(r);
}

/* Random byte mutations of a valid text: every outcome is OK or an error whose message starts
 * with "mut.ffm:LINE:COL:" - never a crash (run under ASan in CI). */
static void test_mutations_never_crash(void **state) {
    (void)state;
    const char *base = "1 0:1:0.5 1:22:1 2:333:0.25\n0 0:4:1 3:5:2e-1\n-1 1:0:1\n";
    size_t len = strlen(base);
    char buf[256];
    dctr_rng rng;
    dctr_rng_init(&rng, 99, 0);
    const char alphabet[] = "0123456789:. \t\n-+eEnaif\r\x01x";
    int ok = 0, errors = 0;
    for (int it = 0; it < 5000; it++) {
        memcpy(buf, base, len);
        size_t n = len;
        int edits = 1 + (int)dctr_rng_below(&rng, 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = (size_t)dctr_rng_below(&rng, n);
            int op = (int)dctr_rng_below(&rng, 3);
            char c = alphabet[dctr_rng_below(&rng, sizeof alphabet - 1)];
            if (op == 0)
                buf[pos] = c;
            else if (op == 1 && n + 1 < sizeof buf) {
                memmove(buf + pos + 1, buf + pos, n - pos);
                buf[pos] = c;
                n++;
            } else if (n > 1) {
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
            }
        }
        dctr_ffm_data *d = NULL;
        dctr_status st = dctr_ffm_data_from_text(buf, n, "mut.ffm", NULL, &d);
        if (st == DCTR_OK) {
            assert_non_null(d);
            assert_true(d->row_ptr[d->rows] == d->nnz);
            for (int64_t i = 0; i < d->nnz; i++)
                assert_true(d->nodes[i].field >= 0 && d->nodes[i].index >= 0 && isfinite(d->nodes[i].value));
            dctr_ffm_data_free(d);
            ok++;
        } else {
            assert_null(d);
            const char *msg = dctr_last_error();
            long line = 0, col = 0;
            if (sscanf(msg, "mut.ffm:%ld:%ld:", &line, &col) != 2 || line < 1 || col < 1)
                fail_msg("mutation %d: message without location: %s", it, msg);
            errors++;
        }
    }
    print_message("mutations: %d parsed, %d rejected with a location\n", ok, errors);
    assert_true(ok > 100 && errors > 100);
}

static void test_real_files_shape(void **state) {
    (void)state;
    char path[512];
    dctr_ffm_data *d;
    assert_int_equal(dctr_ffm_data_read(dctr_test_data_path(path, sizeof path, "frappe/frappe.train.ffm"),
                                        NULL, &d), DCTR_OK);
    assert_int_equal(dctr_ffm_data_num_rows(d), 46177);
    assert_int_equal(dctr_ffm_data_num_nonzeros(d), 461770);
    assert_int_equal(dctr_ffm_data_num_fields(d), 10);
    dctr_ffm_data_free(d);
    assert_int_equal(dctr_ffm_data_read(dctr_test_data_path(path, sizeof path,
                                                            "criteo-ffm-small/small_train.txt"), NULL, &d),
                     DCTR_OK);
    assert_int_equal(dctr_ffm_data_num_rows(d), 200);
    assert_int_equal(dctr_ffm_data_num_fields(d), 18);
    assert_int_equal(dctr_ffm_data_num_features(d), 9991);
    double pos = 0;
    for (int64_t i = 0; i < 200; i++) {
        pos += d->labels[i] > 0;
        assert_true(fabsf(d->inv_norm[i] - 0.4f) < 1e-4f); /* sum v^2 = 2.5 on every train row */
    }
    assert_int_equal((int)pos, 48);
    dctr_ffm_data_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_input_csr),
        cmocka_unit_test(test_norm_stays_finite),
        cmocka_unit_test(test_decimal_fast_path_matches_strtod),
        cmocka_unit_test(test_bad_input_table),
        cmocka_unit_test(test_blank_lines_policy_and_caps),
        cmocka_unit_test(test_overlong_line_in_file_without_newline),
        cmocka_unit_test(test_chunked_reading_tell_seek),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_real_files_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
