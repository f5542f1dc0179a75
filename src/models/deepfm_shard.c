/* DeepFM / FM / LR with sharded tables (DCTR_TABLES_SHARDED, docs/distributed.md): a rank
 * initialises only its own rows (and optimizer state) in a lazily committed arena, the rows a
 * batch uses are fetched from their owners into it before the forward and released after use
 * (their pages return to the system). The gradient return is in deepfm_dist.c, the streamed
 * model file in deepfm_shard_io.c. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "dist/dist.h"
#include "dist/shard_stream.h"
#include "feature/schema_types.h"
#include "layers/init.h"
#include "models/deepfm_impl.h"

void dfm_shard_init_table(const dctr_model *model, dfm *d, int32_t t, dctr_rng *rng) {
    const dctr_schema *s = model->schema;
    const int64_t k = s->tables[t].dim;
    int64_t lo, hi;
    dctr_shard_range(s->tables[t].vocab_size, model->shard_rank, model->shard_size, &lo, &hi);
    float skip[1024]; /* the draws of the rows before this rank's: generated and dropped */
    for (int64_t i = 0; i < lo * k; i += 1024)
        dctr_init_normal(rng, skip, lo * k - i < 1024 ? lo * k - i : 1024, s->tables[t].init_std);
    dctr_init_normal(rng, d->params + d->emb_off[t] + lo * k, (hi - lo) * k, s->tables[t].init_std);
}

/* Slot values v for rows [lo, hi) of width w at off in every slot array. */
static void fill_slots(dfm *d, int64_t off, int64_t lo, int64_t hi, int64_t w) {
    for (int k = 0; k < dctr_optim_slots(&d->opt); k++) {
        float *x = d->slots[k] + off + lo * w, v = dctr_optim_slot_init(&d->opt, k);
        for (int64_t i = 0; i < (hi - lo) * w; i++)
            x[i] = v;
    }
}

void dfm_shard_init_slots(const dctr_model *model, dfm *d) {
    const dctr_schema *s = model->schema;
    for (int32_t t = 0; t < d->ntables; t++) {
        int64_t lo, hi;
        dctr_shard_range(s->tables[t].vocab_size, model->shard_rank, model->shard_size, &lo, &hi);
        if (d->emb_off[t] >= 0)
            fill_slots(d, d->emb_off[t], lo, hi, s->tables[t].dim);
        if (d->lin_off[t] >= 0)
            fill_slots(d, d->lin_off[t], lo, hi, 1);
    }
    fill_slots(d, d->dense_begin, 0, d->nparams - d->dense_begin, 1);
}

void dfm_shard_copy_owned(const dctr_model *model, float *dst, const float *src) {
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    for (int32_t t = 0; t < d->ntables; t++) {
        int64_t lo, hi, k = s->tables[t].dim;
        dctr_shard_range(s->tables[t].vocab_size, model->shard_rank, model->shard_size, &lo, &hi);
        if (d->emb_off[t] >= 0)
            memcpy(dst + d->emb_off[t] + lo * k, src + d->emb_off[t] + lo * k,
                   sizeof(float) * (size_t)((hi - lo) * k));
        if (d->lin_off[t] >= 0)
            memcpy(dst + d->lin_off[t] + lo, src + d->lin_off[t] + lo, sizeof(float) * (size_t)(hi - lo));
    }
    memcpy(dst + d->dense_begin, src + d->dense_begin, sizeof(float) * (size_t)(d->nparams - d->dense_begin));
}

void dfm_shard_note(const dctr_model *model, int64_t in_flight) {
    if (!dctr_shard_probe_on())
        return;
    const dfm *d = model->impl;
    const dctr_schema *s = model->schema;
    /* the parameters, the step's window (a sharded arena's second half) and the slots */
    const float *arrays[2 + DCTR_OPTIM_MAX_SLOTS] = {d->params, d->lazy ? d->params + d->nparams : NULL,
                                                     d->slots[0], d->slots[1]};
    int64_t bytes = 0;
    for (int a = 0; a < 2 + DCTR_OPTIM_MAX_SLOTS; a++)
        for (int32_t t = 0; arrays[a] && t < d->ntables; t++) {
            if (d->emb_off[t] >= 0)
                bytes += dctr_shard_resident(arrays[a] + d->emb_off[t], 0, s->tables[t].vocab_size,
                                             s->tables[t].dim);
            if (d->lin_off[t] >= 0)
                bytes += dctr_shard_resident(arrays[a] + d->lin_off[t], 0, s->tables[t].vocab_size, 1);
        }
    dctr_shard_probe_note(bytes + in_flight);
}

int dfm_dist_sharded(const dctr_model *model) {
    return model->dist && model->dist->c->table_mode == DCTR_TABLES_SHARDED;
}

/* Floats of one row of table t in the arena: its embedding (k) and its linear weight (1). */
static int32_t row_floats(const dfm *d, const dctr_schema *s, int32_t t) {
    return (d->emb_off[t] >= 0 ? s->tables[t].dim : 0) + (d->lin_off[t] >= 0 ? 1 : 0);
}

static void release_array(const dfm *d, const dctr_schema *s, float *base, int32_t rank,
                          int32_t size) {
    for (int32_t t = 0; t < d->ntables; t++) {
        int64_t V = s->tables[t].vocab_size, lo, hi;
        dctr_shard_range(V, rank, size, &lo, &hi);
        if (d->emb_off[t] >= 0) {
            dctr_shard_release(base + d->emb_off[t], 0, lo, s->tables[t].dim);
            dctr_shard_release(base + d->emb_off[t], hi, V, s->tables[t].dim);
        }
        if (d->lin_off[t] >= 0) {
            dctr_shard_release(base + d->lin_off[t], 0, lo, 1);
            dctr_shard_release(base + d->lin_off[t], hi, V, 1);
        }
    }
}

void dfm_shard_release(dctr_model *model, int with_slots) {
    dfm *d = model->impl;
    const dctr_collective *c = model->dist->c;
    release_array(d, model->schema, d->params, c->rank, c->size);
    for (int k = 0; with_slots && k < DCTR_OPTIM_MAX_SLOTS; k++)
        if (d->slots[k])
            release_array(d, model->schema, d->slots[k], c->rank, c->size);
}

/* The distinct ids of table t in the batch that this rank does not own (all: every id, and id 0
 * always), sorted (so grouped by owner: ownership is by ranges). *ids is malloc'ed. */
static dctr_status wanted_ids(const dfm *d, const dctr_schema *s, const dctr_batch *b, int32_t t,
                              int32_t rank, int32_t size, int all, int64_t **ids, int64_t *n) {
    const dfm_col *parts[2] = {d->emb, d->lin};
    const int32_t counts[2] = {d->nemb, d->nlin};
    const int64_t rows = b ? b->n : 0; /* no batch: this rank asks for nothing */
    int64_t cap = 0;
    for (int p = 0; p < 2; p++)
        for (int32_t i = 0; i < counts[p]; i++)
            if (parts[p][i].table == t)
                cap += rows * (parts[p][i].varlen ? parts[p][i].T : 1);
    int64_t *v = dctr_malloc(sizeof(int64_t) * (size_t)(cap + 2)), m = 0, lo, hi;
    if (!v)
        return DCTR_ERR_NOMEM;
    dctr_shard_range(s->tables[t].vocab_size, rank, size, &lo, &hi);
    if (all) /* id 0 keeps index 0 in a compact step (varlen padding is id 0) */
        v[m++] = 0;
    for (int p = 0; p < 2; p++)
        for (int32_t i = 0; i < counts[p]; i++) {
            const dfm_col *c = &parts[p][i];
            if (c->table != t)
                continue;
            if (rows == 0)
                continue;
            const int64_t *x = b->cols[c->col].ids, cnt = rows * (c->varlen ? c->T : 1);
            for (int64_t j = 0; j < cnt; j++)
                if (all || x[j] < lo || x[j] >= hi)
                    v[m++] = x[j];
        }
    *n = dctr_shard_sort_unique(v, m);
    *ids = v;
    return DCTR_OK;
}

/* The slice of sorted ids[0..n) owned by rank q of table t. */
static void slice(const dctr_schema *s, int32_t t, int32_t q, int32_t size, const int64_t *ids,
                  int64_t n, int64_t *a, int64_t *z) {
    int64_t lo, hi, i = 0;
    dctr_shard_range(s->tables[t].vocab_size, q, size, &lo, &hi);
    while (i < n && ids[i] < lo)
        i++;
    *a = i;
    while (i < n && ids[i] < hi)
        i++;
    *z = i;
}

/* Requests: to each rank q, per table, [count][ids] of the wanted ids q owns. */
static dctr_status send_requests(dctr_dist *dist, const dctr_schema *s, int64_t *const *ids,
                                 const int64_t *n, int32_t nt, int64_t *counts, const void **in,
                                 const int64_t **in_counts) {
    const int32_t size = dist->c->size;
    size_t total = 0;
    for (int32_t q = 0; q < size; q++) {
        counts[q] = 0;
        for (int32_t t = 0; t < nt; t++) {
            int64_t a, z;
            slice(s, t, q, size, ids[t], n[t], &a, &z);
            counts[q] += (int64_t)sizeof(int64_t) * (1 + z - a);
        }
        total += (size_t)counts[q];
    }
    DCTR_TRY(dctr_dist_reserve_pack(dist, total + 1));
    char *p = dist->pack;
    for (int32_t q = 0; q < size; q++)
        for (int32_t t = 0; t < nt; t++) {
            int64_t a, z, c;
            slice(s, t, q, size, ids[t], n[t], &a, &z);
            c = z - a;
            memcpy(p, &c, sizeof c);
            memcpy(p + sizeof c, ids[t] + a, sizeof(int64_t) * (size_t)c);
            p += sizeof c + sizeof(int64_t) * (size_t)c;
        }
    return dctr_dist_alltoallv(dist, dist->pack, counts, in, in_counts);
}

/* Copies row id of table t (embedding, then linear weight) from src to dst, or back. */
static void copy_row(const dfm *d, const dctr_schema *s, int32_t t, int64_t id, float *buf,
                     int to_arena, float *arena) {
    int32_t k = s->tables[t].dim;
    if (d->emb_off[t] >= 0) {
        float *row = arena + d->emb_off[t] + id * k;
        memcpy(to_arena ? row : buf, to_arena ? buf : row, sizeof(float) * (size_t)k);
        buf += k;
    }
    if (d->lin_off[t] >= 0) {
        float *w = arena + d->lin_off[t] + id;
        memcpy(to_arena ? w : buf, to_arena ? buf : w, sizeof(float));
    }
}

/* Replies: to each requesting rank, per table, the rows it asked for, in its order. */
static dctr_status send_rows(dctr_dist *dist, const dfm *d, const dctr_schema *s, int32_t nt,
                             const char *in, const int64_t *in_counts, int64_t *counts,
                             const void **rows, const int64_t **row_counts) {
    const int32_t size = dist->c->size;
    size_t total = 0;
    const char *p = in;
    for (int32_t q = 0; q < size; q++) {
        counts[q] = 0;
        for (int32_t t = 0; t < nt; t++) {
            int64_t c;
            memcpy(&c, p, sizeof c);
            counts[q] += (int64_t)sizeof(float) * c * row_floats(d, s, t);
            p += sizeof c + sizeof(int64_t) * (size_t)c;
        }
        total += (size_t)counts[q];
    }
    (void)in_counts;
    DCTR_TRY(dctr_dist_reserve_pack(dist, total + 1));
    float *out = dist->pack;
    p = in;
    for (int32_t q = 0; q < size; q++)
        for (int32_t t = 0; t < nt; t++) {
            int64_t c;
            memcpy(&c, p, sizeof c);
            for (int64_t i = 0; i < c; i++) {
                int64_t id;
                memcpy(&id, p + sizeof c + sizeof(int64_t) * (size_t)i, sizeof id);
                copy_row(d, s, t, id, out, 0, d->params);
                out += row_floats(d, s, t);
            }
            p += sizeof c + sizeof(int64_t) * (size_t)c;
        }
    return dctr_dist_alltoallv(dist, dist->pack, counts, rows, row_counts);
}

dctr_status dfm_shard_fetch_ids(dctr_model *model, const dctr_batch *b, int all, int64_t **ids,
                                int64_t *n) {
    dfm *d = model->impl;
    dctr_dist *dist = model->dist;
    const dctr_schema *s = model->schema;
    const int32_t size = dist->c->size, me = dist->c->rank, nt = d->ntables;
    int64_t *counts = dctr_calloc((size_t)size, sizeof *counts);
    dctr_status st = counts ? DCTR_OK : DCTR_ERR_NOMEM;
    for (int32_t t = 0; t < nt && st == DCTR_OK; t++)
        if (d->emb_off[t] >= 0 || d->lin_off[t] >= 0)
            st = wanted_ids(d, s, b, t, me, size, all, &ids[t], &n[t]);
    const void *in = NULL, *rows = NULL;
    const int64_t *in_counts = NULL, *row_counts = NULL;
    if (st == DCTR_OK)
        st = send_requests(dist, s, ids, n, nt, counts, &in, &in_counts);
    if (st == DCTR_OK)
        st = send_rows(dist, d, s, nt, in, in_counts, counts, &rows, &row_counts);
    const float *r = rows;
    /* all: row i of a table's list goes to row i of its window (the arena's second half),
     * else row id to its place in the arena */
    float *dst = all ? d->params + d->nparams : d->params;
    for (int32_t q = 0; q < size && st == DCTR_OK; q++) /* replies arrive in owner order */
        for (int32_t t = 0; t < nt; t++) {
            int64_t a, z;
            slice(s, t, q, size, ids[t], n[t], &a, &z);
            for (int64_t i = a; i < z; i++) {
                copy_row(d, s, t, all ? i : ids[t][i], (float *)r, 1, dst);
                r += row_floats(d, s, t);
            }
        }
    dctr_free(counts);
    return st;
}

/* b NULL: nothing wanted here (the other ranks may still want this rank's rows). */
dctr_status dfm_shard_fetch(dctr_model *model, const dctr_batch *b) {
    dfm *d = model->impl;
    dctr_dist *dist = model->dist;
    const int32_t nt = d->ntables;
    /* the last rows fetched go back first (and, once per fit, the optimizer state not owned) */
    dfm_shard_release(model, !dist->slots_released);
    dist->slots_released = 1;
    int64_t **ids = dctr_calloc((size_t)nt + 1, sizeof *ids);
    int64_t *n = dctr_calloc((size_t)nt + 1, sizeof *n);
    dctr_status st = ids && n ? dfm_shard_fetch_ids(model, b, 0, ids, n) : DCTR_ERR_NOMEM;
    if (st == DCTR_OK) /* the peak: the owned rows plus the fetched ones */
        dfm_shard_note(model, 0);
    for (int32_t t = 0; ids && t < nt; t++)
        dctr_free(ids[t]);
    dctr_free(ids);
    dctr_free(n);
    return st;
}

/* Rows [lo, hi) of table t in every array (parameters, optimizer slots) to / from buf. */
static size_t move_range(const dfm *d, const dctr_schema *s, int32_t t, int64_t lo, int64_t hi,
                         float *buf, int to_arena) {
    float *arrays[1 + DCTR_OPTIM_MAX_SLOTS] = {d->params, d->slots[0], d->slots[1]};
    size_t off = 0;
    for (int a = 0; a < 1 + DCTR_OPTIM_MAX_SLOTS; a++) {
        if (!arrays[a])
            continue;
        const int64_t parts[2][2] = {{d->emb_off[t], s->tables[t].dim}, {d->lin_off[t], 1}};
        for (int p = 0; p < 2; p++) {
            if (parts[p][0] < 0)
                continue;
            float *x = arrays[a] + parts[p][0] + lo * parts[p][1];
            size_t cnt = (size_t)((hi - lo) * parts[p][1]);
            memcpy(to_arena ? x : buf + off, to_arena ? buf + off : x, sizeof(float) * cnt);
            off += cnt;
        }
    }
    return off;
}

/* Every table (parameters and optimizer state) to rank 0, a table at a time: only the test
 * reference below uses it now (the model file streams, deepfm_shard_io.c). */
static dctr_status dfm_shard_gather(dctr_model *model) {
    dfm *d = model->impl;
    dctr_dist *dist = model->dist;
    const dctr_schema *s = model->schema;
    const int32_t size = dist->c->size, me = dist->c->rank;
    int64_t *counts = dctr_calloc((size_t)size, sizeof *counts);
    if (!counts)
        return DCTR_ERR_NOMEM;
    dctr_status st = DCTR_OK;
    for (int32_t t = 0; t < d->ntables && st == DCTR_OK; t++) { /* a table at a time */
        if (row_floats(d, s, t) == 0)
            continue;
        int64_t lo, hi;
        dctr_shard_range(s->tables[t].vocab_size, me, size, &lo, &hi);
        size_t per_row = 0;
        float *arrays[1 + DCTR_OPTIM_MAX_SLOTS] = {d->params, d->slots[0], d->slots[1]};
        for (int a = 0; a < 1 + DCTR_OPTIM_MAX_SLOTS; a++)
            per_row += arrays[a] ? (size_t)row_floats(d, s, t) : 0;
        size_t bytes = me == 0 ? 0 : sizeof(float) * per_row * (size_t)(hi - lo);
        st = dctr_dist_reserve_pack(dist, bytes + 1);
        if (st != DCTR_OK)
            break;
        if (me != 0)
            move_range(d, s, t, lo, hi, dist->pack, 0);
        for (int32_t q = 0; q < size; q++)
            counts[q] = q == 0 ? (int64_t)bytes : 0;
        const void *in;
        const int64_t *in_counts;
        st = dctr_dist_alltoallv(dist, dist->pack, counts, &in, &in_counts);
        const char *p = in;
        for (int32_t q = 1; me == 0 && q < size && st == DCTR_OK; q++) {
            int64_t qlo, qhi;
            dctr_shard_range(s->tables[t].vocab_size, q, size, &qlo, &qhi);
            move_range(d, s, t, qlo, qhi, (float *)(void *)p, 1);
            p += in_counts[q];
        }
    }
    dctr_free(counts);
    return st;
}

dctr_status dctr_deepfm_shard_gather_save(dctr_model *model, dctr_collective *coll, const char *path,
                                          int with_optimizer) {
    return dctr_shard_gather_save(model, coll, dfm_shard_gather, dfm_shard_release, path,
                                  with_optimizer);
}
