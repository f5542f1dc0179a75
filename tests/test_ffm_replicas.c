/* ctest-label: threads. Per-thread copies of a small FFM model (src/models/ffm/replicas.h): when
 * they are used, what a merge computes (old value + the sum of the copies' changes; one changer's
 * row as it is; untouched rows as they were; every copy equal to the merged model after), the
 * linear part and bias too, and that two threads on frappe train as well as one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deepctr/ffm.h"
#include "models/ffm/ffm.h"
#include "models/ffm/replicas.h"
#include "test_env.h"

#define M 3
#define N 5
#define K 4

static void make_model(dctr_ffm_weights *w, int use_linear) {
    memset(w, 0, sizeof *w);
    assert_int_equal(dctr_ffm_weights_alloc(w, M, N, K, use_linear), DCTR_OK);
    dctr_ffm_weights_init(w, 7);
    if (use_linear) {
        for (int64_t j = 0; j < N; j++) {
            w->lin[2 * j] = 0.1f * (float)j;
            w->lin[2 * j + 1] = 1.0f;
        }
        w->bias = 0.25f;
        w->bias_g = 1.0f;
    }
}

/* Copy t "trains" feature j: every float of its row (and linear pair) moves by delta. */
static void change(dctr_ffm_replicas *r, int t, int32_t j, float delta) {
    dctr_ffm_node x = {.field = 0, .index = j, .value = 1.0f};
    dctr_ffm_replicas_touch(r, t, &x, &x + 1);
    dctr_ffm_weights *c = &r->copy[t];
    for (size_t i = 0; i < c->row; i++)
        c->W[(size_t)j * c->row + i] += delta * (float)(i + 1);
    if (c->use_linear) {
        c->lin[2 * j] += delta;
        c->lin[2 * j + 1] += delta * delta;
    }
}

static void assert_copies_equal_model(const dctr_ffm_replicas *r, const dctr_ffm_weights *w) {
    for (int t = 0; t < r->threads; t++) {
        assert_memory_equal(r->copy[t].W, w->W, (size_t)w->n * w->row * sizeof(float));
        if (w->use_linear) {
            assert_memory_equal(r->copy[t].lin, w->lin, (size_t)w->n * 2 * sizeof(float));
            assert_true(r->copy[t].bias == w->bias && r->copy[t].bias_g == w->bias_g);
        }
    }
}

static void check_merge(int use_linear) {
    dctr_ffm_weights w, before;
    make_model(&w, use_linear);
    make_model(&before, use_linear);
    dctr_ffm_replicas r;
    assert_int_equal(dctr_ffm_replicas_new(&w, 3, &r), DCTR_OK);
    dctr_ffm_replicas_load(&r, &w);
    assert_copies_equal_model(&r, &w);

    change(&r, 0, 1, 0.5f);  /* feature 1: copies 0 and 2 */
    change(&r, 2, 1, -0.25f);
    change(&r, 1, 3, 0.125f); /* feature 3: copy 1 only */
    if (use_linear) {
        r.copy[0].bias += 0.5f;
        r.copy[2].bias -= 0.125f;
        r.copy[1].bias_g += 2.0f;
    }
    const float row3 = r.copy[1].W[3 * w.row + 2], lin3 = use_linear ? r.copy[1].lin[6] : 0.0f;
    dctr_ffm_replicas_merge(&r, &w, NULL);

    for (size_t i = 0; i < w.row; i++) {
        const float b = before.W[1 * w.row + i];
        const float c0 = b + 0.5f * (float)(i + 1), c2 = b - 0.25f * (float)(i + 1);
        const float want = c0 + (c2 - b); /* the first changer's value + the others' changes */
        assert_true(w.W[1 * w.row + i] == want);
        assert_true(fabsf(w.W[1 * w.row + i] - (b + 0.25f * (float)(i + 1))) <= 1e-5f);
    }
    assert_true(w.W[3 * w.row + 2] == row3); /* one changer: its value as it is */
    for (int32_t j = 0; j < N; j++) /* untouched rows as they were */
        if (j != 1 && j != 3)
            assert_memory_equal(w.W + (size_t)j * w.row, before.W + (size_t)j * w.row, w.row * sizeof(float));
    if (use_linear) {
        assert_true(fabsf(w.lin[2] - (0.1f + 0.5f - 0.25f)) <= 1e-6f);
        assert_true(fabsf(w.lin[3] - (1.0f + 0.25f + 0.0625f)) <= 1e-6f);
        assert_true(w.lin[6] == lin3);
        assert_true(fabsf(w.bias - (0.25f + 0.5f - 0.125f)) <= 1e-6f);
        assert_true(w.bias_g == 3.0f);
    }
    assert_copies_equal_model(&r, &w);

    /* a second round starts clean: nothing changed, nothing moves */
    dctr_ffm_weights_copy(&before, &w);
    dctr_ffm_replicas_merge(&r, &w, NULL);
    assert_memory_equal(w.W, before.W, (size_t)w.n * w.row * sizeof(float));
    assert_copies_equal_model(&r, &w);

    dctr_ffm_replicas_free(&r);
    dctr_ffm_weights_free(&w);
    dctr_ffm_weights_free(&before);
}

static void test_merge_sums_changes(void **state) {
    (void)state;
    check_merge(0);
}

static void test_merge_linear_and_bias(void **state) {
    (void)state;
    check_merge(1);
}

/* Out-of-range feature ids (skipped by the kernels) mark nothing. */
static void test_touch_ignores_outside_ids(void **state) {
    (void)state;
    dctr_ffm_weights w;
    make_model(&w, 0);
    dctr_ffm_replicas r;
    assert_int_equal(dctr_ffm_replicas_new(&w, 2, &r), DCTR_OK);
    dctr_ffm_node x[3] = {{0, N, 1.0f}, {0, -1, 1.0f}, {1, 2, 1.0f}};
    dctr_ffm_replicas_touch(&r, 1, x, x + 3);
    for (int64_t j = 0; j < 2 * N; j++)
        assert_int_equal(r.dirty[j], j == N + 2);
    dctr_ffm_replicas_free(&r);
    dctr_ffm_weights_free(&w);
}

static void test_used_for_small_models_only(void **state) {
    (void)state;
    dctr_ffm_weights small = {.m = 10, .n = 5382, .k = 4, .kp = 4, .blk = 8, .row = 80};
    assert_false(dctr_ffm_replicas_wanted(&small, 1)); /* one thread: the model itself */
    assert_true(dctr_ffm_replicas_wanted(&small, 2));
    dctr_ffm_weights big = small;
    big.n = (int64_t)(DCTR_FFM_REPLICA_MAX_BYTES / (80 * sizeof(float))) + 1;
    assert_false(dctr_ffm_replicas_wanted(&big, 2)); /* Hogwild: its rows rarely collide */
    dctr_ffm_weights mid = small;
    mid.n = (int64_t)(DCTR_FFM_REPLICA_MAX_BYTES / (80 * sizeof(float)));
    assert_true(dctr_ffm_replicas_wanted(&mid, 2));
    assert_false(dctr_ffm_replicas_wanted(&mid, 64)); /* all copies together stay small */
}

/* Frappe (5382 features: copies) at 2 and 3 threads against 1, after each of 3 epochs: a
 * validation logloss no more than 0.005 above one thread's, and within 0.01 of it either way
 * (the rows a thread trains depend on timing: under ASan, 3 threads on 2 cores once ended the
 * first epoch at 0.3028 against 0.3080). */
typedef struct {
    double va[8];
} trace;

static int record(const dctr_ffm_epoch *e, void *user) {
    ((trace *)user)->va[e->epoch - 1] = e->valid_loss;
    return 0;
}

static void test_threads_train_like_one(void **state) {
    (void)state;
    char path[512];
    dctr_ffm_data *tr = NULL, *va = NULL;
    assert_int_equal(dctr_ffm_data_read(dctr_test_data_path(path, sizeof path, "frappe/frappe.train.ffm"), NULL, &tr),
                     DCTR_OK);
    assert_int_equal(dctr_ffm_data_read(dctr_test_data_path(path, sizeof path, "frappe/frappe.test.ffm"), NULL, &va),
                     DCTR_OK);
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 3;
    trace one = {0};
    dctr_model *m = NULL;
    assert_int_equal(dctr_ffm_train(tr, va, &o, record, &one, &m), DCTR_OK);
    dctr_ffm_model_destroy(m);
    for (int threads = 2; threads <= 3; threads++) {
        trace t = {0};
        o.threads = threads;
        assert_int_equal(dctr_ffm_train(tr, va, &o, record, &t, &m), DCTR_OK);
        for (int e = 0; e < 3; e++) {
            print_message("%d threads, epoch %d: va_logloss %.7f (1 thread %.7f)\n", threads, e + 1, t.va[e],
                          one.va[e]);
            assert_true(t.va[e] <= one.va[e] + 0.005);
            assert_true(fabs(t.va[e] - one.va[e]) < 0.01);
        }
        dctr_ffm_model_destroy(m);
    }
    dctr_ffm_data_free(tr);
    dctr_ffm_data_free(va);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_sums_changes),
        cmocka_unit_test(test_merge_linear_and_bias),
        cmocka_unit_test(test_touch_ignores_outside_ids),
        cmocka_unit_test(test_used_for_small_models_only),
        cmocka_unit_test(test_threads_train_like_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
