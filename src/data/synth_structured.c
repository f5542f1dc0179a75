/* The structured planted models of the synthetic generator (dctr_synth_structure other than
 * LEGACY): first-order weights on the first SYNTH_LIN_IDS ids of every categorical column, and
 * optionally FM-form, field-aware, and non-linear terms over SYNTH_P_FIELDS columns. Every weight
 * is a hash of (seed, kind, column, id, dimension), so no table is stored and the legacy model's
 * random stream is untouched. */
#include <math.h>

#include "core/rng.h"
#include "data/synth_model.h"

#define SYNTH_LIN_IDS 1000 /* ids with a first-order weight: frequent and mid-tail ones */
#define SYNTH_PAIR_IDS 100 /* ids with latent vectors */
#define SYNTH_P_RANK 4
#define SD_LIN 0.3
#define SD_VEC 0.3

/* Interacting columns as positions in the columns sorted by vocabulary size: every other one
 * from the smallest, so small and mid-size vocabularies interact. */
static const int32_t P_BY_SIZE[SYNTH_P_FIELDS] = {0, 2, 4, 6, 8, 10, 12, 14};

enum { K_LIN = 1, K_VEC = 2, K_FVEC = 3, K_TRI = 4 };

/* A standard normal fixed by its key (Box-Muller on two hashed uniforms). */
static double hnormal(const synth_model *m, uint64_t kind, uint64_t a, uint64_t b, uint64_t d) {
    uint64_t h = dctr_mix64(m->hsalt ^ dctr_mix64(kind * 0x9E3779B97F4A7C15ULL + a * 0xD1B54A32D192ED03ULL +
                                        b * 0xABC98388FB8FAC03ULL + d * 0x8CB92BA72F3D8DD7ULL));
    uint64_t g = dctr_mix64(h ^ 0x5851F42D4C957F2DULL);
    double u1 = ((double)(h >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    double u2 = (double)(g >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void synth_structured_init(synth_model *m, uint64_t seed, const int32_t *by_size, int32_t nsz) {
    dctr_rng r;
    dctr_rng_init(&r, seed, 0x57c7u);
    m->hsalt = dctr_rng_next(&r);
    m->np = 0;
    for (int f = 0; f < SYNTH_P_FIELDS; f++)
        if (P_BY_SIZE[f] < nsz)
            m->pcol[m->np++] = by_size[P_BY_SIZE[f]];
}

static double first_order(const synth_model *m, const synth_row *row) {
    double z = synth_dense_logit(m, row);
    for (int32_t j = 0; j < m->ns; j++) {
        int64_t k = row->rank[j];
        if (k >= 0 && k < SYNTH_LIN_IDS)
            z += SD_LIN * hnormal(m, K_LIN, (uint64_t)j, (uint64_t)k, 0);
    }
    return z;
}

/* <v_p, v_q> over the interacting columns; field-aware: v_p depends on q's field too. */
static double pairwise(const synth_model *m, const synth_row *row, int field_aware) {
    double z = 0.0;
    int pos[SYNTH_P_FIELDS];
    int64_t rk[SYNTH_P_FIELDS];
    int nv = synth_ranked(row, m->pcol, m->np, SYNTH_PAIR_IDS, pos, rk);
    for (int a = 0; a < nv; a++) {
        for (int b = a + 1; b < nv; b++) {
            int p = pos[a], q = pos[b];
            int64_t ka = rk[a], kb = rk[b];
            uint64_t kind = field_aware ? K_FVEC : K_VEC;
            uint64_t fa = field_aware ? (uint64_t)(p * SYNTH_P_FIELDS + q) : (uint64_t)p;
            uint64_t fb = field_aware ? (uint64_t)(q * SYNTH_P_FIELDS + p) : (uint64_t)q;
            for (int d = 0; d < SYNTH_P_RANK; d++)
                z += SD_VEC * SD_VEC * hnormal(m, kind, fa, (uint64_t)ka, (uint64_t)d) *
                     hnormal(m, kind, fb, (uint64_t)kb, (uint64_t)d);
        }
    }
    return z;
}

/* Terms no FM represents: a saturating product and a bump of log counts, and a saturating
 * three-way product of id effects of three interacting columns. */
static double nonlinear(const synth_model *m, const synth_row *row) {
    double z = 0.0;
    if (m->nd >= 2)
        z += 0.6 * tanh(synth_gdense(m, row, 0) * synth_gdense(m, row, 1));
    if (m->nd >= 3) {
        double g = synth_gdense(m, row, 2);
        z += 0.6 * (2.0 * exp(-0.5 * g * g) - 1.0);
    }
    if (m->np >= 3) {
        double t = 1.0;
        for (int p = 0; p < 3; p++) {
            int64_t k = row->rank[m->pcol[p]];
            t *= (k >= 0 && k < SYNTH_PAIR_IDS) ? hnormal(m, K_TRI, (uint64_t)p, (uint64_t)k, 0) : 0.0;
        }
        z += 0.8 * tanh(t);
    }
    return z;
}

double synth_structured_logit(const synth_model *m, const synth_row *row) {
    double z = first_order(m, row);
    switch (m->structure) {
    case DCTR_SYNTH_PAIRWISE:
        z += pairwise(m, row, 0);
        break;
    case DCTR_SYNTH_FIELD_PAIRWISE:
        z += pairwise(m, row, 1);
        break;
    case DCTR_SYNTH_NONLINEAR:
        z += pairwise(m, row, 0) + nonlinear(m, row);
        break;
    default:
        break;
    }
    return z;
}
