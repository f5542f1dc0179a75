/* Out-of-core FFM training: with one chunk it equals in-memory training exactly; with small
 * chunks it learns as well; and on a file 4x larger than a memory cap, the peak RSS growth of
 * the training process stays under the cap. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rng.h"
#include "deepctr/deepctr.h"
#include "test_env.h"

typedef struct {
    double va[16], tr[16];
    int n;
} trace;

static int record(const dctr_ffm_epoch *e, void *user) {
    trace *t = user;
    t->va[e->epoch - 1] = e->valid_loss;
    t->tr[e->epoch - 1] = e->train_loss;
    t->n = e->epoch;
    return 0;
}

static void test_one_chunk_equals_in_memory(void **state) {
    (void)state;
    char trp[512], vap[512];
    dctr_test_data_path(trp, sizeof trp, "frappe/frappe.train.ffm");
    dctr_test_data_path(vap, sizeof vap, "frappe/frappe.test.ffm");
    dctr_ffm_data *tr, *va;
    assert_int_equal(dctr_ffm_data_read(trp, NULL, &tr), DCTR_OK);
    assert_int_equal(dctr_ffm_data_read(vap, NULL, &va), DCTR_OK);
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 3;
    o.chunk_rows = 1 << 20;
    trace a = {0}, b = {0}, c = {0};
    dctr_model *m1, *m2, *m3;
    assert_int_equal(dctr_ffm_train(tr, va, &o, record, &a, &m1), DCTR_OK);
    assert_int_equal(dctr_ffm_train_on_disk(trp, vap, &o, record, &b, &m2), DCTR_OK);
    for (int e = 0; e < 3; e++) {
        assert_true(a.va[e] == b.va[e]);
        assert_true(a.tr[e] == b.tr[e]);
    }
    /* small chunks: block order and in-block order shuffled, same quality */
    o.chunk_rows = 3000;
    assert_int_equal(dctr_ffm_train_on_disk(trp, vap, &o, record, &c, &m3), DCTR_OK);
    print_message("epoch 3 va_logloss: memory %.5f, one chunk %.5f, 3000-row chunks %.5f\n", a.va[2], b.va[2],
                  c.va[2]);
    assert_true(fabs(c.va[2] - a.va[2]) < 0.01);
    double v[DCTR_METRIC_COUNT];
    assert_int_equal(dctr_ffm_evaluate(m3, va, v), DCTR_OK);
    assert_true(fabs(v[DCTR_METRIC_LOGLOSS] - c.va[2]) < 1e-9);
    assert_true(v[DCTR_METRIC_AUC] > 0.92);
    dctr_model_free(m1);
    dctr_model_free(m2);
    dctr_model_free(m3);
    dctr_ffm_data_free(tr);
    dctr_ffm_data_free(va);
}

static void test_on_disk_errors(void **state) {
    (void)state;
    char p[512];
    dctr_test_tmp_path(p, sizeof p, "ffm_disk_bad.ffm");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 100; i++)
        fprintf(f, "1 0:%d:1 1:%d:1\n", i, i);
    fputs("1 0:3:1 1:x:1\n", f);
    fclose(f);
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.chunk_rows = 16;
    dctr_model *m = (dctr_model *)1;
    assert_int_equal(dctr_ffm_train_on_disk(p, NULL, &o, NULL, NULL, &m), DCTR_ERR_PARSE);
    if (!strstr(dctr_last_error(), "ffm_disk_bad.ffm:101:11: feature index"))
        fail_msg("%s", dctr_last_error());
    assert_null(m);
    assert_int_equal(dctr_ffm_train_on_disk("/nonexistent.ffm", NULL, &o, NULL, NULL, &m), DCTR_ERR_IO);
}

#define CAP_MB 24

static void test_file_4x_cap_stays_under_cap(void **state) {
    (void)state;
    char p[512];
    dctr_test_tmp_path(p, sizeof p, "ffm_disk_big.ffm");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    dctr_rng rng;
    dctr_rng_init(&rng, 3, 0);
    const int rows = 1200000, fields = 10;
    for (int i = 0; i < rows; i++) {
        int a = (int)dctr_rng_below(&rng, 400);
        fputs((a % 3 == 0) ? "1" : "0", f);
        for (int fld = 0; fld < fields; fld++)
            fprintf(f, " %d:%d:1", fld, fld == 0 ? a : fld * 400 + (int)dctr_rng_below(&rng, 400));
        fputc('\n', f);
    }
    fclose(f);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    const long cap = (long)CAP_MB << 20;
    print_message("file %.1f MB, cap %d MB\n", (double)st.st_size / (1 << 20), CAP_MB);
    assert_true(st.st_size >= 4 * cap);
    /* reading it into memory would need rows * fields * 12 bytes of nodes alone */
    assert_true((long)rows * fields * 12 > cap);

    /* A fresh process (this binary re-executed) so its peak RSS is its own: getrusage's
     * ru_maxrss of the child covers everything it ever had resident, binary and libraries too. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_ffm_disk", "--disk-child", p, (char *)NULL);
        _exit(3);
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
    print_message("on-disk training child: peak RSS %.1f MB (cap %d MB)\n", ru.ru_maxrss / 1024.0, CAP_MB);
    assert_true(ru.ru_maxrss > 0);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    print_message("sanitizer build: shadow memory inflates RSS, the cap is not asserted\n");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    print_message("sanitizer build: shadow memory inflates RSS, the cap is not asserted\n");
#else
    assert_true((long)ru.ru_maxrss * 1024 < cap);
#endif
#else
    assert_true((long)ru.ru_maxrss * 1024 < cap);
#endif
    remove(p);
}

/* The child: one on-disk epoch; exit 0 when it trained a model of the expected shape. */
static int disk_child(const char *path) {
    dctr_ffm_options o;
    dctr_ffm_options_default(&o);
    o.epochs = 1;
    o.chunk_rows = 8192;
    dctr_model *m;
    if (dctr_ffm_train_on_disk(path, NULL, &o, NULL, NULL, &m) != DCTR_OK) {
        fprintf(stderr, "child: %s\n", dctr_last_error());
        return 1;
    }
    int ok = dctr_ffm_num_features(m) == 4000 && dctr_ffm_num_fields(m) == 10;
    dctr_model_free(m);
    return ok ? 0 : 2;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--disk-child") == 0)
        return disk_child(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_chunk_equals_in_memory),
        cmocka_unit_test(test_on_disk_errors),
        cmocka_unit_test(test_file_4x_cap_stays_under_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
