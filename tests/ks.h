/* tests/ks.h - the one-sample Kolmogorov-Smirnov test shared by test_rng.c
 * (the generator's uniforms) and test_dist.c (every distribution).  GSL has
 * no KS test.  Include once, after <math.h>, <stdlib.h> and check.h. */
#ifndef CMSIM_TEST_KS_H
#define CMSIM_TEST_KS_H

#include <math.h>
#include <stdlib.h>

/* P(K > lambda) for Kolmogorov's limiting distribution K: the alternating
 * series for large lambda, the Jacobi theta form (which converges fast
 * there) for small lambda (test_rng.c checks it against tabulated values). */
static double kolmogorov_q(double lambda)
{
    if (lambda <= 0)
        return 1.0;
    if (lambda < 1.18) {
        double y = exp(-M_PI * M_PI / (8.0 * lambda * lambda));
        double s = y + pow(y, 9) + pow(y, 25) + pow(y, 49) + pow(y, 81);
        return 1.0 - sqrt(2.0 * M_PI) / lambda * s;
    }
    double x = exp(-2.0 * lambda * lambda);
    return 2.0 * (x - pow(x, 4) + pow(x, 9) - pow(x, 16) + pow(x, 25));
}

static int ks_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* KS p-value of the sample x[0..n) (sorted in place) against the continuous
 * CDF F(x, arg), with Stephens' small-sample correction of the statistic. */
static double ks_pvalue(double *x, size_t n, double (*F)(double x, const void *arg),
                        const void *arg)
{
    qsort(x, n, sizeof *x, ks_cmp_double);
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        double f = F(x[i], arg);
        d = fmax(d, fmax(f - (double)i / (double)n, (double)(i + 1) / (double)n - f));
    }
    double sn = sqrt((double)n);
    return kolmogorov_q((sn + 0.12 + 0.11 / sn) * d);
}

#endif
