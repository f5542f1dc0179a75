/* libFuzzer target: the schema deserializer (src/feature/schema_io.h), fed arbitrary bytes as a
 * model file's "schema" section would be. A schema that reads back must write, and what it
 * writes must read again and write the same bytes (write(read(write(x))) == write(x)). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deepctr/schema.h"
#include "feature/schema_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_or_die(const dctr_schema *s, dctr_wbuf *w) {
    dctr_wbuf_init(w);
    if (dctr_schema_write(s, w) != DCTR_OK || dctr_wbuf_status(w) != DCTR_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dctr_rbuf r;
    dctr_rbuf_init(&r, data, size, "fuzz section 'schema'");
    dctr_schema *s;
    if (dctr_schema_read(&r, &s) != DCTR_OK)
        return 0;
    /* Accessors must cope with whatever the reader accepted. */
    for (int32_t i = 0; i < dctr_schema_num_columns(s); i++) {
        const char *name = dctr_schema_column_name(s, i);
        if (!name || dctr_schema_find(s, name) < 0)
            abort();
        (void)dctr_schema_vocabulary_size(s, name);
        (void)dctr_schema_embedding_dim(s, name);
    }
    (void)dctr_schema_feature_names(s, NULL, 0);
    dctr_wbuf w1, w2;
    write_or_die(s, &w1);
    dctr_schema *s2;
    dctr_rbuf_init(&r, w1.data, w1.len, "fuzz rewritten schema");
    if (dctr_schema_read(&r, &s2) != DCTR_OK)
        abort(); /* the library cannot read what it wrote */
    write_or_die(s2, &w2);
    if (w1.len != w2.len || memcmp(w1.data, w2.data, w1.len) != 0)
        abort(); /* the round trip changed the schema */
    dctr_wbuf_free(&w1);
    dctr_wbuf_free(&w2);
    dctr_schema_free(s2);
    dctr_schema_free(s);
    return 0;
}
