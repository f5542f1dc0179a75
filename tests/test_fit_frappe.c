/* Quality guard on frappe (docs/training.md §6): train on frappe.train.csv holding out its last
 * 10% for early stopping on validation AUC, score frappe.test.csv. The shallow models are fast
 * enough for a unit test: recommended FM beats LR, both beat DeepCTR-Torch's figures (LR 0.911,
 * FM 0.924). The DeepFM figure (0.941-0.945) takes ~40 epochs and is measured outside the tests. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "deepctr/model.h"
#include "test_env.h"

static const char *const cols[10] = {"user",     "item", "daytime", "weekday", "isweekend",
                                     "homework", "cost", "weather", "country", "city"};

typedef struct {
    dctr_schema *s;
    dctr_dataset *all, *head, *tail, *test;
} frappe;

static int setup(void **state) {
    static frappe f;
    assert_int_equal(dctr_schema_new(&f.s), DCTR_OK);
    for (int i = 0; i < 10; i++) {
        dctr_sparse_feat sf;
        dctr_sparse_feat_default(&sf, cols[i]);
        sf.dtype = DCTR_DTYPE_STRING;
        sf.vocabulary_size = DCTR_VOCAB_FIT;
        sf.embedding_dim = 10;
        assert_int_equal(dctr_schema_add_sparse(f.s, &sf), DCTR_OK);
    }
    assert_int_equal(dctr_schema_validate(f.s), DCTR_OK);
    char tr[1024], te[1024];
    dctr_test_data_path(tr, sizeof tr, "frappe/frappe.train.csv");
    dctr_test_data_path(te, sizeof te, "frappe/frappe.test.csv");
    dctr_csv_options o;
    dctr_csv_options_default(&o);
    if (dctr_schema_fit_csv(f.s, tr, &o) != DCTR_OK || dctr_dataset_read_csv(f.s, tr, &o, &f.all) != DCTR_OK ||
        dctr_dataset_read_csv(f.s, te, &o, &f.test) != DCTR_OK)
        fail_msg("frappe: %s", dctr_last_error());
    assert_int_equal(dctr_dataset_split_tail(f.all, 0.1, &f.head, &f.tail), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(f.test), 11545);
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    frappe *f = *state;
    dctr_dataset_free(f->head);
    dctr_dataset_free(f->tail);
    dctr_dataset_free(f->all);
    dctr_dataset_free(f->test);
    dctr_schema_free(f->s);
    return 0;
}

static double test_auc(frappe *f, dctr_model_type type, int32_t max_epochs) {
    dctr_model_config cfg;
    dctr_model_config_recommended(&cfg, type);
    dctr_model *m = NULL;
    assert_int_equal(dctr_model_new(f->s, &cfg, &m), DCTR_OK);
    dctr_fit_options o;
    dctr_fit_options_recommended(&o, DCTR_TASK_BINARY);
    o.validation = f->tail;
    if (max_epochs > 0)
        o.epochs = max_epochs;
    dctr_history h;
    if (dctr_model_fit(m, f->head, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, f->test, v), DCTR_OK);
    print_message("%s: %d epochs, best %d, test AUC %.4f logloss %.4f\n",
                  type == DCTR_MODEL_FM ? "FM" : type == DCTR_MODEL_LR ? "LR" : "DeepFM", h.epochs_run, h.best_epoch,
                  v[DCTR_METRIC_AUC], v[DCTR_METRIC_LOGLOSS]);
    dctr_history_free(&h);
    dctr_model_free(m);
    return v[DCTR_METRIC_AUC];
}

static void test_fm_beats_lr(void **state) {
    frappe *f = *state;
    double lr = test_auc(f, DCTR_MODEL_LR, 0);
    double fm = test_auc(f, DCTR_MODEL_FM, 0);
    assert_true(lr > 0.915);
    assert_true(fm > 0.925);
    assert_true(fm > lr);
}

/* DeepFM capped at 12 epochs (a third of a full run) already beats FM. */
static void test_deepfm_beats_fm(void **state) {
    frappe *f = *state;
    double deep = test_auc(f, DCTR_MODEL_DEEPFM, 12);
    assert_true(deep > 0.928);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fm_beats_lr),
        cmocka_unit_test(test_deepfm_beats_fm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
