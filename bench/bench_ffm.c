/* FFM training throughput on a synthetic libffm file (default 2M rows, 39 fields, k = 4,
 * eta 0.2, lambda 2e-5, normalization on), one epoch at 1 and 2 threads, for a cache-resident
 * model and a cache-missing one. Reported against the memory-traffic floor: bytes of weights +
 * accumulators a sample touches (39*38 blocks of 2*kp floats) divided by a streaming-read
 * bandwidth probe measured in this run. (libffm itself is run beside libdeepctr by bench/run's
 * peer steps, on the same files; no figure from another machine is used here.)
 * Also: text parse MB/s and prediction rows/s.
 * Usage: bench_ffm [--rows N] [--json FILE] [--keep FILE] (--keep reuses/keeps the text file). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <emmintrin.h>

#include "core/alloc.h"
#include "core/rng.h"
#include "data/libffm_reader.h"
#include "deepctr/deepctr.h"
#include "models/ffm/ffm.h"

#define FIELDS 39
#define K 4

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Streaming-read bandwidth: sum of a 512 MB float array, best of 3. */
static double bandwidth_probe(void) {
    size_t n = (size_t)128 << 20;
    float *a = dctr_alloc_floats(n);
    if (!a)
        return NAN;
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i & 7);
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (size_t i = 0; i < n; i += 16) {
            s0 = _mm_add_ps(s0, _mm_load_ps(a + i));
            s1 = _mm_add_ps(s1, _mm_load_ps(a + i + 4));
            s2 = _mm_add_ps(s2, _mm_load_ps(a + i + 8));
            s3 = _mm_add_ps(s3, _mm_load_ps(a + i + 12));
        }
        double dt = now() - t0;
        float lanes[4];
        _mm_storeu_ps(lanes, _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)));
        sink += lanes[0] + lanes[1] + lanes[2] + lanes[3];
        double bw = (double)n * sizeof(float) / dt;
        if (bw > best)
            best = bw;
    }
    (void)sink;
    dctr_aligned_free(a);
    return best;
}

static char *put_uint(char *p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Criteo-shaped: per-field vocabularies from 4 to `max_vocab`, skewed ids (u^3), values 1,
 * positives 25%. Features are numbered globally (field offset + id). */
static int generate(const char *path, int64_t rows, int64_t max_vocab, int64_t *num_features) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int64_t vocab[FIELDS], off[FIELDS], total = 0;
    for (int j = 0; j < FIELDS; j++) {
        double frac = (double)j / (FIELDS - 1);
        vocab[j] = (int64_t)(4 * pow((double)max_vocab / 4, frac));
        off[j] = total;
        total += vocab[j];
    }
    *num_features = total;
    dctr_rng rng;
    dctr_rng_init(&rng, 42, 0);
    static char buf[1 << 16];
    for (int64_t i = 0; i < rows; i++) {
        char *p = buf;
        *p++ = dctr_rng_uniform(&rng) < 0.25 ? '1' : '0';
        for (int j = 0; j < FIELDS; j++) {
            double u = dctr_rng_uniform(&rng);
            int64_t id = (int64_t)(u * u * u * (double)vocab[j]);
            *p++ = ' ';
            p = put_uint(p, (uint64_t)j);
            *p++ = ':';
            p = put_uint(p, (uint64_t)(off[j] + id));
            *p++ = ':';
            *p++ = '1';
        }
        *p++ = '\n';
        if (fwrite(buf, 1, (size_t)(p - buf), f) != (size_t)(p - buf)) {
            fclose(f);
            return -1;
        }
    }
    return fclose(f);
}

typedef struct {
    double rows_per_s[3];     /* by threads 1, 2: wall clock */
    double rows_per_cpu_s[3]; /* rows per CPU-second of all threads (what a quiet core would give) */
    double seconds[3];
    double model_mb;
} case_result;

static int epoch_cb(const dctr_ffm_epoch *e, void *user) {
    ((double *)user)[0] = e->seconds;
    ((double *)user)[1] = e->cpu_seconds;
    return 0;
}

/* Trains one epoch at 1 and 2 threads; the 1-thread model is returned for the predict timing. */
static int run_case(dctr_ffm_data *d, case_result *r, dctr_model **keep) {
    for (int th = 1; th <= 2; th++) {
        dctr_ffm_options o;
        dctr_ffm_options_default(&o);
        o.epochs = 1;
        o.threads = th;
        double secs[2] = {0, 0};
        dctr_model *m;
        if (dctr_ffm_train(d, NULL, &o, epoch_cb, secs, &m) != DCTR_OK) {
            fprintf(stderr, "train: %s\n", dctr_last_error());
            return -1;
        }
        r->model_mb = (double)dctr_model_parameter_bytes(m) * 2 / 1e6;
        if (th == 1)
            *keep = m;
        else
            dctr_model_free(m);
        r->seconds[th] = secs[0];
        r->rows_per_s[th] = (double)d->rows / secs[0];
        r->rows_per_cpu_s[th] = (double)d->rows / secs[1];
    }
    return 0;
}

int main(int argc, char **argv) {
    (void)dctr_blas_use_native_kernel(argv); /* the CPU's real BLAS kernels */
    int64_t rows = 2000000;
    const char *json = NULL, *keep = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atoll(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
            keep = argv[++i];
        else {
            fprintf(stderr, "usage: bench_ffm [--rows N] [--json FILE] [--keep FILE]\n");
            return 2;
        }
    }
    const double pairs = FIELDS * (FIELDS - 1) / 2.0;
    const int kp = (K + 3) / 4 * 4;
    /* every pair touches two blocks of kp weights + kp accumulators, read and written */
    const double bytes_per_sample = pairs * 2 * (2.0 * kp * sizeof(float));
    double bw = bandwidth_probe();
    double floor_rows = bw / bytes_per_sample;

    const char *labels[2] = {"cached (4k features)", "large (1M features)"};
    const int64_t vocab[2] = {400, 120000};
    case_result res[2];
    double parse_mbps[2] = {0}, predict_rps[2] = {0};
    int64_t nfeat[2];
    for (int c = 0; c < 2; c++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", keep ? keep : "/tmp/bench_ffm", c ? ".large.ffm" : ".small.ffm");
        struct stat st;
        double t0 = now();
        if (!(keep && stat(path, &st) == 0) && generate(path, rows, vocab[c], &nfeat[c]) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        double gen_s = now() - t0;
        stat(path, &st);
        t0 = now();
        dctr_ffm_data *d;
        if (dctr_ffm_data_read(path, NULL, &d) != DCTR_OK) {
            fprintf(stderr, "%s\n", dctr_last_error());
            return 1;
        }
        parse_mbps[c] = (double)st.st_size / 1e6 / (now() - t0);
        nfeat[c] = d->num_features;
        fprintf(stderr, "%s: %lld rows, %lld features, %.0f MB text (generated in %.1f s, parsed at %.0f MB/s)\n",
                labels[c], (long long)d->rows, (long long)d->num_features, (double)st.st_size / 1e6, gen_s,
                parse_mbps[c]);
        dctr_model *m = NULL;
        if (run_case(d, &res[c], &m) != 0)
            return 1;
        /* prediction throughput on the same rows (1 thread) */
        float *p = malloc((size_t)d->rows * sizeof *p);
        t0 = now();
        if (p && dctr_ffm_predict(m, d, p) == DCTR_OK)
            predict_rps[c] = (double)d->rows / (now() - t0);
        free(p);
        dctr_model_free(m);
        dctr_ffm_data_free(d);
        if (!keep)
            remove(path);
    }

    printf("## FFM training, %lld rows x %d fields (%.0f field pairs/row), k=%d, one epoch\n\n", (long long)rows,
           FIELDS, pairs, K);
    printf("Streaming-read bandwidth probe: %.1f GB/s; weights + accumulators touched per sample: %.1f KB;\n"
           "memory-traffic floor (every touched byte streamed once): %.0f rows/s.\n\n",
           bw / 1e9, bytes_per_sample / 1024, floor_rows);
    printf("Wall-clock rates count time lost to other processes on a shared box; the CPU-time column\n"
           "(rows per CPU-second of all threads) is what each busy core delivered.\n\n");
    printf("| model | threads | rows/s (wall) | pair updates/s/thread (wall) | vs floor |"
           " pair updates per CPU-s | epoch s |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < 2; c++)
        for (int th = 1; th <= 2; th++) {
            double pps = res[c].rows_per_s[th] * pairs / th;
            double cps = res[c].rows_per_cpu_s[th] * pairs;
            printf("| %s, %.0f MB | %d | %.0f | %.1fM | %.2fx | %.1fM | %.2f |\n", labels[c], res[c].model_mb,
                   th, res[c].rows_per_s[th], pps / 1e6, res[c].rows_per_s[th] / floor_rows, cps / 1e6,
                   res[c].seconds[th]);
        }
    printf("\nText parse: %.0f / %.0f MB/s; predict (1 thread): %.0f / %.0f rows/s (cached / large).\n",
           parse_mbps[0], parse_mbps[1], predict_rps[0], predict_rps[1]);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f)
            return 1;
        fprintf(f, "{\"bench\": \"ffm\", \"rows\": %lld, \"fields\": %d, \"k\": %d, \"bandwidth_gbps\": %.3f, "
                   "\"floor_rows_per_s\": %.0f, \"cases\": [",
                (long long)rows, FIELDS, K, bw / 1e9, floor_rows);
        for (int c = 0; c < 2; c++)
            for (int th = 1; th <= 2; th++) {
                double pps = res[c].rows_per_s[th] * pairs / th;
                fprintf(f, "%s{\"model\": \"%s\", \"features\": %lld, \"model_mb\": %.1f, \"threads\": %d, "
                           "\"rows_per_s\": %.0f, \"pair_updates_per_s_per_thread\": %.0f, "
                           "\"vs_floor\": %.3f, \"pair_updates_per_cpu_s\": %.0f}",
                        c + th > 1 ? ", " : "", c ? "large" : "cached", (long long)nfeat[c], res[c].model_mb, th,
                        res[c].rows_per_s[th], pps,
                        res[c].rows_per_s[th] / floor_rows, res[c].rows_per_cpu_s[th] * pairs);
            }
        fprintf(f, "], \"parse_mb_per_s\": [%.1f, %.1f], \"predict_rows_per_s\": [%.0f, %.0f]}\n", parse_mbps[0],
                parse_mbps[1], predict_rps[0], predict_rps[1]);
        fclose(f);
    }
    return 0;
}
