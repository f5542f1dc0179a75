/* The synthetic generator: Criteo-shaped CSV and the same rows as libffm text, labels drawn from
 * the planted model (synth_model.c), and the planted model's own AUC / logloss on those rows. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/metrics.h"
#include "data/options.h"
#include "data/synth_model.h"
#include "deepctr/synth.h"

void dctr_synth_options_default(dctr_synth_options *o) {
    if (!o)
        return;
    *o = (dctr_synth_options){.struct_size = (uint32_t)sizeof *o,
                              .rows = 200000,
                              .seed = 1,
                              .num_dense = 13,
                              .num_sparse = 26,
                              .max_vocabulary = 1000000,
                              .zipf_exponent = 1.4,
                              .missing_rate = 0.05,
                              .target_ctr = 0.25,
                              .holdout_fraction = 0.1};
}

static const char *const STRUCTURE_NAMES[] = {"legacy", "first-order", "pairwise", "field-pairwise",
                                              "nonlinear"};
enum { NUM_STRUCTURES = (int)(sizeof STRUCTURE_NAMES / sizeof *STRUCTURE_NAMES) };

int32_t dctr_synth_structure_from_name(const char *name) {
    for (int32_t i = 0; name && i < NUM_STRUCTURES; i++)
        if (strcmp(name, STRUCTURE_NAMES[i]) == 0)
            return i;
    return -1;
}

const char *dctr_synth_structure_name(int32_t structure) {
    return structure >= 0 && structure < NUM_STRUCTURES ? STRUCTURE_NAMES[structure] : NULL;
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* Bias so that the mean predicted CTR on a calibration sample equals the target. */
static double calibrate(const double *logit, int64_t n, double target) {
    double lo = -30.0, hi = 30.0;
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (lo + hi), s = 0.0;
        for (int64_t i = 0; i < n; i++)
            s += sigmoid(logit[i] + mid);
        if (s / (double)n < target)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

typedef struct out_file {
    FILE *f;
    const char *path;
    char tmp[4096]; /* written here, renamed to path when complete */
    char *buf;
    size_t len, cap;
} out_file;

static dctr_status out_flush(out_file *o) {
    if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
        return dctr_set_error(DCTR_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    o->len = 0;
    return DCTR_OK;
}

static inline void put_char(out_file *o, char c) { o->buf[o->len++] = c; }

static inline void put_int(out_file *o, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        put_char(o, '-');
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        put_char(o, tmp[--n]);
}

/* x >= 0 with 4 decimals */
static inline void put_fixed4(out_file *o, double x) {
    int64_t t = (int64_t)llround(x * 10000.0);
    put_int(o, t / 10000);
    put_char(o, '.');
    int64_t f = t % 10000;
    put_char(o, (char)('0' + f / 1000));
    put_char(o, (char)('0' + f / 100 % 10));
    put_char(o, (char)('0' + f / 10 % 10));
    put_char(o, (char)('0' + f % 10));
}

static dctr_status out_open(out_file *o, const char *path) {
    memset(o, 0, sizeof *o);
    if (!path)
        return DCTR_OK;
    o->path = path;
    o->cap = 1u << 20;
    o->buf = dctr_malloc(o->cap + 65536);
    if (!o->buf)
        return DCTR_ERR_NOMEM;
    int len = snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof o->tmp)
        return dctr_set_error(DCTR_ERR_LIMIT, "%s: path too long", path);
    o->f = fopen(o->tmp, "wb");
    if (!o->f)
        return dctr_set_error(DCTR_ERR_IO, "%s: cannot create: %s", o->tmp, strerror(errno));
    return DCTR_OK;
}

static dctr_status out_close(out_file *o, dctr_status st) {
    if (o->f) {
        if (st == DCTR_OK)
            st = out_flush(o);
        if (fclose(o->f) != 0 && st == DCTR_OK)
            st = dctr_set_error(DCTR_ERR_IO, "%s: close failed: %s", o->path, strerror(errno));
        /* temp + rename: a failed run leaves the old file, never a half-written one */
        if (st == DCTR_OK && rename(o->tmp, o->path) != 0)
            st = dctr_set_error(DCTR_ERR_IO, "%s: rename failed: %s", o->path, strerror(errno));
        if (st != DCTR_OK)
            unlink(o->tmp);
    }
    dctr_free(o->buf);
    o->f = NULL;
    o->buf = NULL;
    return st;
}

/* The planted model's probability and the drawn label of every row (for its AUC). */
typedef struct scored {
    float *p, *y;
} scored;

static dctr_status check_options(const dctr_synth_options *in, dctr_synth_options *o) {
    dctr_synth_options_default(o);
    if (!in)
        return DCTR_OK;
    DCTR_TRY(dctr_options_copy(o, sizeof *o, in, in->struct_size, "dctr_synth_options"));
    if (o->rows < 1 || o->rows > (INT64_C(1) << 36))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: rows %lld out of range", (long long)o->rows);
    if (o->num_dense < 0 || o->num_dense > 1000 || o->num_sparse < 0 || o->num_sparse > 1000 ||
        o->num_dense + o->num_sparse < 1)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: column counts out of range");
    if (o->max_vocabulary < 1 || o->max_vocabulary > (INT64_C(1) << 31))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: max_vocabulary out of range");
    if (!(o->zipf_exponent > 0.0 && o->zipf_exponent < 10.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: zipf_exponent out of (0, 10)");
    if (!(o->missing_rate >= 0.0 && o->missing_rate < 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: missing_rate out of [0, 1)");
    if (!(o->target_ctr > 0.0 && o->target_ctr < 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: target_ctr out of (0, 1)");
    if (!(o->holdout_fraction >= 0.0 && o->holdout_fraction < 1.0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: holdout_fraction out of [0, 1)");
    if (o->structure < 0 || o->structure >= NUM_STRUCTURES)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: unknown structure %d", (int)o->structure);
    struct stat a, b;
    if (o->csv_path && o->libffm_path &&
        (strcmp(o->csv_path, o->libffm_path) == 0 ||
         (stat(o->csv_path, &a) == 0 && stat(o->libffm_path, &b) == 0 && a.st_dev == b.st_dev &&
          a.st_ino == b.st_ino)))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "synth: csv_path and libffm_path are the same file (%s)",
                              o->csv_path);
    return DCTR_OK;
}

static void write_csv_header(out_file *o, const synth_model *m) {
    const char *lab = "label";
    memcpy(o->buf + o->len, lab, 5);
    o->len += 5;
    for (int32_t i = 0; i < m->nd; i++) {
        put_char(o, ',');
        put_char(o, 'I');
        put_int(o, i + 1);
    }
    for (int32_t j = 0; j < m->ns; j++) {
        put_char(o, ',');
        put_char(o, 'C');
        put_int(o, j + 1);
    }
    put_char(o, '\n');
}

static void write_csv_row(out_file *o, const synth_model *m, const synth_row *row, int y) {
    put_char(o, (char)('0' + y));
    for (int32_t i = 0; i < m->nd; i++) {
        put_char(o, ',');
        if (row->dense[i] != INT64_MIN)
            put_int(o, row->dense[i]);
    }
    for (int32_t j = 0; j < m->ns; j++) {
        put_char(o, ',');
        if (row->rank[j] >= 0) {
            synth_category(m, j, row->rank[j], o->buf + o->len);
            o->len += 8;
        }
    }
    put_char(o, '\n');
}

static void write_ffm_row(out_file *o, const synth_model *m, const int64_t *offset,
                          const synth_row *row, int y) {
    put_char(o, (char)('0' + y));
    for (int32_t i = 0; i < m->nd; i++) {
        if (row->dense[i] == INT64_MIN)
            continue;
        put_char(o, ' ');
        put_int(o, i);
        put_char(o, ':');
        put_int(o, i);
        put_char(o, ':');
        put_fixed4(o, log1p(row->dense[i] > 0 ? (double)row->dense[i] : 0.0));
    }
    for (int32_t j = 0; j < m->ns; j++) {
        if (row->rank[j] < 0)
            continue;
        put_char(o, ' ');
        put_int(o, m->nd + j);
        put_char(o, ':');
        put_int(o, offset[j] + row->rank[j]);
        memcpy(o->buf + o->len, ":1", 2);
        o->len += 2;
    }
    put_char(o, '\n');
}

/* The planted model's bias: a pass over the first ncal rows so that the mean click rate is the
 * target (cal: ncal scratch doubles). */
static void calibrate_bias(synth_model *m, const dctr_synth_options *o, synth_row *row,
                           double *cal, int64_t ncal) {
    for (int64_t i = 0; i < ncal; i++) {
        synth_draw_row(m, o->seed, i, row);
        cal[i] = synth_logit(m, row);
    }
    m->bias = calibrate(cal, ncal, o->target_ctr);
}

/* Sums of the labelled pass: positives, logloss of the planted model (all rows, hold-out). */
typedef struct synth_sums {
    double pos, ll, ll_hold;
} synth_sums;

/* Draws and labels every row, writes it to the open outputs and keeps its probability and
 * label in sc (for the AUC). */
static dctr_status write_rows(const synth_model *m, const dctr_synth_options *o,
                              const int64_t *offset, synth_row *row, int64_t split_at,
                              out_file *csv, out_file *ffm, const scored *sc, synth_sums *sums) {
    dctr_rng lab;
    dctr_rng_init(&lab, o->seed, 0x1abe1);
    dctr_status st = DCTR_OK;
    for (int64_t i = 0; i < o->rows && st == DCTR_OK; i++) {
        synth_draw_row(m, o->seed, i, row);
        double p = sigmoid(synth_logit(m, row) + m->bias);
        int y = dctr_rng_uniform(&lab) < p;
        sums->pos += y;
        double pc = p < 1e-7 ? 1e-7 : (p > 1 - 1e-7 ? 1 - 1e-7 : p);
        double lli = y ? -log(pc) : -log(1.0 - pc);
        sums->ll += lli;
        if (i >= split_at)
            sums->ll_hold += lli;
        sc->p[i] = (float)p;
        sc->y[i] = (float)y;
        /* each row is < 64 KiB when columns <= 1000: flush before the buffer could overflow */
        if (csv->f) {
            write_csv_row(csv, m, row, y);
            if (csv->len >= csv->cap)
                st = out_flush(csv);
        }
        if (ffm->f && st == DCTR_OK) {
            write_ffm_row(ffm, m, offset, row, y);
            if (ffm->len >= ffm->cap)
                st = out_flush(ffm);
        }
    }
    return st;
}

static void fill_report(dctr_synth_report *report, const synth_sums *sums, const scored *sc, int64_t n,
                        int64_t split_at) {
    report->rows = n;
    report->positive_rate = sums->pos / (double)n;
    report->planted_logloss = sums->ll / (double)n;
    report->holdout_rows = n - split_at;
    report->holdout_auc = NAN;
    report->holdout_logloss = NAN;
    if (split_at < n) {
        report->holdout_logloss = sums->ll_hold / (double)(n - split_at);
        report->holdout_auc = dctr_metric_auc(sc->y + split_at, sc->p + split_at, NULL, n - split_at);
    }
    report->planted_auc = dctr_metric_auc(sc->y, sc->p, NULL, n);
}

dctr_status dctr_synth_generate(const dctr_synth_options *opts, dctr_synth_report *report) {
    dctr_synth_options o;
    DCTR_TRY(check_options(opts, &o));
    synth_model m;
    DCTR_TRY(synth_model_init(&m, &o));
    int64_t n = o.rows;
    size_t width = (size_t)(m.nd + m.ns) + 1;
    int64_t *cells = dctr_malloc(sizeof(int64_t) * width * 2);
    int64_t *offset = dctr_calloc((size_t)m.ns + 1, sizeof(int64_t));
    int64_t ncal = n < 100000 ? n : 100000;
    double *cal = dctr_malloc(sizeof(double) * (size_t)ncal);
    scored sc = {dctr_malloc(sizeof(float) * (size_t)n), dctr_malloc(sizeof(float) * (size_t)n)};
    dctr_status st = (cells && offset && cal && sc.p && sc.y) ? DCTR_OK : DCTR_ERR_NOMEM;
    synth_row row = {cells, cells + width};
    out_file csv, ffm;
    memset(&csv, 0, sizeof csv);
    memset(&ffm, 0, sizeof ffm);
    if (st == DCTR_OK) {
        /* libffm feature index of each sparse column's first value (after the dense ones) */
        for (int32_t j = 1; j < m.ns; j++)
            offset[j] = offset[j - 1] + m.vocab[j - 1];
        for (int32_t j = 0; j < m.ns; j++)
            offset[j] += m.nd;
        calibrate_bias(&m, &o, &row, cal, ncal);
        st = out_open(&csv, o.csv_path);
    }
    if (st == DCTR_OK)
        st = out_open(&ffm, o.libffm_path);
    if (st == DCTR_OK && csv.f)
        write_csv_header(&csv, &m);
    /* the hold-out rows are split as dctr_model_fit splits validation_split (Keras) */
    int64_t split_at = o.holdout_fraction > 0 ? (int64_t)((double)n * (1.0 - o.holdout_fraction)) : n;
    synth_sums sums = {0.0, 0.0, 0.0};
    if (st == DCTR_OK)
        st = write_rows(&m, &o, offset, &row, split_at, &csv, &ffm, &sc, &sums);
    st = out_close(&csv, st);
    st = out_close(&ffm, st);
    if (st == DCTR_OK && report)
        fill_report(report, &sums, &sc, n, split_at);
    dctr_free(cells);
    dctr_free(offset);
    dctr_free(cal);
    dctr_free(sc.p);
    dctr_free(sc.y);
    synth_model_free(&m);
    return st;
}
