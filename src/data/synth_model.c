/* The planted model (see synth_model.h). */
#include "data/synth_model.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

void synth_model_free(synth_model *m) {
    dctr_free(m->vocab);
    dctr_free(m->mu);
    dctr_free(m->sigma);
    dctr_free(m->wd);
    dctr_free(m->lin);
    for (int i = 0; i < m->nfm; i++)
        dctr_free(m->fm_vec[i]);
    memset(m, 0, sizeof *m);
}

static float *normals(dctr_rng *r, size_t n, double sd) {
    float *v = dctr_malloc(sizeof(float) * (n ? n : 1));
    if (v)
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(sd * dctr_rng_normal(r));
    return v;
}

/* Columns carrying a linear signal (indices are filtered by the actual column count), and the
 * interacting columns as positions in the columns sorted by vocabulary size. */
static const int32_t LINEAR_COLS[] = {0, 1, 2, 3, 5, 7, 9, 11, 14, 17};
static const int32_t FM_BY_SIZE[SYNTH_FM_FIELDS] = {0, 1, 2, 3};

dctr_status synth_model_init(synth_model *m, const dctr_synth_options *o) {
    memset(m, 0, sizeof *m);
    m->nd = o->num_dense;
    m->ns = o->num_sparse;
    m->zipf = o->zipf_exponent;
    m->missing = o->missing_rate;
    m->structure = o->structure;
    dctr_rng r;
    dctr_rng_init(&r, o->seed, 0x5eed);
    m->salt = (uint32_t)dctr_rng_next(&r);
    size_t nd = (size_t)m->nd, ns = (size_t)m->ns;
    m->vocab = dctr_calloc(ns + 1, sizeof *m->vocab);
    m->mu = dctr_calloc(nd + 1, sizeof *m->mu);
    m->sigma = dctr_calloc(nd + 1, sizeof *m->sigma);
    m->wd = dctr_calloc(nd + 1, sizeof *m->wd);
    m->lin = dctr_calloc(ns * SYNTH_HEAD + 1, sizeof *m->lin);
    if (!m->vocab || !m->mu || !m->sigma || !m->wd || !m->lin) {
        synth_model_free(m);
        return DCTR_ERR_NOMEM;
    }
    /* vocabulary sizes spread log-uniformly from 10 to max_vocabulary, in shuffled order */
    int64_t order[4096];
    int64_t cnt = m->ns < 4096 ? m->ns : 4096;
    for (int64_t j = 0; j < cnt; j++)
        order[j] = j;
    dctr_rng_shuffle_i64(&r, order, cnt);
    double lo = 10.0, hi = (double)o->max_vocabulary;
    if (hi < lo)
        lo = hi;
    for (int32_t j = 0; j < m->ns; j++) {
        double f = cnt > 1 ? (double)order[j % cnt] / (double)(cnt - 1) : 1.0;
        int64_t v = (int64_t)llround(lo * pow(hi / lo, f));
        m->vocab[j] = v < 1 ? 1 : v;
    }
    for (int32_t i = 0; i < m->nd; i++) {
        m->mu[i] = 0.5 + 3.0 * dctr_rng_uniform(&r);
        m->sigma[i] = 0.6 + 1.0 * dctr_rng_uniform(&r);
        m->wd[i] = i < 6 ? 0.3 * dctr_rng_normal(&r) : 0.0;
    }
    for (size_t k = 0; k < sizeof LINEAR_COLS / sizeof *LINEAR_COLS; k++) {
        int32_t j = LINEAR_COLS[k];
        if (j >= m->ns)
            continue;
        for (int h = 0; h < SYNTH_HEAD; h++)
            m->lin[(size_t)j * SYNTH_HEAD + (size_t)h] = (float)(0.7 * dctr_rng_normal(&r));
    }
    /* Interacting fields are the low-cardinality ones (like device x site category): with the
     * columns sorted by vocabulary size, FM_BY_SIZE indexes that order, so every pair cell is
     * frequent enough to be learned from a few hundred thousand rows. */
    int32_t by_size[SYNTH_MAX_COLS];
    int32_t nsz = m->ns < SYNTH_MAX_COLS ? m->ns : SYNTH_MAX_COLS;
    for (int32_t j = 0; j < nsz; j++)
        by_size[j] = j;
    for (int32_t a = 1; a < nsz; a++) /* insertion sort, stable: ties keep column order */
        for (int32_t b = a; b > 0 && m->vocab[by_size[b]] < m->vocab[by_size[b - 1]]; b--) {
            int32_t t = by_size[b];
            by_size[b] = by_size[b - 1];
            by_size[b - 1] = t;
        }
    if (m->structure != DCTR_SYNTH_LEGACY)
        synth_structured_init(m, o->seed, by_size, nsz);
    for (int f = 0; f < SYNTH_FM_FIELDS; f++) {
        if (FM_BY_SIZE[f] >= nsz)
            continue;
        m->fm_col[m->nfm] = by_size[FM_BY_SIZE[f]];
        m->fm_vec[m->nfm] = normals(&r, SYNTH_PAIR_HEAD * SYNTH_RANK, 0.6);
        if (!m->fm_vec[m->nfm++]) {
            synth_model_free(m);
            return DCTR_ERR_NOMEM;
        }
    }
    return DCTR_OK;
}

/* Bounded power law on [1, V+1): the continuous counterpart of Zipf(s), by inverse CDF. */
static int64_t zipf_rank(dctr_rng *r, int64_t V, double s) {
    double u = dctr_rng_uniform(r);
    double x;
    if (fabs(s - 1.0) < 1e-9) {
        x = exp(u * log((double)V + 1.0));
    } else {
        double t = 1.0 - s;
        x = pow(u * (pow((double)V + 1.0, t) - 1.0) + 1.0, 1.0 / t);
    }
    int64_t k = (int64_t)x - 1;
    if (k < 0)
        k = 0;
    if (k >= V)
        k = V - 1;
    return k;
}

void synth_draw_row(const synth_model *m, uint64_t seed, int64_t index, synth_row *row) {
    dctr_rng r;
    dctr_rng_init(&r, seed, 0x100000000ULL + (uint64_t)index);
    for (int32_t i = 0; i < m->nd; i++) {
        double z = dctr_rng_normal(&r);
        if (dctr_rng_uniform(&r) < m->missing) {
            row->dense[i] = INT64_MIN;
            continue;
        }
        double v = floor(exp(m->mu[i] + m->sigma[i] * z)) - 1.0;
        row->dense[i] = (int64_t)(v > 1e12 ? 1e12 : v);
    }
    for (int32_t j = 0; j < m->ns; j++) {
        int64_t k = zipf_rank(&r, m->vocab[j], m->zipf);
        row->rank[j] = dctr_rng_uniform(&r) < m->missing ? -1 : k;
    }
}

double synth_gdense(const synth_model *m, const synth_row *row, int32_t i) {
    int64_t x = row->dense[i] == INT64_MIN ? 0 : row->dense[i];
    return (log1p(x > 0 ? (double)x : 0.0) - m->mu[i]) / m->sigma[i];
}

double synth_dense_logit(const synth_model *m, const synth_row *row) {
    double z = 0.0;
    for (int32_t i = 0; i < m->nd; i++)
        if (m->wd[i] != 0.0)
            z += m->wd[i] * synth_gdense(m, row, i);
    return z;
}

double synth_logit(const synth_model *m, const synth_row *row) {
    if (m->structure != DCTR_SYNTH_LEGACY)
        return synth_structured_logit(m, row);
    double z = synth_dense_logit(m, row);
    for (int32_t j = 0; j < m->ns; j++) {
        int64_t k = row->rank[j];
        if (k >= 0 && k < SYNTH_HEAD)
            z += m->lin[(size_t)j * SYNTH_HEAD + (size_t)k];
    }
    /* FM form: one latent vector per (column, frequent rank), every pair of the columns interacts */
    int pos[SYNTH_FM_FIELDS];
    int64_t rk[SYNTH_FM_FIELDS];
    int nv = synth_ranked(row, m->fm_col, m->nfm, SYNTH_PAIR_HEAD, pos, rk);
    for (int a = 0; a < nv; a++)
        for (int b = a + 1; b < nv; b++) {
            const float *va = m->fm_vec[pos[a]] + rk[a] * SYNTH_RANK;
            const float *vb = m->fm_vec[pos[b]] + rk[b] * SYNTH_RANK;
            for (int d = 0; d < SYNTH_RANK; d++)
                z += (double)va[d] * (double)vb[d];
        }
    /* non-linear parts, smooth functions of log counts: a saturating product of two, and a
     * bump (middling counts of I3 raise the click rate, small and large ones lower it) */
    if (m->nd >= 2)
        z += 0.35 * tanh(synth_gdense(m, row, 0) * synth_gdense(m, row, 1));
    if (m->nd >= 3) {
        double g = synth_gdense(m, row, 2);
        z += 0.4 * (2.0 * exp(-0.5 * g * g) - 1.0);
    }
    return z;
}

static uint32_t mix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

void synth_category(const synth_model *m, int32_t j, int64_t rank, char out[8]) {
    /* xor with a per-column constant then a bijective mix: distinct ranks stay distinct */
    uint32_t h = mix32((uint32_t)rank ^ mix32(m->salt + (uint32_t)j * 0x9E3779B9u));
    static const char hex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--) {
        out[i] = hex[h & 15];
        h >>= 4;
    }
}
