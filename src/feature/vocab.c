/* Open-addressing string table (see vocab.h). Load factor stays below 1/2. */
#include "feature/vocab.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static dctr_vocab_slot *alloc_slots(uint64_t count) {
    dctr_vocab_slot *s = dctr_malloc(count * sizeof *s);
    if (!s)
        return NULL;
    for (uint64_t i = 0; i < count; i++)
        s[i].len = DCTR_VOCAB_EMPTY;
    return s;
}

dctr_status dctr_vocab_new(int64_t expected, dctr_vocab **out) {
    *out = NULL;
    uint64_t cap = 16;
    while (expected > 0 && cap < (uint64_t)expected * 2 && cap < (1ULL << 40))
        cap <<= 1;
    dctr_vocab *v = dctr_calloc(1, sizeof *v);
    if (!v)
        return DCTR_ERR_NOMEM;
    v->slots = alloc_slots(cap);
    if (!v->slots) {
        dctr_free(v);
        return DCTR_ERR_NOMEM;
    }
    v->mask = cap - 1;
    atomic_init(&v->refs, 1);
    *out = v;
    return DCTR_OK;
}

dctr_vocab *dctr_vocab_retain(dctr_vocab *v) {
    if (v)
        atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    return v;
}

void dctr_vocab_free(dctr_vocab *v) {
    if (!v)
        return;
    /* release: this holder's reads happen before the free; acquire on the last one */
    if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    dctr_free(v->slots);
    dctr_free(v->arena);
    dctr_free(v);
}

static dctr_status grow_slots(dctr_vocab *v) {
    uint64_t cap = (v->mask + 1) * 2;
    dctr_vocab_slot *ns = alloc_slots(cap);
    if (!ns)
        return DCTR_ERR_NOMEM;
    for (uint64_t i = 0; i <= v->mask; i++) {
        const dctr_vocab_slot *s = &v->slots[i];
        if (s->len == DCTR_VOCAB_EMPTY)
            continue;
        uint64_t j = s->hash & (cap - 1);
        while (ns[j].len != DCTR_VOCAB_EMPTY)
            j = (j + 1) & (cap - 1);
        ns[j] = *s;
    }
    dctr_free(v->slots);
    v->slots = ns;
    v->mask = cap - 1;
    return DCTR_OK;
}

dctr_status dctr_vocab_upsert(dctr_vocab *v, const char *key, size_t len, uint64_t h,
                              dctr_vocab_slot **slot) {
    if (len > DCTR_VOCAB_MAX_KEY)
        return dctr_set_error(DCTR_ERR_LIMIT, "vocabulary key of %zu bytes (limit %u)", len,
                              DCTR_VOCAB_MAX_KEY);
    dctr_vocab_slot *found = (dctr_vocab_slot *)dctr_vocab_find(v, key, len, h);
    if (found) {
        *slot = found;
        return DCTR_OK;
    }
    if ((uint64_t)(v->n + 1) * 2 > v->mask + 1)
        DCTR_TRY(grow_slots(v));
    uint64_t i = h & v->mask;
    while (v->slots[i].len != DCTR_VOCAB_EMPTY)
        i = (i + 1) & v->mask;
    dctr_vocab_slot *s = &v->slots[i];
    if (len <= DCTR_VOCAB_INLINE) {
        s->k.word = dctr_vocab_word(key, len);
    } else {
        if (v->arena_len + len + 1 > v->arena_cap) {
            size_t ncap = v->arena_cap ? v->arena_cap * 2 : 4096;
            while (ncap < v->arena_len + len + 1)
                ncap *= 2;
            char *na = dctr_realloc_array(v->arena, ncap, 1);
            if (!na)
                return DCTR_ERR_NOMEM;
            v->arena = na;
            v->arena_cap = ncap;
        }
        memcpy(v->arena + v->arena_len, key, len);
        v->arena[v->arena_len + len] = '\0';
        s->k.off = v->arena_len;
        v->arena_len += len + 1;
    }
    s->hash = h;
    s->value = 0;
    s->len = (uint32_t)len;
    s->pad = 0;
    v->n++;
    *slot = s;
    return DCTR_OK;
}
