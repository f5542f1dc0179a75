/* Metrics against hand-computed values, including tied scores and sample weights. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/metrics.h"

static void test_logloss(void **state) {
    (void)state;
    const float y[2] = {1, 0}, p[2] = {0.8f, 0.3f};
    /* -(ln 0.8 + ln 0.7) / 2 */
    assert_true(fabs(dctr_metric_logloss(y, p, NULL, 2) - 0.2899092476) < 1e-7);
    /* clipping: p = 0 for a positive costs -ln(1e-7) = 16.11809565 */
    const float y1[1] = {1}, p0[1] = {0.0f}, p1[1] = {1.0f};
    assert_true(fabs(dctr_metric_logloss(y1, p0, NULL, 1) - 16.11809565) < 1e-6);
    assert_true(fabs(dctr_metric_logloss(y1, p1, NULL, 1) - 1.0000000500e-7) < 1e-12);
    /* weighted: (3·(-ln 0.8) + 1·(-ln 0.7)) / 4 */
    const float w[2] = {3, 1};
    assert_true(fabs(dctr_metric_logloss(y, p, w, 2) - (3 * 0.2231435513 + 0.3566749439) / 4) < 1e-8);
}

static void test_auc_ties(void **state) {
    (void)state;
    const float y[5] = {1, 0, 1, 0, 1}, p[5] = {0.8f, 0.8f, 0.3f, 0.1f, 0.9f};
    /* positive-negative pairs: (0.8,0.8) tie = 1/2, (0.8,0.1) 1, (0.3,0.8) 0, (0.3,0.1) 1,
     * (0.9,·) 2  ->  4.5 / 6 */
    assert_true(fabs(dctr_metric_auc(y, p, NULL, 5) - 0.75) < 1e-12);
    /* weights pos {1,1,3}, neg {2,1}: (0.5·2 + 1 + 1 + 3·3) / (5·3) = 12/15 */
    const float w[5] = {1, 2, 1, 1, 3};
    assert_true(fabs(dctr_metric_auc(y, p, w, 5) - 0.8) < 1e-12);
    /* all scores tied: 0.5 */
    const float flat[5] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    assert_true(fabs(dctr_metric_auc(y, flat, NULL, 5) - 0.5) < 1e-12);
    /* perfect and reversed ranking */
    const float good[5] = {0.9f, 0.1f, 0.8f, 0.2f, 0.7f};
    assert_true(dctr_metric_auc(y, good, NULL, 5) == 1.0);
    const float bad[5] = {0.1f, 0.9f, 0.2f, 0.8f, 0.3f};
    assert_true(dctr_metric_auc(y, bad, NULL, 5) == 0.0);
    /* one class only: undefined */
    const float ones[3] = {1, 1, 1};
    assert_true(isnan(dctr_metric_auc(ones, p, NULL, 3)));
}

/* Pairwise reference: every positive-negative pair, ties 1/2, weights multiplied. */
static double auc_pairs(const float *y, const float *p, const float *w, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            if (!(y[i] >= 0.5f) || y[j] >= 0.5f)
                continue;
            double ww = (w ? w[i] : 1.0) * (w ? w[j] : 1.0);
            den += ww;
            num += ww * (p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0);
        }
    return num / den;
}

/* The radix-sorted AUC against the pairwise count: negative and positive scores, -0 and +0
 * (equal floats, different bits), heavy ties, weights; a NaN score gives NaN (it used to hang
 * the walk over equal scores: NaN equals nothing, so the walk never moved on). */
static void test_auc_matches_pairs(void **state) {
    (void)state;
    enum { N = 3000 };
    static float y[N], p[N], w[N];
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int level = (int)((x >> 33) % 41) - 20; /* 41 distinct scores: many ties */
        p[i] = level == 0 ? ((x >> 20) & 1 ? -0.0f : 0.0f) : (float)level * 0.37f;
        y[i] = ((x >> 40) % 100) < (uint64_t)(50 + 2 * level) ? 1.0f : 0.0f;
        w[i] = 0.25f + (float)((x >> 50) % 8);
    }
    for (int weighted = 0; weighted < 2; weighted++) {
        const float *ww = weighted ? w : NULL;
        double got = dctr_metric_auc(y, p, ww, N), ref = auc_pairs(y, p, ww, N);
        assert_true(got > 0.55 && got < 0.95);
        assert_true(fabs(got - ref) < 1e-12);
    }
    p[N / 2] = NAN;
    double v = 0;
    assert_int_equal(dctr_metric_auc_checked(y, p, NULL, N, &v), DCTR_OK);
    assert_true(isnan(v));
}

static void test_mse_accuracy_all(void **state) {
    (void)state;
    const float y[4] = {1, 0, 3, -1}, p[4] = {0.5f, 0.5f, 2.0f, 1.0f};
    /* (0.25 + 0.25 + 1 + 4) / 4 = 1.375 */
    assert_true(fabs(dctr_metric_mse(y, p, NULL, 4) - 1.375) < 1e-12);
    const float w[4] = {1, 1, 2, 0};
    /* (0.25 + 0.25 + 2) / 4 = 0.625 */
    assert_true(fabs(dctr_metric_mse(y, p, w, 4) - 0.625) < 1e-12);
    double v[DCTR_METRIC_COUNT];
    dctr_metrics_all(DCTR_TASK_REGRESSION, y, p, NULL, 4, v);
    assert_true(fabs(v[DCTR_METRIC_RMSE] - sqrt(1.375)) < 1e-12);
    assert_true(isnan(v[DCTR_METRIC_AUC]) && isnan(v[DCTR_METRIC_LOGLOSS]));
    const float yb[4] = {1, 0, 1, 0}, pb[4] = {0.6f, 0.4f, 0.4f, 0.5f};
    /* right, right, wrong, wrong (0.5 counts as positive) */
    assert_true(fabs(dctr_metric_accuracy(yb, pb, NULL, 4) - 0.5) < 1e-12);
    dctr_metrics_all(DCTR_TASK_BINARY, yb, pb, NULL, 4, v);
    assert_true(fabs(v[DCTR_METRIC_ACCURACY] - 0.5) < 1e-12);
    /* pos {0.6, 0.4} vs neg {0.4, 0.5}: 1 + 1 + 0.5 + 0 = 2.5 / 4 */
    assert_true(fabs(v[DCTR_METRIC_AUC] - 0.625) < 1e-12);
    assert_true(isnan(v[DCTR_METRIC_LOSS]));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logloss),
        cmocka_unit_test(test_auc_ties),
        cmocka_unit_test(test_auc_matches_pairs),
        cmocka_unit_test(test_mse_accuracy_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
