/* The FFM weights and the per-sample kernels shared by the libffm-native trainer and the
 * feature-column model.
 *
 * Layout: feature j owns one row of m blocks (one per target field f); a block is kp weights
 * followed by their kp AdaGrad accumulators (kp = k rounded up to 4), so a field pair touches
 * exactly two 2*kp-float blocks (32 bytes each for k = 4: one cache line holds both the weights
 * and their accumulators). Padding lanes hold weight 0 and stay 0.
 *
 * Semantics are libffm's: phi = sum_{a<b} <w[j_a, f_b], w[j_b, f_a]> v_a v_b r, then for every
 * pair in the same order g1 = lambda w1 + kappa v_a v_b r w2, g2 likewise (both from the values
 * before this pair's update), G += g^2, w -= eta g / sqrt(G). */
#ifndef DCTR_MODELS_FFM_KERNEL_H
#define DCTR_MODELS_FFM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"
#include "data/libffm_reader.h"
#include "deepctr/common.h"

typedef struct dctr_ffm_weights {
    int32_t m;          /* fields */
    int64_t n;          /* features */
    int32_t k, kp;      /* latent factors, padded to a multiple of 4 */
    size_t blk;         /* 2 * kp floats */
    size_t row;         /* m * blk floats */
    float *W;           /* [n * row], 64-byte aligned */
    size_t W_mapped;    /* bytes mapped for W when it was mapped directly (huge pages), else 0 */
    int use_linear;
    float *lin;         /* use_linear: [n * 2] = (w_j, G_j) */
    float bias, bias_g; /* use_linear: global bias and its accumulator */
    int lazy;           /* a shard's weights: W and lin from dctr_shard_alloc (only the rows
                         * written take memory) */
} dctr_ffm_weights;

/* Allocates (not initialised). Sizes are checked for overflow. */
dctr_status dctr_ffm_weights_alloc(dctr_ffm_weights *w, int32_t m, int64_t n, int32_t k, int use_linear);
/* The same for a sharded model (docs/distributed.md): address space for every row, committed
 * only where written (dctr_shard_alloc), so a rank that writes its own rows holds only them. */
dctr_status dctr_ffm_weights_alloc_shard(dctr_ffm_weights *w, int32_t m, int64_t n, int32_t k,
                                         int use_linear);
void dctr_ffm_weights_free(dctr_ffm_weights *w);
/* libffm init: w uniform in [0, 1/sqrt(k)), padding 0, accumulators 1; linear part 0, G 1. */
void dctr_ffm_weights_init(dctr_ffm_weights *w, uint64_t seed);
/* The same values for rows [lo, hi) only (the draws of the rows before lo are skipped): a
 * shard's rows equal the whole model's byte for byte. The bias is set too. */
void dctr_ffm_weights_init_rows(dctr_ffm_weights *w, uint64_t seed, int64_t lo, int64_t hi);
/* Deep copy into an allocated twin of the same shape. */
void dctr_ffm_weights_copy(dctr_ffm_weights *dst, const dctr_ffm_weights *src);
size_t dctr_ffm_weights_floats(const dctr_ffm_weights *w);

/* Per-sample hyper-parameters: learning rate and L2. */

typedef struct dctr_ffm_step {
    float eta, lambda;
} dctr_ffm_step;

/* One variant of the pair kernel: the pair sum of a row and the AdaGrad update of its pairs
 * (no linear part; every node must lie inside the model). portable is the reference (exact
 * sqrt and division); the AVX2 / AVX-512 variants (kernel_x86.c) agree with it to the tolerance
 * written there. supports() is false for shapes a variant leaves to the portable kernel. */
typedef struct dctr_ffm_pair_kernel {
    dctr_simd_level level;
    int (*supports)(const dctr_ffm_weights *w);
    float (*score)(const dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r);
    void (*update)(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r, float kappa,
                   const struct dctr_ffm_step *st);
} dctr_ffm_pair_kernel;
/* The variant compiled for `level`, or NULL when this build has none (non-x86). Running it
 * needs dctr_cpu_can_run(level); dctr_ffm_score / dctr_ffm_update pick dctr_cpu_simd_level()'s. */
const dctr_ffm_pair_kernel *dctr_ffm_pair_kernel_at(dctr_simd_level level);

/* The model output t (logit or value) of one row; nodes outside [0,m) x [0,n) are skipped. */
float dctr_ffm_score(const dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r);
/* The AdaGrad update of one row given kappa = dloss/dt. */
void dctr_ffm_update(dctr_ffm_weights *w, const dctr_ffm_node *b, const dctr_ffm_node *e, float r,
                     float kappa, const dctr_ffm_step *st);

/* Index of field pair (f1 < f2) among the m(m-1)/2 pairs, row-major: (0,1), (0,2), ..., (1,2), ...
 * (the order of the DeepFFM DNN input). */
static inline int64_t dctr_ffm_pair_index(int32_t m, int32_t f1, int32_t f2) {
    return (int64_t)f1 * (2 * (int64_t)m - f1 - 1) / 2 + (f2 - f1 - 1);
}

/* Loss of output t against label y and its derivative kappa = dloss/dt.
 * Binary: y > 0 is positive, loss log(1 + exp(-s t)) with s = +-1 (libffm). Regression:
 * loss (t - y)^2 reported, kappa = t - y (the gradient of (t - y)^2 / 2). */
double dctr_ffm_loss(float t, float y, int regression, float *kappa);

#endif
