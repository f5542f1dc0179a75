/* Optimizers with Keras (tf.keras 2.x) semantics: SGD (+momentum), Adagrad, Adam, RMSprop, FTRL.
 *
 * The optimizer does not own parameters or state: a model keeps, next to each parameter tensor,
 * `dctr_optim_slots(kind)` state tensors of the same shape (the "slots") and calls
 *   - dctr_optim_update() for a whole tensor or any contiguous piece of one (DNN kernels,
 *     biases, dense kernel, ...: element-wise, so a tensor may be updated in pieces), or
 *   - dctr_optim_update_rows() / dctr_optim_update_row() for the touched rows of an embedding
 *     table (lazy / sparse update: rows the batch did not touch keep their value AND their slot
 *     state, as TF's LazyAdam and the sparse Adagrad/FTRL kernels do).
 * Fresh slot tensors are filled by dctr_optim_init_slots().
 * `scale` multiplies the gradient before use (global-norm clipping factor, 1 otherwise).
 * The step counter (Adam's bias correction) is the model's global step, 1-based, incremented
 * once per batch by the caller before the updates of that batch.
 *
 * Exact formulas (g = scale * grad, t = step):
 *   SGD       momentum 0: w -= lr g;  else v = mu v - lr g; w += v            (slot: v)
 *   Adagrad   a += g^2; w -= lr g / (sqrt(a) + eps), a starts at initial_accumulator (slot: a)
 *   Adam      m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *             lr_t = lr sqrt(1-b2^t) / (1-b1^t); w -= lr_t m / (sqrt(v) + eps)  (slots: m, v)
 *             (TF's ApplyAdam: eps is added to sqrt(v) *without* bias correction)
 *   RMSprop   ms = rho ms + (1-rho) g^2; w -= lr g / (sqrt(ms) + eps), ms starts at 0 (slot: ms)
 *   FTRL      (TF ApplyFtrl, lr_power -0.5 general) n' = n + g^2;
 *             sigma = (n'^-p - n^-p) / lr;  z += g - sigma w;
 *             w = |z| > l1 ? (sign(z) l1 - z) / (n'^-p / lr + 2 l2) : 0
 *             n starts at initial_accumulator, z at 0 (slots: n, z) */
#ifndef DCTR_OPTIM_OPTIM_H
#define DCTR_OPTIM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "deepctr/model.h"

#define DCTR_OPTIM_MAX_SLOTS 2

typedef struct dctr_optim {
    dctr_optimizer_kind kind;
    double lr, beta1, beta2, eps, momentum, rho, init_acc, l1, l2, lr_power, clipnorm;
} dctr_optim;

/* Resolves a public config and validates it (DCTR_ERR_INVALID_ARG naming the bad field).
 * learning_rate <= 0 and a 0 in beta1, beta2, rho, epsilon, initial_accumulator or lr_power
 * take the kind's Keras default (so a zeroed struct works); momentum, l1, l2, clipnorm keep 0. */
dctr_status dctr_optim_init(dctr_optim *opt, const dctr_optimizer_config *cfg);
/* Number of state tensors per parameter tensor (0..DCTR_OPTIM_MAX_SLOTS). */
int dctr_optim_slots(const dctr_optim *opt);
/* Initial value of slot s (Adagrad/FTRL accumulators start at initial_accumulator). */
float dctr_optim_slot_init(const dctr_optim *opt, int s);
/* Fills freshly allocated slot tensors of n floats with their initial values. */
void dctr_optim_init_slots(const dctr_optim *opt, float *const *slots, size_t n);

/* Per-step constants shared by every tensor of one step (Adam's bias-corrected lr). */
typedef struct dctr_optim_step {
    int64_t t;
    float scale;
    double lr_t;
} dctr_optim_step;
void dctr_optim_begin_step(const dctr_optim *opt, int64_t t, double scale, dctr_optim_step *st);

/* Updates n weights w with gradient g and slots (slot[s] points at n floats). */
void dctr_optim_update(const dctr_optim *opt, const dctr_optim_step *st, float *w, const float *g,
                       float *const *slot, size_t n);

/* Lazy sparse update of row `row` (k floats) of a table w[V x k] with slots of the same shape. */
void dctr_optim_update_row(const dctr_optim *opt, const dctr_optim_step *st, float *table,
                           float *const *slots, int64_t row, int32_t k, const float *g);
/* The same for `count` rows (rows[i] with its gradient at g + i * k), in order: the next rows'
 * weights and slots are prefetched, since a cold row is a cache miss in each of them. */
void dctr_optim_update_rows(const dctr_optim *opt, const dctr_optim_step *st, float *table,
                            float *const *slots, const int64_t *rows, int64_t count, int32_t k,
                            const float *g);

/* Global-norm clipping factor: min(1, clipnorm / sqrt(sumsq)); 1 when clipnorm <= 0. */
double dctr_optim_clip_scale(const dctr_optim *opt, double sumsq);

/* Sum of squares of n floats, accumulated in double (for the global gradient norm). */
double dctr_sumsq(const float *g, size_t n);

#endif
