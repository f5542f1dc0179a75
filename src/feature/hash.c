/* FarmHash Fingerprint64 (farmhashna's Hash64), written from the published description of the
 * algorithm, so ids match TensorFlow's to_hash_bucket_fast and DeepCTR's Hash layer. Bytes are
 * read little-endian one at a time, so the result is the same on every host. */
#include <string.h>

#include "deepctr/schema.h"

static const uint64_t K0 = 0xc3a5c85c97cb3127ULL;
static const uint64_t K1 = 0xb492b66fbe98f273ULL;
static const uint64_t K2 = 0x9ae16a3b2f90404fULL;

/* Little-endian loads (Fingerprint64 is defined on little-endian words). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE64(v) __builtin_bswap64(v)
#define LE32(v) __builtin_bswap32(v)
#else
#define LE64(v) (v)
#define LE32(v) (v)
#endif

static inline uint64_t fetch64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return LE64(v);
}

static inline uint32_t fetch32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return LE32(v);
}

static inline uint64_t rot(uint64_t v, int s) { return (v >> s) | (v << (64 - s)); }
static inline uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

static inline uint64_t hash_len16(uint64_t u, uint64_t v, uint64_t mul) {
    uint64_t a = (u ^ v) * mul;
    a ^= a >> 47;
    uint64_t b = (v ^ a) * mul;
    b ^= b >> 47;
    return b * mul;
}

static uint64_t hash_0_to_16(const uint8_t *s, size_t len) {
    if (len >= 8) {
        uint64_t mul = K2 + len * 2;
        uint64_t a = fetch64(s) + K2;
        uint64_t b = fetch64(s + len - 8);
        uint64_t c = rot(b, 37) * mul + a;
        uint64_t d = (rot(a, 25) + b) * mul;
        return hash_len16(c, d, mul);
    }
    if (len >= 4) {
        uint64_t mul = K2 + len * 2;
        uint64_t a = fetch32(s);
        return hash_len16(len + (a << 3), fetch32(s + len - 4), mul);
    }
    if (len > 0) {
        uint8_t a = s[0], b = s[len >> 1], c = s[len - 1];
        uint32_t y = (uint32_t)a + ((uint32_t)b << 8);
        uint32_t z = (uint32_t)len + ((uint32_t)c << 2);
        return shift_mix(y * K2 ^ z * K0) * K2;
    }
    return K2;
}

/* The four words both medium-length hashes start from: the first two and the last two 8-byte
 * words of s, scaled (the first by ka), and the length-dependent multiplier. */
typedef struct ends4 {
    uint64_t a, b, c, d, mul;
} ends4;

static inline ends4 load_ends(const uint8_t *s, size_t len, uint64_t ka) {
    ends4 e;
    e.mul = K2 + len * 2;
    e.a = fetch64(s) * ka;
    e.b = fetch64(s + 8);
    e.c = fetch64(s + len - 8) * e.mul;
    e.d = fetch64(s + len - 16) * K2;
    return e;
}

static uint64_t hash_17_to_32(const uint8_t *s, size_t len) {
    const ends4 e = load_ends(s, len, K1);
    uint64_t a = e.a, b = e.b, c = e.c, d = e.d, mul = e.mul;
    return hash_len16(rot(a + b, 43) + rot(c, 30) + d, a + rot(b + K2, 18) + c, mul);
}

static uint64_t hash_33_to_64(const uint8_t *s, size_t len) {
    const ends4 w = load_ends(s, len, K2);
    uint64_t a = w.a, b = w.b, c = w.c, d = w.d, mul = w.mul;
    uint64_t y = rot(a + b, 43) + rot(c, 30) + d;
    uint64_t z = hash_len16(y, a + rot(b + K2, 18) + c, mul);
    uint64_t e = fetch64(s + 16) * mul;
    uint64_t f = fetch64(s + 24);
    uint64_t g = (y + fetch64(s + len - 32)) * mul;
    uint64_t h = (z + fetch64(s + len - 24)) * mul;
    return hash_len16(rot(e + f, 43) + rot(g, 30) + h, e + rot(f + a, 18) + g, mul);
}

typedef struct pair64 {
    uint64_t first, second;
} pair64;

/* 32 bytes mixed into two seeds ("weak" 32-byte hash of the description). */
static inline pair64 weak32(const uint8_t *s, uint64_t a, uint64_t b) {
    uint64_t w = fetch64(s), x = fetch64(s + 8), y = fetch64(s + 16), z = fetch64(s + 24);
    a += w;
    b = rot(b + a + z, 21);
    uint64_t c = a;
    a += x;
    a += y;
    b += rot(a, 44);
    pair64 r = {a + z, b + c};
    return r;
}

/* The state of the long-input hash: three words and two 128-bit seeds. */
typedef struct long_state {
    uint64_t x, y, z;
    pair64 v, w;
} long_state;

/* One 64-byte block of the long-input hash: multiplier mul and factor f on two terms (K1 and 1
 * for the body, the length-dependent multiplier and 9 for the final block). */
static inline void mix64(long_state *st, const uint8_t *s, uint64_t mul, uint64_t f) {
    st->x = rot(st->x + st->y + st->v.first + fetch64(s + 8), 37) * mul;
    st->y = rot(st->y + st->v.second + fetch64(s + 48), 42) * mul;
    st->x ^= st->w.second * f;
    st->y += st->v.first * f + fetch64(s + 40);
    st->z = rot(st->z + st->w.first, 33) * mul;
    st->v = weak32(s, st->v.second * mul, st->x + st->w.first);
    st->w = weak32(s + 32, st->z + st->w.second, st->y + fetch64(s + 16));
    uint64_t t = st->z;
    st->z = st->x;
    st->x = t;
}

static uint64_t hash_long(const uint8_t *s, size_t len) {
    const uint64_t seed = 81;
    long_state st;
    st.x = seed;
    st.y = seed * K1 + 113;
    st.z = shift_mix(st.y * K2 + 113) * K2;
    st.v = (pair64){0, 0};
    st.w = (pair64){0, 0};
    st.x = st.x * K2 + fetch64(s);

    const uint8_t *end = s + ((len - 1) / 64) * 64;
    const uint8_t *last64 = end + ((len - 1) & 63) - 63;
    do {
        mix64(&st, s, K1, 1);
        s += 64;
    } while (s != end);

    uint64_t mul = K1 + ((st.z & 0xff) << 1);
    st.w.first += ((len - 1) & 63);
    st.v.first += st.w.first;
    st.w.first += st.v.first;
    mix64(&st, last64, mul, 9);
    return hash_len16(hash_len16(st.v.first, st.w.first, mul) + shift_mix(st.y) * K0 + st.z,
                      hash_len16(st.v.second, st.w.second, mul) + st.x, mul);
}

uint64_t dctr_fingerprint64(const void *data, size_t len) {
    const uint8_t *s = (const uint8_t *)data;
    if (len <= 32)
        return len <= 16 ? hash_0_to_16(s, len) : hash_17_to_32(s, len);
    if (len <= 64)
        return hash_33_to_64(s, len);
    return hash_long(s, len);
}

int64_t dctr_hash_bucket(const char *s, size_t len, int64_t buckets, int mask_zero) {
    if (buckets <= 0 || (s == NULL && len > 0))
        return -1;
    if (!mask_zero)
        return (int64_t)(dctr_fingerprint64(s, len) % (uint64_t)buckets);
    if (len == 1 && s[0] == '0')
        return 0;
    if (buckets < 2)
        return 0;
    return (int64_t)(dctr_fingerprint64(s, len) % (uint64_t)(buckets - 1)) + 1;
}
