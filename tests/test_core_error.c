/* Status codes and the thread-local last-error message. ctest-label: threads */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "threads.h"

#include "core/error.h"

static void test_set_error_returns_status_and_formats(void **state) {
    (void)state;
    dctr_clear_error();
    assert_string_equal(dctr_last_error(), "");
    dctr_status s = dctr_set_error(DCTR_ERR_PARSE, "%s:%d:%d: bad number '%s'", "a.csv", 3, 7, "x1");
    assert_int_equal(s, DCTR_ERR_PARSE);
    assert_string_equal(dctr_last_error(), "a.csv:3:7: bad number 'x1'");
    dctr_clear_error();
    assert_string_equal(dctr_last_error(), "");
}

static void test_prefix_keeps_message(void **state) {
    (void)state;
    dctr_set_error(DCTR_ERR_RANGE, "id 12 not in [0, 10)");
    assert_int_equal(dctr_error_prefix(DCTR_ERR_RANGE, "feature '%s'", "C1"), DCTR_ERR_RANGE);
    assert_string_equal(dctr_last_error(), "feature 'C1': id 12 not in [0, 10)");
}

static void test_long_messages_are_truncated_not_overflowed(void **state) {
    (void)state;
    char big[4000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dctr_set_error(DCTR_ERR_IO, "%s", big);
    size_t n = strlen(dctr_last_error());
    assert_true(n > 500 && n < 1024);
    dctr_error_prefix(DCTR_ERR_IO, "%s", big);
    assert_true(strlen(dctr_last_error()) < 1024);
    assert_memory_equal(dctr_last_error(), big, 100);
}

static void test_status_names(void **state) {
    (void)state;
    assert_string_equal(dctr_status_name(DCTR_OK), "DCTR_OK");
    assert_string_equal(dctr_status_name(DCTR_ERR_PARSE), "DCTR_ERR_PARSE");
    assert_string_equal(dctr_status_name(DCTR_ERR_INTERNAL), "DCTR_ERR_INTERNAL");
    assert_string_equal(dctr_status_name((dctr_status)-999), "DCTR_ERR_UNKNOWN");
    for (int s = 0; s >= DCTR_ERR_INTERNAL; s--)
        assert_string_not_equal(dctr_status_name((dctr_status)s), "DCTR_ERR_UNKNOWN");
}

typedef struct {
    int id;
    int ok;
} thread_arg;

static void *thread_main(void *p) {
    thread_arg *a = p;
    char want[64];
    a->ok = 1;
    for (int i = 0; i < 20000; i++) {
        snprintf(want, sizeof want, "thread %d iteration %d", a->id, i);
        dctr_set_error(DCTR_ERR_RANGE, "thread %d iteration %d", a->id, i);
        if (strcmp(dctr_last_error(), want) != 0)
            a->ok = 0;
    }
    return NULL;
}

static void test_last_error_is_per_thread(void **state) {
    (void)state;
    dctr_set_error(DCTR_ERR_IO, "main thread message");
    thread_arg args[4];
    for (int i = 0; i < 4; i++)
        args[i].id = i;
    assert_int_equal(th_run_all(4, thread_main, args, sizeof args[0]), 0);
    for (int i = 0; i < 4; i++)
        assert_true(args[i].ok);
    assert_string_equal(dctr_last_error(), "main thread message");
}

static void test_version(void **state) {
    (void)state;
    int major = -1, minor = -1, patch = -1;
    dctr_version_numbers(&major, &minor, &patch);
    assert_int_equal(major, DCTR_VERSION_MAJOR);
    assert_int_equal(minor, DCTR_VERSION_MINOR);
    assert_int_equal(patch, DCTR_VERSION_PATCH);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", major, minor, patch);
    assert_string_equal(dctr_version(), want);
    dctr_version_numbers(NULL, NULL, NULL);
    assert_non_null(strstr(dctr_build_info(), "OpenBLAS"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_error_returns_status_and_formats),
        cmocka_unit_test(test_prefix_keeps_message),
        cmocka_unit_test(test_long_messages_are_truncated_not_overflowed),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_last_error_is_per_thread),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
