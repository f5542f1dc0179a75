/* Issue 17, class 4: failures end within seconds with a clear error. A FIFO as the model path
 * is refused (it blocked forever in open()), and `deepctr train` under an address-space limit
 * of 100 / 150 MB (setrlimit RLIMIT_AS, like `ulimit -v`) exits 1 with "out of memory" (it hung
 * in OpenBLAS's allocation retry loop, or at exit). */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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

#include "deepctr/deepctr.h"
#include "test_env.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define LIMIT_SECONDS 30

static char bin[1024], csv[1024], ffm[1024], err_text[1 << 14];

/* Runs deepctr (argv NULL-terminated) under RLIMIT_AS = as_mb (0: none) with a hard time
 * limit; returns the exit code, or -SIGNAL when killed (SIGALRM: it hung). */
static int run_limited(size_t as_mb, char *const argv[]) {
    char err_path[1024];
    dctr_test_tmp_path(err_path, sizeof err_path, "hang_stderr.txt");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open("/dev/null", O_WRONLY);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0)
            _exit(127);
        dup2(o, 1);
        dup2(e, 2);
        alarm(LIMIT_SECONDS); /* survives exec: a hang ends as SIGALRM */
        if (as_mb) {
            struct rlimit rl = {as_mb << 20, as_mb << 20};
            if (setrlimit(RLIMIT_AS, &rl) != 0)
                _exit(126);
        }
        execv(bin, argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(err_path, "r");
    size_t n = f ? fread(err_text, 1, sizeof err_text - 1, f) : 0;
    err_text[n] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("DCTR_BIN_DIR");
    snprintf(bin, sizeof bin, "%s/deepctr", dir ? dir : ".");
    if (access(bin, X_OK) != 0)
        return -1;
    dctr_test_tmp_path(csv, sizeof csv, "hang.csv");
    dctr_test_tmp_path(ffm, sizeof ffm, "hang.ffm");
    char *argv[] = {bin, "synth", "--rows", "400", "--seed", "2", "--out", csv, "--libffm", ffm, NULL};
    return run_limited(0, argv) == 0 ? 0 : -1;
}

static void test_fifo_model_path_is_refused(void **state) {
    (void)state;
    char fifo[1024];
    dctr_test_tmp_path(fifo, sizeof fifo, "hang.fifo");
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* in a child: a regression blocks in open() and is ended by the alarm */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(LIMIT_SECONDS);
        dctr_model *m = NULL;
        dctr_status st = dctr_model_load(fifo, &m);
        _exit(st == DCTR_ERR_IO && !m && strstr(dctr_last_error(), "not a regular file") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char *argv[] = {bin, "predict", "--model-file", fifo, "--data", csv, NULL};
    assert_int_equal(run_limited(0, argv), 1);
    assert_non_null(strstr(err_text, "not a regular file"));
    unlink(fifo);
}

/* 100 and 150 MB of address space: DeepFM and FFM training end with exit 1 and "out of
 * memory" well within the time limit. */
static void test_low_address_space_limit_fails_cleanly(void **state) {
    (void)state;
    if (UNDER_ASAN) /* ASan reserves terabytes of shadow memory: RLIMIT_AS cannot apply */
        skip();
    char m[1024];
    dctr_test_tmp_path(m, sizeof m, "hang.dctr");
    const size_t limits[] = {100, 150};
    for (size_t i = 0; i < 2; i++) {
        char *deep[] = {bin, "train", "--train", csv, "--epochs", "2", "--out", m, NULL};
        int rc = run_limited(limits[i], deep);
        if (rc != 1 || !strstr(err_text, "out of memory"))
            fail_msg("deepfm under %zu MB: exit %d, stderr:\n%s", limits[i], rc, err_text);
        char *ffm_argv[] = {bin, "train", "--model", "ffm", "--train", ffm, "-t", "2", "--out", m, NULL};
        rc = run_limited(limits[i], ffm_argv);
        if (rc != 1 || !strstr(err_text, "out of memory"))
            fail_msg("ffm under %zu MB: exit %d, stderr:\n%s", limits[i], rc, err_text);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_model_path_is_refused),
        cmocka_unit_test(test_low_address_space_limit_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
