/* Issue 17, class 2: cost is linear in the input. A wide schema (n and 4n columns) is
 * validated, written, read and loaded as a model, and a wide CSV header is read by `train`;
 * each 4n run must take well under the 16x a quadratic step would (factor 8 allowed, best of
 * 3 runs each, interleaved: no absolute timings). CPU time, not wall time: other processes on a
 * shared machine do not count. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "deepctr/deepctr.h"
#include "feature/schema_io.h"
#include "test_env.h"

#define FACTOR 8.0

static double now(void) { /* this process's CPU time */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n columns: sparse (hashed, own table, 1 in 8 sharing a table) and dense, through the API. */
static dctr_schema *wide_schema(int n) {
    dctr_schema *s = NULL;
    assert_int_equal(dctr_schema_new(&s), DCTR_OK);
    char name[32], emb[32], grp[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "c%d", i);
        if (i % 4 == 3) {
            dctr_dense_feat d;
            dctr_dense_feat_default(&d, name);
            assert_int_equal(dctr_schema_add_dense(s, &d), DCTR_OK);
            continue;
        }
        dctr_sparse_feat f;
        dctr_sparse_feat_default(&f, name);
        f.use_hash = 1;
        f.vocabulary_size = 8;
        f.embedding_dim = 2;
        snprintf(emb, sizeof emb, "t%d", i % 8 == 0 ? 0 : i);
        snprintf(grp, sizeof grp, "g%d", i % 64);
        f.embedding_name = emb;
        f.group_name = grp;
        assert_int_equal(dctr_schema_add_sparse(s, &f), DCTR_OK);
    }
    return s;
}

/* validate + fit + model + save + load of a model over n columns: seconds. */
static double schema_round(int n) {
    double t0 = now();
    dctr_schema *s = wide_schema(n);
    assert_int_equal(dctr_schema_validate(s), DCTR_OK);
    assert_int_equal(dctr_schema_fit_none(s), DCTR_OK);
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_LR);
    dctr_model *m = NULL;
    if (dctr_model_new(s, &cfg, &m) != DCTR_OK)
        fail_msg("%s", dctr_last_error());
    void *buf = NULL;
    size_t size = 0;
    assert_int_equal(dctr_model_save_to_memory(m, 0, &buf, &size), DCTR_OK);
    dctr_model *back = NULL;
    if (dctr_model_load_from_memory(buf, size, &back) != DCTR_OK)
        fail_msg("%s", dctr_last_error());
    assert_int_equal(dctr_schema_num_columns(dctr_model_schema(back)), n);
    dctr_model_free(back);
    dctr_free_buffer(buf);
    dctr_model_free(m);
    dctr_schema_free(s);
    return now() - t0;
}

static void assert_linear(double (*round)(int), int n, const char *what) {
    double small = 1e9, big = 1e9;
    for (int r = 0; r < 3; r++) {
        double a = round(n), b = round(4 * n);
        small = a < small ? a : small;
        big = b < big ? b : big;
    }
    printf("%s: n=%d %.3fs, 4n %.3fs, ratio %.1f\n", what, n, small, big, big / small);
    if (big > FACTOR * small + 0.05)
        fail_msg("%s: 4n took %.3fs, n %.3fs: more than %gx (quadratic?)", what, big, small, FACTOR);
}

static void test_wide_schema_is_linear(void **state) {
    (void)state;
    assert_linear(schema_round, 6000, "schema validate/model/save/load");
}

static char bin[1024];

/* `deepctr train` on a CSV whose header has n names (3 data rows): up to schema inference and
 * a first epoch. Seconds. */
static double header_round(int n) {
    char p[1024], m[1024];
    dctr_test_tmp_path(p, sizeof p, "wide_header.csv");
    dctr_test_tmp_path(m, sizeof m, "wide_header.dctr");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("label", f);
    for (int i = 0; i < n; i++)
        fprintf(f, ",c%d", i);
    for (int r = 0; r < 3; r++) {
        fprintf(f, "\n%d", r % 2);
        for (int i = 0; i < n; i++)
            fprintf(f, i % 2 ? ",%d" : ",v%d", (i + r) % 5); /* dense and fitted sparse */
    }
    fputc('\n', f);
    assert_int_equal(fclose(f), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(bin, bin, "train", "--train", p, "--model", "lr", "--epochs", "1", "--valid-split", "0",
              "--out", m, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru; /* the child's CPU time */
    assert_int_equal(wait4(pid, &status, 0, &ru), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static void test_wide_header_is_linear(void **state) {
    (void)state;
    const char *dir = getenv("DCTR_BIN_DIR");
    snprintf(bin, sizeof bin, "%s/deepctr", dir ? dir : ".");
    if (access(bin, X_OK) != 0)
        skip();
    assert_linear(header_round, 4000, "train on a wide header");
}

/* A header of 10^6 names fails fast with the field cap (applied while reading the line). */
static void test_header_above_field_cap_fails_fast(void **state) {
    (void)state;
    if (access(bin, X_OK) != 0)
        skip();
    char p[1024], m[1024];
    dctr_test_tmp_path(p, sizeof p, "huge_header.csv");
    dctr_test_tmp_path(m, sizeof m, "huge_header.dctr");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("label", f);
    for (int i = 0; i < 1000000; i++)
        fprintf(f, ",%d", i);
    fputs("\n1", f);
    for (int i = 0; i < 1000000; i++)
        fputs(",1", f);
    fputc('\n', f);
    assert_int_equal(fclose(f), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        alarm(60); /* the unbounded code ran for minutes */
        execl(bin, bin, "train", "--train", p, "--out", m, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_schema_is_linear),
        cmocka_unit_test(test_wide_header_is_linear),
        cmocka_unit_test(test_header_above_field_cap_fails_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
