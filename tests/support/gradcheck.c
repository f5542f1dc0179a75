/* Central-difference gradient checks (see gradcheck.h for the tolerance rationale). */
#include "gradcheck.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static double central(gc_loss_fn fn, void *ctx, float *xi, double h) {
    float saved = *xi;
    *xi = (float)(saved + h);
    double hp = (double)*xi - saved; /* the step actually taken in float32 */
    double lp = fn(ctx);
    *xi = (float)(saved - h);
    double hm = saved - (double)*xi;
    double lm = fn(ctx);
    *xi = saved;
    return (lp - lm) / (hp + hm);
}

int gc_check(const char *what, gc_loss_fn fn, void *ctx, float *x, const float *analytic,
             int64_t n, double h, double rtol, double atol) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double ana = analytic[i], num = 0.0;
        int ok = 0;
        /* h, h/4, h/16: a kink (relu, max) within h of x spoils only the larger steps, while a
         * wrong analytic gradient disagrees at every step. */
        for (int s = 0; s < 3 && !ok; s++) {
            num = central(fn, ctx, &x[i], h / (double)(1 << (2 * s)));
            ok = fabs(num - ana) <= atol + rtol * fmax(fabs(num), fabs(ana));
        }
        if (!ok) {
            if (bad < 5)
                print_message("gradcheck %s[%lld]: numeric %.6g analytic %.6g\n", what,
                              (long long)i, num, ana);
            bad++;
        }
    }
    return bad;
}

int gc_check_default(const char *what, gc_loss_fn fn, void *ctx, float *x, const float *analytic,
                     int64_t n) {
    return gc_check(what, fn, ctx, x, analytic, n, GC_H, GC_RTOL, GC_ATOL);
}

void gc_fill(dctr_rng *rng, float *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * dctr_rng_uniform(rng));
}

double gc_dot(const float *a, const float *c, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * c[i];
    return s;
}

double gc_dot_strided(const float *a, int64_t lda, const float *c, int64_t rows, int64_t cols) {
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            s += (double)a[r * lda + j] * c[r * cols + j];
    return s;
}

double gc_max_rel(const float *a, const float *b, int64_t n, double rtol, double atol) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst))
            worst = isnan(r) ? INFINITY : r;
    }
    return worst;
}
