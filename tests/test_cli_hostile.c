/* Issue 17 through the `deepctr` program: no command overwrites a file it reads (same path,
 * symbolic link, hard link), outputs go through temp + rename, a failed stdout write fails the
 * command, and train reads the same CSV header as predict / eval. */
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

static char csv[1024], ffm[1024], model[1024], ffm_model[1024];
static char before[1 << 20], after[1 << 20];

/* Copies src to a fresh tmp file named `name` (into path). */
static void copy_to(const char *src, const char *name, char *path, size_t cap) {
    dctr_test_tmp_path(path, cap, name);
    size_t n = read_all(src, before, sizeof before);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(before, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The command must fail, say why, and leave `path` byte for byte as it was. */
static void assert_refused_and_intact(int rc, const char *path, size_t n_before) {
    if (rc == 0)
        fail_msg("command succeeded; stderr:\n%s", err_text);
    assert_contains(err_text, "same file");
    size_t n = read_all(path, after, sizeof after);
    assert_int_equal(n, n_before);
    assert_memory_equal(before, after, n);
}

static int setup(void **state) {
    (void)state;
    if (cli_find_bin() != 0)
        return -1;
    dctr_test_tmp_path(csv, sizeof csv, "hcli.csv");
    dctr_test_tmp_path(ffm, sizeof ffm, "hcli.ffm");
    dctr_test_tmp_path(model, sizeof model, "hcli.dctr");
    dctr_test_tmp_path(ffm_model, sizeof ffm_model, "hcli_ffm.dctr");
    if (run("synth", "--rows", "300", "--seed", "3", "--dense", "2", "--sparse", "3", "--out", csv,
            "--libffm", ffm, NULL) != 0 ||
        run("train", "--train", csv, "--epochs", "1", "--hidden", "8", "--out", model, NULL) != 0 ||
        run("train", "--model", "ffm", "--train", ffm, "-t", "1", "--out", ffm_model, NULL) != 0) {
        fprintf(stderr, "setup failed: %s%s\n", out_text, err_text);
        return -1;
    }
    return 0;
}

static void test_predict_same_path(void **state) {
    (void)state;
    char p[1024], m[1024];
    copy_to(csv, "hcli_same.csv", p, sizeof p);
    size_t n = strlen(before);
    assert_refused_and_intact(run("predict", "--model-file", model, "--data", p, "--out", p, NULL), p, n);
    copy_to(model, "hcli_same.dctr", m, sizeof m);
    n = read_all(m, before, sizeof before);
    assert_refused_and_intact(run("predict", "--model-file", m, "--data", csv, "--out", m, NULL), m, n);
}

static void test_train_same_path_and_links(void **state) {
    (void)state;
    char p[1024], sym[1024], hard[1024], va[1024];
    copy_to(csv, "hcli_train.csv", p, sizeof p);
    size_t n = strlen(before);
    assert_refused_and_intact(run("train", "--train", p, "--epochs", "1", "--out", p, NULL), p, n);
    dctr_test_tmp_path(sym, sizeof sym, "hcli_train_sym.csv");
    dctr_test_tmp_path(hard, sizeof hard, "hcli_train_hard.csv");
    unlink(sym);
    unlink(hard);
    assert_int_equal(symlink(p, sym), 0);
    assert_int_equal(link(p, hard), 0);
    assert_refused_and_intact(run("train", "--train", p, "--epochs", "1", "--out", sym, NULL), p, n);
    assert_refused_and_intact(run("train", "--train", p, "--epochs", "1", "--out", hard, NULL), p, n);
    assert_refused_and_intact(run("train", "--train", p, "--epochs", "1", "--cache", p, "--out", model, NULL),
                              p, n);
    copy_to(csv, "hcli_valid.csv", va, sizeof va);
    assert_refused_and_intact(
        run("train", "--train", csv, "--valid", va, "--epochs", "1", "--valid-split", "0", "--out", va, NULL),
        va, n);
}

static void test_ffm_same_path(void **state) {
    (void)state;
    char p[1024];
    copy_to(ffm, "hcli_same.ffm", p, sizeof p);
    size_t n = strlen(before);
    assert_refused_and_intact(run("train", "--model", "ffm", "--train", p, "-t", "1", "--out", p, NULL), p, n);
    assert_refused_and_intact(run("predict", "--model-file", ffm_model, "--data", p, "--out", p, NULL), p, n);
}

/* synth: --out and --libffm naming one file is refused; a failed run keeps the old file. */
static void test_synth_outputs(void **state) {
    (void)state;
    char p[1024];
    copy_to(csv, "hcli_synth.csv", p, sizeof p);
    size_t n = strlen(before);
    assert_int_equal(run("synth", "--rows", "20", "--out", p, "--libffm", p, NULL), 1);
    assert_contains(err_text, "same file");
    size_t m = read_all(p, after, sizeof after);
    assert_int_equal(m, n);
    assert_memory_equal(before, after, n);
}

/* predict --out goes through a temp file: a failed run leaves the old output untouched. */
static void test_predict_out_is_atomic(void **state) {
    (void)state;
    char out[1024];
    dctr_test_tmp_path(out, sizeof out, "hcli_pred.txt");
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    fputs("old predictions\n", f);
    fclose(f);
    char bad[1024];
    dctr_test_tmp_path(bad, sizeof bad, "hcli_bad.csv");
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("nothing,matches\n1,2\n", f);
    fclose(f);
    assert_int_not_equal(run("predict", "--model-file", model, "--data", bad, "--out", out, NULL), 0);
    read_all(out, after, sizeof after);
    assert_string_equal(after, "old predictions\n");
    assert_int_equal(run("predict", "--model-file", model, "--data", csv, "--out", out, NULL), 0);
    read_all(out, after, sizeof after);
    assert_int_equal(strncmp(after, "0.", 2), 0);
}

/* A full stdout (`> /dev/full`) is an error for every command that prints. */
static void test_stdout_write_failure(void **state) {
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char m[1024], s[1024];
    dctr_test_tmp_path(m, sizeof m, "hcli_full.dctr");
    dctr_test_tmp_path(s, sizeof s, "hcli_full.csv");
    assert_int_not_equal(run_to("/dev/full", "eval", "--model-file", model, "--data", csv, NULL), 0);
    assert_int_not_equal(run_to("/dev/full", "inspect", "--model-file", model, NULL), 0);
    assert_int_not_equal(run_to("/dev/full", "synth", "--rows", "50", "--out", s, NULL), 0);
    assert_int_not_equal(run_to("/dev/full", "train", "--train", csv, "--epochs", "1", "--hidden", "4",
                                "--out", m, NULL),
                         0);
    assert_int_not_equal(run_to("/dev/full", "predict", "--model-file", model, "--data", csv, NULL), 0);
    assert_int_not_equal(run_to("/dev/full", "eval", "--model-file", ffm_model, "--data", ffm, NULL), 0);
}

/* --cache is keyed by content: a training file rewritten with its old mtime (`cp -p`, or set
 * back) is read again, never served from the stale cache. */
static void test_cache_keyed_by_content(void **state) {
    (void)state;
    char p[1024], cache[1024], src[1100], m[1024];
    copy_to(csv, "hcli_cache.csv", p, sizeof p);
    dctr_test_tmp_path(cache, sizeof cache, "hcli.cache");
    dctr_test_tmp_path(m, sizeof m, "hcli_cache.dctr");
    snprintf(src, sizeof src, "%s.source", cache);
    unlink(cache);
    unlink(src);
    assert_int_equal(run("train", "--train", p, "--epochs", "1", "--hidden", "4", "--cache", cache, "--out", m, NULL), 0);
    assert_null(strstr(out_text, "from cache"));
    assert_int_equal(run("train", "--train", p, "--epochs", "1", "--hidden", "4", "--cache", cache, "--out", m, NULL), 0);
    assert_contains(out_text, "from cache");
    /* flip every label (same size), then put the mtime back far in the past */
    size_t n = read_all(p, before, sizeof before);
    char *line = strchr(before, '\n');
    while (line && line[1]) {
        line[1] = line[1] == '0' ? '1' : '0';
        line = strchr(line + 1, '\n');
    }
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(before, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    struct timespec old[2] = {{.tv_sec = 946684800}, {.tv_sec = 946684800}};
    assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
    assert_int_equal(run("train", "--train", p, "--epochs", "1", "--hidden", "4", "--cache", cache, "--out", m, NULL), 0);
    assert_null(strstr(out_text, "from cache"));
    /* a deleted cache with its key left behind is made again */
    unlink(cache);
    assert_int_equal(run("train", "--train", p, "--epochs", "1", "--hidden", "4", "--cache", cache, "--out", m, NULL), 0);
    assert_null(strstr(out_text, "from cache"));
}

/* A varlen weight= / length= source that is itself a feature was dropped silently. */
static void test_varlen_aux_naming_a_feature(void **state) {
    (void)state;
    char m[1024];
    dctr_test_tmp_path(m, sizeof m, "hcli_varlen.dctr");
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--varlen", "C1:maxlen=3:weight=C1", "--out", m, NULL),
                     2);
    assert_contains(err_text, "weight=C1");
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--varlen", "C1:maxlen=3:length=C1", "--out", m, NULL),
                     2);
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--sparse", "C2", "--varlen",
                         "C1:maxlen=3:weight=C2", "--out", m, NULL),
                     2);
    assert_contains(err_text, "also named as a feature");
}

/* train reads the header with the same reader as predict / eval: a UTF-8 BOM and a quoted
 * name holding the delimiter, "" and a newline are accepted by all three (docs/input.md). */
static void test_train_header_same_reader(void **state) {
    (void)state;
    char p[1024], m[1024];
    dctr_test_tmp_path(p, sizeof p, "hcli_bom.csv");
    dctr_test_tmp_path(m, sizeof m, "hcli_bom.dctr");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("\xEF\xBB\xBFlabel,\"odd, \"\"name\"\"\nhere\",C1\n", f);
    for (int i = 0; i < 60; i++)
        fprintf(f, "%d,%d.5,\"c%d\"\n", i % 2, i % 7, i % 3);
    assert_int_equal(fclose(f), 0);
    if (run("train", "--train", p, "--epochs", "1", "--hidden", "4", "--valid-split", "0", "--out", m, NULL) != 0)
        fail_msg("train: %s", err_text);
    assert_contains(out_text, "odd, \"name\"\nhere");
    assert_int_equal(run("predict", "--model-file", m, "--data", p, NULL), 0);
    assert_int_equal(run("eval", "--model-file", m, "--data", p, NULL), 0);
    assert_contains(out_text, "rows 60");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predict_same_path),
        cmocka_unit_test(test_train_same_path_and_links),
        cmocka_unit_test(test_ffm_same_path),
        cmocka_unit_test(test_predict_out_is_atomic),
        cmocka_unit_test(test_synth_outputs),
        cmocka_unit_test(test_stdout_write_failure),
        cmocka_unit_test(test_cache_keyed_by_content),
        cmocka_unit_test(test_varlen_aux_naming_a_feature),
        cmocka_unit_test(test_train_header_same_reader),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
