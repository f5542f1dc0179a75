/* Keras-compatible optimizer updates (formulas in optim.h). Arithmetic on the weights is in
 * float as TF does; per-step constants (bias-corrected lr) are computed in double. */
#include "optim/optim.h"

#include <math.h>

#include "core/error.h"
#include "core/simd.h"

void dctr_optimizer_config_default(dctr_optimizer_config *cfg, dctr_optimizer_kind kind) {
    if (!cfg)
        return;
    *cfg = (dctr_optimizer_config){0};
    cfg->struct_size = (uint32_t)sizeof(*cfg);
    cfg->kind = kind;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->epsilon = 1e-7;
    cfg->rho = 0.9;
    cfg->initial_accumulator = 0.1;
    cfg->lr_power = -0.5;
    cfg->momentum = 0.0;
    cfg->learning_rate = kind == DCTR_OPT_SGD ? 0.01 : 1e-3;
}

static double pick(double v, double dflt) { return v != 0.0 ? v : dflt; }

dctr_status dctr_optim_init(dctr_optim *opt, const dctr_optimizer_config *cfg) {
    if (!opt || !cfg)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: NULL config");
    if ((int)cfg->kind < DCTR_OPT_ADAM || (int)cfg->kind > DCTR_OPT_FTRL)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: unknown kind %d", (int)cfg->kind);
    if (isnan(cfg->learning_rate)) /* NaN is no "<= 0: default" */
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: learning_rate is NaN");
    opt->kind = cfg->kind;
    opt->lr = cfg->learning_rate > 0 ? cfg->learning_rate : (cfg->kind == DCTR_OPT_SGD ? 0.01 : 1e-3);
    opt->beta1 = pick(cfg->beta1, 0.9);
    opt->beta2 = pick(cfg->beta2, 0.999);
    opt->eps = pick(cfg->epsilon, 1e-7);
    opt->rho = pick(cfg->rho, 0.9);
    opt->init_acc = pick(cfg->initial_accumulator, 0.1);
    opt->lr_power = pick(cfg->lr_power, -0.5);
    opt->momentum = cfg->momentum;
    opt->l1 = cfg->l1;
    opt->l2 = cfg->l2;
    opt->clipnorm = cfg->clipnorm;
    /* positive forms, so NaN fails every check */
    if (!isfinite(opt->lr))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: learning_rate must be finite");
    if (!(opt->beta1 >= 0 && opt->beta1 < 1 && opt->beta2 >= 0 && opt->beta2 < 1))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: beta1 %g / beta2 %g must be in [0, 1)",
                              opt->beta1, opt->beta2);
    if (!(opt->rho >= 0 && opt->rho < 1))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: rho %g must be in [0, 1)", opt->rho);
    if (!(opt->momentum >= 0 && opt->momentum < 1))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: momentum %g must be in [0, 1)",
                              opt->momentum);
    if (!(opt->eps >= 0 && opt->init_acc >= 0 && opt->l1 >= 0 && opt->l2 >= 0 && opt->clipnorm >= 0) ||
        !isfinite(opt->eps + opt->init_acc + opt->l1 + opt->l2 + opt->clipnorm))
        return dctr_set_error(DCTR_ERR_INVALID_ARG,
                              "optimizer: epsilon, initial_accumulator, l1, l2, clipnorm must be finite and >= 0");
    if (!(opt->lr_power <= 0))
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: lr_power %g must be <= 0", opt->lr_power);
    if (opt->kind == DCTR_OPT_FTRL && opt->init_acc <= 0)
        return dctr_set_error(DCTR_ERR_INVALID_ARG, "optimizer: FTRL needs initial_accumulator > 0");
    return DCTR_OK;
}

int dctr_optim_slots(const dctr_optim *opt) {
    switch (opt->kind) {
    case DCTR_OPT_ADAM: return 2;
    case DCTR_OPT_FTRL: return 2;
    case DCTR_OPT_ADAGRAD: return 1;
    case DCTR_OPT_RMSPROP: return 1;
    case DCTR_OPT_SGD: return opt->momentum > 0 ? 1 : 0;
    }
    return 0;
}

float dctr_optim_slot_init(const dctr_optim *opt, int s) {
    if ((opt->kind == DCTR_OPT_ADAGRAD || opt->kind == DCTR_OPT_FTRL) && s == 0)
        return (float)opt->init_acc;
    return 0.0f;
}

void dctr_optim_init_slots(const dctr_optim *opt, float *const *slots, size_t n) {
    int ns = dctr_optim_slots(opt);
    for (int s = 0; s < ns; s++) {
        float v = dctr_optim_slot_init(opt, s);
        for (size_t i = 0; i < n; i++)
            slots[s][i] = v;
    }
}

void dctr_optim_begin_step(const dctr_optim *opt, int64_t t, double scale, dctr_optim_step *st) {
    st->t = t < 1 ? 1 : t;
    st->scale = (float)scale;
    st->lr_t = opt->lr;
    if (opt->kind == DCTR_OPT_ADAM) {
        double tt = (double)st->t;
        st->lr_t = opt->lr * sqrt(1.0 - pow(opt->beta2, tt)) / (1.0 - pow(opt->beta1, tt));
    }
}

/* One FTRL coordinate; `root` (a constant after inlining) takes sqrt for lr_power -0.5, which
 * keeps the loop free of calls so it vectorises (pow(x, 0.5) == sqrt(x) for x >= 0). */
DCTR_KERNEL_BODY void ftrl(const dctr_optim *opt, int root, float *w, float g, float *n,
                           float *z) {
    double lr = opt->lr, p = -opt->lr_power;
    double n0 = *n, n1 = n0 + (double)g * g;
    double pn0 = root ? sqrt(n0) : pow(n0, p);
    double pn1 = root ? sqrt(n1) : pow(n1, p);
    double sigma = (pn1 - pn0) / lr;
    double zz = (double)*z + g - sigma * (double)*w;
    double quad = pn1 / lr + 2.0 * opt->l2;
    /* a bit select over both arms: a division on one arm of ?: keeps gcc from vectorising */
    double shrunk = (dctr_select_f64(zz > 0, opt->l1, -opt->l1) - zz) / quad;
    double nw = dctr_select_f64(fabs(zz) > opt->l1, shrunk, 0.0);
    *n = (float)n1;
    *z = (float)zz;
    *w = (float)nw;
}

/* The update of n weights, compiled per SIMD level (core/simd.h): each loop is elementwise, so
 * every level gives the same bits. w, grad and the slots never overlap (restrict lets the
 * compiler skip the run-time alias checks, which cost more than the work on an 8-float row). */
DCTR_KERNEL_BODY void update_body(const dctr_optim *opt, const dctr_optim_step *st,
                                  float *restrict w, const float *restrict grad,
                                  float *restrict s0, float *restrict s1, size_t n) {
    const float sc = st->scale;
    const float lr = (float)opt->lr, eps = (float)opt->eps;
    switch (opt->kind) {
    case DCTR_OPT_SGD:
        if (opt->momentum > 0) {
            const float mu = (float)opt->momentum;
            for (size_t i = 0; i < n; i++) {
                s0[i] = mu * s0[i] - lr * (sc * grad[i]);
                w[i] += s0[i];
            }
        } else {
            for (size_t i = 0; i < n; i++)
                w[i] -= lr * (sc * grad[i]);
        }
        break;
    case DCTR_OPT_ADAGRAD:
        for (size_t i = 0; i < n; i++) {
            float g = sc * grad[i];
            s0[i] += g * g;
            w[i] -= lr * g / (sqrtf(s0[i]) + eps);
        }
        break;
    case DCTR_OPT_ADAM: {
        const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, lrt = (float)st->lr_t;
        for (size_t i = 0; i < n; i++) {
            float g = sc * grad[i];
            s0[i] = b1 * s0[i] + (1.0f - b1) * g;
            s1[i] = b2 * s1[i] + (1.0f - b2) * g * g;
            w[i] -= lrt * s0[i] / (sqrtf(s1[i]) + eps);
        }
        break;
    }
    case DCTR_OPT_RMSPROP: {
        const float rho = (float)opt->rho;
        for (size_t i = 0; i < n; i++) {
            float g = sc * grad[i];
            s0[i] = rho * s0[i] + (1.0f - rho) * g * g;
            w[i] -= lr * g / (sqrtf(s0[i]) + eps);
        }
        break;
    }
    case DCTR_OPT_FTRL:
        if (opt->lr_power == -0.5)
            for (size_t i = 0; i < n; i++)
                ftrl(opt, 1, &w[i], sc * grad[i], &s0[i], &s1[i]);
        else
            for (size_t i = 0; i < n; i++)
                ftrl(opt, 0, &w[i], sc * grad[i], &s0[i], &s1[i]);
        break;
    }
}
DCTR_SIMD_CLONES(update, (const dctr_optim *opt, const dctr_optim_step *st, float *w,
                          const float *grad, float *s0, float *s1, size_t n),
                 (opt, st, w, grad, s0, s1, n));

void dctr_optim_update(const dctr_optim *opt, const dctr_optim_step *st, float *w, const float *grad,
                       float *const *slot, size_t n) {
    int ns = dctr_optim_slots(opt);
    DCTR_SIMD_PICK(update)(opt, st, w, grad, ns > 0 ? slot[0] : NULL, ns > 1 ? slot[1] : NULL, n);
}

void dctr_optim_update_row(const dctr_optim *opt, const dctr_optim_step *st, float *table,
                           float *const *slots, int64_t row, int32_t k, const float *g) {
    dctr_optim_update_rows(opt, st, table, slots, &row, 1, k, g);
}

double dctr_optim_clip_scale(const dctr_optim *opt, double sumsq) {
    if (opt->clipnorm <= 0 || !(sumsq > 0))
        return 1.0;
    double norm = sqrt(sumsq);
    return norm > opt->clipnorm ? opt->clipnorm / norm : 1.0;
}

/* Eight independent sums (one serial double chain was 4 % of a DeepFM step at batch 256); lane l
 * takes the elements i = l mod 8 in order, so every SIMD clone returns the same bits. */
DCTR_KERNEL_BODY double sumsq_body(const float *g, size_t n) {
    double s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++)
            s[l] += (double)g[i + l] * (double)g[i + l];
    for (; i < n; i++)
        s[i % 8] += (double)g[i] * (double)g[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}
DCTR_SIMD_CLONES_RET(double, sumsq, (const float *g, size_t n), (g, n));

double dctr_sumsq(const float *g, size_t n) { return DCTR_SIMD_PICK(sumsq)(g, n); }

/* Row-wise lazy update, one clone per SIMD level: the level is picked once per table, and the
 * row loop inlines update_body (its kind switch is the same branch every row). */
DCTR_KERNEL_BODY void update_rows_body(const dctr_optim *opt, const dctr_optim_step *st,
                                       float *table, float *const *slots, const int64_t *rows,
                                       int64_t count, int32_t k, const float *g) {
    enum { AHEAD = 16 }; /* rows ahead: enough work to cover an L3 / DRAM miss */
    const int ns = dctr_optim_slots(opt);
    for (int64_t i = 0; i < count; i++) {
        if (i + AHEAD < count) {
            size_t pf = (size_t)rows[i + AHEAD] * (size_t)k;
            __builtin_prefetch(table + pf, 1);
            for (int s = 0; s < ns; s++)
                __builtin_prefetch(slots[s] + pf, 1);
        }
        size_t off = (size_t)rows[i] * (size_t)k;
        update_body(opt, st, table + off, g + i * k, ns > 0 ? slots[0] + off : NULL,
                    ns > 1 ? slots[1] + off : NULL, (size_t)k);
    }
}
DCTR_SIMD_CLONES(update_rows, (const dctr_optim *opt, const dctr_optim_step *st, float *table,
                               float *const *slots, const int64_t *rows, int64_t count, int32_t k,
                               const float *g),
                 (opt, st, table, slots, rows, count, k, g));

void dctr_optim_update_rows(const dctr_optim *opt, const dctr_optim_step *st, float *table,
                            float *const *slots, const int64_t *rows, int64_t count, int32_t k,
                            const float *g) {
    DCTR_SIMD_PICK(update_rows)(opt, st, table, slots, rows, count, k, g);
}
