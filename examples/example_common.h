/* Small helpers the example programs share (header-only, public API only): error checks,
 * a temporary directory, reading raw CSV rows, and a MovieLens-shaped data generator for
 * running the MovieLens examples without the real file. */
#ifndef DCTR_EXAMPLE_COMMON_H
#define DCTR_EXAMPLE_COMMON_H

/* mkdtemp, clock_gettime: include this header before any other. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include <deepctr/deepctr.h>

/* Every libdeepctr call returns a status; on failure print the library's message and exit 1. */
#define CHECK(call)                                                                       \
    do {                                                                                  \
        dctr_status check_status_ = (call);                                               \
        if (check_status_ != DCTR_OK) {                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,          \
                    dctr_last_error());                                                   \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static inline double ex_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A fresh directory under $TMPDIR (or /tmp) for generated files. */
static inline const char *ex_temp_dir(void) {
    static char dir[512];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/deepctr-example-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

/* Prints the per-epoch line of a fit (the library itself never prints). */
static inline int ex_print_epoch(const dctr_progress *p, void *user) {
    const int regression = user != NULL;
    if (p->phase != 1)
        return 0;
    if (regression)
        printf("epoch %2d/%d  loss %.4f  val_mse %.4f  %.2fs%s\n", p->epoch, p->epochs, p->train[DCTR_METRIC_MSE],
               p->valid[DCTR_METRIC_MSE], p->seconds, p->improved ? "  (best)" : "");
    else
        printf("epoch %2d/%d  loss %.4f  val_logloss %.4f  val_auc %.4f  %.2fs%s\n", p->epoch, p->epochs,
               p->train[DCTR_METRIC_LOGLOSS], p->valid[DCTR_METRIC_LOGLOSS], p->valid[DCTR_METRIC_AUC], p->seconds,
               p->improved ? "  (best)" : "");
    return 0;
}

/* Splits one CSV line in place (double quotes, "" escapes); returns the field count. */
static inline int ex_csv_split(char *line, char **fields, int cap) {
    int n = 0;
    char *r = line;
    line[strcspn(line, "\r\n")] = '\0';
    for (;;) {
        char *start = r, *w = r;
        if (*r == '"') {
            for (r++; *r; ) {
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
            while (*r && *r != ',')
                r++;
        } else {
            while (*r && *r != ',')
                r++;
            w = r;
        }
        char end = *r;
        *w = '\0';
        if (n < cap)
            fields[n++] = start;
        if (!end)
            return n;
        r++;
    }
}

/* A deterministic xorshift generator for the synthetic MovieLens-shaped file. */
static inline uint64_t ex_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static inline double ex_uniform(uint64_t *s) { return (double)(ex_rand(s) >> 11) * 0x1.0p-53; }

/* Writes `rows` MovieLens-shaped rows with the real sample's header: a planted rating
 * 3 + user bias + movie bias + genre effects + noise, rounded to 1..5. */
static inline void ex_write_movielens_like(const char *path, int rows) {
    static const char *const genres[] = {"Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                                         "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical",
                                         "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"};
    static const int ages[] = {1, 18, 25, 35, 45, 50, 56};
    enum { USERS = 300, MOVIES = 400, GENRES = 18 };
    double ub[USERS], mb[MOVIES], gb[GENRES];
    int mg[MOVIES][3], mgn[MOVIES];
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < USERS; i++)
        ub[i] = ex_uniform(&s) * 1.6 - 0.8;
    for (int g = 0; g < GENRES; g++)
        gb[g] = ex_uniform(&s) * 1.0 - 0.5;
    for (int m = 0; m < MOVIES; m++) {
        mb[m] = ex_uniform(&s) * 1.6 - 0.8;
        mgn[m] = 1 + (int)(ex_rand(&s) % 3);
        for (int j = 0; j < mgn[m]; j++)
            mg[m][j] = (int)(ex_rand(&s) % GENRES);
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f, "user_id,movie_id,rating,timestamp,title,genres,gender,age,occupation,zip\n");
    for (int r = 0; r < rows; r++) {
        int u = (int)(ex_rand(&s) % USERS), m = (int)(ex_rand(&s) % MOVIES);
        double y = 3.5 + ub[u] + mb[m] + 0.6 * (ex_uniform(&s) - 0.5);
        for (int j = 0; j < mgn[m]; j++)
            y += gb[mg[m][j]] / mgn[m];
        int rating = (int)(y + 0.5);
        rating = rating < 1 ? 1 : rating > 5 ? 5 : rating;
        fprintf(f, "%d,%d,%d,%d,\"Movie %d, The (19%02d)\",", u + 1, m + 1, rating, 960000000 + r, m + 1, m % 100);
        for (int j = 0; j < mgn[m]; j++)
            fprintf(f, "%s%s", j ? "|" : "", genres[mg[m][j]]);
        fprintf(f, ",%c,%d,%d,%05d\n", u % 3 ? 'M' : 'F', ages[u % 7], u % 21, 10000 + (u * 37) % 500);
    }
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}


/* DeepCTR's Criteo recipe after the model is built: fit 10 epochs at batch 256 with the last 20%
 * of the training rows for validation, print test logloss / AUC, and check them. On synthetic
 * data (no path given) the model must also rank clearly better than chance (10 epochs without
 * early stopping overfit, as in DeepCTR's script, so the bar is modest). Returns 1 when ok. */
static inline int ex_fit_and_report_binary(dctr_model *model, const dctr_dataset *train,
                                           const dctr_dataset *test, int synthetic) {
    dctr_fit_options fit;
    dctr_fit_options_default(&fit);
    fit.epochs = 10;
    fit.batch_size = 256;
    fit.validation_split = 0.2;
    fit.progress = ex_print_epoch;
    CHECK(dctr_model_fit(model, train, &fit, NULL));
    double m[DCTR_METRIC_COUNT];
    CHECK(dctr_model_evaluate(model, test, m));
    printf("test LogLoss %.4f\ntest AUC %.4f\n", m[DCTR_METRIC_LOGLOSS], m[DCTR_METRIC_AUC]);
    int ok = m[DCTR_METRIC_LOGLOSS] > 0 && m[DCTR_METRIC_LOGLOSS] < 10 && m[DCTR_METRIC_AUC] >= 0 &&
             m[DCTR_METRIC_AUC] <= 1;
    if (synthetic && m[DCTR_METRIC_AUC] < 0.55) {
        fprintf(stderr, "AUC %.4f on the synthetic data: the model did not learn\n", m[DCTR_METRIC_AUC]);
        ok = 0;
    }
    return ok;
}

#endif
