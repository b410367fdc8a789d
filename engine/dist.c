/* dist.c - the uncertain-parameter distributions (MODEL.md section 1,
 * include/cmsim/dist.h).
 *
 * Invariants the rest of the engine relies on:
 *  - cm_dist_check is the only place that judges parameters; every other
 *    function assumes a checked cm_dist_t and does no validation.
 *  - Samplers are monotone maps of one uniform wherever the inverse CDF is
 *    cheap (uniform, truncated normal, triangular, discrete, bernoulli), so
 *    two scenarios that differ only in parameters draw coupled values at the
 *    same address (common random numbers).  Normal and lognormal scale one
 *    standard ziggurat normal; beta and PERT use GSL's beta sampler, whose
 *    consumption varies (rejection), which the addressed streams absorb.
 *  - A distribution that cannot vary (FIXED, or degenerate parameters such
 *    as min == max or sd == 0) returns its value and draws nothing.
 *
 * Truncated normal in the far tails: the interval [min, max] is mapped to
 * standard bounds a < b.  When a > 0 (the interval lies in the upper tail)
 * Phi(a) rounds towards 1 and loses the digits that matter, so both the
 * interval's probability and the sampler use the upper-tail form Q = 1 - Phi
 * (gsl_cdf_ugaussian_Q / _Qinv), computed from the bounds; otherwise the
 * lower-tail form, where Phi is accurate down to ~1e-308.  An interval whose
 * probability is below DBL_EPSILON is rejected as probability 0: at double
 * precision it is a configuration mistake (a mean or sd off by a unit), not
 * a distribution, e.g. [10, 11] under N(0, 1) (probability 7.6e-24).
 */
#include "cmsim/dist.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>

#include "cmsim/error.h"

static const char *const dist_names[CM_DIST_KINDS] = {
    [CM_DIST_FIXED] = "fixed",
    [CM_DIST_UNIFORM] = "uniform",
    [CM_DIST_NORMAL] = "normal",
    [CM_DIST_LOGNORMAL] = "lognormal",
    [CM_DIST_TRIANGULAR] = "triangular",
    [CM_DIST_PERT] = "pert",
    [CM_DIST_BETA] = "beta",
    [CM_DIST_DISCRETE] = "discrete",
    [CM_DIST_BERNOULLI] = "bernoulli",
};

const char *cm_dist_name(cm_dist_kind_t kind)
{
    if ((int)kind < 0 || (int)kind >= CM_DIST_KINDS)
        return NULL;
    return dist_names[kind];
}

int cm_dist_kind_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < CM_DIST_KINDS; i++)
        if (strcmp(name, dist_names[i]) == 0)
            return i;
    return -1;
}

cm_dist_t cm_dist_fixed(double value)
{
    cm_dist_t d;
    memset(&d, 0, sizeof d);
    d.kind = CM_DIST_FIXED;
    d.p[0] = value;
    d.cdf_lo = 0.0;
    d.cdf_hi = 1.0;
    return d;
}

/* ------------------------------------------------------------------------ */
/* Helpers shared by the check, the sampler and the analytic functions.     */

/* Standard normal CDF and upper tail, exact at the infinities. */
static double phi_cdf(double z)
{
    if (isinf(z))
        return z < 0 ? 0.0 : 1.0;
    return gsl_cdf_ugaussian_P(z);
}

static double phi_upper(double z)
{
    if (isinf(z))
        return z < 0 ? 1.0 : 0.0;
    return gsl_cdf_ugaussian_Q(z);
}

/* z phi(z), taken as 0 at the infinities (its limit). */
static double z_pdf(double z)
{
    return isinf(z) ? 0.0 : z * gsl_ran_ugaussian_pdf(z);
}

static int normal_truncated(const cm_dist_t *d)
{
    return isfinite(d->p[2]) || isfinite(d->p[3]);
}

/* Standard bounds a = (min - mean) / sd, b = (max - mean) / sd; sd > 0. */
static void normal_bounds(const cm_dist_t *d, double *a, double *b)
{
    *a = (d->p[2] - d->p[0]) / d->p[1];
    *b = (d->p[3] - d->p[0]) / d->p[1];
}

/* Probability of [a, b] under N(0, 1), in the tail form that keeps its
 * relative precision (see the file comment). */
static double normal_mass(double a, double b)
{
    if (a > 0)
        return phi_upper(a) - phi_upper(b);
    return phi_cdf(b) - phi_cdf(a);
}

static void pert_shape(const cm_dist_t *d, double *alpha, double *beta)
{
    double range = d->p[2] - d->p[0];
    *alpha = 1.0 + d->p[3] * (d->p[1] - d->p[0]) / range;
    *beta = 1.0 + d->p[3] * (d->p[2] - d->p[1]) / range;
}

/* Probability of value i of a checked DISCRETE (cum[] cumulative). */
static double discrete_prob(const cm_dist_t *d, int i)
{
    return i == 0 ? d->cum[0] : d->cum[i] - d->cum[i - 1];
}

/* The value of a distribution for which cm_dist_is_fixed() holds. */
static double fixed_value(const cm_dist_t *d)
{
    switch (d->kind) {
    case CM_DIST_FIXED:
        return d->p[0];
    case CM_DIST_UNIFORM:
    case CM_DIST_TRIANGULAR:
    case CM_DIST_PERT:
        return d->p[0];
    case CM_DIST_BETA:
        return d->p[2];
    case CM_DIST_NORMAL:
        return d->p[0];
    case CM_DIST_LOGNORMAL:
        return exp(d->p[0]);
    case CM_DIST_DISCRETE:
        for (int i = 0; i < d->n; i++)
            if (discrete_prob(d, i) > 0)
                return d->values[i];
        return NAN;
    case CM_DIST_BERNOULLI:
        return d->p[0];
    default:
        return NAN;
    }
}

/* ------------------------------------------------------------------------ */
/* Checking                                                                 */

static int fail(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t size, const char *fmt, ...)
{
    if (msg != NULL && size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return CM_ECONFIG;
}

/* Each of the n parameters named in names[] must be a finite number. */
static int check_finite(const double *p, const char *const *names, int n,
                        char *msg, size_t size)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return fail(msg, size, "%s %g is not a finite number", names[i], p[i]);
    return CM_EOK;
}

/* min <= mode <= max, all finite (checked before). */
static int check_order(double min, double mode, double max, char *msg,
                       size_t size)
{
    if (min > mode)
        return fail(msg, size, "min %g is above mode %g", min, mode);
    if (mode > max)
        return fail(msg, size, "mode %g is above max %g", mode, max);
    return CM_EOK;
}

static int check_normal(cm_dist_t *d, char *msg, size_t size)
{
    static const char *const names[] = {"mean", "sd"};
    int rc = check_finite(d->p, names, 2, msg, size);
    if (rc != CM_EOK)
        return rc;
    double mean = d->p[0], sd = d->p[1], min = d->p[2], max = d->p[3];
    if (sd < 0)
        return fail(msg, size, "sd %g is negative", sd);
    if (isnan(min))
        return fail(msg, size, "min is not a number (leave it out for no lower bound)");
    if (isnan(max))
        return fail(msg, size, "max is not a number (leave it out for no upper bound)");
    if (!(min < max))
        return fail(msg, size, "truncation min %g is not below max %g", min, max);
    if (sd == 0) {
        if (mean < min || mean > max)
            return fail(msg, size,
                        "sd is 0 and mean %g lies outside the truncation [%g, %g]",
                        mean, min, max);
        d->cdf_lo = 0.0;
        d->cdf_hi = 1.0;
        return CM_EOK;
    }
    double a, b;
    normal_bounds(d, &a, &b);
    double mass = normal_mass(a, b);
    if (!(mass >= DBL_EPSILON))
        return fail(msg, size,
                    "truncation interval [%g, %g] has probability %.3g under "
                    "mean %g, sd %g: effectively 0 (below %.3g)",
                    min, max, mass, mean, sd, DBL_EPSILON);
    d->cdf_lo = phi_cdf(a);
    d->cdf_hi = phi_cdf(b);
    return CM_EOK;
}

static int check_discrete(cm_dist_t *d, char *msg, size_t size)
{
    if (d->n < 1 || d->n > CM_DISCRETE_MAX)
        return fail(msg, size, "n %d is outside 1..%d (number of values)", d->n,
                    CM_DISCRETE_MAX);
    double total = 0.0;
    for (int i = 0; i < d->n; i++) {
        if (!isfinite(d->values[i]))
            return fail(msg, size, "value %d (%g) is not a finite number", i + 1,
                        d->values[i]);
        if (!isfinite(d->cum[i]))
            return fail(msg, size, "weight %d (%g) is not a finite number", i + 1,
                        d->cum[i]);
        if (d->cum[i] < 0)
            return fail(msg, size, "weight %d (%g) is negative", i + 1, d->cum[i]);
        total += d->cum[i];
    }
    if (total == 0)
        return fail(msg, size, "weights sum to 0");
    if (!isfinite(total))
        return fail(msg, size, "weights sum to %g (too large)", total);
    /* Raw weights -> cumulative normalised weights, in place; the partial
     * sums are nondecreasing, and the last is exactly 1 so that the
     * sampler's u < cum[n-1] holds for every u in [0, 1). */
    double partial = 0.0;
    for (int i = 0; i < d->n; i++) {
        partial += d->cum[i];
        d->cum[i] = partial / total;
    }
    d->cum[d->n - 1] = 1.0;
    return CM_EOK;
}

int cm_dist_check(cm_dist_t *d, char *msg, size_t msg_size)
{
    static const char *const n_fixed[] = {"value"};
    static const char *const n_uniform[] = {"min", "max"};
    static const char *const n_lognormal[] = {"mu", "sigma"};
    static const char *const n_tri[] = {"min", "mode", "max", "lambda"};
    static const char *const n_beta[] = {"a", "b", "min", "max"};
    static const char *const n_bernoulli[] = {"p"};
    int rc = CM_EOK;

    if (msg != NULL && msg_size > 0)
        msg[0] = '\0';
    if (d->kind != CM_DIST_NORMAL) {
        d->cdf_lo = 0.0;
        d->cdf_hi = 1.0;
    }
    switch (d->kind) {
    case CM_DIST_FIXED:
        return check_finite(d->p, n_fixed, 1, msg, msg_size);
    case CM_DIST_UNIFORM:
        rc = check_finite(d->p, n_uniform, 2, msg, msg_size);
        if (rc == CM_EOK && d->p[0] > d->p[1])
            rc = fail(msg, msg_size, "min %g is above max %g", d->p[0], d->p[1]);
        return rc;
    case CM_DIST_NORMAL:
        return check_normal(d, msg, msg_size);
    case CM_DIST_LOGNORMAL:
        rc = check_finite(d->p, n_lognormal, 2, msg, msg_size);
        if (rc == CM_EOK && d->p[1] < 0)
            rc = fail(msg, msg_size, "sigma %g is negative", d->p[1]);
        return rc;
    case CM_DIST_TRIANGULAR:
        rc = check_finite(d->p, n_tri, 3, msg, msg_size);
        if (rc == CM_EOK)
            rc = check_order(d->p[0], d->p[1], d->p[2], msg, msg_size);
        return rc;
    case CM_DIST_PERT:
        rc = check_finite(d->p, n_tri, 4, msg, msg_size);
        if (rc == CM_EOK && !(d->p[3] > 0))
            rc = fail(msg, msg_size, "lambda must be positive, got %g", d->p[3]);
        if (rc == CM_EOK)
            rc = check_order(d->p[0], d->p[1], d->p[2], msg, msg_size);
        return rc;
    case CM_DIST_BETA:
        rc = check_finite(d->p, n_beta, 4, msg, msg_size);
        if (rc == CM_EOK && !(d->p[0] > 0))
            rc = fail(msg, msg_size, "a must be positive, got %g", d->p[0]);
        if (rc == CM_EOK && !(d->p[1] > 0))
            rc = fail(msg, msg_size, "b must be positive, got %g", d->p[1]);
        if (rc == CM_EOK && d->p[2] > d->p[3])
            rc = fail(msg, msg_size, "min %g is above max %g", d->p[2], d->p[3]);
        return rc;
    case CM_DIST_DISCRETE:
        return check_discrete(d, msg, msg_size);
    case CM_DIST_BERNOULLI:
        rc = check_finite(d->p, n_bernoulli, 1, msg, msg_size);
        if (rc == CM_EOK && (d->p[0] < 0 || d->p[0] > 1))
            rc = fail(msg, msg_size, "p %g is outside [0, 1]", d->p[0]);
        return rc;
    default:
        return fail(msg, msg_size, "unknown distribution kind %d", (int)d->kind);
    }
}

/* ------------------------------------------------------------------------ */
/* Sampling                                                                 */

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Truncated normal by inversion of one uniform in (0, 1); sd > 0. */
static double draw_truncated_normal(const cm_dist_t *d, gsl_rng *r)
{
    double u = gsl_rng_uniform_pos(r);
    double a, b, z;
    normal_bounds(d, &a, &b);
    if (a > 0) {
        /* Upper tail: the quantile solves Q(z) = Q(a) - u (Q(a) - Q(b)). */
        double qa = phi_upper(a), qb = phi_upper(b);
        z = gsl_cdf_ugaussian_Qinv(qa - u * (qa - qb));
    } else {
        z = gsl_cdf_ugaussian_Pinv(d->cdf_lo + u * (d->cdf_hi - d->cdf_lo));
    }
    /* The clamp only undoes rounding at the bounds: z is in [a, b] exactly
     * in real arithmetic. */
    return clamp(d->p[0] + d->p[1] * z, d->p[2], d->p[3]);
}

static double draw_triangular(const cm_dist_t *d, gsl_rng *r)
{
    double min = d->p[0], mode = d->p[1], max = d->p[2];
    double u = gsl_rng_uniform(r);
    double range = max - min;
    double x;
    if (u < (mode - min) / range)
        x = min + sqrt(u * range * (mode - min));
    else
        x = max - sqrt((1.0 - u) * range * (max - mode));
    return clamp(x, min, max);
}

double cm_dist_draw(const cm_dist_t *d, gsl_rng *r)
{
    if (cm_dist_is_fixed(d))
        return fixed_value(d);
    switch (d->kind) {
    case CM_DIST_UNIFORM:
        return d->p[0] + (d->p[1] - d->p[0]) * gsl_rng_uniform(r);
    case CM_DIST_NORMAL:
        if (!normal_truncated(d))
            return d->p[0] + d->p[1] * gsl_ran_gaussian_ziggurat(r, 1.0);
        return draw_truncated_normal(d, r);
    case CM_DIST_LOGNORMAL:
        return exp(d->p[0] + d->p[1] * gsl_ran_gaussian_ziggurat(r, 1.0));
    case CM_DIST_TRIANGULAR:
        return draw_triangular(d, r);
    case CM_DIST_PERT: {
        double alpha, beta;
        pert_shape(d, &alpha, &beta);
        return d->p[0] + (d->p[2] - d->p[0]) * gsl_ran_beta(r, alpha, beta);
    }
    case CM_DIST_BETA:
        return d->p[2] + (d->p[3] - d->p[2]) * gsl_ran_beta(r, d->p[0], d->p[1]);
    case CM_DIST_DISCRETE: {
        double u = gsl_rng_uniform(r);
        /* First i with u < cum[i]: value i has probability cum[i] - cum[i-1],
         * and a zero weight is never chosen.  cum[n-1] == 1 > u ends it. */
        int i = 0;
        while (i < d->n - 1 && !(u < d->cum[i]))
            i++;
        return d->values[i];
    }
    case CM_DIST_BERNOULLI:
        return gsl_rng_uniform(r) < d->p[0] ? 1.0 : 0.0;
    default:
        return NAN;
    }
}

/* ------------------------------------------------------------------------ */
/* Analytic properties                                                      */

int cm_dist_is_fixed(const cm_dist_t *d)
{
    switch (d->kind) {
    case CM_DIST_FIXED:
        return 1;
    case CM_DIST_UNIFORM:
        return d->p[0] == d->p[1];
    case CM_DIST_NORMAL:
    case CM_DIST_LOGNORMAL:
        return d->p[1] == 0;
    case CM_DIST_TRIANGULAR:
    case CM_DIST_PERT:
        return d->p[0] == d->p[2];
    case CM_DIST_BETA:
        return d->p[2] == d->p[3];
    case CM_DIST_DISCRETE: {
        int seen = 0;
        double v = 0;
        for (int i = 0; i < d->n; i++) {
            if (!(discrete_prob(d, i) > 0))
                continue;
            if (seen && d->values[i] != v)
                return 0;
            seen = 1;
            v = d->values[i];
        }
        return 1;
    }
    case CM_DIST_BERNOULLI:
        return d->p[0] == 0 || d->p[0] == 1;
    default:
        return 0;
    }
}

double cm_dist_mean(const cm_dist_t *d)
{
    if (cm_dist_is_fixed(d))
        return fixed_value(d);
    switch (d->kind) {
    case CM_DIST_UNIFORM:
        return 0.5 * (d->p[0] + d->p[1]);
    case CM_DIST_NORMAL: {
        if (!normal_truncated(d))
            return d->p[0];
        double a, b;
        normal_bounds(d, &a, &b);
        double m = (gsl_ran_ugaussian_pdf(a) - gsl_ran_ugaussian_pdf(b)) /
                   normal_mass(a, b);
        return clamp(d->p[0] + d->p[1] * m, d->p[2], d->p[3]);
    }
    case CM_DIST_LOGNORMAL:
        return exp(d->p[0] + 0.5 * d->p[1] * d->p[1]);
    case CM_DIST_TRIANGULAR:
        return (d->p[0] + d->p[1] + d->p[2]) / 3.0;
    case CM_DIST_PERT:
        return (d->p[0] + d->p[3] * d->p[1] + d->p[2]) / (d->p[3] + 2.0);
    case CM_DIST_BETA:
        return d->p[2] + (d->p[3] - d->p[2]) * d->p[0] / (d->p[0] + d->p[1]);
    case CM_DIST_DISCRETE: {
        double m = 0.0;
        for (int i = 0; i < d->n; i++)
            m += discrete_prob(d, i) * d->values[i];
        return m;
    }
    case CM_DIST_BERNOULLI:
        return d->p[0];
    default:
        return NAN;
    }
}

/* Variance of Beta(alpha, beta) on [0, 1]. */
static double beta_var(double alpha, double beta)
{
    double s = alpha + beta;
    return alpha * beta / (s * s * (s + 1.0));
}

double cm_dist_sd(const cm_dist_t *d)
{
    if (cm_dist_is_fixed(d))
        return 0.0;
    switch (d->kind) {
    case CM_DIST_UNIFORM:
        return (d->p[1] - d->p[0]) / sqrt(12.0);
    case CM_DIST_NORMAL: {
        if (!normal_truncated(d))
            return d->p[1];
        double a, b;
        normal_bounds(d, &a, &b);
        double z = normal_mass(a, b);
        double m = (gsl_ran_ugaussian_pdf(a) - gsl_ran_ugaussian_pdf(b)) / z;
        double v = 1.0 + (z_pdf(a) - z_pdf(b)) / z - m * m;
        return d->p[1] * sqrt(v > 0 ? v : 0.0);
    }
    case CM_DIST_LOGNORMAL: {
        double s2 = d->p[1] * d->p[1];
        return exp(d->p[0] + 0.5 * s2) * sqrt(expm1(s2));
    }
    case CM_DIST_TRIANGULAR: {
        double a = d->p[0], c = d->p[1], b = d->p[2];
        double v = (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0;
        return sqrt(v > 0 ? v : 0.0);
    }
    case CM_DIST_PERT: {
        double alpha, beta;
        pert_shape(d, &alpha, &beta);
        return (d->p[2] - d->p[0]) * sqrt(beta_var(alpha, beta));
    }
    case CM_DIST_BETA:
        return (d->p[3] - d->p[2]) * sqrt(beta_var(d->p[0], d->p[1]));
    case CM_DIST_DISCRETE: {
        double m = cm_dist_mean(d), v = 0.0;
        for (int i = 0; i < d->n; i++)
            v += discrete_prob(d, i) * (d->values[i] - m) * (d->values[i] - m);
        return sqrt(v);
    }
    case CM_DIST_BERNOULLI:
        return sqrt(d->p[0] * (1.0 - d->p[0]));
    default:
        return NAN;
    }
}

double cm_dist_cdf(const cm_dist_t *d, double x)
{
    if (isnan(x))
        return NAN;
    if (cm_dist_is_fixed(d))
        return x < fixed_value(d) ? 0.0 : 1.0;
    switch (d->kind) {
    case CM_DIST_UNIFORM:
        return clamp((x - d->p[0]) / (d->p[1] - d->p[0]), 0.0, 1.0);
    case CM_DIST_NORMAL: {
        if (!normal_truncated(d))
            return phi_cdf((x - d->p[0]) / d->p[1]);
        if (x <= d->p[2])
            return 0.0;
        if (x >= d->p[3])
            return 1.0;
        double a, b, z = (x - d->p[0]) / d->p[1];
        normal_bounds(d, &a, &b);
        double f = a > 0 ? (phi_upper(a) - phi_upper(z)) / normal_mass(a, b)
                         : (phi_cdf(z) - phi_cdf(a)) / normal_mass(a, b);
        return clamp(f, 0.0, 1.0);
    }
    case CM_DIST_LOGNORMAL:
        return x <= 0 ? 0.0 : gsl_cdf_lognormal_P(x, d->p[0], d->p[1]);
    case CM_DIST_TRIANGULAR: {
        double a = d->p[0], c = d->p[1], b = d->p[2];
        if (x <= a)
            return 0.0;
        if (x >= b)
            return 1.0;
        if (x < c)
            return (x - a) * (x - a) / ((b - a) * (c - a));
        return 1.0 - (b - x) * (b - x) / ((b - a) * (b - c));
    }
    case CM_DIST_PERT: {
        double alpha, beta;
        if (x <= d->p[0])
            return 0.0;
        if (x >= d->p[2])
            return 1.0;
        pert_shape(d, &alpha, &beta);
        return gsl_cdf_beta_P((x - d->p[0]) / (d->p[2] - d->p[0]), alpha, beta);
    }
    case CM_DIST_BETA:
        if (x <= d->p[2])
            return 0.0;
        if (x >= d->p[3])
            return 1.0;
        return gsl_cdf_beta_P((x - d->p[2]) / (d->p[3] - d->p[2]), d->p[0], d->p[1]);
    case CM_DIST_DISCRETE: {
        double f = 0.0;
        for (int i = 0; i < d->n; i++)
            if (d->values[i] <= x)
                f += discrete_prob(d, i);
        return clamp(f, 0.0, 1.0);
    }
    case CM_DIST_BERNOULLI:
        return x < 0 ? 0.0 : (x < 1 ? 1.0 - d->p[0] : 1.0);
    default:
        return NAN;
    }
}

double cm_dist_min(const cm_dist_t *d)
{
    if (cm_dist_is_fixed(d))
        return fixed_value(d);
    switch (d->kind) {
    case CM_DIST_UNIFORM:
    case CM_DIST_TRIANGULAR:
    case CM_DIST_PERT:
        return d->p[0];
    case CM_DIST_NORMAL:
        return d->p[2];
    case CM_DIST_LOGNORMAL:
        return 0.0; /* the infimum; never drawn */
    case CM_DIST_BETA:
        return d->p[2];
    case CM_DIST_DISCRETE: {
        double m = INFINITY;
        for (int i = 0; i < d->n; i++)
            if (discrete_prob(d, i) > 0 && d->values[i] < m)
                m = d->values[i];
        return m;
    }
    case CM_DIST_BERNOULLI:
        return 0.0;
    default:
        return NAN;
    }
}

double cm_dist_max(const cm_dist_t *d)
{
    if (cm_dist_is_fixed(d))
        return fixed_value(d);
    switch (d->kind) {
    case CM_DIST_UNIFORM:
        return d->p[1];
    case CM_DIST_TRIANGULAR:
    case CM_DIST_PERT:
        return d->p[2];
    case CM_DIST_NORMAL:
        return d->p[3];
    case CM_DIST_LOGNORMAL:
        return INFINITY;
    case CM_DIST_BETA:
        return d->p[3];
    case CM_DIST_DISCRETE: {
        double m = -INFINITY;
        for (int i = 0; i < d->n; i++)
            if (discrete_prob(d, i) > 0 && d->values[i] > m)
                m = d->values[i];
        return m;
    }
    case CM_DIST_BERNOULLI:
        return 1.0;
    default:
        return NAN;
    }
}
