/* sgemm, bandwidth and random-row probes (see bench_probe.h). */
#include "bench_probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "core/alloc.h"
#include "core/blas.h"
#include "core/gemm_rows.h"
#include "core/gemm_train.h"
#include "core/rng.h"

#define MAX_LAYERS 8

typedef struct dnn_bufs {
    int batch, in, n, units[MAX_LAYERS];
    float *X[MAX_LAYERS + 1]; /* activations: X[0] input, X[l+1] output of layer l */
    float *dZ[MAX_LAYERS + 1];
    float *W[MAX_LAYERS], *dW[MAX_LAYERS];
    float *Wt; /* own kernels: W^T of the layer being back-propagated */
    int own;   /* the library's training kernels (core/gemm_train.h) instead of dctr_sgemm */
} dnn_bufs;

static int width(const dnn_bufs *d, int l) { return l == 0 ? d->in : d->units[l - 1]; }

static void fill(float *p, size_t n, dctr_rng *rng) {
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(dctr_rng_uniform(rng) - 0.5);
}

/* The GEMMs of one training step: forward through every layer, then dW and dX backward (dX of
 * the first layer too: the embeddings below it are trained). Call g of 3n; returns its flops. */
static double dnn_gemm(dnn_bufs *d, int g) {
    int B = d->batch;
    if (g < d->n) {
        int l = g, in = width(d, l), out = width(d, l + 1);
        if (d->own)
            dctr_gemm_rows(d->X[l], in, B, in, out, d->W[l], d->X[l + 1], out);
        else
            dctr_sgemm(false, false, B, out, in, 1.0f, d->X[l], in, d->W[l], out, 0.0f,
                       d->X[l + 1], out);
        return 2.0 * B * in * out;
    }
    int l = d->n - 1 - (g - d->n) / 2, in = width(d, l), out = width(d, l + 1);
    if ((g - d->n) % 2 == 0) {
        if (d->own)
            dctr_gemm_tn(d->X[l], in, in, out, B, d->dZ[l + 1], out, d->dW[l], out, 0);
        else
            dctr_sgemm(true, false, in, out, B, 1.0f, d->X[l], in, d->dZ[l + 1], out, 0.0f,
                       d->dW[l], out);
    } else if (d->own) { /* the transpose is part of the step's dX */
        dctr_transpose(d->W[l], out, in, out, d->Wt, in);
        dctr_gemm_nn(d->dZ[l + 1], out, B, out, in, d->Wt, d->dZ[l], in, 0);
    } else {
        dctr_sgemm(false, true, B, in, out, 1.0f, d->dZ[l + 1], out, d->W[l], out, 0.0f, d->dZ[l],
                   in);
    }
    return 2.0 * B * in * out;
}

static void dnn_free(dnn_bufs *d) {
    for (int l = 0; l <= d->n; l++) {
        dctr_aligned_free(d->X[l]);
        dctr_aligned_free(d->dZ[l]);
        if (l < d->n) {
            dctr_aligned_free(d->W[l]);
            dctr_aligned_free(d->dW[l]);
        }
    }
    dctr_aligned_free(d->Wt);
}

static int gemm_probe(int own, int batch, int in, const int *units, int n, int threads,
                      double seconds, bench_sgemm_bound *out) {
    if (n < 1 || n > MAX_LAYERS || batch < 1)
        return -1;
    dnn_bufs d;
    memset(&d, 0, sizeof d);
    d.own = own;
    d.batch = batch;
    d.in = in;
    d.n = n;
    memcpy(d.units, units, sizeof(int) * (size_t)n);
    dctr_rng rng;
    dctr_rng_init(&rng, 7, 0);
    int ok = 1;
    double flops = 0;
    for (int l = 0; l <= n && ok; l++) {
        size_t w = (size_t)width(&d, l);
        d.X[l] = dctr_alloc_floats((size_t)batch * w);
        d.dZ[l] = dctr_alloc_floats((size_t)batch * w);
        ok = d.X[l] && d.dZ[l];
        if (ok) {
            fill(d.X[l], (size_t)batch * w, &rng);
            fill(d.dZ[l], (size_t)batch * w, &rng);
        }
        if (ok && l < n) {
            size_t wo = (size_t)width(&d, l + 1);
            d.W[l] = dctr_alloc_floats(w * wo);
            d.dW[l] = dctr_alloc_floats(w * wo);
            ok = d.W[l] && d.dW[l];
            if (ok)
                fill(d.W[l], w * wo, &rng);
            flops += 3.0 * 2.0 * batch * (double)w * (double)wo;
        }
    }
    size_t maxw = 0;
    for (int l = 0; l < n; l++)
        if ((size_t)width(&d, l) * (size_t)width(&d, l + 1) > maxw)
            maxw = (size_t)width(&d, l) * (size_t)width(&d, l + 1);
    d.Wt = ok ? dctr_alloc_floats(maxw) : NULL;
    ok = ok && d.Wt;
    if (!ok) {
        dnn_free(&d);
        return -1;
    }
    int saved = dctr_blas_get_threads();
    dctr_blas_set_threads(threads);
    /* Best time of each GEMM on its own, summed: on a shared machine a single call (a few ms)
     * finds an undisturbed window far more often than a whole step does. */
    int ng = 3 * n;
    double best[3 * MAX_LAYERS];
    for (int g = 0; g < ng; g++) {
        dnn_gemm(&d, g); /* warm-up: OpenBLAS buffers, page faults */
        best[g] = 1e30;
    }
    double t_end = bench_now() + seconds;
    int rounds = 0;
    while (rounds < 5 || bench_now() < t_end) {
        for (int g = 0; g < ng; g++) {
            double t0 = bench_now();
            dnn_gemm(&d, g);
            double dt = bench_now() - t0;
            if (dt < best[g])
                best[g] = dt;
        }
        if (++rounds > 100000)
            break;
    }
    double total = 0;
    for (int g = 0; g < ng; g++)
        total += best[g];
    dctr_blas_set_threads(saved);
    dnn_free(&d);
    out->batch = batch;
    out->threads = threads;
    out->seconds_per_batch = total;
    out->samples_per_s = batch / total;
    out->gflops = flops / total / 1e9;
    return 0;
}

int bench_sgemm_probe(int batch, int in, const int *units, int n, int threads, double seconds,
                      bench_sgemm_bound *out) {
    return gemm_probe(0, batch, in, units, n, threads, seconds, out);
}

int bench_own_gemm_probe(int batch, int in, const int *units, int n, double seconds,
                         bench_sgemm_bound *out) {
    return gemm_probe(1, batch, in, units, n, 1, seconds, out);
}

double bench_stream_read_probe(size_t bytes, int rounds) {
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *a = dctr_aligned_alloc(n * sizeof(uint64_t));
    if (!a)
        return NAN;
    for (size_t i = 0; i < n; i++)
        a[i] = i;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now();
        /* integer sums are associative: the compiler vectorizes this loop */
        uint64_t s = 0;
        for (size_t i = 0; i < n; i++)
            s += a[i];
        double dt = bench_now() - t0;
        sink += s;
        double bw = (double)(n * sizeof(uint64_t)) / dt;
        if (bw > best)
            best = bw;
    }
    (void)sink;
    dctr_aligned_free(a);
    return best;
}

typedef struct row64 {
    uint64_t next; /* index of the next row in the chase */
    uint64_t pad[7];
} row64;

int bench_random_row_probe(size_t bytes, double *latency_ns, double *independent_ns) {
    size_t n = bytes / sizeof(row64);
    if (n < 16)
        return -1;
    row64 *rows = dctr_aligned_alloc(n * sizeof(row64));
    uint64_t *perm = dctr_malloc(n * sizeof(uint64_t));
    if (!rows || !perm) {
        dctr_aligned_free(rows);
        dctr_free(perm);
        return -1;
    }
    dctr_rng rng;
    dctr_rng_init(&rng, 11, 0);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)(dctr_rng_uniform(&rng) * (double)(i + 1));
        if (j > i)
            j = i;
        uint64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* one random cycle through every row */
    for (size_t i = 0; i < n; i++) {
        rows[perm[i]].next = perm[(i + 1) % n];
        for (int k = 0; k < 7; k++)
            rows[perm[i]].pad[k] = i + (uint64_t)k;
    }
    size_t steps = n < 4000000 ? n : 4000000;
    volatile uint64_t sink = 0;
    if (latency_ns) {
        uint64_t p = perm[0];
        double t0 = bench_now();
        for (size_t i = 0; i < steps; i++)
            p = rows[p].next;
        *latency_ns = (bench_now() - t0) / (double)steps * 1e9;
        sink += p;
    }
    if (independent_ns) {
        /* rows in random order, addresses known in advance: the misses overlap */
        uint64_t s = 0;
        double t0 = bench_now();
        for (size_t i = 0; i < steps; i++) {
            const row64 *r = &rows[perm[i]];
            s += r->next + r->pad[0] + r->pad[3] + r->pad[6];
        }
        *independent_ns = (bench_now() - t0) / (double)steps * 1e9;
        sink += s;
    }
    (void)sink;
    dctr_aligned_free(rows);
    dctr_free(perm);
    return 0;
}
