/* Little-endian serialization: a growable writer and a bounds-checked reader (CONTRACT used by
 * the schema, model and cache code). The writer's failure is sticky (check once at the end);
 * every reader call checks the remaining length first and fails with DCTR_ERR_FORMAT naming
 * what was being read and the offset — a truncated or corrupted file never reads out of bounds. */
#ifndef DCTR_IO_BYTES_H
#define DCTR_IO_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "deepctr/common.h"

typedef struct dctr_wbuf {
    uint8_t *data;
    size_t len, cap;
    int failed; /* an allocation failed: the content is incomplete */
} dctr_wbuf;

void dctr_wbuf_init(dctr_wbuf *w);
void dctr_wbuf_free(dctr_wbuf *w);
void dctr_wbuf_bytes(dctr_wbuf *w, const void *data, size_t len);
void dctr_wbuf_u8(dctr_wbuf *w, uint8_t v);
void dctr_wbuf_u32(dctr_wbuf *w, uint32_t v);
void dctr_wbuf_u64(dctr_wbuf *w, uint64_t v);
void dctr_wbuf_i32(dctr_wbuf *w, int32_t v);
void dctr_wbuf_i64(dctr_wbuf *w, int64_t v);
void dctr_wbuf_f32(dctr_wbuf *w, float v);
void dctr_wbuf_f64(dctr_wbuf *w, double v);
/* u32 length + bytes; NULL is written as length 0xFFFFFFFF and read back as NULL. */
void dctr_wbuf_str(dctr_wbuf *w, const char *s);
void dctr_wbuf_f32s(dctr_wbuf *w, const float *v, size_t count);
void dctr_wbuf_i64s(dctr_wbuf *w, const int64_t *v, size_t count);
/* DCTR_ERR_NOMEM if any write failed, else DCTR_OK. */
dctr_status dctr_wbuf_status(const dctr_wbuf *w);

typedef struct dctr_rbuf {
    const uint8_t *data;
    size_t len, pos;
    const char *origin; /* e.g. "model.dctr section 'schema'": prefixes error messages */
} dctr_rbuf;

void dctr_rbuf_init(dctr_rbuf *r, const void *data, size_t len, const char *origin);
size_t dctr_rbuf_remaining(const dctr_rbuf *r);
/* `what` names the field in the error message, e.g. "column count". */
dctr_status dctr_rbuf_bytes(dctr_rbuf *r, void *out, size_t len, const char *what);
dctr_status dctr_rbuf_u8(dctr_rbuf *r, uint8_t *out, const char *what);
dctr_status dctr_rbuf_u32(dctr_rbuf *r, uint32_t *out, const char *what);
dctr_status dctr_rbuf_u64(dctr_rbuf *r, uint64_t *out, const char *what);
dctr_status dctr_rbuf_i32(dctr_rbuf *r, int32_t *out, const char *what);
dctr_status dctr_rbuf_i64(dctr_rbuf *r, int64_t *out, const char *what);
dctr_status dctr_rbuf_f32(dctr_rbuf *r, float *out, const char *what);
dctr_status dctr_rbuf_f64(dctr_rbuf *r, double *out, const char *what);
/* Allocates a NUL-terminated copy (or NULL for a written NULL); rejects strings longer than
 * max_len or containing NUL bytes. */
dctr_status dctr_rbuf_str(dctr_rbuf *r, char **out, size_t max_len, const char *what);
/* Reads count values into caller memory after checking count * size fits the remaining bytes. */
dctr_status dctr_rbuf_f32s(dctr_rbuf *r, float *out, size_t count, const char *what);
dctr_status dctr_rbuf_i64s(dctr_rbuf *r, int64_t *out, size_t count, const char *what);
/* Checks that count elements of elem_size bytes can still be read, BEFORE allocating them. */
dctr_status dctr_rbuf_need(dctr_rbuf *r, uint64_t count, size_t elem_size, const char *what);

#endif
