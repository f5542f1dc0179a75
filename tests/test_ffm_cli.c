/* `deepctr train/predict/eval` on libffm text: the libffm-style epoch table, saved model,
 * streamed predictions, JSON metrics, and exit codes (2 usage, 1 runtime with the message). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_env.h"

static char bin[512], out_path[512], err_path[512];

static int run(const char *args) {
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "%s/deepctr %s >%s 2>%s", bin, args, out_path, err_path);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state) {
    (void)state;
    const char *b = getenv("DCTR_BIN_DIR");
    if (!b)
        return -1;
    snprintf(bin, sizeof bin, "%s", b);
    dctr_test_tmp_path(out_path, sizeof out_path, "ffm_cli.out");
    dctr_test_tmp_path(err_path, sizeof err_path, "ffm_cli.err");
    return 0;
}

static void test_train_eval_predict(void **state) {
    (void)state;
    char tr[512], va[512], model[512], pred[512], args[4096];
    dctr_test_data_path(tr, sizeof tr, "criteo-ffm-small/small_train.txt");
    dctr_test_data_path(va, sizeof va, "criteo-ffm-small/small_test.txt");
    dctr_test_tmp_path(model, sizeof model, "ffm_cli.dctr");
    dctr_test_tmp_path(pred, sizeof pred, "ffm_cli.pred");
    snprintf(args, sizeof args,
             "train --model ffm --format libffm --train %s --valid %s -k 4 -t 10 -r 0.2 -l 2e-5 -s 1 --out %s", tr,
             va, model);
    assert_int_equal(run(args), 0);
    char *o = slurp(out_path);
    assert_non_null(strstr(o, "iter    tr_logloss    va_logloss    va_auc   tr_time"));
    /* the 10th line of the table: epoch 10 validation logloss near libffm's 0.5524 */
    char *line = strstr(o, "\n  10 ");
    assert_non_null(line);
    double tl, vl, auc;
    assert_int_equal(sscanf(line, " 10 %lf %lf %lf", &tl, &vl, &auc), 3);
    assert_true(fabs(vl - 0.5524) < 0.02);
    assert_non_null(strstr(o, "18 fields, 9991 features, k=4"));

    snprintf(args, sizeof args, "eval --model-file %s --data %s --json", model, va);
    assert_int_equal(run(args), 0);
    o = slurp(out_path);
    double ll = 0;
    char *p = strstr(o, "\"logloss\": ");
    assert_non_null(p);
    ll = atof(p + 11);
    assert_true(fabs(ll - vl) < 1e-5);
    assert_non_null(strstr(o, "\"rows\": 200"));

    snprintf(args, sizeof args, "predict --model-file %s --data %s --out %s", model, va, pred);
    assert_int_equal(run(args), 0);
    FILE *f = fopen(pred, "r");
    assert_non_null(f);
    int n = 0;
    double x;
    while (fscanf(f, "%lf", &x) == 1) {
        assert_true(x > 0 && x < 1);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 200);

    /* --on-disk gives the same table shape and a usable model */
    snprintf(args, sizeof args,
             "train --model ffm --format libffm --train %s --valid %s -t 3 --on-disk --chunk-rows 64 --out %s", tr, va,
             model);
    assert_int_equal(run(args), 0);
    assert_non_null(strstr(slurp(out_path), "\n   3 "));
}

static void test_exit_codes(void **state) {
    (void)state;
    char tr[512], args[4096], bad[512];
    dctr_test_data_path(tr, sizeof tr, "criteo-ffm-small/small_train.txt");
    snprintf(args, sizeof args, "train --model ffm --format libffm --train %s", tr);
    assert_int_equal(run(args), 2); /* no --out */
    assert_non_null(strstr(slurp(err_path), "--out"));
    snprintf(args, sizeof args, "train --model ffm --format libffm --train %s -k 0 --out x", tr);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "train --model ffm --format libffm --train %s --bogus --out x", tr);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "train --model ffm --format libffm --train %s --auto-stop --out x", tr);
    assert_int_equal(run(args), 2);
    dctr_test_tmp_path(bad, sizeof bad, "ffm_cli_bad.ffm");
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("1 0:1:1\n0 0:1\n", f);
    fclose(f);
    snprintf(args, sizeof args, "train --model ffm --format libffm --train %s --out /tmp/never.dctr", bad);
    assert_int_equal(run(args), 1);
    assert_non_null(strstr(slurp(err_path), "ffm_cli_bad.ffm:2:6: missing second ':'"));
    snprintf(args, sizeof args, "eval --model-file /nonexistent.dctr --data %s --format libffm", tr);
    assert_int_equal(run(args), 1);
    snprintf(args, sizeof args, "predict --format libffm --data %s", tr);
    assert_int_equal(run(args), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_eval_predict),
        cmocka_unit_test(test_exit_codes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
