/* String -> int64 table: open addressing keyed by Fingerprint64 of the bytes, the strings kept
 * in one arena to resolve collisions. Used for fitted label vocabularies (value = id), for the
 * counting pass while fitting (value = count), and for vocabulary files. */
#ifndef DCTR_FEATURE_VOCAB_H
#define DCTR_FEATURE_VOCAB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "deepctr/common.h"

#define DCTR_VOCAB_MAX_KEY 65536u /* longest key accepted (bytes) */

#define DCTR_VOCAB_INLINE 8u      /* keys up to 8 bytes live in the slot (no arena access) */
#define DCTR_VOCAB_EMPTY UINT32_MAX /* len of an empty slot */

typedef struct dctr_vocab_slot {
    uint64_t hash;
    int64_t value;
    union {
        uint64_t off;                 /* key offset in the arena (len > 8) */
        char inl[DCTR_VOCAB_INLINE];  /* the key itself, zero-padded (len <= 8) */
        uint64_t word;
    } k;
    uint32_t len; /* DCTR_VOCAB_EMPTY = empty slot */
    uint32_t pad;
} dctr_vocab_slot;

typedef struct dctr_vocab {
    dctr_vocab_slot *slots;
    uint64_t mask;   /* slot count - 1 (power of two) */
    int64_t n;       /* keys stored */
    char *arena;
    size_t arena_len, arena_cap;
    /* Holders of this table (schema clones share a fitted vocabulary instead of copying it;
     * a shared table is never written). Changed only by retain / free, atomically, so
     * clones of one schema may be freed from different threads. */
    atomic_int refs;
} dctr_vocab;

/* A new table with one reference. */
dctr_status dctr_vocab_new(int64_t expected, dctr_vocab **out);
/* Adds a reference and returns v: the table must not be modified afterwards. */
dctr_vocab *dctr_vocab_retain(dctr_vocab *v);
/* Drops a reference; the last one frees the table. */
void dctr_vocab_free(dctr_vocab *v);

/* The slot holding key, or NULL. `h` must be dctr_fingerprint64(key, len). */
static inline const dctr_vocab_slot *dctr_vocab_find(const dctr_vocab *v, const char *key,
                                                     size_t len, uint64_t h);
/* Finds or inserts key (value 0 when new); *slot is valid until the next insert. */
dctr_status dctr_vocab_upsert(dctr_vocab *v, const char *key, size_t len, uint64_t h,
                              dctr_vocab_slot **slot);
/* The filled slot after prev (the first one when prev is NULL) in table order, or NULL:
 *   for (const dctr_vocab_slot *sl = NULL; (sl = dctr_vocab_next(v, sl)) != NULL;) ... */
static inline const dctr_vocab_slot *dctr_vocab_next(const dctr_vocab *v,
                                                     const dctr_vocab_slot *prev) {
    const dctr_vocab_slot *end = v->slots + v->mask + 1;
    for (const dctr_vocab_slot *s = prev ? prev + 1 : v->slots; s < end; s++)
        if (s->len != DCTR_VOCAB_EMPTY)
            return s;
    return NULL;
}
/* Key bytes of a slot. */
static inline const char *dctr_vocab_key(const dctr_vocab *v, const dctr_vocab_slot *s) {
    return s->len <= DCTR_VOCAB_INLINE ? s->k.inl : v->arena + s->k.off;
}

#include <string.h>

/* The zero-padded first 8 bytes of a short key. */
static inline uint64_t dctr_vocab_word(const char *key, size_t len) {
    uint64_t w = 0;
    memcpy(&w, key, len < 8 ? len : 8);
    return w;
}

static inline const dctr_vocab_slot *dctr_vocab_find(const dctr_vocab *v, const char *key,
                                                     size_t len, uint64_t h) {
    uint64_t i = h & v->mask;
    if (len <= DCTR_VOCAB_INLINE) {
        uint64_t w = dctr_vocab_word(key, len);
        for (;;) {
            const dctr_vocab_slot *s = &v->slots[i];
            if (s->len == DCTR_VOCAB_EMPTY)
                return NULL;
            if (s->hash == h && s->len == len && s->k.word == w)
                return s;
            i = (i + 1) & v->mask;
        }
    }
    for (;;) {
        const dctr_vocab_slot *s = &v->slots[i];
        if (s->len == DCTR_VOCAB_EMPTY)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(v->arena + s->k.off, key, len) == 0)
            return s;
        i = (i + 1) & v->mask;
    }
}

#endif
