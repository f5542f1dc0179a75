/* Header mapping and record encoding (see csv_input.h). */
#include "data/csv_input.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/strmap.h"
#include "data/options.h"
#include "feature/encode.h"
#include "feature/numparse.h"
#include "feature/schema_internal.h"

void dctr_csv_options_default(dctr_csv_options *o) {
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = (uint32_t)sizeof *o;
    o->delimiter = ',';
    o->has_header = 1;
    o->allow_extra_columns = 0;
    o->max_line_bytes = 1u << 20;
    o->max_fields = 65536;
    o->require_label = 1;
}

dctr_status dctr_csv_options_check(const dctr_csv_options *opts, dctr_csv_options *out) {
    dctr_csv_options_default(out);
    if (!opts)
        return DCTR_OK;
    DCTR_TRY(dctr_options_copy(out, sizeof *out, opts, opts->struct_size, "dctr_csv_options"));
    char d = out->delimiter;
    if (d == '"' || d == '\n' || d == '\r' || d == '\0')
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_csv_options: invalid delimiter");
    if (out->max_line_bytes < 16 || out->max_line_bytes > ((size_t)1 << 30))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "dctr_csv_options: max_line_bytes %zu outside [16, 2^30]",
                              out->max_line_bytes);
    if (out->max_fields < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "dctr_csv_options: max_fields < 1");
    return DCTR_OK;
}

void dctr_csv_input_close(dctr_csv_input *in) {
    dctr_csv_tok_close(&in->tok);
    dctr_free(in->map);
    dctr_free(in->has_len);
    dctr_free(in->has_vw);
    dctr_free(in->counts);
    for (int32_t i = 0; in->header && i < in->nmap; i++)
        dctr_free(in->header[i]);
    dctr_free(in->header);
    in->header = NULL;
    in->map = NULL;
    in->has_len = in->has_vw = NULL;
    in->counts = NULL;
}

static int field_is(const dctr_csv_field *f, const char *name) {
    return name && strlen(name) == f->len && memcmp(f->p, name, f->len) == 0;
}

/* Target of one header name. */
/* Header lookups in linear time: column names -> column; varlen length / weight names ->
 * 2 * column + (0 length, 1 weight), the first varlen column naming it; header names seen. */
typedef struct hdr_maps {
    dctr_strmap cols, aux, seen;
} hdr_maps;

static dctr_status hdr_maps_init(hdr_maps *h, const dctr_schema *s, int32_t nfields) {
    memset(h, 0, sizeof *h);
    DCTR_TRY(dctr_strmap_init(&h->cols, (size_t)s->ncols));
    DCTR_TRY(dctr_strmap_init(&h->aux, 2 * (size_t)s->ncols));
    DCTR_TRY(dctr_strmap_init(&h->seen, (size_t)nfields));
    int32_t old;
    for (int32_t i = 0; i < s->ncols; i++)
        DCTR_TRY(dctr_strmap_put(&h->cols, s->cols[i].name, i, &old));
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        if (c->kind == DCTR_COLUMN_VARLEN && c->length_name)
            DCTR_TRY(dctr_strmap_put(&h->aux, c->length_name, 2 * i, &old));
        if (c->kind == DCTR_COLUMN_VARLEN && c->weight_name)
            DCTR_TRY(dctr_strmap_put(&h->aux, c->weight_name, 2 * i + 1, &old));
    }
    return DCTR_OK;
}

static void hdr_maps_free(hdr_maps *h) {
    dctr_strmap_free(&h->cols);
    dctr_strmap_free(&h->aux);
    dctr_strmap_free(&h->seen);
}

static dctr_csv_target target_of(const dctr_schema *s, const hdr_maps *h, const dctr_csv_field *f) {
    dctr_csv_target t = {DCTR_TGT_IGNORE, -1};
    if (field_is(f, dctr_schema_label_name(s))) {
        t.kind = DCTR_TGT_LABEL;
        return t;
    }
    if (field_is(f, s->weight_column)) {
        t.kind = DCTR_TGT_WEIGHT;
        return t;
    }
    int32_t i = dctr_strmap_get_n(&h->cols, f->p, f->len);
    if (i >= 0) {
        t.kind = DCTR_TGT_COL;
        t.col = i;
        return t;
    }
    i = dctr_strmap_get_n(&h->aux, f->p, f->len);
    if (i >= 0) {
        t.kind = i % 2 == 0 ? DCTR_TGT_LENGTH : DCTR_TGT_VWEIGHT;
        t.col = i / 2;
    }
    return t;
}

/* Entries allocated for n used ones of map[] / header[] (at least 16, then powers of two):
 * growing by one entry per header name copied O(n^2) bytes when realloc could not extend. */
static size_t grown_cap(size_t n) {
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

/* p (n entries of size used) ready for entry n. */
static void *room_for(void *p, size_t n, size_t size) {
    if (p && n + 1 <= grown_cap(n))
        return p;
    return dctr_realloc_array(p, grown_cap(n + 1), size);
}

static dctr_status add_target(dctr_csv_input *in, int kind, int32_t col) {
    dctr_csv_target *m = room_for(in->map, (size_t)in->nmap, sizeof *m);
    if (!m)
        return DCTR_ERR_NOMEM;
    in->map = m;
    m[in->nmap].kind = kind;
    m[in->nmap].col = col;
    in->nmap++;
    return DCTR_OK;
}

/* Without a header: [label] + feature names in order (varlen weight, length after their
 * column) + [sample weight]. */
static dctr_status map_schema_order(dctr_csv_input *in) {
    const dctr_schema *s = in->schema;
    if (in->opts.require_label)
        DCTR_TRY(add_target(in, DCTR_TGT_LABEL, -1));
    for (int32_t i = 0; i < s->ncols; i++) {
        const dctr_column *c = &s->cols[i];
        DCTR_TRY(add_target(in, DCTR_TGT_COL, i));
        if (c->kind == DCTR_COLUMN_VARLEN && c->weight_name)
            DCTR_TRY(add_target(in, DCTR_TGT_VWEIGHT, i));
        if (c->kind == DCTR_COLUMN_VARLEN && c->length_name)
            DCTR_TRY(add_target(in, DCTR_TGT_LENGTH, i));
    }
    if (s->weight_column)
        DCTR_TRY(add_target(in, DCTR_TGT_WEIGHT, -1));
    return DCTR_OK;
}

static dctr_status map_header_with(dctr_csv_input *in, hdr_maps *maps);

static dctr_status map_header(dctr_csv_input *in) {
    dctr_csv_tok *t = &in->tok;
    int got;
    DCTR_TRY(dctr_csv_tok_next(t, &got));
    if (!got)
        return dctr_set_error(DCTR_ERR_PARSE, "%s: empty file (no header line)", t->path);
    hdr_maps maps;
    dctr_status st = hdr_maps_init(&maps, in->schema, t->nf);
    if (st == DCTR_OK)
        st = map_header_with(in, &maps);
    hdr_maps_free(&maps);
    return st;
}

/* The header record t->f[0..nf) onto the schema (maps: linear-time lookups). */
static dctr_status map_header_with(dctr_csv_input *in, hdr_maps *maps) {
    const dctr_schema *s = in->schema;
    dctr_csv_tok *t = &in->tok;
    uint8_t *seen = dctr_calloc((size_t)s->ncols + 1, 1);
    if (!seen)
        return DCTR_ERR_NOMEM;
    dctr_status st = DCTR_OK;
    int64_t end_col = 1;
    for (int32_t i = 0; i < t->nf && st == DCTR_OK; i++) {
        const dctr_csv_field *f = &t->f[i];
        end_col = f->col + (int64_t)f->len;
        if (f->len == 0) {
            st = dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: empty column name in the header",
                                t->path, (long long)f->line, (long long)f->col);
            break;
        }
        int32_t j = -1;
        st = dctr_strmap_put_n(&maps->seen, f->p, f->len, i, &j);
        if (st == DCTR_OK && j >= 0)
            st = dctr_set_error(DCTR_ERR_PARSE,
                                "%s:%lld:%lld: duplicate column name '%.*s' in the header "
                                "(first at column %lld)",
                                t->path, (long long)f->line, (long long)f->col,
                                (int)(f->len > 60 ? 60 : f->len), f->p, (long long)t->f[j].col);
        if (st != DCTR_OK)
            break;
        dctr_csv_target tg = target_of(s, maps, f);
        if (tg.kind == DCTR_TGT_IGNORE && !in->opts.allow_extra_columns) {
            st = dctr_set_error(DCTR_ERR_PARSE,
                                "%s:%lld:%lld: unknown column '%.*s' in the header (not in the "
                                "schema; set allow_extra_columns to skip it)",
                                t->path, (long long)f->line, (long long)f->col,
                                (int)(f->len > 60 ? 60 : f->len), f->p);
            break;
        }
        if (tg.kind == DCTR_TGT_COL)
            seen[tg.col] = 1;
        if (tg.kind == DCTR_TGT_LABEL)
            in->has_label = 1;
        if (tg.kind == DCTR_TGT_WEIGHT)
            in->has_weight = 1;
        if (tg.kind == DCTR_TGT_LENGTH)
            in->has_len[tg.col] = 1;
        if (tg.kind == DCTR_TGT_VWEIGHT)
            in->has_vw[tg.col] = 1;
        st = add_target(in, tg.kind, tg.col);
        if (st == DCTR_OK) {
            char **h = room_for(in->header, (size_t)in->nmap - 1, sizeof *h);
            char *name = h ? dctr_malloc(f->len + 1) : NULL;
            if (h)
                in->header = h;
            if (!name) {
                in->nmap--; /* keep header[] and map[] the same length for close() */
                st = DCTR_ERR_NOMEM;
            } else {
                memcpy(name, f->p, f->len);
                name[f->len] = '\0';
                in->header[in->nmap - 1] = name;
            }
        }
    }
    for (int32_t i = 0; i < s->ncols && st == DCTR_OK; i++)
        if (!seen[i])
            st = dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: missing column '%s' in the header",
                                t->path, (long long)t->rec_line, (long long)end_col,
                                s->cols[i].name);
    if (st == DCTR_OK && in->opts.require_label && !in->has_label)
        st = dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: missing label column '%s' in the header",
                            t->path, (long long)t->rec_line, (long long)end_col,
                            dctr_schema_label_name(s));
    dctr_free(seen);
    return st;
}

dctr_status dctr_csv_input_open(dctr_csv_input *in, const dctr_schema *schema, const char *path,
                                const dctr_csv_options *opts) {
    memset(in, 0, sizeof *in);
    in->tok.fd = -1;
    if (!schema || !path)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "CSV reader: NULL schema or path");
    DCTR_TRY(dctr_csv_options_check(opts, &in->opts));
    in->schema = schema;
    size_t n = (size_t)schema->ncols + 1;
    in->has_len = dctr_calloc(n, 1);
    in->has_vw = dctr_calloc(n, 1);
    in->counts = dctr_calloc(n, sizeof(int32_t));
    if (!in->has_len || !in->has_vw || !in->counts) {
        dctr_csv_input_close(in);
        return DCTR_ERR_NOMEM;
    }
    dctr_status st = dctr_csv_tok_open(&in->tok, path, in->opts.delimiter, in->opts.max_line_bytes,
                                       in->opts.max_fields);
    if (st == DCTR_OK) {
        if (in->opts.has_header) {
            st = map_header(in);
        } else {
            st = map_schema_order(in);
            in->has_label = in->opts.require_label;
            in->has_weight = schema->weight_column != NULL;
            for (int32_t i = 0; i < schema->ncols; i++) {
                in->has_len[i] = schema->cols[i].length_name != NULL;
                in->has_vw[i] = schema->cols[i].weight_name != NULL;
            }
        }
    }
    if (st != DCTR_OK)
        dctr_csv_input_close(in);
    return st;
}

dctr_status dctr_csv_input_rewind(dctr_csv_input *in) {
    DCTR_TRY(dctr_csv_tok_rewind(&in->tok));
    in->rows = 0;
    if (in->opts.has_header) {
        int got;
        DCTR_TRY(dctr_csv_tok_next(&in->tok, &got));
    }
    return DCTR_OK;
}

dctr_status dctr_csv_input_next(dctr_csv_input *in, int *got) {
    dctr_csv_tok *t = &in->tok;
    DCTR_TRY(dctr_csv_tok_next(t, got));
    if (!*got)
        return DCTR_OK;
    if (t->nf != in->nmap) {
        if (t->nf > in->nmap) {
            const dctr_csv_field *f = &t->f[in->nmap];
            return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: %d fields, expected %d (extra field)",
                                  t->path, (long long)f->line, (long long)f->col, (int)t->nf,
                                  (int)in->nmap);
        }
        const dctr_csv_field *f = &t->f[t->nf - 1];
        return dctr_set_error(DCTR_ERR_PARSE, "%s:%lld:%lld: %d fields, expected %d (missing field)",
                              t->path, (long long)f->line, (long long)(f->col + (int64_t)f->len),
                              (int)t->nf, (int)in->nmap);
    }
    in->rows++;
    return DCTR_OK;
}

/* Vocabulary slots are random accesses into large tables: start all of this row's loads first
 * so their cache misses overlap (the encoders then find them in cache). */
static void prefetch_vocab_slots(const dctr_csv_input *in) {
    const dctr_schema *s = in->schema;
    const dctr_csv_tok *t = &in->tok;
    for (int32_t i = 0; i < in->nmap; i++) {
        const dctr_csv_target tg = in->map[i];
        if (tg.kind != DCTR_TGT_COL)
            continue;
        const dctr_column *c = &s->cols[tg.col];
        if (c->kind == DCTR_COLUMN_SPARSE && c->vocab && c->dtype == DCTR_DTYPE_STRING) {
            uint64_t h = dctr_fingerprint64(t->f[i].p, t->f[i].len);
            __builtin_prefetch(&c->vocab->slots[h & c->vocab->mask]);
        }
    }
}

/* A feature column's field. A varlen column without its own length / weight columns gets its
 * element count as length and weights 1 (0 past the count). */
static dctr_status encode_feature(dctr_csv_input *in, dctr_batch *b, int64_t row, int32_t col,
                                  const dctr_csv_field *f, const dctr_loc *loc) {
    const dctr_column *c = &in->schema->cols[col];
    dctr_column_data *d = &b->cols[col];
    if (c->kind == DCTR_COLUMN_SPARSE)
        return dctr_encode_id(c, f->p, f->len, 0, &d->ids[row], loc);
    if (c->kind == DCTR_COLUMN_DENSE)
        return dctr_encode_dense(c, f->p, f->len, d->dense + row * c->dense_dim, loc);
    int32_t n;
    DCTR_TRY(dctr_encode_varlen(c, f->p, f->len, d->ids + row * c->maxlen, &n, loc));
    in->counts[col] = n;
    if (d->lengths && !in->has_len[col])
        d->lengths[row] = n;
    if (d->weights && !in->has_vw[col]) {
        float *w = d->weights + row * c->maxlen;
        for (int32_t k = 0; k < c->maxlen; k++)
            w[k] = k < n ? 1.0f : 0.0f;
    }
    return DCTR_OK;
}

/* The label field: empty is an error when labels are required, else 0. */
static dctr_status encode_label(const dctr_csv_input *in, dctr_batch *b, int64_t row,
                                const dctr_csv_field *f, const dctr_loc *loc) {
    const dctr_schema *s = in->schema;
    if (f->len > 0)
        return dctr_encode_float(dctr_schema_label_name(s), f->p, f->len, &b->labels[row], loc);
    if (in->opts.require_label)
        return dctr_loc_error(DCTR_ERR_PARSE, loc, dctr_schema_label_name(s), "missing label");
    b->labels[row] = 0.0f;
    return DCTR_OK;
}

/* The sample-weight field: empty is 1, negative an error. */
static dctr_status encode_sample_weight(const dctr_csv_input *in, dctr_batch *b, int64_t row,
                                        const dctr_csv_field *f, const dctr_loc *loc) {
    const dctr_schema *s = in->schema;
    if (!b->sample_weights)
        return DCTR_OK;
    float w = 1.0f;
    if (f->len > 0)
        DCTR_TRY(dctr_encode_float(s->weight_column, f->p, f->len, &w, loc));
    if (w < 0.0f)
        return dctr_loc_error(DCTR_ERR_RANGE, loc, s->weight_column, "negative sample weight");
    b->sample_weights[row] = w;
    return DCTR_OK;
}

/* A length column's field (empty = 0), for every varlen column naming that length column. */
static dctr_status encode_length(const dctr_csv_input *in, dctr_batch *b, int64_t row, int32_t col,
                                 const dctr_csv_field *f, const dctr_loc *loc) {
    const dctr_schema *s = in->schema;
    const dctr_column *c = &s->cols[col];
    int64_t v = 0;
    if (f->len > 0) {
        int r = dctr_parse_int64(f->p, f->len, &v);
        if (r == DCTR_NUM_SYNTAX)
            return dctr_loc_error(DCTR_ERR_PARSE, loc, c->length_name,
                                  "length '%.*s' is not an integer",
                                  (int)(f->len > 40 ? 40 : f->len), f->p);
        if (r != DCTR_NUM_OK || v < 0 || v > c->maxlen)
            return dctr_loc_error(DCTR_ERR_RANGE, loc, c->length_name,
                                  "length '%.*s' outside [0, maxlen %d]",
                                  (int)(f->len > 40 ? 40 : f->len), f->p, (int)c->maxlen);
    }
    for (int32_t j = 0; j < s->ncols; j++)
        if (s->cols[j].kind == DCTR_COLUMN_VARLEN && s->cols[j].length_name &&
            strcmp(s->cols[j].length_name, c->length_name) == 0 && b->cols[j].lengths)
            b->cols[j].lengths[row] = (int32_t)v;
    return DCTR_OK;
}

/* A varlen weight column's field, for every varlen column naming that weight column. */
static dctr_status encode_varlen_weights(const dctr_csv_input *in, dctr_batch *b, int64_t row,
                                         int32_t col, const dctr_csv_field *f,
                                         const dctr_loc *loc) {
    const dctr_schema *s = in->schema;
    const dctr_column *c = &s->cols[col];
    for (int32_t j = 0; j < s->ncols; j++) {
        const dctr_column *cj = &s->cols[j];
        if (cj->kind != DCTR_COLUMN_VARLEN || !cj->weight_name || !b->cols[j].weights ||
            strcmp(cj->weight_name, c->weight_name) != 0)
            continue;
        int32_t n;
        DCTR_TRY(dctr_encode_varlen_weights(cj, f->p, f->len, b->cols[j].weights + row * cj->maxlen,
                                            &n, loc));
    }
    return DCTR_OK;
}

dctr_status dctr_csv_input_encode(dctr_csv_input *in, dctr_batch *b, int64_t row) {
    dctr_csv_tok *t = &in->tok;
    dctr_loc loc = {t->path, 0, 0};
    prefetch_vocab_slots(in);
    if (!in->has_label)
        b->labels[row] = 0.0f;
    if (b->sample_weights && !in->has_weight)
        b->sample_weights[row] = 1.0f;
    for (int32_t i = 0; i < in->nmap; i++) {
        const dctr_csv_target tg = in->map[i];
        if (tg.kind == DCTR_TGT_IGNORE)
            continue;
        const dctr_csv_field *f = &t->f[i];
        loc.line = f->line;
        loc.col = f->col;
        switch (tg.kind) {
        case DCTR_TGT_COL: DCTR_TRY(encode_feature(in, b, row, tg.col, f, &loc)); break;
        case DCTR_TGT_LABEL: DCTR_TRY(encode_label(in, b, row, f, &loc)); break;
        case DCTR_TGT_WEIGHT: DCTR_TRY(encode_sample_weight(in, b, row, f, &loc)); break;
        case DCTR_TGT_LENGTH: DCTR_TRY(encode_length(in, b, row, tg.col, f, &loc)); break;
        case DCTR_TGT_VWEIGHT: DCTR_TRY(encode_varlen_weights(in, b, row, tg.col, f, &loc)); break;
        default: break;
        }
    }
    return DCTR_OK;
}
