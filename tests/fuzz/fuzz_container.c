/* libFuzzer target: the model-file container and the bounds-checked reader.
 * Input: one mode byte, then the file. Odd mode: the checksums are recomputed first (so the
 * mutations reach the table checks and the section readers); even: the raw bytes, as a
 * corrupted file would arrive. Parses the input as a container; on success reads every section with the rbuf API (the bytes
 * of the section steer which reads happen, so every reader call meets hostile lengths) and checks
 * that writing the sections back gives a container that parses to the same sections. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
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
