/* The pooled FFM form of the feature-column path (FFM and DeepFFM models built from a schema).
 * Field f's vector toward target field g is P[f][g] = sum over f's nodes of v_a w[j_a, g] (one
 * node for a sparse column; the sum / mean of a varlen column's rows; a dense row scaled by its
 * value), and
 *     phi = r sum_{f<g} <P[f][g], P[g][f]>.
 * The update is the exact gradient of that pooled phi, one AdaGrad step per (node, target field)
 * block: g = lambda w + dphi_{fg} r v_a P[g][f], with every P taken before the row's update. With
 * one node per field this is exactly libffm's per-pair update. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "models/ffm_model.h"

#if defined(__has_attribute)
#if __has_attribute(no_sanitize)
#define POOLED_HOGWILD __attribute__((no_sanitize("thread"))) /* lock-free updates, as libffm */
#endif
#endif
#ifndef POOLED_HOGWILD
#define POOLED_HOGWILD
#endif

dctr_status dctr_ffm_pooled_alloc(dctr_ffm_pooled *ps, int32_t m, int32_t kp) {
    memset(ps, 0, sizeof *ps);
    ps->P = dctr_alloc_floats((size_t)m * (size_t)m * (size_t)kp);
    ps->present = dctr_calloc((size_t)m, 1);
    ps->fields = dctr_calloc((size_t)m, sizeof(int32_t));
    if (!ps->P || !ps->present || !ps->fields) {
        dctr_ffm_pooled_free(ps);
        return DCTR_ERR_NOMEM;
    }
    return DCTR_OK;
}

void dctr_ffm_pooled_free(dctr_ffm_pooled *ps) {
    if (!ps)
        return;
    dctr_aligned_free(ps->P);
    dctr_free(ps->present);
    dctr_free(ps->fields);
    memset(ps, 0, sizeof *ps);
}

static inline int in_model(const dctr_ffm_weights *w, const dctr_ffm_node *x) {
    return (uint32_t)x->index < (uint64_t)w->n && (uint32_t)x->field < (uint32_t)w->m;
}

POOLED_HOGWILD float dctr_ffm_pooled_forward(const dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float r,
                                             dctr_ffm_pooled *ps, float *pairs) {
    const int32_t m = w->m, kp = w->kp;
    const size_t fstride = (size_t)m * (size_t)kp;
    memset(ps->present, 0, (size_t)m);
    ps->nf = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!in_model(w, &x[i]))
            continue;
        int32_t f = x[i].field;
        if (!ps->present[f]) {
            ps->present[f] = 1;
            ps->fields[ps->nf++] = f;
            memset(ps->P + (size_t)f * fstride, 0, fstride * sizeof(float));
        }
        const float *row = w->W + (size_t)x[i].index * w->row;
        float *Pf = ps->P + (size_t)f * fstride;
        const float v = x[i].value;
        for (int32_t g = 0; g < m; g++) {
            if (g == f)
                continue;
            const float *blk = row + (size_t)g * w->blk;
            float *dst = Pf + (size_t)g * kp;
            for (int32_t d = 0; d < kp; d++)
                dst[d] += v * blk[d];
        }
    }
    float phi = 0;
    for (int32_t a = 0; a < ps->nf; a++)
        for (int32_t b = a + 1; b < ps->nf; b++) {
            int32_t f = ps->fields[a] < ps->fields[b] ? ps->fields[a] : ps->fields[b];
            int32_t g = ps->fields[a] < ps->fields[b] ? ps->fields[b] : ps->fields[a];
            const float *p1 = ps->P + (size_t)f * fstride + (size_t)g * kp;
            const float *p2 = ps->P + (size_t)g * fstride + (size_t)f * kp;
            float dot = 0;
            for (int32_t d = 0; d < kp; d++)
                dot += p1[d] * p2[d];
            dot *= r;
            if (pairs)
                pairs[dctr_ffm_pair_index(m, f, g)] = dot;
            phi += dot;
        }
    return phi;
}

POOLED_HOGWILD void dctr_ffm_pooled_update(dctr_ffm_weights *w, const dctr_ffm_node *x, int32_t n, float r,
                                           const dctr_ffm_pooled *ps, float kappa, const float *dpairs,
                                           const dctr_ffm_step *st) {
    const int32_t m = w->m, kp = w->kp;
    const size_t fstride = (size_t)m * (size_t)kp;
    for (int32_t i = 0; i < n; i++) {
        if (!in_model(w, &x[i]))
            continue;
        const int32_t f = x[i].field;
        float *row = w->W + (size_t)x[i].index * w->row;
        for (int32_t a = 0; a < ps->nf; a++) {
            const int32_t g = ps->fields[a];
            if (g == f)
                continue;
            float dphi = dpairs ? dpairs[f < g ? dctr_ffm_pair_index(m, f, g) : dctr_ffm_pair_index(m, g, f)]
                                : kappa;
            const float c = dphi * r * x[i].value;
            const float *other = ps->P + (size_t)g * fstride + (size_t)f * kp; /* P[g][f] */
            float *wv = row + (size_t)g * w->blk, *G = wv + kp;
            for (int32_t d = 0; d < kp; d++) {
                float gr = st->lambda * wv[d] + c * other[d];
                G[d] += gr * gr;
                wv[d] -= st->eta * gr / sqrtf(G[d]);
            }
        }
    }
}
