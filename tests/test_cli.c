/* The `deepctr` program end to end: runs the built binary ($DCTR_BIN_DIR/deepctr) and checks
 * exit codes, files written and what it prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#include "cli_run.h"
#include "test_env.h"

#define SYNTH_ROWS 2000

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static char synth_csv[1024], model_path[1024];

/* Shared fixture: a small synthetic file and a model trained on it (2 epochs). */
static int setup(void **state) {
    (void)state;
    if (cli_find_bin() != 0)
        return -1;
    dctr_test_tmp_path(synth_csv, sizeof synth_csv, "cli_synth.csv");
    dctr_test_tmp_path(model_path, sizeof model_path, "cli_model.dctr");
    char rows[32];
    snprintf(rows, sizeof rows, "%d", SYNTH_ROWS);
    unlink(model_path);
    if (run("synth", "--rows", rows, "--seed", "7", "--dense", "4", "--sparse", "6", "--max-vocab", "500",
            "--out", synth_csv, NULL) != 0) {
        fprintf(stderr, "synth failed: %s%s\n", out_text, err_text);
        return -1;
    }
    if (run("train", "--train", synth_csv, "--label", "label", "--epochs", "2", "--hidden", "32,16",
            "--embedding-dim", "4", "--out", model_path, NULL) != 0) {
        fprintf(stderr, "train failed: %s%s\n", out_text, err_text);
        return -1;
    }
    return 0;
}

static void test_synth_reports_planted_model(void **state) {
    (void)state;
    char p[1024];
    dctr_test_tmp_path(p, sizeof p, "cli_synth_small.csv");
    assert_int_equal(run("synth", "--rows", "300", "--seed", "3", "--out", p, NULL), 0);
    assert_contains(out_text, "planted model: auc 0.");
    assert_contains(out_text, "wrote 300 rows");
    assert_contains(out_text, "planted model on the last 30 rows"); /* the --valid-split 0.1 rows */
    assert_true(file_exists(p));
}

static void test_train_writes_model_and_prints_epochs(void **state) {
    (void)state;
    char m[1024];
    dctr_test_tmp_path(m, sizeof m, "cli_model_b.dctr");
    unlink(m);
    assert_int_equal(run("train", "--train", synth_csv, "--epochs", "2", "--hidden", "16", "--valid-split", "0.2",
                         "--sparse", "C1,C2:hash=1000", "--dense", "I1:transform=log1p", "--seed", "5", "--out", m,
                         NULL),
                     0);
    assert_true(file_exists(m));
    /* stdout is a file here: plain per-epoch lines, no progress bar escapes. */
    assert_contains(out_text, "epoch 1/2");
    assert_contains(out_text, "epoch 2/2");
    assert_contains(out_text, "val_auc");
    assert_contains(out_text, "val_logloss");
    assert_null(strstr(out_text, "\033["));
    /* I2.. and C3.. were not named: inferred and reported. */
    assert_contains(out_text, "inferred");
    assert_contains(out_text, "I2");
    assert_contains(out_text, "C3");
    /* the synthetic counts are heavy-tailed integers: log1p, not min-max */
    assert_contains(out_text, "inferred 3 dense (log1p: heavy-tailed counts) columns: I2 I3 I4");
    assert_contains(out_text, "saved ");
}

static int64_t count_lines(const char *path, int check_probability) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    int64_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (check_probability) {
            char *end = NULL;
            double v = strtod(line, &end);
            assert_true(end != line);
            assert_true(v >= 0.0 && v <= 1.0);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void test_predict_one_line_per_row(void **state) {
    (void)state;
    char p[1024];
    dctr_test_tmp_path(p, sizeof p, "cli_pred.txt");
    unlink(p);
    assert_int_equal(run("predict", "--model-file", model_path, "--data", synth_csv, "--out", p, NULL), 0);
    assert_int_equal(count_lines(p, 1), SYNTH_ROWS);
}

/* Prediction files need no label column. */
static void test_predict_without_labels(void **state) {
    (void)state;
    char nolabel[1024], p[1024];
    dctr_test_tmp_path(nolabel, sizeof nolabel, "cli_nolabel.csv");
    dctr_test_tmp_path(p, sizeof p, "cli_pred_nolabel.txt");
    FILE *in = fopen(synth_csv, "r"), *out = fopen(nolabel, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[8192];
    int rows = 0;
    while (fgets(line, sizeof line, in) && rows <= 100) {
        char *comma = strchr(line, ','); /* label is the first column */
        assert_non_null(comma);
        fputs(comma + 1, out);
        rows++;
    }
    fclose(in);
    fclose(out);
    assert_int_equal(run("predict", "--model-file", model_path, "--data", nolabel, "--out", p, NULL), 0);
    assert_int_equal(count_lines(p, 1), rows - 1);
}

static void test_eval_json(void **state) {
    (void)state;
    assert_int_equal(run("eval", "--model-file", model_path, "--data", synth_csv, "--json", NULL), 0);
    assert_contains(out_text, "{");
    assert_contains(out_text, "}");
    assert_contains(out_text, "\"auc\": 0.");
    assert_contains(out_text, "\"logloss\": ");
    assert_contains(out_text, "\"rows\": 2000");
    /* A model trained 2 epochs on its own 2000 rows ranks better than chance (null AUC sd ~0.015;
     * the recommended defaults start slowly on so little data: ~0.57). */
    double auc = atof(strstr(out_text, "\"auc\": ") + 7);
    assert_true(auc > 0.55);
    assert_int_equal(run("eval", "--model-file", model_path, "--data", synth_csv, NULL), 0);
    assert_contains(out_text, "rows 2000");
    assert_contains(out_text, "auc ");
}

static void test_inspect_prints_columns(void **state) {
    (void)state;
    assert_int_equal(run("inspect", "--model-file", model_path, NULL), 0);
    assert_contains(out_text, "deepfm");
    assert_contains(out_text, "binary");
    assert_contains(out_text, "C1 ");
    assert_contains(out_text, "I1 ");
    assert_contains(out_text, "sparse");
    assert_contains(out_text, "dense");
    assert_contains(out_text, "format version");
}

static void test_bad_flags_exit_2_with_usage(void **state) {
    (void)state;
    assert_int_equal(run("train", "--bogus", NULL), 2);
    assert_contains(err_text, "unknown option '--bogus'");
    assert_contains(err_text, "usage: deepctr train");
    assert_int_equal(run("train", "--train", synth_csv, "--epochs", "abc", "--out", "x", NULL), 2);
    assert_contains(err_text, "--epochs");
    assert_int_equal(run("train", "--train", synth_csv, NULL), 2);
    assert_contains(err_text, "missing --out");
    assert_int_equal(run("train", "--train", synth_csv, "--out", "x", "--model", "xgboost", NULL), 2);
    assert_int_equal(run("train", "--train", synth_csv, "--out", "x", "--bn", "--no-bn", NULL), 2);
    assert_contains(err_text, "--bn or --no-bn");
    assert_int_equal(run("train", "--train", synth_csv, "--out", "x", "--varlen", "genres:sep=|", NULL), 2);
    assert_contains(err_text, "maxlen");
    assert_int_equal(run("predict", "--data", synth_csv, NULL), 2);
    assert_contains(err_text, "usage: deepctr predict");
    assert_int_equal(run("eval", "--model-file", NULL), 2);
    assert_int_equal(run("inspect", "extra", NULL), 2);
    assert_int_equal(run("frobnicate", NULL), 2);
    assert_contains(err_text, "unknown command");
    assert_int_equal(run(NULL), 2);
}

/* Every name a choice flag accepts is accepted, and its usage error lists all of them (the
 * --monitor error once listed 4 of the 6 names it accepts). */
static void test_choice_flags_accept_and_list_every_name(void **state) {
    (void)state;
    static const char *const monitors[] = {"val_auc", "val_logloss", "val_mse", "val_rmse",
                                           "val_loss", "val_accuracy"};
    assert_int_equal(run("train", "--train", synth_csv, "--out", "x", "--monitor", "val_bogus", NULL), 2);
    assert_contains(err_text, "--monitor must be");
    for (size_t i = 0; i < sizeof monitors / sizeof monitors[0]; i++)
        assert_contains(err_text, monitors[i]);
    assert_contains(err_text, "got 'val_bogus'");
    static const char *const optimizers[] = {"adam", "adagrad", "sgd", "rmsprop", "ftrl"};
    assert_int_equal(run("train", "--train", synth_csv, "--out", "x", "--optimizer", "lbfgs", NULL), 2);
    for (size_t i = 0; i < sizeof optimizers / sizeof optimizers[0]; i++)
        assert_contains(err_text, optimizers[i]);
    assert_int_equal(run("train", "--train", synth_csv, "--out", "x", "--model", "xgboost", NULL), 2);
    assert_contains(err_text, "deepfm, fm, lr, ffm or deepffm, got 'xgboost'");
    /* the two names the old error left out are accepted: a binary model trains with either */
    char path[1024];
    dctr_test_tmp_path(path, sizeof path, "cli_monitor.dctr");
    const char *const extra[] = {"val_accuracy", "val_loss"};
    for (int i = 0; i < 2; i++) {
        unlink(path);
        assert_int_equal(run("train", "--train", synth_csv, "--epochs", "1", "--hidden", "8",
                             "--embedding-dim", "2", "--monitor", extra[i], "--out", path, NULL), 0);
        assert_true(file_exists(path));
    }
    /* a regression model refuses the binary metrics, naming the ones it takes */
    assert_int_equal(run("train", "--train", synth_csv, "--task", "regression", "--monitor",
                         "val_accuracy", "--out", "x", NULL), 2);
    assert_contains(err_text, "not defined for regression");
}

static void test_help_and_version(void **state) {
    (void)state;
    assert_int_equal(run("--help", NULL), 0);
    assert_contains(out_text, "train");
    assert_int_equal(run("--version", NULL), 0);
    assert_contains(out_text, "deepctr 0.");
    static const char *const cmds[] = {"train", "predict", "eval", "inspect", "synth"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(run(cmds[i], "--help", NULL), 0);
        assert_contains(out_text, "usage: deepctr ");
    }
    assert_int_equal(run("train", "--help", NULL), 0);
    assert_contains(out_text, "--embedding-dim");
}

static void test_missing_file_exit_1_names_path(void **state) {
    (void)state;
    assert_int_equal(run("train", "--train", "/nonexistent/cli_x.csv", "--out", "/tmp/never.dctr", NULL), 1);
    assert_contains(err_text, "deepctr: error:");
    assert_contains(err_text, "/nonexistent/cli_x.csv");
    assert_int_equal(run("eval", "--model-file", "/nonexistent/m.dctr", "--data", synth_csv, NULL), 1);
    assert_contains(err_text, "/nonexistent/m.dctr");
    assert_int_equal(run("predict", "--model-file", model_path, "--data", "/nonexistent/d.csv", NULL), 1);
    assert_contains(err_text, "/nonexistent/d.csv");
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_malformed_csv_exit_1_with_line(void **state) {
    (void)state;
    char bad[1024], m[1024];
    dctr_test_tmp_path(bad, sizeof bad, "cli_bad.csv");
    dctr_test_tmp_path(m, sizeof m, "cli_bad.dctr");
    /* Line 4 has one field too few. */
    write_file(bad, "label,a,b\n1,x,2\n0,y,3\n1,z\n0,w,4\n");
    assert_int_equal(run("train", "--train", bad, "--out", m, "--epochs", "1", NULL), 1);
    assert_contains(err_text, "deepctr: error:");
    char where[1100];
    snprintf(where, sizeof where, "%s:4", bad);
    assert_contains(err_text, where);

    /* Far past the rows the column inference samples: the library's reader must catch it. */
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("label,a,b\n", f);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "%d,v%d,%d\n", i % 2, i % 7, i % 5);
    fputs("1,\"unterminated,3\n", f);
    fclose(f);
    assert_int_equal(run("train", "--train", bad, "--out", m, "--epochs", "1", NULL), 1);
    snprintf(where, sizeof where, "%s:3002", bad);
    assert_contains(err_text, where);
}

/* Regression with a multi-value column and ignored columns, on the real MovieLens sample. */
static void test_movielens_regression_varlen(void **state) {
    (void)state;
    char data[1024], m[1024];
    dctr_test_data_path(data, sizeof data, "deepctr-samples/movielens_sample.txt");
    dctr_test_tmp_path(m, sizeof m, "cli_movielens.dctr");
    unlink(m);
    assert_int_equal(run("train", "--task", "regression", "--train", data, "--label", "rating", "--sparse",
                         "user_id,movie_id,gender,age,occupation,zip", "--varlen",
                         "genres:maxlen=5:sep=|:combiner=mean", "--ignore", "timestamp,title", "--epochs", "2",
                         "--hidden", "16", "--out", m, NULL),
                     0);
    assert_contains(out_text, "val_mse");
    assert_int_equal(run("eval", "--model-file", m, "--data", data, "--json", NULL), 0);
    assert_contains(out_text, "\"mse\": ");
    assert_contains(out_text, "\"rows\": 200");
    assert_int_equal(run("inspect", "--model-file", m, NULL), 0);
    assert_contains(out_text, "genres");
    assert_contains(out_text, "varlen");
    assert_contains(out_text, "regression");
}

static int files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            eq = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

/* --cache: the second run reads the encoded rows back; same seed => byte-identical model. */
static void test_cache_and_determinism(void **state) {
    (void)state;
    char cache[1024], m1[1024], m2[1024];
    dctr_test_tmp_path(cache, sizeof cache, "cli_train.cache");
    dctr_test_tmp_path(m1, sizeof m1, "cli_det1.dctr");
    dctr_test_tmp_path(m2, sizeof m2, "cli_det2.dctr");
    unlink(cache);
    assert_int_equal(run("train", "--train", synth_csv, "--epochs", "1", "--hidden", "16", "--cache", cache, "--out", m1,
                         NULL),
                     0);
    assert_null(strstr(out_text, "from cache"));
    assert_true(file_exists(cache));
    assert_int_equal(run("train", "--train", synth_csv, "--epochs", "1", "--hidden", "16", "--cache", cache, "--out", m2,
                         NULL),
                     0);
    assert_contains(out_text, "from cache");
    assert_true(files_equal(m1, m2));
    /* Other columns: the cache no longer matches and says so. */
    assert_int_equal(run("train", "--train", synth_csv, "--epochs", "1", "--sparse", "C1:hash=64", "--cache", cache,
                         "--out", m2, NULL),
                     1);
    assert_contains(err_text, cache);
}

/* FFM on libffm text goes to the libffm-compatible part of the tool, and back for eval. */
static void test_ffm_libffm_dispatch(void **state) {
    (void)state;
    char tr[1024], va[1024], m[1024];
    dctr_test_data_path(tr, sizeof tr, "criteo-ffm-small/small_train.txt");
    dctr_test_data_path(va, sizeof va, "criteo-ffm-small/small_test.txt");
    dctr_test_tmp_path(m, sizeof m, "cli_ffm.dctr");
    unlink(m);
    assert_int_equal(run("train", "--model", "ffm", "--format", "libffm", "--train", tr, "--valid", va, "-k", "4", "-t",
                         "2", "-r", "0.2", "-l", "2e-5", "-s", "1", "--out", m, NULL),
                     0);
    assert_true(file_exists(m));
    /* small_test.txt has no .ffm suffix: the model itself says it is libffm-native. */
    assert_int_equal(run("eval", "--model-file", m, "--data", va, "--json", NULL), 0);
    assert_contains(out_text, "\"rows\": 200");
    assert_contains(out_text, "\"logloss\": ");
    assert_int_equal(run("inspect", "--model-file", m, NULL), 0);
    assert_contains(out_text, "ffm");
}

/* Column inference: heavy-tailed integer counts -> log1p; a narrow integer range (years), fractions
 * and a 0/1 flag -> min-max; text -> sparse. Explicit model flags still override the defaults. */
static void test_infers_log1p_for_heavy_counts(void **state) {
    (void)state;
    char p[1024], m[1024];
    dctr_test_tmp_path(p, sizeof p, "cli_infer.csv");
    dctr_test_tmp_path(m, sizeof m, "cli_infer.dctr");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("label,year,cnt,frac,flag,site\n", f);
    for (int i = 0; i < 400; i++) /* cnt: mostly small, a few in the thousands */
        fprintf(f, "%d,%d,%d,%.3f,%d,s%d\n", i % 3 == 0, 1990 + i % 30, i % 50 == 0 ? 1000 + i : i % 4, (i % 7) / 7.0,
                i % 2, i % 5);
    fclose(f);
    assert_int_equal(run("train", "--train", p, "--epochs", "1", "--hidden", "8", "--no-bn", "--optimizer", "adam",
                         "--out", m, NULL),
                     0);
    assert_contains(out_text, "inferred 1 dense (log1p: heavy-tailed counts) column: cnt");
    assert_contains(out_text, "inferred 3 dense (minmax) columns: year frac flag");
    assert_contains(out_text, "inferred 1 sparse (fitted vocabulary) column: site");
    assert_int_equal(run("inspect", "--model-file", m, NULL), 0);
    assert_contains(out_text, "deepfm");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_reports_planted_model),
        cmocka_unit_test(test_train_writes_model_and_prints_epochs),
        cmocka_unit_test(test_predict_one_line_per_row),
        cmocka_unit_test(test_predict_without_labels),
        cmocka_unit_test(test_eval_json),
        cmocka_unit_test(test_inspect_prints_columns),
        cmocka_unit_test(test_bad_flags_exit_2_with_usage),
        cmocka_unit_test(test_choice_flags_accept_and_list_every_name),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_missing_file_exit_1_names_path),
        cmocka_unit_test(test_malformed_csv_exit_1_with_line),
        cmocka_unit_test(test_movielens_regression_varlen),
        cmocka_unit_test(test_cache_and_determinism),
        cmocka_unit_test(test_ffm_libffm_dispatch),
        cmocka_unit_test(test_infers_log1p_for_heavy_counts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
