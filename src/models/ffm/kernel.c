/* The FFM weights and the portable pair kernel, plus the run-time choice among it and the
 * AVX2 / AVX-512 variants (kernel_x86.c). The portable k-loop runs on 4-float SSE vectors (x86-64
 * always has SSE2); other targets use the same 4-lane arithmetic in scalar code, so results agree
 * lane by lane. It uses exact sqrt and division: it is the reference the variants are tested
 * against. */
#include "models/ffm/kernel.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/alloc.h"
#include "core/error.h"
#include "core/hogwild.h"
#include "core/rng.h"
#include "dist/dist.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define FFM_SSE 1
#endif

/* A large table is read at random, a few blocks per feature row: with 4 KB pages nearly every
 * row costs TLB misses. A table of HUGE_MIN bytes or more is mapped directly and Linux is asked
 * for transparent huge pages (its default THP mode, "madvise", grants them only on request,
 * and only to pages not yet touched, hence not through dctr_alloc_floats, which zeroes).
 * Advisory: where refused, the table simply keeps 4 KB pages. */
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)32 << 20)

static float *table_alloc(size_t bytes, size_t *mapped) {
    *mapped = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= HUGE_MIN) {
        size_t len = dctr_round_up(bytes, HUGE_PAGE) + HUGE_PAGE; /* room to start on a 2 MB boundary */
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            char *a = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
            if (a > p)
                munmap(p, (size_t)(a - p));
            size_t keep = len - (size_t)(a - p), need = dctr_round_up(bytes, HUGE_PAGE);
            if (keep > need)
                munmap(a + need, keep - need);
            (void)madvise(a, need, MADV_HUGEPAGE);
            *mapped = need;
            return (float *)a;
        }
    }
#endif
    return dctr_alloc_floats(bytes / sizeof(float));
}

static void table_free(float *p, size_t mapped) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (mapped) {
        munmap(p, mapped);
        return;
    }
#endif
    (void)mapped;
    dctr_aligned_free(p);
}

/* The shape of w and its table's float count (checked for overflow). */
static dctr_status weights_shape(dctr_ffm_weights *w, int32_t m, int64_t n, int32_t k, int use_linear,
                                 size_t *total) {
    memset(w, 0, sizeof *w);
    if (m < 1 || n < 1 || k < 1 || k > 1024)
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "FFM: need fields >= 1, features >= 1, 1 <= k <= 1024 (got %d, %lld, %d)",
                              m, (long long)n, k);
    w->m = m;
    w->n = n;
    w->k = k;
    w->kp = (int32_t)dctr_round_up((size_t)k, 4);
    w->blk = 2 * (size_t)w->kp;
    w->row = (size_t)m * w->blk;
    w->use_linear = use_linear ? 1 : 0;
    if (!dctr_mul_size(w->row, (size_t)n, total) || *total > ((size_t)1 << 40))
        return dctr_set_error(DCTR_ERR_LIMIT, "FFM: %lld features x %d fields x k=%d is too large",
                              (long long)n, m, k);
    return DCTR_OK;
}

dctr_status dctr_ffm_weights_alloc(dctr_ffm_weights *w, int32_t m, int64_t n, int32_t k, int use_linear) {
    size_t total;
    DCTR_TRY(weights_shape(w, m, n, k, use_linear, &total));
    w->W = table_alloc(total * sizeof(float), &w->W_mapped);
    if (!w->W)
        return dctr_error_prefix(DCTR_ERR_NOMEM, "FFM weights (%zu MB)", total * 4 >> 20);
    if (w->use_linear) {
        w->lin = dctr_alloc_floats((size_t)n * 2);
        if (!w->lin) {
            dctr_ffm_weights_free(w);
            return DCTR_ERR_NOMEM;
        }
    }
    return DCTR_OK;
}

dctr_status dctr_ffm_weights_alloc_shard(dctr_ffm_weights *w, int32_t m, int64_t n, int32_t k,
                                         int use_linear) {
    size_t total;
    DCTR_TRY(weights_shape(w, m, n, k, use_linear, &total));
    w->lazy = 1;
    w->W = dctr_shard_alloc(total);
    if (w->W && w->use_linear)
        w->lin = dctr_shard_alloc((size_t)n * 2);
    if (!w->W || (w->use_linear && !w->lin)) {
        dctr_ffm_weights_free(w);
        return DCTR_ERR_NOMEM;
    }
    return DCTR_OK;
}

void dctr_ffm_weights_free(dctr_ffm_weights *w) {
    if (!w)
        return;
    if (w->lazy) {
        dctr_shard_free(w->W, (size_t)w->n * w->row);
        dctr_shard_free(w->lin, (size_t)w->n * 2);
    } else {
        table_free(w->W, w->W_mapped);
        dctr_aligned_free(w->lin);
    }
    memset(w, 0, sizeof *w);
}

size_t dctr_ffm_weights_floats(const dctr_ffm_weights *w) {
    return (size_t)w->n * w->row + (w->use_linear ? (size_t)w->n * 2 + 2 : 0);
}

void dctr_ffm_weights_init(dctr_ffm_weights *w, uint64_t seed) {
    dctr_ffm_weights_init_rows(w, seed, 0, w->n);
}

void dctr_ffm_weights_init_rows(dctr_ffm_weights *w, uint64_t seed, int64_t lo, int64_t hi) {
    dctr_rng rng;
    dctr_rng_init(&rng, seed, 0x46464d /* "FFM" */);
    const float coef = 1.0f / sqrtf((float)w->k);
    for (int64_t i = 0; i < lo * w->m * w->k; i++) /* the draws of the rows before lo */
        (void)dctr_rng_next(&rng);
    float *p = w->W + (size_t)lo * w->row;
    for (int64_t j = lo; j < hi; j++)
        for (int32_t f = 0; f < w->m; f++, p += w->blk)
            for (int32_t d = 0; d < w->kp; d++) {
                p[d] = d < w->k ? coef * (float)dctr_rng_uniform(&rng) : 0.0f;
                p[w->kp + d] = 1.0f;
            }
    if (w->use_linear) {
        for (int64_t j = lo; j < hi; j++) {
            w->lin[2 * j] = 0.0f;
            w->lin[2 * j + 1] = 1.0f;
        }
        w->bias = 0.0f;
        w->bias_g = 1.0f;
    }
}

void dctr_ffm_weights_copy(dctr_ffm_weights *dst, const dctr_ffm_weights *src) {
    memcpy(dst->W, src->W, (size_t)src->n * src->row * sizeof(float));
    if (src->use_linear && dst->lin) {
        memcpy(dst->lin, src->lin, (size_t)src->n * 2 * sizeof(float));
        dst->bias = src->bias;
        dst->bias_g = src->bias_g;
    }
}

DCTR_HOGWILD static inline int node_ok(const dctr_ffm_weights *w, const dctr_ffm_node *x) {
    return (uint32_t)x->index < (uint64_t)w->n && (uint32_t)x->field < (uint32_t)w->m;
}

#define FFM_INLINE static inline __attribute__((always_inline)) DCTR_HOGWILD

/* 1 when every node lies inside the model: the pair loops then run without per-pair checks. */
DCTR_HOGWILD static int all_ok(const dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e) {
    int ok = 1;
    for (const dctr_ffm_node *x = b; x < e; x++)
        ok &= node_ok(w, x);
    return ok;
}

/* The pair sum; `checked` is a compile-time constant at each call site. */
FFM_INLINE float score_pairs(const dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r,
                             int checked) {
    const float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
#ifdef FFM_SSE
    __m128 acc = _mm_setzero_ps();
#else
    float acc[4] = {0, 0, 0, 0};
#endif
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        if (checked && !node_ok(w, x1))
            continue;
        const int32_t f1 = x1->field;
        const float *base1 = W + (size_t)x1->index * row;
        const float v1 = x1->value;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            if (checked && !node_ok(w, x2))
                continue;
            const float *w1 = base1 + (size_t)x2->field * blk;
            const float *w2 = W + (size_t)x2->index * row + (size_t)f1 * blk;
            const float v = v1 * x2->value * r;
#ifdef FFM_SSE
            const __m128 vv = _mm_set1_ps(v);
            for (int32_t d = 0; d < kp; d += 4)
                acc = _mm_add_ps(acc, _mm_mul_ps(_mm_mul_ps(_mm_load_ps(w1 + d), _mm_load_ps(w2 + d)), vv));
#else
            for (int32_t d = 0; d < kp; d += 4)
                for (int l = 0; l < 4; l++)
                    acc[l] += w1[d + l] * w2[d + l] * v;
#endif
        }
    }
#ifdef FFM_SSE
    float lanes[4];
    _mm_storeu_ps(lanes, acc);
    float t = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#else
    float t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
#endif
    return t;
}

DCTR_HOGWILD static float score_portable(const dctr_ffm_weights *w, const dctr_ffm_node *b,
                                         const dctr_ffm_node *e, float r) {
    return score_pairs(w, b, e, r, 0);
}

DCTR_HOGWILD static void update_portable(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e,
                                         float r, float kappa, const dctr_ffm_step *st);
static int portable_supports(const dctr_ffm_weights *w) {
    (void)w;
    return 1;
}
static const dctr_ffm_pair_kernel kernel_portable = {DCTR_SIMD_PORTABLE, portable_supports, score_portable,
                                                     update_portable};
#if DCTR_X86_DISPATCH
extern const dctr_ffm_pair_kernel dctr_ffm_kernel_avx2, dctr_ffm_kernel_avx512;
#endif

const dctr_ffm_pair_kernel *dctr_ffm_pair_kernel_at(dctr_simd_level level) {
    switch (level) {
    case DCTR_SIMD_PORTABLE: return &kernel_portable;
#if DCTR_X86_DISPATCH
    case DCTR_SIMD_AVX2: return &dctr_ffm_kernel_avx2;
    case DCTR_SIMD_AVX512: return &dctr_ffm_kernel_avx512;
#endif
    default: return NULL;
    }
}

/* The variant for this CPU (capped by DCTR_SIMD), or the portable one for shapes it leaves. */
static const dctr_ffm_pair_kernel *active(const dctr_ffm_weights *w) {
    const dctr_ffm_pair_kernel *k = dctr_ffm_pair_kernel_at(dctr_cpu_simd_level());
    return k && k->supports(w) ? k : &kernel_portable;
}

DCTR_HOGWILD float dctr_ffm_score(const dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e,
                                 float r) {
    float t = all_ok(w, b, e) ? active(w)->score(w, b, e, r) : score_pairs(w, b, e, r, 1);
    if (w->use_linear) {
        float s = w->bias;
        for (const dctr_ffm_node *x = b; x < e; x++)
            if (node_ok(w, x))
                s += w->lin[2 * (size_t)x->index] * x->value;
        t += s;
    }
    return t;
}

/* One pair's AdaGrad step. Both gradients come from the values before this pair's update;
 * stores go w1, w2, G1, G2 so an aliased pair (w1 == w2) ends as libffm's does. */
FFM_INLINE void pair_step(float *w1, float *w2, int32_t kp, float kv, float eta, float lambda) {
#ifdef FFM_SSE
    const __m128 veta = _mm_set1_ps(eta), vlam = _mm_set1_ps(lambda);
    const __m128 vkv = _mm_set1_ps(kv);
    for (int32_t d = 0; d < kp; d += 4) {
        __m128 a = _mm_load_ps(w1 + d), c = _mm_load_ps(w2 + d);
        __m128 ga = _mm_load_ps(w1 + kp + d), gc = _mm_load_ps(w2 + kp + d);
        __m128 g1 = _mm_add_ps(_mm_mul_ps(vlam, a), _mm_mul_ps(vkv, c));
        __m128 g2 = _mm_add_ps(_mm_mul_ps(vlam, c), _mm_mul_ps(vkv, a));
        ga = _mm_add_ps(ga, _mm_mul_ps(g1, g1));
        gc = _mm_add_ps(gc, _mm_mul_ps(g2, g2));
        a = _mm_sub_ps(a, _mm_div_ps(_mm_mul_ps(veta, g1), _mm_sqrt_ps(ga)));
        c = _mm_sub_ps(c, _mm_div_ps(_mm_mul_ps(veta, g2), _mm_sqrt_ps(gc)));
        _mm_store_ps(w1 + d, a);
        _mm_store_ps(w2 + d, c);
        _mm_store_ps(w1 + kp + d, ga);
        _mm_store_ps(w2 + kp + d, gc);
    }
#else
    for (int32_t d = 0; d < kp; d += 4) {
        float a[4], c[4], ga[4], gc[4];
        for (int l = 0; l < 4; l++) {
            a[l] = w1[d + l];
            c[l] = w2[d + l];
            ga[l] = w1[kp + d + l];
            gc[l] = w2[kp + d + l];
        }
        for (int l = 0; l < 4; l++) {
            float g1 = lambda * a[l] + kv * c[l];
            float g2 = lambda * c[l] + kv * a[l];
            ga[l] += g1 * g1;
            gc[l] += g2 * g2;
            a[l] -= eta * g1 / sqrtf(ga[l]);
            c[l] -= eta * g2 / sqrtf(gc[l]);
        }
        memcpy(w1 + d, a, sizeof a);
        memcpy(w2 + d, c, sizeof c);
        memcpy(w1 + kp + d, ga, sizeof ga);
        memcpy(w2 + kp + d, gc, sizeof gc);
    }
#endif
}

FFM_INLINE void update_pairs(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r,
                              float kappa, const dctr_ffm_step *st, int checked) {
    float *W = w->W;
    const size_t blk = w->blk, row = w->row;
    const int32_t kp = w->kp;
    const float eta = st->eta, lambda = st->lambda;
    for (const dctr_ffm_node *x1 = b; x1 < e; x1++) {
        if (checked && !node_ok(w, x1))
            continue;
        const int32_t f1 = x1->field;
        float *base1 = W + (size_t)x1->index * row;
        const float v1 = x1->value;
        for (const dctr_ffm_node *x2 = x1 + 1; x2 < e; x2++) {
            if (checked && !node_ok(w, x2))
                continue;
            float *w1 = base1 + (size_t)x2->field * blk;
            float *w2 = W + (size_t)x2->index * row + (size_t)f1 * blk;
            const float kv = kappa * (v1 * x2->value * r);
            pair_step(w1, w2, kp, kv, eta, lambda);
        }
    }
}

DCTR_HOGWILD static void update_portable(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e,
                                         float r, float kappa, const dctr_ffm_step *st) {
    update_pairs(w, b, e, r, kappa, st, 0);
}

DCTR_HOGWILD void dctr_ffm_update(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r,
                     float kappa, const dctr_ffm_step *st) {
    if (all_ok(w, b, e))
        active(w)->update(w, b, e, r, kappa, st);
    else
        update_pairs(w, b, e, r, kappa, st, 1);
    const float eta = st->eta, lambda = st->lambda;
    if (w->use_linear) {
        for (const dctr_ffm_node *x = b; x < e; x++) {
            if (!node_ok(w, x))
                continue;
            float *p = &w->lin[2 * (size_t)x->index];
            float g = lambda * p[0] + kappa * x->value;
            p[1] += g * g;
            p[0] -= eta * g / sqrtf(p[1]);
        }
        w->bias_g += kappa * kappa;
        w->bias -= eta * kappa / sqrtf(w->bias_g);
    }
}

double dctr_ffm_loss(float t, float y, int regression, float *kappa) {
    if (regression) {
        double d = (double)t - y;
        *kappa = (float)d;
        return d * d;
    }
    double s = y > 0 ? 1.0 : -1.0;
    double z = -s * (double)t; /* loss = log(1 + exp(z)) */
    if (z > 0) {
        double ez = exp(-z);
        *kappa = (float)(-s / (1.0 + ez));
        return z + log1p(ez);
    }
    double ez = exp(z);
    *kappa = (float)(-s * ez / (1.0 + ez));
    return log1p(ez);
}
