/* libFuzzer target: the libffm text reader (src/data/libffm_reader.h).
 * Input: one option byte, then the text. The option byte picks small or default limits, blank
 * line handling and the chunk size of the streaming read. On success the CSR data must satisfy
 * its invariants; one input in four is also read through a file (memfd) and must give the same
 * status and the same data as the in-memory reader. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data/libffm_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size);

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz_libffm: invariant failed: %s\n", #cond);      \
            abort();                                                            \
        }                                                                       \
    } while (0)

static void check_data(const dctr_ffm_data *d, const dctr_libffm_options *o) {
    CHECK(d->rows >= 0 && d->nnz >= 0);
    CHECK(d->row_ptr[0] == 0 && d->row_ptr[d->rows] == d->nnz);
    for (int64_t i = 0; i < d->rows; i++) {
        CHECK(d->row_ptr[i] <= d->row_ptr[i + 1]);
        CHECK(isfinite(d->labels[i]));
        CHECK(isfinite(d->inv_norm[i]) && d->inv_norm[i] > 0);
    }
    for (int64_t j = 0; j < d->nnz; j++) {
        const dctr_ffm_node *n = &d->nodes[j];
        CHECK(n->field >= 0 && n->field < d->num_fields && n->field < o->max_fields);
        CHECK(n->index >= 0 && n->index < d->num_features && n->index < o->max_features);
        CHECK(isfinite(n->value));
    }
}

/* Reads everything with chunks of `chunk` rows (0 = all at once). */
static dctr_status read_chunked(dctr_libffm_reader *r, int64_t chunk, dctr_ffm_data *d) {
    for (;;) {
        int64_t got;
        dctr_status st = dctr_libffm_reader_read(r, d, chunk, &got);
        if (st != DCTR_OK || got == 0 || chunk == 0)
            return st;
    }
}

static int same_data(const dctr_ffm_data *a, const dctr_ffm_data *b) {
    return a->rows == b->rows && a->nnz == b->nnz && a->num_fields == b->num_fields &&
           a->num_features == b->num_features &&
           memcmp(a->row_ptr, b->row_ptr, (size_t)(a->rows + 1) * sizeof *a->row_ptr) == 0 &&
           memcmp(a->labels, b->labels, (size_t)a->rows * sizeof *a->labels) == 0 &&
           (a->nnz == 0 ||
            memcmp(a->nodes, b->nodes, (size_t)a->nnz * sizeof *a->nodes) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    if (input_size == 0)
        return 0;
    uint8_t mode = input[0];
    const char *text = (const char *)input + 1;
    size_t len = input_size - 1;
    dctr_libffm_options o;
    dctr_libffm_options_default(&o);
    if (mode & 1)
        o.max_line_bytes = 24;
    if (mode & 2) {
        o.max_fields = 3;
        o.max_features = 1000;
    }
    o.skip_blank_lines = !(mode & 4);
    static const int64_t chunks[4] = {0, 1, 2, 7};
    int64_t chunk = chunks[(mode >> 3) & 3];

    dctr_libffm_reader *r;
    if (dctr_libffm_reader_open_text(text, len, "fuzz.ffm", &o, &r) != DCTR_OK)
        abort();
    dctr_ffm_data *d;
    if (dctr_ffm_data_new_empty(&d) != DCTR_OK)
        abort();
    dctr_status st = read_chunked(r, chunk, d);
    dctr_libffm_reader_close(r);
    if (st == DCTR_OK)
        check_data(d, &o);
    else
        CHECK(strstr(dctr_last_error(), "fuzz.ffm") != NULL);

    if ((mode & 0x60) == 0x60) {
        /* The same bytes through the file reader. */
        int fd = memfd_create("fuzz.ffm", 0);
        CHECK(fd >= 0);
        CHECK(write(fd, text, len) == (ssize_t)len);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        dctr_ffm_data *f = NULL;
        dctr_libffm_reader *fr;
        CHECK(dctr_libffm_reader_open(path, &o, &fr) == DCTR_OK);
        CHECK(dctr_ffm_data_new_empty(&f) == DCTR_OK);
        dctr_status fst = read_chunked(fr, chunk, f);
        dctr_libffm_reader_close(fr);
        close(fd);
        CHECK(fst == st);
        if (st == DCTR_OK)
            CHECK(same_data(d, f));
        dctr_ffm_data_free(f);
    }
    dctr_ffm_data_free(d);
    return 0;
}
