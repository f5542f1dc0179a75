/* `deepctr tune` end to end (docs/quality.md#tuning): runs the trial budget, prints the rounds,
 * a final table and the best trial's `deepctr train` flags, saves a model `eval` reads; the same
 * seed gives the same output table; usage errors exit 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_run.h"
#include "test_env.h"

static char csv[1024], model[1024];

static int setup(void **state) {
    (void)state;
    if (cli_find_bin() != 0)
        return -1;
    dctr_test_tmp_path(csv, sizeof csv, "tune_cli.csv");
    dctr_test_tmp_path(model, sizeof model, "tune_cli.dctr");
    return run("synth", "--out", csv, "--rows", "6000", "--dense", "3", "--sparse", "5", "--max-vocab", "500",
               "--structure", "pairwise", "--seed", "2", NULL);
}

static int teardown(void **state) {
    (void)state;
    remove(csv);
    remove(model);
    return 0;
}

/* The final table (from its header line to the "best:" line) without the seconds column
 * (the 6th field of every row), which differs between runs. */
static char *table_of(const char *text) {
    const char *p = strstr(text, "| trial |");
    assert_non_null(p);
    char *out = calloc(strlen(p) + 1, 1);
    size_t n = 0;
    int bar = 0;
    const char *end = strstr(p, "\nbest:"); /* its line has the run time */
    for (; *p && p != end; p++) {
        if (*p == '\n')
            bar = 0;
        else if (*p == '|')
            bar++;
        else if (bar == 6)
            continue;
        out[n++] = *p;
    }
    return out;
}

static void test_tune_runs_and_is_deterministic(void **state) {
    (void)state;
    assert_int_equal(run("tune", "--train", csv, "--out", model, "--trials", "4", "--max-epochs", "6",
                         "--seed", "3", NULL),
                     0);
    assert_non_null(strstr(out_text, "round 0 trial  0"));
    assert_non_null(strstr(out_text, "best: trial"));
    assert_non_null(strstr(out_text, "deepctr train --model"));
    int rows = 0;
    for (const char *p = strstr(out_text, "| trial |"); (p = strstr(p + 1, "\n| ")) != NULL;)
        rows++;
    assert_int_equal(rows, 4); /* the trial budget */
    char *first = table_of(out_text);
    /* timings differ between runs: compare the table without its seconds column */
    assert_int_equal(run("tune", "--train", csv, "--out", model, "--trials", "4", "--max-epochs", "6",
                         "--seed", "3", NULL),
                     0);
    char *second = table_of(out_text);
    assert_string_equal(first, second);
    free(first);
    free(second);
    assert_int_equal(run("eval", "--model-file", model, "--data", csv, NULL), 0);
    assert_non_null(strstr(out_text, "auc"));
}

static void test_usage_errors(void **state) {
    (void)state;
    assert_int_equal(run("tune", "--train", csv, NULL), 2);
    assert_int_equal(run("tune", "--train", csv, "--out", model, "--models", "ffm", NULL), 2);
    assert_int_equal(run("tune", "--train", csv, "--out", model, "--min-epochs", "5", "--max-epochs", "2", NULL), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tune_runs_and_is_deterministic),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
