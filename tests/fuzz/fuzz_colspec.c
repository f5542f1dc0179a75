/* libFuzzer target: the CLI's column-spec parser (tools/colspec.h), e.g.
 * "--varlen genres:maxlen=5:sep=|:combiner=mean". Input: one byte picking the column kind, then
 * the flag value (two values separated by a NUL byte are parsed into the same spec, so the
 * duplicate-name rule is exercised). Checks: a failure leaves the spec unchanged and explains
 * itself; a success yields bounded, unique, non-empty names and in-range settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_colspec: invariant failed: %s\n", #cond);  \
            abort();                                                         \
        }                                                                    \
    } while (0)

static void check_spec(const dctr_colspec *cs) {
    for (int32_t i = 0; i < cs->count; i++) {
        const dctr_colspec_entry *e = &cs->entries[i];
        size_t n = strlen(e->name);
        CHECK(n > 0 && n <= DCTR_COLSPEC_MAX_NAME);
        CHECK(dctr_colspec_find(cs, e->name) == i);
        CHECK(e->hash_buckets >= 0);
        if (e->kind == DCTR_COLUMN_VARLEN)
            CHECK(e->maxlen > 0);
    }
}

static void parse_one(const char *spec, dctr_column_kind kind, dctr_colspec *cs) {
    char err[256];
    err[0] = '\0';
    int32_t before = cs->count;
    if (dctr_colspec_parse(spec, kind, cs, err, sizeof err) != 0) {
        CHECK(cs->count == before); /* unchanged on error */
        CHECK(err[0] != '\0');
    }
    check_spec(cs);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t input_size) {
    if (input_size == 0)
        return 0;
    static const dctr_column_kind kinds[3] = {DCTR_COLUMN_SPARSE, DCTR_COLUMN_DENSE,
                                              DCTR_COLUMN_VARLEN};
    char *text = malloc(input_size); /* the spec bytes + a terminating NUL */
    memcpy(text, input + 1, input_size - 1);
    text[input_size - 1] = '\0';
    dctr_colspec cs;
    dctr_colspec_init(&cs);
    parse_one(text, kinds[input[0] % 3], &cs);
    size_t first = strlen(text);
    if (first + 1 < input_size - 1)
        parse_one(text + first + 1, kinds[(input[0] / 3) % 3], &cs);
    dctr_colspec_free(&cs);
    free(text);
    return 0;
}
