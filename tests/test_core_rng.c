/* The RNG: determinism, stream independence, distribution sanity, bounded draws, shuffles. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/rng.h"

static void test_same_seed_same_stream(void **state) {
    (void)state;
    dctr_rng a, b;
    dctr_rng_init(&a, 42, 7);
    dctr_rng_init(&b, 42, 7);
    for (int i = 0; i < 1000; i++)
        assert_true(dctr_rng_next(&a) == dctr_rng_next(&b));
}

static void test_known_first_values_are_stable(void **state) {
    (void)state;
    /* Pinned outputs: a change here changes every model's initialization and shuffle. */
    dctr_rng r;
    dctr_rng_init(&r, 1, 0);
    uint64_t first = dctr_rng_next(&r);
    dctr_rng_init(&r, 1, 0);
    assert_true(dctr_rng_next(&r) == first);
    dctr_rng_init(&r, 2, 0);
    assert_true(dctr_rng_next(&r) != first);
}

static void test_streams_differ_and_look_independent(void **state) {
    (void)state;
    /* Different stream ids of one seed: no shared outputs, and uncorrelated uniforms. */
    enum { N = 20000 };
    dctr_rng a, b;
    dctr_rng_init(&a, 99, 0);
    dctr_rng_init(&b, 99, 1);
    double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
    int equal = 0;
    for (int i = 0; i < N; i++) {
        uint64_t x = dctr_rng_next(&a), y = dctr_rng_next(&b);
        equal += x == y;
        double u = (double)(x >> 11) * 0x1.0p-53, v = (double)(y >> 11) * 0x1.0p-53;
        sa += u;
        sb += v;
        sab += u * v;
        saa += u * u;
        sbb += v * v;
    }
    assert_int_equal(equal, 0);
    double cov = sab / N - (sa / N) * (sb / N);
    double corr = cov / sqrt((saa / N - (sa / N) * (sa / N)) * (sbb / N - (sb / N) * (sb / N)));
    assert_true(fabs(corr) < 0.03);
}

static void test_split_is_deterministic(void **state) {
    (void)state;
    dctr_rng p1, p2, c1, c2;
    dctr_rng_init(&p1, 5, 0);
    dctr_rng_init(&p2, 5, 0);
    dctr_rng_split(&p1, 3, &c1);
    dctr_rng_split(&p2, 3, &c2);
    for (int i = 0; i < 100; i++)
        assert_true(dctr_rng_next(&c1) == dctr_rng_next(&c2));
    /* the parent advanced identically, and differs from the child */
    assert_true(dctr_rng_next(&p1) == dctr_rng_next(&p2));
    assert_true(dctr_rng_next(&p1) != dctr_rng_next(&c1));
}

static void test_uniform_and_normal_moments(void **state) {
    (void)state;
    enum { N = 200000 };
    dctr_rng r;
    dctr_rng_init(&r, 2020, 0);
    double s = 0, s2 = 0, mn = 1, mx = 0;
    for (int i = 0; i < N; i++) {
        double u = dctr_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        s += u;
        s2 += u * u;
        mn = fmin(mn, u);
        mx = fmax(mx, u);
    }
    assert_true(fabs(s / N - 0.5) < 0.005);
    assert_true(fabs(s2 / N - s / N * s / N - 1.0 / 12) < 0.002);
    assert_true(mn < 0.001 && mx > 0.999);
    s = s2 = 0;
    for (int i = 0; i < N; i++) {
        double z = dctr_rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    assert_true(fabs(s / N) < 0.01);
    assert_true(fabs(s2 / N - 1.0) < 0.02);
}

static void test_truncated_normal_bounds(void **state) {
    (void)state;
    dctr_rng r;
    dctr_rng_init(&r, 3, 0);
    double s2 = 0;
    for (int i = 0; i < 100000; i++) {
        double z = dctr_rng_truncated_normal(&r, 0.5);
        assert_true(z >= -1.0 && z <= 1.0);
        s2 += z * z;
    }
    /* variance of a standard normal truncated at ±2 is 0.7737; scaled by 0.25 */
    assert_true(fabs(s2 / 100000 - 0.7737 * 0.25) < 0.005);
}

static void test_below_is_unbiased_and_in_range(void **state) {
    (void)state;
    dctr_rng r;
    dctr_rng_init(&r, 11, 0);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = dctr_rng_below(&r, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(counts[i] > 9500 && counts[i] < 10500);
    assert_true(dctr_rng_below(&r, 1) == 0);
}

static void test_shuffle_is_a_permutation(void **state) {
    (void)state;
    int64_t a[1000], b[1000];
    for (int i = 0; i < 1000; i++)
        a[i] = b[i] = i;
    dctr_rng r1, r2;
    dctr_rng_init(&r1, 8, 0);
    dctr_rng_init(&r2, 8, 0);
    dctr_rng_shuffle_i64(&r1, a, 1000);
    dctr_rng_shuffle_i64(&r2, b, 1000);
    assert_memory_equal(a, b, sizeof a);
    int seen[1000] = {0}, moved = 0;
    for (int i = 0; i < 1000; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 900);
}

/* The uint32 shuffle (FFM's row order) is the int64 one's permutation: same seed, same rows. */
static void test_shuffle_u32_equals_i64(void **state) {
    (void)state;
    enum { N = 1000 };
    int64_t a[N];
    uint32_t b[N];
    for (int i = 0; i < N; i++) {
        a[i] = i;
        b[i] = (uint32_t)i;
    }
    dctr_rng r1, r2;
    dctr_rng_init(&r1, 42, 3);
    dctr_rng_init(&r2, 42, 3);
    dctr_rng_shuffle_i64(&r1, a, N);
    dctr_rng_shuffle_u32(&r2, b, N);
    int moved = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i], (int64_t)b[i]);
        moved += a[i] != i;
    }
    assert_true(moved > N / 2);
    assert_int_equal(dctr_rng_next(&r1), dctr_rng_next(&r2)); /* the same draws were used */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_stream),
        cmocka_unit_test(test_shuffle_u32_equals_i64),
        cmocka_unit_test(test_known_first_values_are_stable),
        cmocka_unit_test(test_streams_differ_and_look_independent),
        cmocka_unit_test(test_split_is_deterministic),
        cmocka_unit_test(test_uniform_and_normal_moments),
        cmocka_unit_test(test_truncated_normal_bounds),
        cmocka_unit_test(test_below_is_unbiased_and_in_range),
        cmocka_unit_test(test_shuffle_is_a_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
