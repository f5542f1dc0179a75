/* libFuzzer target: the model-file container and the bounds-checked reader.
 * Input: one mode byte, then the file. Odd mode: the checksums are recomputed first (so the
 * mutations reach the table checks and the section readers); even: the raw bytes, as a
 * corrupted file would arrive. Parses the input as a container; on success reads every section with the rbuf API (the bytes
 * of the section steer which reads happen, so every reader call meets hostile lengths) and checks
 * that writing the sections back gives a container that parses to the same sections. The same
 * bytes also go through the file-backed container (a memfd): it must accept exactly what the
 * in-memory parser accepts (open + every section read, whole or through the chunked reader with
 * a tiny chunk) and give the same section bytes; any disagreement aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "fuzz_fixup.h"
#include "io/container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Drives the reader with the section's own bytes until it is exhausted or fails. */
static void read_all(dctr_rbuf *r) {
    while (dctr_rbuf_remaining(r) > 0) {
        uint8_t op;
        if (dctr_rbuf_u8(r, &op, "op") != DCTR_OK)
            return;
        uint32_t n = 0;
        uint64_t u64;
        float f[16];
        int64_t i64[8];
        double d;
        char *s = NULL;
        dctr_status st;
        switch (op % 8) {
        case 0: st = dctr_rbuf_u64(r, &u64, "u64"); break;
        case 1: st = dctr_rbuf_f64(r, &d, "f64"); break;
        case 2: st = dctr_rbuf_str(r, &s, op & 0x80 ? 16 : SIZE_MAX, "str"); break;
        case 3:
            st = dctr_rbuf_u32(r, &n, "count");
            if (st == DCTR_OK)
                st = dctr_rbuf_f32s(r, f, n % 17, "floats");
            break;
        case 4:
            st = dctr_rbuf_u32(r, &n, "count");
            if (st == DCTR_OK)
                st = dctr_rbuf_i64s(r, i64, n % 9, "ids");
            break;
        case 5:
            /* The allocate-after-check pattern the model loader uses. */
            st = dctr_rbuf_u64(r, &u64, "rows");
            if (st == DCTR_OK)
                st = dctr_rbuf_need(r, u64, 4, "rows");
            if (st == DCTR_OK) {
                float *rows = dctr_alloc_floats((size_t)u64);
                if (!rows)
                    abort(); /* need() let through a size that does not fit */
                st = dctr_rbuf_f32s(r, rows, (size_t)u64, "rows");
                if (st != DCTR_OK)
                    abort(); /* need() said the bytes are there */
                dctr_aligned_free(rows);
            }
            break;
        case 6: st = dctr_rbuf_bytes(r, f, op % 64, "raw"); break;
        default: st = dctr_rbuf_i32(r, (int32_t *)&n, "i32"); break;
        }
        dctr_free(s);
        if (st != DCTR_OK)
            return;
    }
}

/* Section i of the file-backed f: whole (even i) or through the chunked reader with a 16-byte
 * chunk (odd i); equal to mem's when mem is given. DCTR_OK or the read's failure. */
static dctr_status file_section(const dctr_container *f, size_t i, const dctr_container *mem) {
    const char *name = dctr_container_name_at(f, i);
    dctr_rbuf want = {0};
    if (mem && (!name || dctr_container_section(mem, name, &want) != DCTR_OK))
        abort();
    if (i % 2 == 0) {
        dctr_rbuf r;
        DCTR_TRY(dctr_container_section(f, name, &r));
        if (mem && (r.len != want.len || (r.len && memcmp(r.data, want.data, r.len) != 0)))
            abort();
        return DCTR_OK;
    }
    dctr_section_reader sr;
    DCTR_TRY(dctr_section_open(f, name, 16, &sr));
    size_t n = (size_t)dctr_section_left(&sr);
    uint8_t *got = malloc(n + 4);
    dctr_status st = dctr_section_f32s(&sr, (float *)(void *)got, n / 4, "floats");
    dctr_rbuf tail;
    if (st == DCTR_OK)
        st = dctr_section_window(&sr, n % 4, &tail);
    if (st == DCTR_OK && n % 4)
        memcpy(got + n / 4 * 4, tail.data, n % 4);
    st = dctr_section_end(&sr, st);
    if (st == DCTR_OK && mem && (n != want.len || (n && memcmp(got, want.data, n) != 0)))
        abort(); /* little-endian hosts: the floats' bytes are the file's */
    free(got);
    return st;
}

/* The file-backed container over the same bytes: the same verdict and sections as mem (NULL:
 * the in-memory parser rejected them); dctr_container_verify first (verify_first) or last. */
static void check_file_backed(const uint8_t *data, size_t size, const dctr_container *mem,
                              int verify_first) {
    int fd = memfd_create("fuzz_container", MFD_CLOEXEC);
    if (fd < 0)
        return; /* no memfd here: nothing to compare */
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    dctr_container *f = NULL;
    dctr_status st = dctr_container_open_file(path, &f);
    /* verify alone (no section read yet), or after reading every section */
    if (st == DCTR_OK && verify_first)
        st = dctr_container_verify(f);
    for (size_t i = 0; st == DCTR_OK && i < dctr_container_count(f); i++)
        st = file_section(f, i, mem);
    if (st == DCTR_OK)
        st = dctr_container_verify(f);
    if ((st == DCTR_OK) != (mem != NULL) || (mem && dctr_container_count(f) != dctr_container_count(mem)))
        abort();
    if (st != DCTR_OK && st != DCTR_ERR_FORMAT)
        abort(); /* a complete, unchanging file: only format errors */
    dctr_container_free(f);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    if (input_size == 0)
        return 0;
    size_t size = input_size - 1;
    uint8_t *data = malloc(size ? size : 1);
    memcpy(data, input + 1, size);
    if (input[0] & 1)
        dctr_fuzz_fix_container(data, size);
    dctr_container *c;
    dctr_status parsed = dctr_container_from_memory(data, size, &c);
    check_file_backed(data, size, parsed == DCTR_OK ? c : NULL, input[0] & 2);
    free(data);
    if (parsed != DCTR_OK)
        return 0;
    size_t count = dctr_container_count(c);
    dctr_container_writer *cw;
    if (dctr_cw_new(&cw) != DCTR_OK)
        abort();
    for (size_t i = 0; i < count; i++) {
        const char *name = dctr_container_name_at(c, i);
        dctr_rbuf r;
        if (!name || dctr_container_section(c, name, &r) != DCTR_OK)
            abort();
        dctr_wbuf w;
        dctr_wbuf_init(&w);
        dctr_wbuf_bytes(&w, r.data, r.len);
        if (dctr_cw_add(cw, name, &w) != DCTR_OK)
            abort(); /* a valid file's names are valid writer names */
        dctr_wbuf_free(&w);
        read_all(&r);
    }
    /* Write back and parse again: the same sections, byte for byte. */
    void *copy;
    size_t copy_size;
    dctr_container *c2;
    if (dctr_cw_to_memory(cw, &copy, &copy_size) != DCTR_OK ||
        dctr_container_from_memory(copy, copy_size, &c2) != DCTR_OK ||
        dctr_container_count(c2) != count)
        abort();
    for (size_t i = 0; i < count; i++) {
        const char *name = dctr_container_name_at(c, i);
        dctr_rbuf a, b;
        if (strcmp(name, dctr_container_name_at(c2, i)) != 0 ||
            dctr_container_section(c, name, &a) != DCTR_OK ||
            dctr_container_section(c2, name, &b) != DCTR_OK || a.len != b.len ||
            (a.len && memcmp(a.data, b.data, a.len) != 0))
            abort();
    }
    dctr_container_free(c2);
    dctr_free(copy);
    dctr_cw_free(cw);
    dctr_container_free(c);
    return 0;
}
