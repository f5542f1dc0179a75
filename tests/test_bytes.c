/* io/bytes: exact little-endian layout, round trips, sticky writer, bounds-checked reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/alloc.h"
#include "io/bytes.h"

static void test_layout_is_little_endian(void **state) {
    (void)state;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u8(&w, 0xAB);
    dctr_wbuf_u32(&w, 0x01020304u);
    dctr_wbuf_u64(&w, 0x1122334455667788ull);
    dctr_wbuf_i32(&w, -2);
    dctr_wbuf_f32(&w, 1.0f);
    dctr_wbuf_str(&w, "hi");
    dctr_wbuf_str(&w, NULL);
    assert_int_equal(dctr_wbuf_status(&w), DCTR_OK);
    static const uint8_t expect[] = {
        0xAB,                                           /* u8 */
        0x04, 0x03, 0x02, 0x01,                         /* u32 */
        0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* u64 */
        0xFE, 0xFF, 0xFF, 0xFF,                         /* i32 -2 */
        0x00, 0x00, 0x80, 0x3F,                         /* f32 1.0 */
        0x02, 0x00, 0x00, 0x00, 'h', 'i',               /* str */
        0xFF, 0xFF, 0xFF, 0xFF,                         /* NULL str */
    };
    assert_int_equal(w.len, sizeof expect);
    assert_memory_equal(w.data, expect, sizeof expect);
    dctr_wbuf_free(&w);
    assert_null(w.data);
    assert_int_equal(w.len, 0);
}

static void test_round_trip(void **state) {
    (void)state;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    const float fs[5] = {0.5f, -1.25f, 3.0e38f, -0.0f, 1e-40f};
    const int64_t is[3] = {INT64_MIN, -1, INT64_MAX};
    dctr_wbuf_u8(&w, 7);
    dctr_wbuf_u32(&w, 0xDEADBEEFu);
    dctr_wbuf_u64(&w, UINT64_MAX - 5);
    dctr_wbuf_i32(&w, INT32_MIN);
    dctr_wbuf_i64(&w, -1234567890123ll);
    dctr_wbuf_f32(&w, -2.5f);
    dctr_wbuf_f64(&w, 3.141592653589793);
    dctr_wbuf_str(&w, "schema");
    dctr_wbuf_str(&w, NULL);
    dctr_wbuf_str(&w, "");
    dctr_wbuf_f32s(&w, fs, 5);
    dctr_wbuf_i64s(&w, is, 3);
    dctr_wbuf_bytes(&w, "xyz", 3);
    assert_int_equal(dctr_wbuf_status(&w), DCTR_OK);

    dctr_rbuf r;
    dctr_rbuf_init(&r, w.data, w.len, "test");
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    char *s1, *s2, *s3;
    float fo[5];
    int64_t io[3];
    char raw[3];
    assert_int_equal(dctr_rbuf_u8(&r, &u8, "a"), DCTR_OK);
    assert_int_equal(u8, 7);
    assert_int_equal(dctr_rbuf_u32(&r, &u32, "b"), DCTR_OK);
    assert_int_equal(u32, 0xDEADBEEFu);
    assert_int_equal(dctr_rbuf_u64(&r, &u64, "c"), DCTR_OK);
    assert_true(u64 == UINT64_MAX - 5);
    assert_int_equal(dctr_rbuf_i32(&r, &i32, "d"), DCTR_OK);
    assert_int_equal(i32, INT32_MIN);
    assert_int_equal(dctr_rbuf_i64(&r, &i64, "e"), DCTR_OK);
    assert_true(i64 == -1234567890123ll);
    assert_int_equal(dctr_rbuf_f32(&r, &f32, "f"), DCTR_OK);
    assert_true(f32 == -2.5f);
    assert_int_equal(dctr_rbuf_f64(&r, &f64, "g"), DCTR_OK);
    assert_true(f64 == 3.141592653589793);
    assert_int_equal(dctr_rbuf_str(&r, &s1, 100, "s1"), DCTR_OK);
    assert_string_equal(s1, "schema");
    assert_int_equal(dctr_rbuf_str(&r, &s2, 100, "s2"), DCTR_OK);
    assert_null(s2);
    assert_int_equal(dctr_rbuf_str(&r, &s3, 100, "s3"), DCTR_OK);
    assert_string_equal(s3, "");
    assert_int_equal(dctr_rbuf_f32s(&r, fo, 5, "fs"), DCTR_OK);
    assert_memory_equal(fo, fs, sizeof fs); /* bit-exact, including -0 and denormals */
    assert_int_equal(dctr_rbuf_i64s(&r, io, 3, "is"), DCTR_OK);
    assert_memory_equal(io, is, sizeof is);
    assert_int_equal(dctr_rbuf_bytes(&r, raw, 3, "raw"), DCTR_OK);
    assert_memory_equal(raw, "xyz", 3);
    assert_int_equal(dctr_rbuf_remaining(&r), 0);
    dctr_free(s1);
    dctr_free(s3);
    dctr_wbuf_free(&w);
}

static void test_large_buffer_grows(void **state) {
    (void)state;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    for (uint32_t i = 0; i < 100000; i++)
        dctr_wbuf_u32(&w, i * 2654435761u);
    assert_int_equal(dctr_wbuf_status(&w), DCTR_OK);
    assert_int_equal(w.len, 400000);
    dctr_rbuf r;
    dctr_rbuf_init(&r, w.data, w.len, "big");
    for (uint32_t i = 0; i < 100000; i++) {
        uint32_t v;
        assert_int_equal(dctr_rbuf_u32(&r, &v, "v"), DCTR_OK);
        assert_int_equal(v, i * 2654435761u);
    }
    dctr_wbuf_free(&w);
}

static void test_sticky_failure(void **state) {
    (void)state;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, 1);
    /* An array whose byte size overflows size_t marks the writer failed... */
    dctr_wbuf_f32s(&w, NULL, SIZE_MAX / 2);
    assert_int_equal(dctr_wbuf_status(&w), DCTR_ERR_NOMEM);
    /* ...and later writes neither succeed nor clear the failure. */
    size_t len = w.len;
    dctr_wbuf_u64(&w, 5);
    assert_int_equal(w.len, len);
    assert_int_equal(dctr_wbuf_status(&w), DCTR_ERR_NOMEM);
    dctr_wbuf_free(&w);
}

static void test_truncated_read_names_origin_field_offset(void **state) {
    (void)state;
    const uint8_t data[6] = {1, 2, 3, 4, 5, 6};
    dctr_rbuf r;
    dctr_rbuf_init(&r, data, sizeof data, "model.dctr section 'schema'");
    uint32_t v;
    uint64_t big;
    assert_int_equal(dctr_rbuf_u32(&r, &v, "column count"), DCTR_OK);
    assert_int_equal(v, 0x04030201u);
    assert_int_equal(dctr_rbuf_u64(&r, &big, "vocabulary size"), DCTR_ERR_FORMAT);
    const char *msg = dctr_last_error();
    assert_non_null(strstr(msg, "model.dctr section 'schema'"));
    assert_non_null(strstr(msg, "vocabulary size"));
    assert_non_null(strstr(msg, "offset 4"));
    /* A failed read does not move the position. */
    assert_int_equal(r.pos, 4);
    assert_int_equal(dctr_rbuf_remaining(&r), 2);
    assert_int_equal(dctr_rbuf_u32(&r, &v, "x"), DCTR_ERR_FORMAT);
    uint8_t b;
    assert_int_equal(dctr_rbuf_u8(&r, &b, "x"), DCTR_OK);
    assert_int_equal(b, 5);
}

static void test_empty_reader(void **state) {
    (void)state;
    dctr_rbuf r;
    dctr_rbuf_init(&r, NULL, 100, NULL); /* NULL data means empty, whatever the length */
    uint8_t b;
    assert_int_equal(dctr_rbuf_remaining(&r), 0);
    assert_int_equal(dctr_rbuf_u8(&r, &b, "flag"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "flag"));
    assert_int_equal(dctr_rbuf_bytes(&r, &b, 0, "nothing"), DCTR_OK);
}

static void test_string_limits(void **state) {
    (void)state;
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_str(&w, "abcdef");
    dctr_rbuf r;
    char *s = (char *)1;
    /* Too long for the caller's limit. */
    dctr_rbuf_init(&r, w.data, w.len, "t");
    assert_int_equal(dctr_rbuf_str(&r, &s, 5, "feature name"), DCTR_ERR_FORMAT);
    assert_null(s);
    assert_int_equal(r.pos, 0);
    assert_non_null(strstr(dctr_last_error(), "feature name"));
    /* Length field claims more than the buffer holds. */
    dctr_rbuf_init(&r, w.data, w.len - 1, "t");
    assert_int_equal(dctr_rbuf_str(&r, &s, 100, "name"), DCTR_ERR_FORMAT);
    assert_null(s);
    /* Embedded NUL. */
    w.data[6] = '\0';
    dctr_rbuf_init(&r, w.data, w.len, "t");
    assert_int_equal(dctr_rbuf_str(&r, &s, 100, "name"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "NUL"));
    assert_null(s);
    /* Huge claimed length with a huge limit: rejected by the remaining-length check. */
    const uint8_t huge[4] = {0xFE, 0xFF, 0xFF, 0xFF};
    dctr_rbuf_init(&r, huge, 4, "t");
    assert_int_equal(dctr_rbuf_str(&r, &s, SIZE_MAX, "name"), DCTR_ERR_FORMAT);
    dctr_wbuf_free(&w);
}

static void test_need_checks_before_allocation(void **state) {
    (void)state;
    uint8_t data[16] = {0};
    dctr_rbuf r;
    dctr_rbuf_init(&r, data, sizeof data, "model.dctr section 'emb'");
    assert_int_equal(dctr_rbuf_need(&r, 4, 4, "rows"), DCTR_OK);
    assert_int_equal(dctr_rbuf_need(&r, 0, 8, "rows"), DCTR_OK);
    assert_int_equal(r.pos, 0); /* need does not consume */
    assert_int_equal(dctr_rbuf_need(&r, 5, 4, "rows"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "rows"));
    /* 2^40 rows of 4 bytes: rejected by size, not by an allocation attempt. */
    assert_int_equal(dctr_rbuf_need(&r, 1ull << 40, 4, "embedding rows"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "1099511627776"));
    /* count * size overflows 64 bits. */
    assert_int_equal(dctr_rbuf_need(&r, UINT64_MAX / 2, 4, "rows"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "overflow"));
    /* The array readers apply the same checks. */
    float f[4];
    int64_t ids[3];
    assert_int_equal(dctr_rbuf_f32s(&r, f, SIZE_MAX / 2, "w"), DCTR_ERR_FORMAT);
    assert_int_equal(dctr_rbuf_i64s(&r, ids, 3, "ids"), DCTR_ERR_FORMAT);
    assert_int_equal(r.pos, 0);
    assert_int_equal(dctr_rbuf_f32s(&r, f, 4, "w"), DCTR_OK);
    assert_int_equal(dctr_rbuf_remaining(&r), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_is_little_endian),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_large_buffer_grows),
        cmocka_unit_test(test_sticky_failure),
        cmocka_unit_test(test_truncated_read_names_origin_field_offset),
        cmocka_unit_test(test_empty_reader),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_need_checks_before_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
