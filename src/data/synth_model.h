/* The planted model of the synthetic generator (docs/synthetic-data.md): per-column vocabulary
 * sizes, Zipf category draws, log-normal counts for dense columns, and a logit with linear,
 * low-rank (FM-form) pairwise and non-linear parts. */
#ifndef DCTR_DATA_SYNTH_MODEL_H
#define DCTR_DATA_SYNTH_MODEL_H

#include "core/rng.h"
#include "deepctr/synth.h"

#define SYNTH_HEAD 5 /* informative (frequent) ranks per categorical column */
#define SYNTH_PAIR_HEAD 5 /* ranks taking part in the pairwise terms */
#define SYNTH_RANK 2   /* rank of the pairwise interactions */
#define SYNTH_FM_FIELDS 4 /* interacting columns: every pair of them interacts */
#define SYNTH_MAX_COLS 4096
#define SYNTH_P_FIELDS 8  /* structured models: interacting columns */

typedef struct synth_model {
    int32_t nd, ns;
    double zipf;
    double missing;
    int64_t *vocab;            /* [ns] */
    double *mu, *sigma;        /* [nd] log-normal parameters of the counts */
    double *wd;                /* [nd] dense linear weights */
    float *lin;                /* [ns * SYNTH_HEAD] categorical linear weights (0 = not informative) */
    int32_t fm_col[SYNTH_FM_FIELDS]; /* the interacting categorical columns */
    float *fm_vec[SYNTH_FM_FIELDS];  /* [SYNTH_PAIR_HEAD * SYNTH_RANK] latent vector per rank */
    int nfm;
    double bias;
    uint32_t salt;             /* mixes category strings per seed */
    int32_t structure;         /* dctr_synth_structure */
    uint64_t hsalt;            /* seeds the hashed weights of the structured models */
    int32_t pcol[SYNTH_P_FIELDS]; /* structured models: the interacting columns */
    int np;
} synth_model;

/* One generated row: dense counts (missing = INT64_MIN) and category ranks (missing = -1). */
typedef struct synth_row {
    int64_t *dense; /* [nd] */
    int64_t *rank;  /* [ns] */
} synth_row;

dctr_status synth_model_init(synth_model *m, const dctr_synth_options *o);
void synth_model_free(synth_model *m);
/* Draws row `index` (its own RNG stream: any row can be regenerated alone). */
void synth_draw_row(const synth_model *m, uint64_t seed, int64_t index, synth_row *row);

/* The dense columns' part of the planted logit: sum of wd[i] * the standardised log count. */
double synth_dense_logit(const synth_model *m, const synth_row *row);

/* The interacting columns cols[0..n) whose rank in row lies in [0, limit), in order: their
 * positions in cols (pos) and ranks (rank); returns how many. The planted models' pair sums run
 * over these pairs (p < q), in the order a double loop with skips would. */
static inline int synth_ranked(const synth_row *row, const int32_t *cols, int n, int64_t limit,
                               int *pos, int64_t *rank) {
    int nv = 0;
    for (int p = 0; p < n; p++) {
        int64_t k = row->rank[cols[p]];
        if (k >= 0 && k < limit) {
            pos[nv] = p;
            rank[nv++] = k;
        }
    }
    return nv;
}
/* The planted logit without the bias. */
double synth_logit(const synth_model *m, const synth_row *row);
/* The structured models' logit (synth_structured.c); m->structure != LEGACY. */
double synth_structured_logit(const synth_model *m, const synth_row *row);
/* Picks the structured models' interacting columns from the columns sorted by size. */
void synth_structured_init(synth_model *m, uint64_t seed, const int32_t *by_size, int32_t nsz);
/* Standardized log count of dense column i (missing counts as 0, the CSV reader's fill). */
double synth_gdense(const synth_model *m, const synth_row *row, int32_t i);
/* 8 hex digits naming category `rank` of column j (distinct ranks give distinct strings). */
void synth_category(const synth_model *m, int32_t j, int64_t rank, char out[8]);

#endif
