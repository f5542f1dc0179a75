/* `deepctr` regressions of issue 14: inspect reports optimizer state only when the file has it;
 * group=G on every column still gives the FM its embedding tables. Runs the built binary. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#include "cli_run.h"
#include "test_env.h"

static char csv[1024];
static int setup(void **state) {
    (void)state;
    if (cli_find_bin() != 0)
        return -1;
    dctr_test_tmp_path(csv, sizeof csv, "cli_services.csv");
    return run("synth", "--rows", "500", "--seed", "7", "--dense", "2", "--sparse", "3", "--max-vocab", "50",
               "--out", csv, NULL) == 0 ? 0 : -1;
}

/* Parameter count from "model: NAME, N parameters". */
static long long trained_params(void) {
    const char *p = strstr(out_text, "model: ");
    assert_non_null(p);
    p = strchr(p, ',');
    assert_non_null(p);
    return atoll(p + 1);
}

static void test_inspect_optimizer_state_only_when_saved(void **state) {
    (void)state;
    char with[1024], without[1024];
    dctr_test_tmp_path(with, sizeof with, "cli_services_opt.dctr");
    dctr_test_tmp_path(without, sizeof without, "cli_services_noopt.dctr");
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--out", without, NULL), 0);
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--save-optimizer", "--out", with, NULL), 0);
    assert_int_equal(run("inspect", "--model-file", without, NULL), 0);
    assert_contains(out_text, "no optimizer state");
    assert_int_equal(run("inspect", "--model-file", with, NULL), 0);
    assert_contains(out_text, ", optimizer state ");
}

/* FM with every column in group g: embeddings exist (more parameters than LR on the same columns). */
static void test_group_on_every_column_keeps_fm(void **state) {
    (void)state;
    char m[1024];
    dctr_test_tmp_path(m, sizeof m, "cli_services_fm.dctr");
    const char *spec = "C1:group=g,C2:group=g,C3:group=g";
    assert_int_equal(run("train", "--train", csv, "--model", "lr", "--sparse", spec, "--epochs", "1", "--out", m,
                         NULL), 0);
    long long lr = trained_params();
    assert_int_equal(run("train", "--train", csv, "--model", "fm", "--sparse", spec, "--epochs", "1",
                         "--embedding-dim", "4", "--out", m, NULL), 0);
    long long fm = trained_params();
    assert_true(fm > lr);
    /* the FM part is an embedding per linear weight row of the three columns: 4 floats each */
    assert_true(fm - lr >= 4 * 3);
}


static void read_file(const char *path, char *buf, size_t cap) { read_all(path, buf, cap); }

/* --checkpoint after 2 epochs, then --resume for 1: the same predictions as 3 epochs at once. */
static void test_checkpoint_resume_equals_uninterrupted(void **state) {
    (void)state;
    char ck[1024], r[1024], whole[1024], p1[1024], p2[1024];
    dctr_test_tmp_path(ck, sizeof ck, "cli_services_ck.dctr");
    dctr_test_tmp_path(r, sizeof r, "cli_services_resumed.dctr");
    dctr_test_tmp_path(whole, sizeof whole, "cli_services_whole.dctr");
    dctr_test_tmp_path(p1, sizeof p1, "cli_services_p1.txt");
    dctr_test_tmp_path(p2, sizeof p2, "cli_services_p2.txt");
    assert_int_equal(run("train", "--train", csv, "--valid-split", "0", "--epochs", "2", "--checkpoint", ck,
                         "--out", r, NULL), 0);
    assert_int_equal(run("train", "--train", csv, "--valid-split", "0", "--resume", ck, "--epochs", "1", "--out", r,
                         NULL), 0);
    assert_contains(out_text, "2 epochs run");
    assert_int_equal(run("train", "--train", csv, "--valid-split", "0", "--epochs", "3", "--out", whole, NULL), 0);
    assert_int_equal(run("predict", "--model-file", r, "--data", csv, "--out", p1, NULL), 0);
    assert_int_equal(run("predict", "--model-file", whole, "--data", csv, "--out", p2, NULL), 0);
    static char a[1 << 16], b[1 << 16];
    read_file(p1, a, sizeof a);
    read_file(p2, b, sizeof b);
    assert_true(strlen(a) > 1000);
    assert_string_equal(a, b);
}

static void test_activation_oov_trainable_json(void **state) {
    (void)state;
    char m[1024];
    dctr_test_tmp_path(m, sizeof m, "cli_services_act.dctr");
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--activation", "tanh", "--oov", "hash",
                         "--sparse", "C1:trainable=0:oov=error", "--out", m, NULL), 0);
    assert_int_equal(run("inspect", "--model-file", m, "--json", NULL), 0);
    assert_contains(out_text, "\"activation\": \"tanh\"");
    assert_contains(out_text, "\"name\": \"C1\", \"kind\": \"sparse\"");
    assert_contains(out_text, "\"trainable\": false, \"oov_policy\": \"error\"");
    assert_contains(out_text, "\"trainable\": true, \"oov_policy\": \"hash\"");
    assert_contains(out_text, "\"transform\": \"minmax\"");
    assert_contains(out_text, "\"optimizer_state_bytes\": null");
    assert_contains(out_text, "\"epochs_trained\": 1");
    assert_int_equal(run("train", "--train", csv, "--activation", "swish", "--out", m, NULL), 2);
    assert_contains(err_text, "relu");
    assert_int_equal(run("train", "--train", csv, "--sparse", "C1:oov=maybe", "--out", m, NULL), 2);
    assert_contains(err_text, "oov must be");
}

static void test_predict_json_has_logits(void **state) {
    (void)state;
    char m[1024];
    dctr_test_tmp_path(m, sizeof m, "cli_services_pj.dctr");
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--out", m, NULL), 0);
    assert_int_equal(run("predict", "--model-file", m, "--data", csv, "--json", NULL), 0);
    assert_contains(out_text, "{\"row\": 0, \"probability\": ");
    assert_contains(out_text, "{\"row\": 499, \"probability\": ");
    const char *line = strstr(out_text, "{\"row\": 3,");
    assert_non_null(line);
    double p = atof(strstr(line, "\"probability\": ") + 15), z = atof(strstr(line, "\"logit\": ") + 9);
    assert_true(fabs(1.0 / (1.0 + exp(-z)) - p) < 1e-6);
}

/* export-embeddings writes a table; --init-embeddings reads it back into a new model. */
static void test_embeddings_export_and_init(void **state) {
    (void)state;
    char m[1024], tsv[1024], m2[1024];
    dctr_test_tmp_path(m, sizeof m, "cli_services_emb.dctr");
    dctr_test_tmp_path(m2, sizeof m2, "cli_services_emb2.dctr");
    dctr_test_tmp_path(tsv, sizeof tsv, "cli_services_c2.tsv");
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--out", m, NULL), 0);
    assert_int_equal(run("export-embeddings", "--model-file", m, "--table", "C2", "--out", tsv, NULL), 0);
    static char text[1 << 16];
    read_file(tsv, text, sizeof text);
    assert_true(strncmp(text, "0\t", 2) == 0);
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--init-embeddings", tsv, "--out", m2, NULL), 1);
    char spec[1100];
    snprintf(spec, sizeof spec, "C2=%s", tsv);
    assert_int_equal(run("train", "--train", csv, "--epochs", "1", "--init-embeddings", spec, "--class-weight", "1,4",
                         "--out", m2, NULL), 0);
    assert_contains(out_text, "initial embeddings: ");
    assert_contains(out_text, " rows of table C2");
    assert_int_equal(run("train", "--train", csv, "--class-weight", "1", "--out", m2, NULL), 1);
    assert_contains(err_text, "--class-weight");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_optimizer_state_only_when_saved),
        cmocka_unit_test(test_group_on_every_column_keeps_fm),
        cmocka_unit_test(test_checkpoint_resume_equals_uninterrupted),
        cmocka_unit_test(test_activation_oov_trainable_json),
        cmocka_unit_test(test_predict_json_has_logits),
        cmocka_unit_test(test_embeddings_export_and_init),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
