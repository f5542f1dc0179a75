/* Streaming CSV reads: the tokenizer keeps one bounded buffer (a few MiB plus the caller's
 * batch), so files larger than memory can be trained on chunk by chunk. */
#include "core/alloc.h"
#include "core/error.h"
#include "data/batch.h"
#include "data/csv_input.h"
#include "data/dataset.h"

struct dctr_stream {
    dctr_csv_input in;
};

dctr_status dctr_stream_open_csv(const dctr_schema *schema, const char *path,
                                 const dctr_csv_options *opts, dctr_stream **out) {
    if (out)
        *out = NULL;
    DCTR_TRY(dctr_reader_check_args("dctr_stream_open_csv", out != NULL, schema, path));
    dctr_stream *s = dctr_calloc(1, sizeof *s);
    if (!s)
        return DCTR_ERR_NOMEM;
    dctr_status st = dctr_csv_input_open(&s->in, schema, path, opts);
    if (st != DCTR_OK) {
        dctr_free(s);
        return st;
    }
    *out = s;
    return DCTR_OK;
}

dctr_status dctr_stream_next(dctr_stream *s, dctr_batch *batch, int64_t *rows) {
    if (!s || !batch || !rows)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_stream_next: NULL argument");
    *rows = 0;
    if (batch->schema->ncols != s->in.schema->ncols || !batch->owns_memory)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_stream_next: the batch must be an owning batch of the schema");
    batch->n = 0;
    while (batch->n < batch->capacity) {
        int got;
        DCTR_TRY(dctr_csv_input_next(&s->in, &got));
        if (!got)
            break;
        DCTR_TRY(dctr_csv_input_encode(&s->in, batch, batch->n));
        batch->n++;
    }
    *rows = batch->n;
    return DCTR_OK;
}

dctr_status dctr_stream_rewind(dctr_stream *s) {
    if (!s)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_stream_rewind: stream is NULL");
    return dctr_csv_input_rewind(&s->in);
}

void dctr_stream_free(dctr_stream *s) {
    if (!s)
        return;
    dctr_csv_input_close(&s->in);
    dctr_free(s);
}
