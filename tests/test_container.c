/* io/container: round trip, exact layout, strict validation (every truncation, every bit flip,
 * hostile sizes), save errors and crash safety (a child killed in the middle of a save). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/container.h"

/* ---- helpers ---- */

static char tmp_dir[512];

static void make_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s.%ld", tmp_dir, name, (long)getpid());
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the header checksum after a test edits the header or table on purpose. */
static void fix_header_crc(uint8_t *d) {
    uint32_t table = le32(d + 20);
    put32(d + 32 + table, (uint32_t)crc32(0L, d, 32 + table));
}

/* A small container: "schema" (a string + ints), "dnn" (floats), "empty" (no bytes). */
static dctr_container_writer *small_writer(void) {
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_str(&w, "C1,C2,I1");
    dctr_wbuf_u32(&w, 3);
    dctr_wbuf_i64(&w, -7);
    assert_int_equal(dctr_cw_add(cw, "schema", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    float f[20];
    for (int i = 0; i < 20; i++)
        f[i] = (float)i * 0.25f - 1.0f;
    dctr_wbuf_f32s(&w, f, 20);
    assert_int_equal(dctr_cw_add(cw, "dnn", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    assert_int_equal(dctr_cw_add(cw, "empty", &w), DCTR_OK);
    return cw;
}

static void small_bytes(uint8_t **data, size_t *size) {
    dctr_container_writer *cw = small_writer();
    void *d;
    assert_int_equal(dctr_cw_to_memory(cw, &d, size), DCTR_OK);
    *data = d;
    dctr_cw_free(cw);
}

static void check_small(const dctr_container *c) {
    assert_int_equal(dctr_container_count(c), 3);
    assert_string_equal(dctr_container_name_at(c, 0), "schema");
    assert_string_equal(dctr_container_name_at(c, 1), "dnn");
    assert_string_equal(dctr_container_name_at(c, 2), "empty");
    assert_null(dctr_container_name_at(c, 3));
    assert_true(dctr_container_has(c, "dnn"));
    assert_false(dctr_container_has(c, "dn"));
    dctr_rbuf r;
    char *s;
    uint32_t u;
    int64_t i;
    assert_int_equal(dctr_container_section(c, "schema", &r), DCTR_OK);
    assert_int_equal(dctr_rbuf_str(&r, &s, 100, "columns"), DCTR_OK);
    assert_string_equal(s, "C1,C2,I1");
    dctr_free(s);
    assert_int_equal(dctr_rbuf_u32(&r, &u, "n"), DCTR_OK);
    assert_int_equal(u, 3);
    assert_int_equal(dctr_rbuf_i64(&r, &i, "i"), DCTR_OK);
    assert_int_equal(i, -7);
    assert_int_equal(dctr_rbuf_remaining(&r), 0);
    float f[20];
    assert_int_equal(dctr_container_section(c, "dnn", &r), DCTR_OK);
    assert_int_equal(r.len, 80);
    assert_int_equal(dctr_rbuf_f32s(&r, f, 20, "w"), DCTR_OK);
    for (int k = 0; k < 20; k++)
        assert_true(f[k] == (float)k * 0.25f - 1.0f);
    assert_int_equal(dctr_container_section(c, "empty", &r), DCTR_OK);
    assert_int_equal(r.len, 0);
}

static void write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Removes "<path>.tmp.<pid>.<n>" files a killed child left; returns how many there were. */
static int remove_temps(const char *path, pid_t pid) {
    int found = 0;
    for (int n = 0; n < 100; n++) {
        char tmp[700];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%d", path, (long)pid, n);
        if (unlink(tmp) == 0)
            found++;
    }
    return found;
}

/* ---- round trip and layout ---- */

static void test_round_trip_memory_and_file(void **state) {
    (void)state;
    dctr_container_writer *cw = small_writer();
    char path[600];
    make_path(path, sizeof path, "rt.dctr");
    assert_int_equal(dctr_cw_save(cw, path), DCTR_OK);
    void *mem;
    size_t size;
    assert_int_equal(dctr_cw_to_memory(cw, &mem, &size), DCTR_OK);
    dctr_cw_free(cw);

    /* The file holds exactly the in-memory bytes (one layout code path). */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *disk = malloc(size + 1);
    assert_int_equal(fread(disk, 1, size + 1, f), size);
    fclose(f);
    assert_memory_equal(disk, mem, size);
    free(disk);

    dctr_container *c;
    assert_int_equal(dctr_container_open(path, 0, &c), DCTR_OK);
    check_small(c);
    dctr_rbuf r;
    assert_int_equal(dctr_container_section(c, "optimizer", &r), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "missing section 'optimizer'"));
    assert_non_null(strstr(dctr_last_error(), path));
    /* A section reader's errors name the file and the section. */
    assert_int_equal(dctr_container_section(c, "dnn", &r), DCTR_OK);
    uint64_t big;
    r.pos = 76;
    assert_int_equal(dctr_rbuf_u64(&r, &big, "bias"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section 'dnn'"));
    assert_non_null(strstr(dctr_last_error(), path));
    dctr_container_free(c);

    assert_int_equal(dctr_container_from_memory(mem, size, &c), DCTR_OK);
    memset(mem, 0, size); /* from_memory copied */
    check_small(c);
    dctr_container_free(c);
    dctr_free(mem);
    unlink(path);
}

static void test_header_layout(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    small_bytes(&d, &size);
    assert_memory_equal(d, "DCTRMODL", 8);
    assert_int_equal(le32(d + 8), 1);                  /* format version */
    assert_memory_equal(d + 12, "\x04\x03\x02\x01", 4); /* endianness mark, little-endian */
    assert_int_equal(le32(d + 16), 3);                 /* section count */
    uint32_t table = le32(d + 20);
    assert_int_equal(table, 3 * 24 + 6 + 3 + 5);
    assert_int_equal(le32(d + 24), size);              /* file size (low half) */
    assert_int_equal(le32(d + 28), 0);
    assert_int_equal(le32(d + 32), 6);
    assert_memory_equal(d + 36, "schema", 6);
    uint32_t offset = le32(d + 42);
    assert_int_equal(offset % 64, 0);
    assert_true(offset >= 32 + table + 4);
    assert_int_equal(le32(d + 32 + table), (uint32_t)crc32(0L, d, 32 + table));
    dctr_free(d);

    /* An empty container is valid too. */
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    void *e;
    assert_int_equal(dctr_cw_to_memory(cw, &e, &size), DCTR_OK);
    assert_int_equal(size, 36);
    dctr_container *c;
    assert_int_equal(dctr_container_from_memory(e, size, &c), DCTR_OK);
    assert_int_equal(dctr_container_count(c), 0);
    dctr_container_free(c);
    dctr_free(e);
    dctr_cw_free(cw);
}

static void test_writer_argument_errors(void **state) {
    (void)state;
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, 1);
    assert_int_equal(dctr_cw_add(cw, "a", &w), DCTR_OK);
    assert_int_equal(dctr_cw_add(cw, "a", &w), DCTR_ERR_INVALID_ARG);
    assert_non_null(strstr(dctr_last_error(), "duplicate section 'a'"));
    assert_int_equal(dctr_cw_add(cw, "", &w), DCTR_ERR_INVALID_ARG);
    char name[130];
    memset(name, 'x', 129);
    name[129] = '\0';
    assert_int_equal(dctr_cw_add(cw, name, &w), DCTR_ERR_INVALID_ARG);
    name[128] = '\0';
    assert_int_equal(dctr_cw_add(cw, name, &w), DCTR_OK); /* 128 bytes is the limit */
    w.failed = 1;
    assert_int_equal(dctr_cw_add(cw, "b", &w), DCTR_ERR_NOMEM);
    assert_non_null(strstr(dctr_last_error(), "'b'"));
    dctr_wbuf_free(&w);
    void *d;
    size_t size;
    assert_int_equal(dctr_cw_to_memory(cw, &d, &size), DCTR_OK);
    dctr_container *c;
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_OK);
    assert_int_equal(dctr_container_count(c), 2);
    assert_true(dctr_container_has(c, name));
    dctr_container_free(c);
    dctr_free(d);
    dctr_cw_free(cw);
    dctr_cw_free(NULL);
    dctr_container_free(NULL);
}

/* ---- hostile input ---- */

static void test_truncation_at_every_offset(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    small_bytes(&d, &size);
    char path[600];
    make_path(path, sizeof path, "trunc.dctr");
    for (size_t len = 0; len < size; len++) {
        dctr_container *c = (dctr_container *)1;
        assert_int_equal(dctr_container_from_memory(d, len, &c), DCTR_ERR_FORMAT);
        assert_null(c);
        assert_true(strlen(dctr_last_error()) > 0);
        /* The same through a file on disk. */
        write_file(path, d, len);
        c = (dctr_container *)1;
        assert_int_equal(dctr_container_open(path, 0, &c), DCTR_ERR_FORMAT);
        assert_null(c);
        assert_non_null(strstr(dctr_last_error(), path));
    }
    unlink(path);
    /* Representative messages. */
    dctr_container *c;
    assert_int_equal(dctr_container_from_memory(d, 40, &c), DCTR_ERR_FORMAT);
    char expect[120];
    snprintf(expect, sizeof expect, "truncated: section table needs %u bytes, file has 40",
             32 + le32(d + 20) + 4);
    assert_non_null(strstr(dctr_last_error(), expect));
    assert_int_equal(dctr_container_from_memory(d, size - 1, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "truncated"));
    assert_int_equal(dctr_container_from_memory(d, 5, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "truncated"));
    dctr_free(d);
}

static void test_every_bit_flip_is_detected(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    small_bytes(&d, &size);
    /* The small file: every bit of header, table, padding and payloads. */
    for (size_t bit = 0; bit < size * 8; bit++) {
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        dctr_container *c = (dctr_container *)1;
        dctr_status st = dctr_container_from_memory(d, size, &c);
        if (st != DCTR_ERR_FORMAT)
            fail_msg("bit %zu: status %d", bit, st);
        assert_null(c);
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    dctr_free(d);

    /* A larger file: the whole header + table and a sample of 2000 payload bits. */
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    for (uint32_t i = 0; i < 65536; i++)
        dctr_wbuf_u8(&w, (uint8_t)(i * 131u));
    char name[32];
    for (int s = 0; s < 8; s++) {
        snprintf(name, sizeof name, "tensor%d", s);
        assert_int_equal(dctr_cw_add(cw, name, &w), DCTR_OK);
    }
    dctr_wbuf_free(&w);
    void *vd;
    assert_int_equal(dctr_cw_to_memory(cw, &vd, &size), DCTR_OK);
    dctr_cw_free(cw);
    d = vd;
    size_t header_bits = (32 + le32(d + 20) + 4) * 8;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < header_bits + 2000; k++) {
        size_t bit = k;
        if (k >= header_bits) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bit = header_bits + (size_t)(x % (size * 8 - header_bits));
        }
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        dctr_container *c = (dctr_container *)1;
        dctr_status st = dctr_container_from_memory(d, size, &c);
        if (st != DCTR_ERR_FORMAT)
            fail_msg("bit %zu: status %d", bit, st);
        assert_null(c);
        d[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    dctr_container *c;
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_OK);
    dctr_container_free(c);
    dctr_free(d);
}

static void test_specific_messages(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    small_bytes(&d, &size);
    char path[600];
    make_path(path, sizeof path, "msg.dctr");
    dctr_container *c;

    d[0] = 'X';
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "not a libdeepctr model file (bad magic)"));
    assert_int_equal(dctr_container_from_memory("PK\3\4", 4, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "bad magic"));
    d[0] = 'D';

    put32(d + 8, 7);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(
        strstr(dctr_last_error(), "format version 7 is newer than this library supports (1)"));
    put32(d + 8, 1);

    put32(d + 12, 0x04030201u);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "endianness"));
    put32(d + 12, 0x01020304u);

    /* A payload byte of 'dnn' flipped: the file path and the section are named. */
    uint32_t dnn_offset = le32(d + 32 + 4 + 6 + 20 + 4 + 3);
    d[dnn_offset + 5] ^= 0x10;
    write_file(path, d, size);
    assert_int_equal(dctr_container_open(path, 0, &c), DCTR_ERR_FORMAT);
    char expect[700];
    snprintf(expect, sizeof expect, "%s: section 'dnn' checksum mismatch", path);
    assert_string_equal(dctr_last_error(), expect);
    d[dnn_offset + 5] ^= 0x10;

    /* Too many sections. */
    put32(d + 16, 5000);
    fix_header_crc(d);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section count 5000"));
    put32(d + 16, 3);
    fix_header_crc(d);

    dctr_free(d);
    unlink(path);
}

static void test_duplicate_and_nul_names(void **state) {
    (void)state;
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u32(&w, 42);
    assert_int_equal(dctr_cw_add(cw, "abc", &w), DCTR_OK);
    assert_int_equal(dctr_cw_add(cw, "abd", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    uint8_t *d;
    size_t size;
    assert_int_equal(dctr_cw_to_memory(cw, (void **)&d, &size), DCTR_OK);
    dctr_cw_free(cw);
    dctr_container *c;
    size_t second_name = 32 + (4 + 3 + 20) + 4;
    d[second_name + 2] = 'c'; /* "abd" -> "abc" */
    fix_header_crc(d);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "duplicate section 'abc'"));
    d[second_name + 1] = '\0'; /* "a\0c" */
    fix_header_crc(d);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "NUL"));
    dctr_free(d);
}

/* A section or a file claiming 2^40 bytes is rejected from the sizes alone; under ASan an
 * attempt to allocate that much would abort the test. */
static void test_huge_claims_rejected_before_allocation(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    small_bytes(&d, &size);
    dctr_container *c;
    size_t dnn_size_field = 32 + (4 + 6 + 20) + 4 + 3 + 8;
    put64(d + dnn_size_field, 1ull << 40);
    fix_header_crc(d);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section 'dnn'"));
    assert_non_null(strstr(dctr_last_error(), "size 1099511627776"));
    assert_non_null(strstr(dctr_last_error(), "extends past the end"));

    /* Offset + size wrapping around 2^64 does not pass the bounds check. */
    put64(d + dnn_size_field, UINT64_MAX - 8);
    fix_header_crc(d);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "extends past the end"));
    dctr_free(d);

    /* The file-size field claims 2^40 bytes. */
    small_bytes(&d, &size);
    put64(d + 24, 1ull << 40);
    fix_header_crc(d);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "truncated"));
    assert_non_null(strstr(dctr_last_error(), "1099511627776"));
    dctr_free(d);

    /* A table-size field of 4 GB - 1. */
    small_bytes(&d, &size);
    put32(d + 20, 0xFFFFFFFFu);
    assert_int_equal(dctr_container_from_memory(d, size, &c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section table size"));
    dctr_free(d);
}

/* ---- files: errors and crash safety ---- */

static void test_open_errors(void **state) {
    (void)state;
    dctr_container *c = (dctr_container *)1;
    char path[600];
    make_path(path, sizeof path, "does-not-exist.dctr");
    assert_int_equal(dctr_container_open(path, 0, &c), DCTR_ERR_IO);
    assert_null(c);
    assert_non_null(strstr(dctr_last_error(), path));
    assert_non_null(strstr(dctr_last_error(), "No such file"));
    assert_int_equal(dctr_container_open(tmp_dir, 0, &c), DCTR_ERR_IO); /* a directory */

    uint8_t *d;
    size_t size;
    small_bytes(&d, &size);
    make_path(path, sizeof path, "cap.dctr");
    write_file(path, d, size);
    assert_int_equal(dctr_container_open(path, size - 1, &c), DCTR_ERR_LIMIT);
    assert_non_null(strstr(dctr_last_error(), path));
    assert_int_equal(dctr_container_open(path, size, &c), DCTR_OK);
    dctr_container_free(c);
    dctr_free(d);
    unlink(path);
}

static void test_save_into_missing_directory(void **state) {
    (void)state;
    dctr_container_writer *cw = small_writer();
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-dir-%ld/model.dctr", tmp_dir, (long)getpid());
    assert_int_equal(dctr_cw_save(cw, path), DCTR_ERR_IO);
    assert_non_null(strstr(dctr_last_error(), path));
    assert_non_null(strstr(dctr_last_error(), "No such file or directory"));
    dctr_cw_free(cw);
}

static void test_save_replaces_and_skips_busy_temp_names(void **state) {
    (void)state;
    char path[600], busy[700];
    make_path(path, sizeof path, "replace.dctr");
    /* Another writer's temp file holds the first name: the save takes the next one. */
    snprintf(busy, sizeof busy, "%s.tmp.%ld.0", path, (long)getpid());
    write_file(busy, "busy", 4);
    write_file(path, "old junk that is not a model", 28);
    dctr_container_writer *cw = small_writer();
    assert_int_equal(dctr_cw_save(cw, path), DCTR_OK);
    dctr_cw_free(cw);
    dctr_container *c;
    assert_int_equal(dctr_container_open(path, 0, &c), DCTR_OK);
    check_small(c);
    dctr_container_free(c);
    assert_true(file_exists(busy));
    assert_int_equal(remove_temps(path, getpid()), 1); /* only the busy one: ours was renamed */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mode_t mask = umask(0);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0666 & ~mask); /* like fopen, not a 0600 temp file */
    unlink(path);
}

/* A container with one `bytes`-byte section filled with `gen`. */
static dctr_container_writer *gen_writer(uint8_t gen, size_t bytes) {
    dctr_container_writer *cw;
    assert_int_equal(dctr_cw_new(&cw), DCTR_OK);
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    dctr_wbuf_u8(&w, gen);
    assert_int_equal(dctr_cw_add(cw, "generation", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    uint8_t *block = malloc(bytes);
    memset(block, gen, bytes);
    dctr_wbuf_bytes(&w, block, bytes);
    free(block);
    assert_int_equal(dctr_cw_add(cw, "weights", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    return cw;
}

/* Opens path and returns its generation, checking every weight byte matches it. */
static int open_generation(const char *path, size_t bytes) {
    dctr_container *c;
    dctr_status st = dctr_container_open(path, 0, &c);
    if (st != DCTR_OK)
        fail_msg("%s does not open after a crash: %s", path, dctr_last_error());
    dctr_rbuf r;
    uint8_t gen;
    assert_int_equal(dctr_container_section(c, "generation", &r), DCTR_OK);
    assert_int_equal(dctr_rbuf_u8(&r, &gen, "gen"), DCTR_OK);
    assert_int_equal(dctr_container_section(c, "weights", &r), DCTR_OK);
    assert_int_equal(r.len, bytes);
    for (size_t i = 0; i < bytes; i++)
        if (r.data[i] != gen)
            fail_msg("byte %zu is %d in generation %d", i, r.data[i], gen);
    dctr_container_free(c);
    return gen;
}

/* The child dies from SIGXFSZ at a known byte of the new file (RLIMIT_FSIZE), deterministically
 * in the middle of writing: the old file must still open with the old content. */
static void test_crash_mid_write_keeps_old_file(void **state) {
    (void)state;
    const size_t bytes = 1 << 20;
    char path[600];
    make_path(path, sizeof path, "crash.dctr");
    dctr_container_writer *cw = gen_writer(1, bytes);
    assert_int_equal(dctr_cw_save(cw, path), DCTR_OK);
    dctr_cw_free(cw);
    cw = gen_writer(2, bytes);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {bytes / 2, bytes / 2};
        setrlimit(RLIMIT_FSIZE, &lim);
        dctr_cw_save(cw, path);
        _exit(0); /* not reached: SIGXFSZ kills the process mid-write */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGXFSZ);
    assert_int_equal(open_generation(path, bytes), 1);
    assert_int_equal(remove_temps(path, pid), 1); /* the half-written temp file */

    /* With SIGXFSZ ignored the write fails with EFBIG instead: the save reports DCTR_ERR_IO
     * naming the path, removes its temp file and leaves the old file alone. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {bytes / 2, bytes / 2};
        setrlimit(RLIMIT_FSIZE, &lim);
        dctr_status st = dctr_cw_save(cw, path);
        int ok = st == DCTR_ERR_IO && strstr(dctr_last_error(), path) &&
                 strstr(dctr_last_error(), "File too large");
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(remove_temps(path, pid), 0);
    assert_int_equal(open_generation(path, bytes), 1);
    dctr_cw_free(cw);
    unlink(path);
}

/* SIGKILL at pseudo-random moments of a loop of saves: after every kill the file opens and
 * holds one complete generation, never a mix or a partial file. */
static void test_sigkill_during_save_loop(void **state) {
    (void)state;
    const size_t bytes = 4 << 20;
    char path[600];
    make_path(path, sizeof path, "kill.dctr");
    dctr_container_writer *cw = gen_writer(0, bytes);
    assert_int_equal(dctr_cw_save(cw, path), DCTR_OK);
    dctr_cw_free(cw);
    uint64_t x = 12345;
    int last = 0, mid_save = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (int g = 1;; g++) {
                dctr_container_writer *w = gen_writer((uint8_t)(last + g), bytes);
                if (dctr_cw_save(w, path) != DCTR_OK)
                    _exit(3);
                dctr_cw_free(w);
            }
        }
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        struct timespec ts = {0, (long)(2 + (x >> 33) % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        int gen = open_generation(path, bytes);
        assert_true(gen >= last); /* never goes back */
        last = gen;
        mid_save += remove_temps(path, pid);
    }
    print_message("sigkill loop: 12 kills, %d left a temp file (killed mid-save), "
                  "last generation %d\n", mid_save, last);
    unlink(path);
}

static void test_relative_path_save(void **state) {
    (void)state;
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmp_dir), 0);
    char name[64];
    snprintf(name, sizeof name, "relative.%ld.dctr", (long)getpid());
    dctr_container_writer *cw = small_writer();
    assert_int_equal(dctr_cw_save(cw, name), DCTR_OK);
    dctr_cw_free(cw);
    dctr_container *c;
    assert_int_equal(dctr_container_open(name, 0, &c), DCTR_OK);
    check_small(c);
    dctr_container_free(c);
    unlink(name);
    assert_int_equal(chdir(cwd), 0);
}

/* Streamed and taken sections give the same file as copied ones; a producer that sends another
 * size than it declared fails the save instead of writing a corrupt file. */
typedef struct {
    const uint8_t *bytes;
    size_t len, step;
} producer_ctx;

static dctr_status produce_in_steps(const void *ctx, dctr_cw_sink sink, void *sink_ctx) {
    const producer_ctx *p = ctx;
    for (size_t o = 0; o < p->len; o += p->step)
        DCTR_TRY(sink(sink_ctx, p->bytes + o, p->len - o < p->step ? p->len - o : p->step));
    return DCTR_OK;
}

static void test_streamed_and_taken_sections(void **state) {
    (void)state;
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7 + 3);
    dctr_container_writer *a = NULL, *b = NULL;
    assert_int_equal(dctr_cw_new(&a), DCTR_OK);
    assert_int_equal(dctr_cw_new(&b), DCTR_OK);
    dctr_wbuf w1, w2;
    dctr_wbuf_init(&w1);
    dctr_wbuf_bytes(&w1, payload, sizeof payload);
    dctr_wbuf_init(&w2);
    dctr_wbuf_bytes(&w2, payload, 10);
    assert_int_equal(dctr_cw_add(a, "big", &w1), DCTR_OK);
    assert_int_equal(dctr_cw_add(a, "small", &w2), DCTR_OK);
    producer_ctx pc = {payload, sizeof payload, 64};
    assert_int_equal(dctr_cw_add_stream(b, "big", sizeof payload, produce_in_steps, &pc), DCTR_OK);
    assert_int_equal(dctr_cw_add_take(b, "small", &w2), DCTR_OK);
    assert_null(w2.data); /* taken */
    void *ma = NULL, *mb = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(dctr_cw_to_memory(a, &ma, &na), DCTR_OK);
    assert_int_equal(dctr_cw_to_memory(b, &mb, &nb), DCTR_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(ma, mb, na);
    dctr_free(ma);
    dctr_free(mb);
    dctr_cw_free(b);
    assert_int_equal(dctr_cw_new(&b), DCTR_OK);
    assert_int_equal(dctr_cw_add_stream(b, "big", sizeof payload + 1, produce_in_steps, &pc), DCTR_OK);
    assert_int_equal(dctr_cw_to_memory(b, &mb, &nb), DCTR_ERR_STATE);
    dctr_cw_free(a);
    dctr_cw_free(b);
    dctr_wbuf_free(&w1);
}

/* ---- file-backed containers (dctr_container_open_file + the chunked section reader) ---- */

#define BIG_FLOATS 16384 /* the "table" section: 64 KiB, read in chunks of FB_CHUNK */
#define FB_CHUNK 4096

/* small_writer's sections and a "table" of BIG_FLOATS floats. */
static void fb_bytes(uint8_t **data, size_t *size) {
    dctr_container_writer *cw = small_writer();
    dctr_wbuf w;
    dctr_wbuf_init(&w);
    for (int i = 0; i < BIG_FLOATS; i++)
        dctr_wbuf_f32(&w, (float)i * 0.5f - 3.0f);
    assert_int_equal(dctr_cw_add(cw, "table", &w), DCTR_OK);
    dctr_wbuf_free(&w);
    void *d;
    assert_int_equal(dctr_cw_to_memory(cw, &d, size), DCTR_OK);
    *data = d;
    dctr_cw_free(cw);
}

/* fb_bytes written to a fresh file "<tmp>/<name>.<pid>" (path, of cap bytes). */
static void fb_file(const char *name, char *path, size_t cap, uint8_t **d, size_t *size) {
    fb_bytes(d, size);
    make_path(path, cap, name);
    write_file(path, *d, *size);
}

/* Reads every section of a file-backed container ("table" through the chunked reader, the rest
 * whole); when `ref` (the whole-file container of the same file) is given, the bytes must equal
 * its sections'. The first failure's status, else DCTR_OK. */
static dctr_status fb_read_all(const dctr_container *c, const dctr_container *ref) {
    static float big[BIG_FLOATS + 1];
    for (size_t i = 0; i < dctr_container_count(c); i++) {
        const char *name = dctr_container_name_at(c, i);
        dctr_rbuf r, want;
        if (ref)
            assert_int_equal(dctr_container_section(ref, name, &want), DCTR_OK);
        if (strcmp(name, "table") != 0) {
            DCTR_TRY(dctr_container_section(c, name, &r));
            if (ref)
                assert_true(r.len == want.len && (!r.len || memcmp(r.data, want.data, r.len) == 0));
            continue;
        }
        dctr_section_reader sr;
        DCTR_TRY(dctr_section_open(c, name, FB_CHUNK, &sr));
        size_t n = (size_t)(dctr_section_left(&sr) / 4);
        dctr_status st = n <= BIG_FLOATS ? dctr_section_f32s(&sr, big, n, "table") : DCTR_ERR_FORMAT;
        DCTR_TRY(dctr_section_end(&sr, st));
        if (ref)
            assert_true(want.len == n * 4 && memcmp(want.data, big, want.len) == 0);
    }
    return DCTR_OK;
}

/* The file-backed verdict on path: open, then every section read. */
static dctr_status fb_verdict(const char *path) {
    dctr_container *c = (dctr_container *)1;
    dctr_status st = dctr_container_open_file(path, &c);
    if (st != DCTR_OK) {
        assert_null(c);
        return st;
    }
    st = fb_read_all(c, NULL);
    dctr_container_free(c);
    return st;
}

static void test_file_backed_good_file(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    char path[600];
    fb_file("fb_good.dctr", path, sizeof path, &d, &size);
    dctr_container *f, *whole;
    assert_int_equal(dctr_container_open_file(path, &f), DCTR_OK);
    assert_int_equal(dctr_container_open(path, 0, &whole), DCTR_OK);
    assert_int_equal(dctr_container_held_peak(f), 0); /* nothing read yet */
    uint64_t n = 0;
    assert_int_equal(dctr_container_section_size(f, "table", &n), DCTR_OK);
    assert_int_equal(n, BIG_FLOATS * 4);
    assert_int_equal(fb_read_all(f, whole), DCTR_OK);
    assert_string_equal(dctr_container_name_at(f, 3), "table");
    /* held: the small sections read whole (kept) plus one chunk, never the table */
    assert_true(dctr_container_held_peak(f) <= 120 + FB_CHUNK);
    assert_int_equal(dctr_container_held_peak(whole), (int64_t)size);
    /* a reader stopped half way still checks the whole payload at its end */
    dctr_section_reader sr;
    float x[10];
    assert_int_equal(dctr_section_open(f, "table", FB_CHUNK, &sr), DCTR_OK);
    assert_int_equal(dctr_section_f32s(&sr, x, 10, "t"), DCTR_OK);
    assert_true(x[3] == 3 * 0.5f - 3.0f);
    assert_int_equal(dctr_section_end(&sr, DCTR_OK), DCTR_OK);
    /* overreads name the section and the offset */
    assert_int_equal(dctr_section_open(f, "table", FB_CHUNK, &sr), DCTR_OK);
    assert_int_equal(dctr_section_f32s(&sr, NULL, BIG_FLOATS - 1, "t"), DCTR_OK);
    assert_int_equal(dctr_section_f32s(&sr, x, 2, "the rows"), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section 'table': truncated reading the rows at offset 65532"));
    assert_int_equal(dctr_section_end(&sr, DCTR_ERR_FORMAT), DCTR_ERR_FORMAT);
    dctr_container_free(whole);
    dctr_container_free(f);
    unlink(path);
    dctr_free(d);
}

/* Flipped bits and truncations: the file-backed container (open + every section read) rejects
 * exactly what dctr_container_open rejects, with DCTR_ERR_FORMAT. */
static void test_file_backed_same_verdict(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    char path[600];
    fb_file("fb_bad.dctr", path, sizeof path, &d, &size);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    const size_t header_bits = (32 + le32(d + 20) + 4) * 8;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t k = 0; k < header_bits + 600; k++) {
        size_t bit = k;
        if (k >= header_bits) { /* padding and payloads: a sample */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            bit = header_bits + (size_t)(x % (size * 8 - header_bits));
        }
        uint8_t b = d[bit / 8] ^ (uint8_t)(1u << (bit % 8));
        assert_int_equal(pwrite(fd, &b, 1, (off_t)(bit / 8)), 1);
        dctr_container *c = (dctr_container *)1;
        assert_int_equal(dctr_container_open(path, 0, &c), DCTR_ERR_FORMAT);
        dctr_status st = fb_verdict(path);
        if (st != DCTR_ERR_FORMAT)
            fail_msg("bit %zu: file-backed status %d (%s)", bit, st, dctr_last_error());
        assert_int_equal(pwrite(fd, &d[bit / 8], 1, (off_t)(bit / 8)), 1);
    }
    /* a table byte: named as the section's checksum, like the whole-file open */
    const size_t last = size - 5;
    uint8_t b = d[last] ^ 1;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)last), 1);
    assert_int_equal(fb_verdict(path), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section 'table' checksum mismatch"));
    assert_non_null(strstr(dctr_last_error(), path));
    assert_int_equal(pwrite(fd, &d[last], 1, (off_t)last), 1);
    assert_int_equal(fb_verdict(path), DCTR_OK);
    close(fd);
    for (size_t len = 0; len < size; len += len < 400 ? 1 : 997) {
        write_file(path, d, len);
        assert_int_equal(fb_verdict(path), DCTR_ERR_FORMAT);
        assert_non_null(strstr(dctr_last_error(), path));
    }
    unlink(path);
    dctr_free(d);
}

/* The file shrinks or changes after the open: an error naming the file, section and offset. */
static void test_file_backed_changed_under_it(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    char path[600];
    fb_file("fb_changed.dctr", path, sizeof path, &d, &size);
    dctr_container *c;
    assert_int_equal(dctr_container_open_file(path, &c), DCTR_OK);
    assert_int_equal(truncate(path, (off_t)(size - 1000)), 0);
    dctr_section_reader sr;
    assert_int_equal(dctr_section_open(c, "table", FB_CHUNK, &sr), DCTR_OK);
    assert_int_equal(dctr_section_end(&sr, dctr_section_f32s(&sr, NULL, BIG_FLOATS, "t")), DCTR_ERR_IO);
    assert_non_null(strstr(dctr_last_error(), "shrank"));
    assert_non_null(strstr(dctr_last_error(), "section 'table' at offset"));
    assert_non_null(strstr(dctr_last_error(), path));
    dctr_container_free(c);
    write_file(path, d, size); /* same size, one table byte changed after the open */
    assert_int_equal(dctr_container_open_file(path, &c), DCTR_OK);
    d[size - 9] ^= 0x40;
    write_file(path, d, size);
    assert_int_equal(dctr_section_open(c, "table", FB_CHUNK, &sr), DCTR_OK);
    assert_int_equal(dctr_section_end(&sr, dctr_section_f32s(&sr, NULL, BIG_FLOATS, "t")), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section 'table' checksum mismatch"));
    dctr_container_free(c);
    unlink(path);
    dctr_free(d);
}

/* dctr_container_verify: the sections a loader never read are checked too (a flipped byte in
 * one is a checksum mismatch naming it); sections already checked are not read again. */
static void test_file_backed_verify_unread(void **state) {
    (void)state;
    uint8_t *d;
    size_t size;
    char path[600];
    fb_file("fb_verify.dctr", path, sizeof path, &d, &size);
    dctr_container *c;
    assert_int_equal(dctr_container_open_file(path, &c), DCTR_OK);
    assert_int_equal(dctr_container_verify(c), DCTR_OK); /* a good file: every section passes */
    /* verify streamed the table in bounded chunks: nothing of it stays held */
    assert_true(dctr_container_held_peak(c) <= 120 + (1 << 20));
    dctr_container_free(c);
    const size_t last = size - 5; /* a byte of "table" */
    uint8_t b = d[last] ^ 0x10;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &b, 1, (off_t)last), 1);
    assert_int_equal(dctr_container_open_file(path, &c), DCTR_OK);
    dctr_rbuf r; /* the loader reads only the small sections */
    for (size_t i = 0; i < dctr_container_count(c); i++)
        if (strcmp(dctr_container_name_at(c, i), "table") != 0)
            assert_int_equal(dctr_container_section(c, dctr_container_name_at(c, i), &r), DCTR_OK);
    assert_int_equal(dctr_container_verify(c), DCTR_ERR_FORMAT);
    assert_non_null(strstr(dctr_last_error(), "section 'table' checksum mismatch"));
    dctr_container_free(c);
    /* the table read (and checked) by the loader is not read again: verify passes even once the
     * file has shrunk under it (a second read would fail with "shrank") */
    assert_int_equal(pwrite(fd, &d[last], 1, (off_t)last), 1);
    close(fd);
    assert_int_equal(dctr_container_open_file(path, &c), DCTR_OK);
    assert_int_equal(fb_read_all(c, NULL), DCTR_OK);
    assert_int_equal(truncate(path, (off_t)(size - 1000)), 0);
    assert_int_equal(dctr_container_verify(c), DCTR_OK);
    dctr_container_free(c);
    unlink(path);
    dctr_free(d);
}

int main(void) {
    const char *t = getenv("DCTR_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s", t && *t ? t : "/tmp");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_memory_and_file),
        cmocka_unit_test(test_streamed_and_taken_sections),
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_writer_argument_errors),
        cmocka_unit_test(test_truncation_at_every_offset),
        cmocka_unit_test(test_every_bit_flip_is_detected),
        cmocka_unit_test(test_specific_messages),
        cmocka_unit_test(test_duplicate_and_nul_names),
        cmocka_unit_test(test_huge_claims_rejected_before_allocation),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_save_into_missing_directory),
        cmocka_unit_test(test_save_replaces_and_skips_busy_temp_names),
        cmocka_unit_test(test_crash_mid_write_keeps_old_file),
        cmocka_unit_test(test_sigkill_during_save_loop),
        cmocka_unit_test(test_relative_path_save),
        cmocka_unit_test(test_file_backed_good_file),
        cmocka_unit_test(test_file_backed_same_verdict),
        cmocka_unit_test(test_file_backed_changed_under_it),
        cmocka_unit_test(test_file_backed_verify_unread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
