/* ctest-label: threads. dctr_model_fit: validation_split takes the last rows, early stopping stops and restores the
 * best weights, NaN/Inf stops with the failing step not applied, label range check, progress callback
 * and cancellation, sample weights, history. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "deepctr/services.h"
#include "dfm_fixture.h"
#include "models/deepfm.h"
#include "models/ffm/ffm.h"
#include "models/model_types.h"

static const fx_col cols[] = {
    {.name = "A", .kind = DCTR_COLUMN_SPARSE, .vocab = 20, .k = 4},
    {.name = "B", .kind = DCTR_COLUMN_SPARSE, .vocab = 15, .k = 4},
    {.name = "G", .kind = DCTR_COLUMN_VARLEN, .vocab = 9, .k = 4, .maxlen = 3,
     .combiner = DCTR_COMBINER_MEAN},
    {.name = "D", .kind = DCTR_COLUMN_DENSE, .dense_dim = 2},
};
static const int32_t hidden[2] = {16, 8};

static dctr_model *small_model(const dctr_schema *s, dctr_task task) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_DEEPFM);
    cfg.hidden_units = hidden;
    cfg.num_hidden = 2;
    cfg.task = task;
    cfg.optimizer.learning_rate = 0.01;
    return fx_model(s, &cfg);
}

static void test_validation_split_takes_last_rows(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 100, 1, 0, 0));
    dctr_model *m = small_model(s, DCTR_TASK_BINARY);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = 16;
    o.validation_split = 0.2;
    dctr_history h;
    if (dctr_model_fit(m, ds, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    assert_int_equal(h.epochs_run, 2);
    assert_int_equal(m->steps, 2 * 5); /* 80 training rows, batch 16 */
    dctr_dataset *head = NULL, *tail = NULL;
    assert_int_equal(dctr_dataset_split_tail(ds, 0.2, &head, &tail), DCTR_OK);
    assert_int_equal(dctr_dataset_num_rows(tail), 20);
    double vt[DCTR_METRIC_COUNT], vh[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, tail, vt), DCTR_OK);
    assert_int_equal(dctr_model_evaluate(m, head, vh), DCTR_OK);
    const double *last = h.valid + DCTR_METRIC_COUNT;
    assert_true(last[DCTR_METRIC_LOGLOSS] == vt[DCTR_METRIC_LOGLOSS]);
    assert_true(last[DCTR_METRIC_AUC] == vt[DCTR_METRIC_AUC]);
    assert_true(last[DCTR_METRIC_LOGLOSS] != vh[DCTR_METRIC_LOGLOSS]);
    /* train metrics are filled, loss = data + regularization */
    assert_true(isfinite(h.train[DCTR_METRIC_LOGLOSS]) && isfinite(h.train[DCTR_METRIC_AUC]));
    assert_true(h.train[DCTR_METRIC_LOSS] > h.train[DCTR_METRIC_LOGLOSS]);
    assert_true(h.seconds[0] >= 0);
    dctr_history_free(&h);
    dctr_dataset_free(head);
    dctr_dataset_free(tail);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

/* Validation labels are the training labels flipped: the validation loss is best after the
 * first epoch and then rises, so patience 2 stops after epoch 3 and restores epoch 1. */
static void test_early_stopping_restores_best(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_batch *tb = fx_batch(s, 200, 2, 0, 0);
    dctr_batch *vb = fx_batch(s, 200, 2, 0, 0);
    for (int64_t i = 0; i < vb->n; i++)
        vb->labels[i] = 1.0f - vb->labels[i];
    dctr_dataset *train = fx_dataset(s, tb), *valid = fx_dataset(s, vb);
    dctr_model *m = small_model(s, DCTR_TASK_BINARY);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 10;
    o.batch_size = 20;
    o.validation = valid;
    o.patience = 2;
    o.monitor = DCTR_METRIC_LOGLOSS;
    dctr_history h;
    if (dctr_model_fit(m, train, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    assert_int_equal(h.epochs_run, 3);
    assert_int_equal(h.best_epoch, 1);
    assert_true(h.valid[DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS] > h.valid[DCTR_METRIC_LOGLOSS]);
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, valid, v), DCTR_OK);
    assert_true(v[DCTR_METRIC_LOGLOSS] == h.valid[DCTR_METRIC_LOGLOSS]); /* epoch-1 weights */
    dctr_history_free(&h);

    /* max mode on AUC with a huge min_delta: nothing after epoch 1 counts as improvement */
    dctr_model *m2 = small_model(s, DCTR_TASK_BINARY);
    o.monitor = DCTR_METRIC_AUC;
    o.monitor_mode = 1;
    o.min_delta = 10.0;
    o.patience = 1;
    assert_int_equal(dctr_model_fit(m2, train, &o, &h), DCTR_OK);
    assert_int_equal(h.epochs_run, 2);
    assert_int_equal(h.best_epoch, 1);
    dctr_history_free(&h);
    dctr_model_free(m2);
    dctr_model_free(m);
    dctr_dataset_free(train);
    dctr_dataset_free(valid);
    dctr_schema_free(s);
}

/* A non-finite loss stops fit and that step is not applied: the weights (and optimizer state)
 * are exactly those after the last good step, with no snapshot kept for it. */
static void test_nan_stops_and_restores(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_batch *b = fx_batch(s, 100, 3, 0, 0);
    b->cols[3].dense[2 * 70] = NAN; /* row 70: third batch of 32 */
    dctr_dataset *ds = fx_dataset(s, b);
    dctr_model *m = small_model(s, DCTR_TASK_BINARY);
    int64_t n;
    float *p = dctr_deepfm_params(m, &n);
    /* the expected weights: a twin taking the two good steps (rows 0-31, 32-63) by hand */
    dctr_model *twin = small_model(s, DCTR_TASK_BINARY);
    int64_t tn;
    float *tp = dctr_deepfm_params(twin, &tn);
    assert_int_equal(tn, n);
    assert_memory_equal(p, tp, sizeof(float) * (size_t)n);
    dctr_batch view;
    assert_int_equal(dctr_batch_view_init(&view, s), DCTR_OK);
    double dl, rl;
    for (int64_t start = 0; start < 64; start += 32) {
        dctr_batch_view(b, start, 32, &view);
        assert_int_equal(twin->ops->train_step(twin, &view, &dl, &rl, NULL), DCTR_OK);
    }
    dctr_batch_view_release(&view);
    assert_false(memcmp(p, tp, sizeof(float) * (size_t)n) == 0); /* the steps moved them */
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 3;
    o.batch_size = 32;
    o.shuffle = 0;
    assert_int_equal(dctr_model_fit(m, ds, &o, NULL), DCTR_ERR_NUMERIC);
    assert_non_null(strstr(dctr_last_error(), "epoch 1, batch 3"));
    assert_non_null(strstr(dctr_last_error(), "not applied"));
    assert_int_equal(m->steps, 2);
    assert_memory_equal(p, tp, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        assert_true(isfinite(p[i]));
    dctr_model_free(twin);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

static dctr_model *small_ffm(const dctr_schema *s) {
    dctr_model_config cfg;
    dctr_model_config_default(&cfg, DCTR_MODEL_FFM);
    cfg.ffm_k = 4;
    return fx_model(s, &cfg);
}

/* FFM's restore-best snapshot holds the weights only (not the AdaGrad accumulators): the
 * restored model still predicts exactly as the best epoch did. */
static void test_ffm_restores_best_weights(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_batch *tb = fx_batch(s, 200, 2, 0, 0);
    dctr_batch *vb = fx_batch(s, 200, 2, 0, 0);
    for (int64_t i = 0; i < vb->n; i++)
        vb->labels[i] = 1.0f - vb->labels[i];
    dctr_dataset *train = fx_dataset(s, tb), *valid = fx_dataset(s, vb);
    dctr_model *m = small_ffm(s);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 10;
    o.batch_size = 20;
    o.validation = valid;
    o.patience = 2;
    dctr_history h;
    if (dctr_model_fit(m, train, &o, &h) != DCTR_OK)
        fail_msg("fit: %s", dctr_last_error());
    /* the flipped validation labels get worse as training goes on: stopped by patience, with
     * the last epoch worse than the best one */
    assert_true(h.best_epoch >= 1 && h.best_epoch <= 3);
    assert_int_equal(h.epochs_run, h.best_epoch + 2);
    const double best = h.valid[(h.best_epoch - 1) * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS];
    assert_true(h.valid[(h.epochs_run - 1) * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS] > best);
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_model_evaluate(m, valid, v), DCTR_OK);
    assert_true(v[DCTR_METRIC_LOGLOSS] == best); /* the best epoch's weights */
    dctr_history_free(&h);
    dctr_model_free(m);
    dctr_dataset_free(train);
    dctr_dataset_free(valid);
    dctr_schema_free(s);
}

/* FFM updates per row: a non-finite row stops fit before its update, so the weights are those
 * after the rows before it (single thread: rows 0-69 of the 100). */
static void test_ffm_nan_row_not_applied(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_batch *b = fx_batch(s, 100, 3, 0, 0);
    dctr_batch *clean = fx_batch(s, 100, 3, 0, 0);
    b->cols[3].dense[2 * 70] = NAN;
    dctr_dataset *ds = fx_dataset(s, b), *cds = fx_dataset(s, clean);
    dctr_model *m = small_ffm(s), *twin = small_ffm(s);
    const dctr_ffm_weights *w = &((dctr_ffm_impl *)m->impl)->w;
    const dctr_ffm_weights *tw = &((dctr_ffm_impl *)twin->impl)->w;
    size_t bytes = (size_t)w->n * w->row * sizeof(float);
    assert_memory_equal(w->W, tw->W, bytes);
    dctr_batch view;
    assert_int_equal(dctr_batch_view_init(&view, s), DCTR_OK);
    double dl, rl;
    const int64_t starts[3] = {0, 32, 64}, counts[3] = {32, 32, 6};
    for (int i = 0; i < 3; i++) {
        dctr_batch_view(clean, starts[i], counts[i], &view);
        assert_int_equal(twin->ops->train_step(twin, &view, &dl, &rl, NULL), DCTR_OK);
    }
    dctr_batch_view_release(&view);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = 32;
    o.shuffle = 0;
    assert_int_equal(dctr_model_fit(m, ds, &o, NULL), DCTR_ERR_NUMERIC);
    assert_non_null(strstr(dctr_last_error(), "epoch 1, batch 3"));
    assert_memory_equal(w->W, tw->W, bytes);
    for (size_t i = 0; i < bytes / sizeof(float); i++)
        assert_true(isfinite(w->W[i]));
    dctr_model_free(twin);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_dataset_free(cds);
    dctr_schema_free(s);
}

static void test_label_range(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_batch *b = fx_batch(s, 50, 4, 0, 0);
    b->labels[5] = 2.0f;
    dctr_dataset *ds = fx_dataset(s, b);
    dctr_model *m = small_model(s, DCTR_TASK_BINARY);
    assert_int_equal(dctr_model_fit(m, ds, NULL, NULL), DCTR_ERR_RANGE);
    assert_non_null(strstr(dctr_last_error(), "row 6"));
    assert_int_equal(m->steps, 0);
    /* regression accepts any finite label */
    dctr_model *r = small_model(s, DCTR_TASK_REGRESSION);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 1;
    assert_int_equal(dctr_model_fit(r, ds, &o, NULL), DCTR_OK);
    o.monitor = DCTR_METRIC_AUC; /* undefined for regression */
    assert_int_equal(dctr_model_fit(r, ds, &o, NULL), DCTR_ERR_INVALID_ARG);
    dctr_model_free(r);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

typedef struct {
    int batches, epochs, cancel_at_epoch;
    double last_loss;
    int64_t rows;
} counter;

static int on_progress(const dctr_progress *p, void *user) {
    counter *c = user;
    if (p->phase == 0) {
        c->batches++;
        assert_true(p->rows_done > 0 && p->rows_done < p->rows_total);
        assert_true(isfinite(p->running_loss) && p->samples_per_sec > 0 && p->eta_seconds >= 0);
    } else {
        c->epochs++;
        c->rows = p->rows_done;
        c->last_loss = p->train[DCTR_METRIC_LOGLOSS];
        assert_true(isnan(p->valid[DCTR_METRIC_LOGLOSS]));
    }
    return c->cancel_at_epoch && p->phase == 1 && p->epoch == c->cancel_at_epoch;
}

static void test_progress_and_weights(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 96, 5, 0, 1)); /* with sample weights */
    dctr_model *m = small_model(s, DCTR_TASK_BINARY);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 3;
    o.batch_size = 16;
    o.progress_every = 2;
    o.progress = on_progress;
    counter c = {0};
    o.progress_user = &c;
    dctr_history h;
    assert_int_equal(dctr_model_fit(m, ds, &o, &h), DCTR_OK);
    assert_int_equal(c.epochs, 3);
    assert_int_equal(c.batches, 3 * 2); /* after batches 2 and 4 of 6 (not at the end) */
    assert_int_equal(c.rows, 96);
    assert_true(c.last_loss == h.train[2 * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS]);
    assert_true(h.train[2 * DCTR_METRIC_COUNT + DCTR_METRIC_LOGLOSS] <
                h.train[DCTR_METRIC_LOGLOSS]);
    dctr_history_free(&h);
    /* cancellation from the callback */
    counter c2 = {.cancel_at_epoch = 2};
    o.progress_user = &c2;
    assert_int_equal(dctr_model_fit(m, ds, &o, &h), DCTR_ERR_CANCELLED);
    assert_int_equal(h.epochs_run, 2);
    dctr_history_free(&h);
    /* bad options */
    o.batch_size = 0;
    assert_int_equal(dctr_model_fit(m, ds, &o, NULL), DCTR_ERR_INVALID_ARG);
    dctr_model_free(m);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

/* Same seed and threads: fit twice gives bit-identical weights (shuffle + dropout seeded). */
/* A dataset's row pack (dctr_dataset_pack_rows) serves the splits that lie inside it, from the
 * right row (a tail starts mid-pack), and training on it gives the weights an unpacked twin
 * gives; changing the rows (class weights) drops it. */
static void test_packed_dataset_fit_equals(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 160, 7, 0, 0));
    dctr_dataset *twin = fx_dataset(s, fx_batch(s, 160, 7, 0, 0));
    assert_int_equal(dctr_dataset_pack_rows(NULL, 0), DCTR_ERR_INVALID_ARG);
    int64_t base;
    assert_null(dctr_dataset_row_pack(ds, &base));
    assert_int_equal(dctr_dataset_pack_rows(ds, 100), DCTR_ERR_LIMIT); /* over the bound */
    assert_null(dctr_dataset_row_pack(ds, &base));
    assert_int_equal(dctr_dataset_pack_rows(ds, 0), DCTR_OK);
    assert_non_null(dctr_dataset_row_pack(ds, &base));
    assert_int_equal(dctr_dataset_pack_rows(ds, 0), DCTR_OK); /* again: kept */
    dctr_dataset *head, *tail, *thead, *ttail;
    assert_int_equal(dctr_dataset_split_tail(ds, 0.5, &head, &tail), DCTR_OK);
    assert_int_equal(dctr_dataset_split_tail(twin, 0.5, &thead, &ttail), DCTR_OK);
    assert_non_null(dctr_dataset_row_pack(tail, &base));
    assert_int_equal(base, 80);
    dctr_model *a = small_model(s, DCTR_TASK_BINARY), *b = small_model(s, DCTR_TASK_BINARY);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = 16;
    o.validation_split = 0.25;
    assert_int_equal(dctr_model_fit(a, tail, &o, NULL), DCTR_OK);
    assert_int_equal(dctr_model_fit(b, ttail, &o, NULL), DCTR_OK);
    int64_t n;
    float *pa = dctr_deepfm_params(a, &n), *pb = dctr_deepfm_params(b, NULL);
    assert_memory_equal(pa, pb, sizeof(float) * (size_t)n);
    /* a pack of the tail alone does not cover the head */
    dctr_dataset_free(head);
    dctr_dataset_free(tail);
    assert_int_equal(dctr_dataset_pack_rows(ttail, 0), DCTR_OK);
    assert_non_null(dctr_dataset_row_pack(ttail, &base));
    assert_int_equal(base, 0);
    assert_null(dctr_dataset_row_pack(thead, &base));
    /* class weights change the rows: the pack goes */
    dctr_dataset *whole = fx_dataset(s, fx_batch(s, 40, 3, 0, 0));
    assert_int_equal(dctr_dataset_pack_rows(whole, 0), DCTR_OK);
    assert_int_equal(dctr_dataset_apply_class_weights(whole, 1.0f, 3.0f), DCTR_OK);
    assert_null(dctr_dataset_row_pack(whole, &base));
    dctr_dataset_free(whole);
    dctr_dataset_free(thead);
    dctr_dataset_free(ttail);
    dctr_model_free(a);
    dctr_model_free(b);
    dctr_dataset_free(ds);
    dctr_dataset_free(twin);
    dctr_schema_free(s);
}

static void test_fit_determinism(void **state) {
    (void)state;
    dctr_schema *s = fx_schema(cols, 4);
    dctr_dataset *ds = fx_dataset(s, fx_batch(s, 120, 6, 0, 0));
    dctr_model *a = small_model(s, DCTR_TASK_BINARY), *b = small_model(s, DCTR_TASK_BINARY);
    dctr_fit_options o;
    dctr_fit_options_default(&o);
    o.epochs = 2;
    o.batch_size = 32;
    o.threads = 2;
    o.validation_split = 0.25;
    assert_int_equal(dctr_model_fit(a, ds, &o, NULL), DCTR_OK);
    assert_int_equal(dctr_model_fit(b, ds, &o, NULL), DCTR_OK);
    int64_t n;
    float *pa = dctr_deepfm_params(a, &n), *pb = dctr_deepfm_params(b, NULL);
    assert_memory_equal(pa, pb, sizeof(float) * (size_t)n);
    dctr_model_free(a);
    dctr_model_free(b);
    dctr_dataset_free(ds);
    dctr_schema_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation_split_takes_last_rows),
        cmocka_unit_test(test_early_stopping_restores_best),
        cmocka_unit_test(test_nan_stops_and_restores),
        cmocka_unit_test(test_ffm_restores_best_weights),
        cmocka_unit_test(test_ffm_nan_row_not_applied),
        cmocka_unit_test(test_label_range),
        cmocka_unit_test(test_progress_and_weights),
        cmocka_unit_test(test_fit_determinism),
        cmocka_unit_test(test_packed_dataset_fit_equals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
