/* test_dist.c - tests of the uncertain-parameter distributions
 * (engine/dist.c).
 *
 * References: GSL's CDFs (gsl_cdf_*_P) or a CDF written out here from its
 * textbook formula; moments computed by hand (or, for the truncated normal,
 * by numerical integration here, independent of the closed form in
 * dist.c).  Samples come from addressed streams with a fixed seed, one draw
 * per path as the engine draws them, so every statistical test is
 * deterministic; thresholds are p > 1e-4 and 4 standard errors.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

#include "check.h"
#include "ks.h"
#include "cmsim/dist.h"
#include "cmsim/error.h"
#include "cmsim/rng.h"

#define SEED UINT64_C(7081)
#define NDRAW 100000

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static cm_dist_t mk(cm_dist_kind_t kind, double p0, double p1, double p2, double p3)
{
    cm_dist_t d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.p[0] = p0;
    d.p[1] = p1;
    d.p[2] = p2;
    d.p[3] = p3;
    return d;
}

static cm_dist_t mk_normal(double mean, double sd, double min, double max)
{
    return mk(CM_DIST_NORMAL, mean, sd, min, max);
}

static cm_dist_t mk_discrete(int n, const double *values, const double *weights)
{
    cm_dist_t d = mk(CM_DIST_DISCRETE, 0, 0, 0, 0);
    d.n = n;
    for (int i = 0; i < n && i < CM_DISCRETE_MAX; i++) {
        d.values[i] = values[i];
        d.cum[i] = weights[i];
    }
    return d;
}

/* d with its count of values replaced (to test the range check). */
static cm_dist_t with_n(cm_dist_t d, int n)
{
    d.n = n;
    return d;
}

static int checked(cm_dist_t *d)
{
    char msg[256];
    int rc = cm_dist_check(d, msg, sizeof msg);
    if (rc != CM_EOK)
        fprintf(stderr, "  unexpected check failure: %s\n", msg);
    return rc == CM_EOK;
}

/* n draws of d, one per path at a site of its own. */
static double *sample(const cm_dist_t *d, const char *site, size_t n)
{
    double *x = malloc(n * sizeof *x);
    cm_stream_t s;
    if (x == NULL || cm_stream_init(&s) != CM_EOK) {
        free(x);
        return NULL;
    }
    uint64_t key = cm_rng_site_key(SEED, site);
    for (size_t i = 0; i < n; i++)
        x[i] = cm_dist_draw(d, cm_stream_at(&s, key, i, 0, 0));
    cm_stream_free(&s);
    return x;
}

typedef double (*ref_cdf_t)(const cm_dist_t *d, double x);

/* A reference CDF with its distribution, as ks.h's CDF argument. */
typedef struct {
    ref_cdf_t F;
    const cm_dist_t *d;
} ref_arg_t;

static double ref_cdf_at(double x, const void *arg)
{
    const ref_arg_t *r = arg;
    return r->F(r->d, x);
}

/* KS p-value of x[0..n) (sorted in place) against the continuous CDF F. */
static double ks_dist_pvalue(double *x, size_t n, ref_cdf_t F, const cm_dist_t *d)
{
    ref_arg_t r = {F, d};
    return ks_pvalue(x, n, ref_cdf_at, &r);
}

/* Sample mean and variance against the expected values, within 4 standard
 * errors: sd/sqrt(n) for the mean, sqrt((m4 - s^4)/n) for the variance. */
static void check_moments(const char *name, const double *x, size_t n,
                          double mean, double sd)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    double m2 = 0, m4 = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (x[i] - m) * (x[i] - m);
        m2 += e;
        m4 += e * e;
    }
    m2 /= (double)n;
    m4 /= (double)n;
    double se_mean = sqrt(m2 / (double)n);
    double se_var = sqrt(fmax(m4 - m2 * m2, 0.0) / (double)n);
    if (!(fabs(m - mean) <= 4 * se_mean) || !(fabs(m2 - sd * sd) <= 4 * se_var))
        fprintf(stderr, "  %s: mean %.6g (want %.6g, se %.2g), var %.6g (want %.6g, se %.2g)\n",
                name, m, mean, se_mean, m2, sd * sd, se_var);
    CHECK(fabs(m - mean) <= 4 * se_mean);
    CHECK(fabs(m2 - sd * sd) <= 4 * se_var);
}

/* ------------------------------------------------------------------------ */
/* Reference CDFs, written from the textbook formulas                       */

static double ref_uniform(const cm_dist_t *d, double x)
{
    double a = d->p[0], b = d->p[1];
    return x <= a ? 0 : (x >= b ? 1 : (x - a) / (b - a));
}

static double ref_normal(const cm_dist_t *d, double x)
{
    return gsl_cdf_gaussian_P(x - d->p[0], d->p[1]);
}

/* Truncated normal, lower-tail form: (Phi(z) - Phi(a)) / (Phi(b) - Phi(a)). */
static double ref_trunc_lower(const cm_dist_t *d, double x)
{
    double mu = d->p[0], s = d->p[1];
    if (x <= d->p[2])
        return 0;
    if (x >= d->p[3])
        return 1;
    double fa = isinf(d->p[2]) ? 0 : gsl_cdf_gaussian_P(d->p[2] - mu, s);
    double fb = isinf(d->p[3]) ? 1 : gsl_cdf_gaussian_P(d->p[3] - mu, s);
    return (gsl_cdf_gaussian_P(x - mu, s) - fa) / (fb - fa);
}

/* Truncated normal, upper-tail form: (Q(a) - Q(z)) / (Q(a) - Q(b)). */
static double ref_trunc_upper(const cm_dist_t *d, double x)
{
    double mu = d->p[0], s = d->p[1];
    if (x <= d->p[2])
        return 0;
    if (x >= d->p[3])
        return 1;
    double qa = gsl_cdf_gaussian_Q(d->p[2] - mu, s);
    double qb = isinf(d->p[3]) ? 0 : gsl_cdf_gaussian_Q(d->p[3] - mu, s);
    return (qa - gsl_cdf_gaussian_Q(x - mu, s)) / (qa - qb);
}

static double ref_lognormal(const cm_dist_t *d, double x)
{
    return x <= 0 ? 0 : gsl_cdf_lognormal_P(x, d->p[0], d->p[1]);
}

static double ref_triangular(const cm_dist_t *d, double x)
{
    double a = d->p[0], c = d->p[1], b = d->p[2];
    if (x <= a)
        return 0;
    if (x >= b)
        return 1;
    if (x <= c)
        return (x - a) * (x - a) / ((b - a) * (c - a));
    return 1 - (b - x) * (b - x) / ((b - a) * (b - c));
}

static double ref_pert(const cm_dist_t *d, double x)
{
    double a = d->p[0], c = d->p[1], b = d->p[2], l = d->p[3];
    if (x <= a)
        return 0;
    if (x >= b)
        return 1;
    return gsl_cdf_beta_P((x - a) / (b - a), 1 + l * (c - a) / (b - a),
                          1 + l * (b - c) / (b - a));
}

static double ref_beta(const cm_dist_t *d, double x)
{
    double lo = d->p[2], hi = d->p[3];
    if (x <= lo)
        return 0;
    if (x >= hi)
        return 1;
    return gsl_cdf_beta_P((x - lo) / (hi - lo), d->p[0], d->p[1]);
}

/* Mean and sd of a truncated normal by composite Simpson integration of
 * the density over [min, max] (infinite ends cut at 40 sd), independent of
 * the closed form in dist.c. */
static void trunc_moments_numeric(const cm_dist_t *d, double *mean, double *sd)
{
    double mu = d->p[0], s = d->p[1];
    double lo = isinf(d->p[2]) ? mu - 40 * s : d->p[2];
    double hi = isinf(d->p[3]) ? mu + 40 * s : d->p[3];
    /* The density relative to its largest value on [lo, hi] (at the point
     * nearest mu) keeps far tails, where the density itself is ~1e-15, at
     * full precision. */
    double top = fmin(fmax(mu, lo), hi);
    enum { M = 200000 };
    double h = (hi - lo) / M, z = 0, m1 = 0, m2 = 0;
    for (int i = 0; i <= M; i++) {
        double x = lo + i * h;
        double w = (i == 0 || i == M) ? 1 : (i % 2 ? 4 : 2);
        double f = w * exp(-0.5 * ((x - mu) * (x - mu) - (top - mu) * (top - mu)) / (s * s));
        z += f;
        m1 += f * x;
        m2 += f * x * x;
    }
    *mean = m1 / z;
    *sd = sqrt(fmax(m2 / z - *mean * *mean, 0));
}

/* ------------------------------------------------------------------------ */
/* A continuous case: KS against the reference CDF and moments.            */

typedef struct {
    const char *name;
    cm_dist_t d;
    ref_cdf_t cdf;
    double mean, sd; /* by hand */
} ccase_t;

static void run_case(ccase_t *c)
{
    CHECK(checked(&c->d));
    /* The analytic functions agree with the hand values... */
    CHECK_REL(cm_dist_mean(&c->d), c->mean, 1e-9);
    CHECK_REL(cm_dist_sd(&c->d), c->sd, 1e-7);
    /* ...the analytic CDF with the reference one... */
    double lo = c->mean - 4 * c->sd, hi = c->mean + 4 * c->sd;
    for (int i = 0; i <= 20; i++) {
        double x = lo + (hi - lo) * i / 20.0;
        CHECK_NEAR(cm_dist_cdf(&c->d, x), c->cdf(&c->d, x), 1e-10);
    }
    /* ...and the sampler with both. */
    double *x = sample(&c->d, c->name, NDRAW);
    CHECK(x != NULL);
    if (x == NULL)
        return;
    double mn = cm_dist_min(&c->d), mx = cm_dist_max(&c->d);
    size_t out = 0;
    for (size_t i = 0; i < NDRAW; i++)
        out += !(x[i] >= mn && x[i] <= mx);
    CHECK(out == 0);
    check_moments(c->name, x, NDRAW, c->mean, c->sd);
    double p = ks_dist_pvalue(x, NDRAW, c->cdf, &c->d);
    printf("     %-28s KS p = %.4f\n", c->name, p);
    CHECK(p > 1e-4);
    free(x);
}

static void run_cases(ccase_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i]);
}

/* ------------------------------------------------------------------------ */

static void test_names(void)
{
    static const char *const names[] = {"fixed", "uniform", "normal", "lognormal",
                                        "triangular", "pert", "beta", "discrete",
                                        "bernoulli"};
    CHECK(sizeof names / sizeof names[0] == CM_DIST_KINDS);
    for (int k = 0; k < CM_DIST_KINDS; k++) {
        CHECK(cm_dist_name((cm_dist_kind_t)k) != NULL);
        if (cm_dist_name((cm_dist_kind_t)k) != NULL)
            CHECK(strcmp(cm_dist_name((cm_dist_kind_t)k), names[k]) == 0);
        CHECK(cm_dist_kind_from_name(names[k]) == k);
    }
    CHECK(cm_dist_name(CM_DIST_KINDS) == NULL);
    CHECK(cm_dist_kind_from_name("gaussian") == -1);
    CHECK(cm_dist_kind_from_name("Normal") == -1);
    CHECK(cm_dist_kind_from_name("") == -1);
    CHECK(cm_dist_kind_from_name(NULL) == -1);
}

static void test_fixed(void)
{
    cm_dist_t d = cm_dist_fixed(42.5);
    CHECK(d.kind == CM_DIST_FIXED);
    CHECK(checked(&d));
    CHECK(cm_dist_is_fixed(&d));
    CHECK(cm_dist_mean(&d) == 42.5);
    CHECK(cm_dist_sd(&d) == 0);
    CHECK(cm_dist_min(&d) == 42.5 && cm_dist_max(&d) == 42.5);
    CHECK(cm_dist_cdf(&d, 42.4) == 0 && cm_dist_cdf(&d, 42.5) == 1);

    /* Draws nothing: the next draw at the address is the first word. */
    cm_stream_t s, t;
    CHECK(cm_stream_init(&s) == CM_EOK);
    CHECK(cm_stream_init(&t) == CM_EOK);
    gsl_rng *r = cm_stream_at(&s, 5, 6, 7, 8);
    CHECK(cm_dist_draw(&d, r) == 42.5);
    CHECK(gsl_rng_get(r) == gsl_rng_get(cm_stream_at(&t, 5, 6, 7, 8)));
    cm_stream_free(&s);
    cm_stream_free(&t);
}

typedef struct {
    cm_dist_t d;
    const char *expect;
} bad_case_t;

static void test_check_messages(void)
{
    const double v3[] = {1, 2, 3}, w0[] = {0, 0, 0}, wneg[] = {1, -1, 2}, w3[] = {1, 1, 1};
    bad_case_t cases[] = {
        {mk_normal(0, -1, -INFINITY, INFINITY), "sd -1 is negative"},
        {mk(CM_DIST_UNIFORM, 5, 3, 0, 0), "min 5 is above max 3"},
        {mk(CM_DIST_TRIANGULAR, 5, 3, 9, 0), "min 5 is above mode 3"},
        {mk(CM_DIST_TRIANGULAR, 1, 7, 5, 0), "mode 7 is above max 5"},
        {mk(CM_DIST_PERT, 5, 3, 9, 4), "min 5 is above mode 3"},
        {mk(CM_DIST_PERT, 1, 7, 5, 4), "mode 7 is above max 5"},
        {mk(CM_DIST_PERT, 1, 2, 3, 0), "lambda must be positive"},
        {mk(CM_DIST_PERT, 1, 2, 3, -2), "lambda must be positive, got -2"},
        {mk(CM_DIST_BETA, 0, 2, 0, 1), "a must be positive, got 0"},
        {mk(CM_DIST_BETA, 2, -1, 0, 1), "b must be positive, got -1"},
        {mk(CM_DIST_BETA, 2, 2, 2, 1), "min 2 is above max 1"},
        {mk_discrete(3, v3, w0), "weights sum to 0"},
        {mk_discrete(3, v3, wneg), "weight 2 (-1) is negative"},
        {with_n(mk_discrete(3, v3, w3), 0), "n 0 is outside 1..16"},
        {with_n(mk_discrete(3, v3, w3), 17), "n 17 is outside 1..16"},
        {with_n(mk_discrete(3, v3, w3), -1), "n -1 is outside 1..16"},
        {mk(CM_DIST_BERNOULLI, 1.2, 0, 0, 0), "p 1.2 is outside [0, 1]"},
        {mk(CM_DIST_BERNOULLI, -0.1, 0, 0, 0), "p -0.1 is outside [0, 1]"},
        {mk(CM_DIST_LOGNORMAL, 0, -1, 0, 0), "sigma -1 is negative"},
        {mk_normal(0, 1, 3, 3), "truncation min 3 is not below max 3"},
        {mk_normal(0, 1, 4, 3), "truncation min 4 is not below max 3"},
        {mk_normal(0, 1, INFINITY, INFINITY), "truncation min inf is not below max inf"},
        {mk_normal(0, 1, 10, 11), "truncation interval [10, 11] has probability 7.62e-24"},
        {mk_normal(0, 1, -11, -10), "effectively 0"},
        {mk_normal(0, 1, 40, 41), "has probability 0 "},
        {mk_normal(5, 0, 0, 1), "sd is 0 and mean 5 lies outside the truncation [0, 1]"},
        {mk_normal(0, 1, NAN, 1), "min is not a number"},
        {mk_normal(0, 1, 0, NAN), "max is not a number"},
        {mk((cm_dist_kind_t)99, 0, 0, 0, 0), "unknown distribution kind 99"},
        {mk(CM_DIST_KINDS, 0, 0, 0, 0), "unknown distribution kind"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[256] = "untouched";
        cm_dist_t before = cases[i].d;
        CHECK(cm_dist_check(&cases[i].d, msg, sizeof msg) == CM_ECONFIG);
        CHECK_STR_CONTAINS(msg, cases[i].expect);
        /* A rejected discrete keeps its raw weights. */
        CHECK(memcmp(before.cum, cases[i].d.cum, sizeof before.cum) == 0);
    }
    /* No message buffer: still rejected, nothing written. */
    cm_dist_t d = mk_normal(0, -1, -INFINITY, INFINITY);
    CHECK(cm_dist_check(&d, NULL, 0) == CM_ECONFIG);
    char tiny[4] = "xyz";
    CHECK(cm_dist_check(&d, tiny, sizeof tiny) == CM_ECONFIG);
    CHECK(strcmp(tiny, "sd ") == 0);
}

/* NaN and infinity in every used parameter of every kind is rejected,
 * naming the parameter. */
static void test_check_nonfinite(void)
{
    static const struct {
        cm_dist_kind_t kind;
        double p[4];
        int np;
        const char *names[4];
    } bases[] = {
        {CM_DIST_FIXED, {1, 0, 0, 0}, 1, {"value"}},
        {CM_DIST_UNIFORM, {1, 2, 0, 0}, 2, {"min", "max"}},
        {CM_DIST_NORMAL, {1, 2, -5, 5}, 2, {"mean", "sd"}},
        {CM_DIST_LOGNORMAL, {1, 2, 0, 0}, 2, {"mu", "sigma"}},
        {CM_DIST_TRIANGULAR, {1, 2, 3, 0}, 3, {"min", "mode", "max"}},
        {CM_DIST_PERT, {1, 2, 3, 4}, 4, {"min", "mode", "max", "lambda"}},
        {CM_DIST_BETA, {1, 2, 0, 1}, 4, {"a", "b", "min", "max"}},
        {CM_DIST_BERNOULLI, {0.5, 0, 0, 0}, 1, {"p"}},
    };
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        cm_dist_t ok = mk(bases[b].kind, bases[b].p[0], bases[b].p[1], bases[b].p[2],
                          bases[b].p[3]);
        CHECK(checked(&ok));
        for (int i = 0; i < bases[b].np; i++)
            for (int j = 0; j < 3; j++) {
                cm_dist_t d = ok;
                d.p[i] = bad[j];
                char msg[256] = "", want[64];
                snprintf(want, sizeof want, "%s %g is not a finite number",
                         bases[b].names[i], bad[j]);
                CHECK(cm_dist_check(&d, msg, sizeof msg) == CM_ECONFIG);
                CHECK_STR_CONTAINS(msg, want);
            }
    }
    const double v[] = {1, 2}, w[] = {1, 1};
    for (int j = 0; j < 3; j++) {
        char msg[256] = "";
        cm_dist_t d = mk_discrete(2, v, w);
        d.values[1] = bad[j];
        CHECK(cm_dist_check(&d, msg, sizeof msg) == CM_ECONFIG);
        CHECK_STR_CONTAINS(msg, "value 2 (");
        CHECK_STR_CONTAINS(msg, "is not a finite number");
        d = mk_discrete(2, v, w);
        d.cum[0] = bad[j];
        CHECK(cm_dist_check(&d, msg, sizeof msg) == CM_ECONFIG);
        CHECK_STR_CONTAINS(msg, "weight 1 (");
    }
    const double huge[] = {DBL_MAX, DBL_MAX};
    char msg[256] = "";
    cm_dist_t d = mk_discrete(2, v, huge);
    CHECK(cm_dist_check(&d, msg, sizeof msg) == CM_ECONFIG);
    CHECK_STR_CONTAINS(msg, "weights sum to inf");
    /* Infinite truncation bounds are the normal's "no bound". */
    d = mk_normal(1, 2, -INFINITY, INFINITY);
    CHECK(checked(&d));
}

/* Degenerate but valid parameter sets are fixed values and draw nothing. */
static void test_degenerate_valid(void)
{
    const double v[] = {3, 7, 3}, w[] = {2, 0, 5};
    struct {
        cm_dist_t d;
        double value;
    } cases[] = {
        {mk(CM_DIST_UNIFORM, 4, 4, 0, 0), 4},
        {mk(CM_DIST_TRIANGULAR, 2, 2, 2, 0), 2},
        {mk(CM_DIST_PERT, 2, 2, 2, 4), 2},
        {mk(CM_DIST_BETA, 2, 3, 6, 6), 6},
        {mk_normal(5, 0, -INFINITY, INFINITY), 5},
        {mk_normal(5, 0, 0, 10), 5},
        {mk_normal(5, 0, 5, 10), 5},
        {mk(CM_DIST_LOGNORMAL, 1, 0, 0, 0), exp(1)},
        {mk_discrete(3, v, w), 3},
        {mk(CM_DIST_BERNOULLI, 0, 0, 0, 0), 0},
        {mk(CM_DIST_BERNOULLI, 1, 0, 0, 0), 1},
    };
    cm_stream_t s, t;
    CHECK(cm_stream_init(&s) == CM_EOK);
    CHECK(cm_stream_init(&t) == CM_EOK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cm_dist_t *d = &cases[i].d;
        double x = cases[i].value;
        CHECK(checked(d));
        CHECK(cm_dist_is_fixed(d));
        CHECK_REL(cm_dist_mean(d), x, 1e-15);
        CHECK(cm_dist_sd(d) == 0);
        CHECK_REL(cm_dist_min(d), x, 1e-15);
        CHECK_REL(cm_dist_max(d), x, 1e-15);
        CHECK(cm_dist_cdf(d, x - 1e-9) == 0 && cm_dist_cdf(d, x) == 1);
        gsl_rng *r = cm_stream_at(&s, 1, i, 0, 0);
        CHECK_REL(cm_dist_draw(d, r), x, 1e-15);
        CHECK(gsl_rng_get(r) == gsl_rng_get(cm_stream_at(&t, 1, i, 0, 0)));
    }
    /* ... and near-degenerate ones are not fixed. */
    cm_dist_t d = mk(CM_DIST_BERNOULLI, 1e-12, 0, 0, 0);
    CHECK(checked(&d) && !cm_dist_is_fixed(&d));
    d = mk(CM_DIST_UNIFORM, 4, 4.000001, 0, 0);
    CHECK(checked(&d) && !cm_dist_is_fixed(&d));
    cm_stream_free(&s);
    cm_stream_free(&t);
}

static void test_discrete_normalised(void)
{
    const double v[] = {10, 20, 30, 40}, w[] = {1, 0, 3, 6};
    cm_dist_t d = mk_discrete(4, v, w);
    CHECK(checked(&d));
    CHECK_NEAR(d.cum[0], 0.1, 1e-15);
    CHECK_NEAR(d.cum[1], 0.1, 1e-15);
    CHECK_NEAR(d.cum[2], 0.4, 1e-15);
    CHECK(d.cum[3] == 1.0);
    CHECK(d.cum[1] == d.cum[0]);
    /* Weights that do not sum exactly in floating point still end at 1. */
    const double v3[] = {1, 2, 3}, w3[] = {0.1, 0.2, 0.3};
    d = mk_discrete(3, v3, w3);
    CHECK(checked(&d));
    CHECK(d.cum[2] == 1.0);
    CHECK(d.cum[0] <= d.cum[1] && d.cum[1] <= d.cum[2]);
    /* Trailing zero weights. */
    const double w0[] = {2, 0, 0};
    d = mk_discrete(3, v3, w0);
    CHECK(checked(&d));
    CHECK(d.cum[0] == 1.0 && d.cum[1] == 1.0 && d.cum[2] == 1.0);
    CHECK(cm_dist_is_fixed(&d) && cm_dist_mean(&d) == 1);
}

static void test_normal_cdf_bounds(void)
{
    cm_dist_t d = mk_normal(10, 2, 8, 16);
    CHECK(checked(&d));
    CHECK_NEAR(d.cdf_lo, gsl_cdf_ugaussian_P(-1), 1e-15);
    CHECK_NEAR(d.cdf_hi, gsl_cdf_ugaussian_P(3), 1e-15);
    d = mk_normal(10, 2, -INFINITY, INFINITY);
    CHECK(checked(&d));
    CHECK(d.cdf_lo == 0 && d.cdf_hi == 1);
    d = mk_normal(10, 2, 12, INFINITY);
    CHECK(checked(&d));
    CHECK_NEAR(d.cdf_lo, gsl_cdf_ugaussian_P(1), 1e-15);
    CHECK(d.cdf_hi == 1);
    CHECK(cm_dist_min(&d) == 12 && isinf(cm_dist_max(&d)));
}

/* Analytic values of the functions against hand computations. */
static void test_analytic(void)
{
    cm_dist_t d = mk(CM_DIST_TRIANGULAR, 1, 2, 5, 0);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), 8.0 / 3.0, 1e-15);
    CHECK_REL(cm_dist_sd(&d), sqrt(13.0 / 18.0), 1e-15);
    CHECK_REL(cm_dist_cdf(&d, 2), 0.25, 1e-15);   /* (2-1)^2 / (4*1) */
    CHECK_REL(cm_dist_cdf(&d, 4), 1 - 1.0 / 12, 1e-15); /* 1 - 1/(4*3) */
    CHECK(cm_dist_min(&d) == 1 && cm_dist_max(&d) == 5);

    d = mk(CM_DIST_PERT, 1, 2, 5, 4); /* Beta(2, 4) on [1, 5] */
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), 7.0 / 3.0, 1e-15);
    CHECK_REL(cm_dist_sd(&d), sqrt(32.0 / 63.0), 1e-14);
    /* I_{1/4}(2, 4) = 1 - (3/4)^5 - 5 (1/4)(3/4)^4 = 1 - 243/1024 - 405/1024 */
    CHECK_REL(cm_dist_cdf(&d, 2), 376.0 / 1024.0, 1e-12);

    d = mk(CM_DIST_BETA, 2, 5, 10, 20);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), 10 + 20.0 / 7.0, 1e-15);
    CHECK_REL(cm_dist_sd(&d), sqrt(1000.0 / 392.0), 1e-14);

    d = mk(CM_DIST_LOGNORMAL, 1, 0.5, 0, 0);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), exp(1.125), 1e-15);
    CHECK_REL(cm_dist_sd(&d), exp(1.125) * sqrt(exp(0.25) - 1), 1e-14);
    CHECK_REL(cm_dist_cdf(&d, exp(1)), 0.5, 1e-12);
    CHECK(cm_dist_cdf(&d, 0) == 0 && cm_dist_cdf(&d, -3) == 0);
    CHECK(cm_dist_min(&d) == 0 && isinf(cm_dist_max(&d)));

    d = mk(CM_DIST_UNIFORM, 2, 5, 0, 0);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), 3.5, 1e-15);
    CHECK_REL(cm_dist_sd(&d), 3 / sqrt(12), 1e-15);
    CHECK(cm_dist_cdf(&d, 1) == 0 && cm_dist_cdf(&d, 6) == 1);
    CHECK_REL(cm_dist_cdf(&d, 3), 1.0 / 3.0, 1e-15);

    const double v[] = {7, 1, 5, 2}, w[] = {6, 1, 3, 0};
    d = mk_discrete(4, v, w);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), 5.8, 1e-14);          /* .6*7 + .1*1 + .3*5 */
    CHECK_REL(cm_dist_sd(&d), sqrt(3.36), 1e-14);     /* 37 - 5.8^2 */
    CHECK_REL(cm_dist_cdf(&d, 4.9), 0.1, 1e-14);      /* unsorted values */
    CHECK_REL(cm_dist_cdf(&d, 5), 0.4, 1e-14);
    CHECK(cm_dist_cdf(&d, 0.5) == 0 && cm_dist_cdf(&d, 7) == 1);
    CHECK(cm_dist_min(&d) == 1 && cm_dist_max(&d) == 7);
    CHECK(!cm_dist_is_fixed(&d));

    d = mk(CM_DIST_BERNOULLI, 0.3, 0, 0, 0);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), 0.3, 1e-15);
    CHECK_REL(cm_dist_sd(&d), sqrt(0.21), 1e-15);
    CHECK(cm_dist_cdf(&d, -0.5) == 0 && cm_dist_cdf(&d, 1) == 1);
    CHECK_REL(cm_dist_cdf(&d, 0), 0.7, 1e-15);
    CHECK(cm_dist_min(&d) == 0 && cm_dist_max(&d) == 1);

    /* Truncated normal moments: closed form against numerical integration;
     * and the half-normal by hand: mean sqrt(2/pi), var 1 - 2/pi. */
    d = mk_normal(0, 1, 0, INFINITY);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_mean(&d), sqrt(2 / M_PI), 1e-12);
    CHECK_REL(cm_dist_sd(&d), sqrt(1 - 2 / M_PI), 1e-12);
    CHECK_REL(cm_dist_cdf(&d, 1), 2 * gsl_cdf_ugaussian_P(1) - 1, 1e-12);
    const cm_dist_t tn[] = {
        mk_normal(0, 1, -1, 2), mk_normal(3, 2, 1, 4), mk_normal(0, 1, 5, 6),
        mk_normal(0, 1, -6, -5), mk_normal(0, 1, 8, 9), mk_normal(100, 20, -INFINITY, 90),
        mk_normal(-2, 0.5, -1, INFINITY),
    };
    for (size_t i = 0; i < sizeof tn / sizeof tn[0]; i++) {
        cm_dist_t t = tn[i];
        double m, s;
        CHECK(checked(&t));
        trunc_moments_numeric(&t, &m, &s);
        CHECK_REL(cm_dist_mean(&t), m, 1e-9);
        CHECK_REL(cm_dist_sd(&t), s, 1e-6);
    }
    /* Far-tail CDF in the upper-tail form. */
    d = mk_normal(0, 1, 8, 9);
    CHECK(checked(&d));
    CHECK_REL(cm_dist_cdf(&d, 8.1),
              (gsl_cdf_ugaussian_Q(8) - gsl_cdf_ugaussian_Q(8.1)) /
                  (gsl_cdf_ugaussian_Q(8) - gsl_cdf_ugaussian_Q(9)), 1e-10);
}

/* ------------------------------------------------------------------------ */
/* Kolmogorov-Smirnov and moments, kind by kind                             */

static void test_ks_uniform(void)
{
    ccase_t c[] = {
        {"uniform(2,5)", mk(CM_DIST_UNIFORM, 2, 5, 0, 0), ref_uniform, 3.5, 3 / sqrt(12)},
        {"uniform(-1e6,1e6)", mk(CM_DIST_UNIFORM, -1e6, 1e6, 0, 0), ref_uniform, 0,
         2e6 / sqrt(12)},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_ks_normal(void)
{
    ccase_t c[] = {
        {"normal(10,3)", mk_normal(10, 3, -INFINITY, INFINITY), ref_normal, 10, 3},
        {"normal(-5,0.01)", mk_normal(-5, 0.01, -INFINITY, INFINITY), ref_normal, -5, 0.01},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_ks_truncated_normal(void)
{
    ccase_t c[] = {
        {"normal(0,1,[-1,2])", mk_normal(0, 1, -1, 2), ref_trunc_lower, 0, 0},
        {"normal(3,2,[1,4])", mk_normal(3, 2, 1, 4), ref_trunc_lower, 0, 0},
        {"normal(100,20,[0,inf))", mk_normal(100, 20, 0, INFINITY), ref_trunc_lower, 0, 0},
        {"normal(100,20,(-inf,90])", mk_normal(100, 20, -INFINITY, 90), ref_trunc_lower, 0, 0},
        {"normal(-2,0.5,[-1,inf))", mk_normal(-2, 0.5, -1, INFINITY), ref_trunc_upper, 0, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        trunc_moments_numeric(&c[i].d, &c[i].mean, &c[i].sd);
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Far-tail truncation: N(0, 1) on [5, 6] (probability 2.9e-7), its mirror,
 * and [8, 9] (probability 6.2e-16, where Phi(8) is 1 - 6.7e-16 in double
 * precision and a lower-tail inversion would collapse). */
static void test_ks_far_tail(void)
{
    ccase_t c[] = {
        {"normal(0,1,[5,6])", mk_normal(0, 1, 5, 6), ref_trunc_upper, 0, 0},
        {"normal(0,1,[-6,-5])", mk_normal(0, 1, -6, -5), ref_trunc_lower, 0, 0},
        {"normal(0,1,[8,9])", mk_normal(0, 1, 8, 9), ref_trunc_upper, 0, 0},
        {"normal(50,10,[120,inf))", mk_normal(50, 10, 120, INFINITY), ref_trunc_upper, 0, 0},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        trunc_moments_numeric(&c[i].d, &c[i].mean, &c[i].sd);
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Truncation bounds hold for every draw (run_case checks [min, max] too;
 * here also for narrow and one-sided intervals, sampled at many paths). */
static void test_truncated_bounds(void)
{
    const cm_dist_t ds[] = {
        mk_normal(0, 1, 5, 6), mk_normal(0, 1, 8, 9), mk_normal(0, 1, -9, -8),
        mk_normal(0, 1, 0.5, 0.5000001), mk_normal(1e6, 1, 1e6 - 1e-3, 1e6 + 1e-3),
        mk_normal(0, 1, 7.5, INFINITY), mk_normal(0, 1, -INFINITY, -7.5),
    };
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        cm_dist_t d = ds[i];
        CHECK(checked(&d));
        double *x = sample(&d, "test/bounds", 20000);
        CHECK(x != NULL);
        if (x == NULL)
            continue;
        size_t out = 0;
        for (size_t j = 0; j < 20000; j++)
            out += !(x[j] >= d.p[2] && x[j] <= d.p[3]);
        CHECK(out == 0);
        free(x);
    }
}

static void test_ks_lognormal(void)
{
    const double m1 = exp(1.125), m2 = exp(-2 + 0.08);
    ccase_t c[] = {
        {"lognormal(1,0.5)", mk(CM_DIST_LOGNORMAL, 1, 0.5, 0, 0), ref_lognormal, m1,
         m1 * sqrt(exp(0.25) - 1)},
        {"lognormal(-2,0.4)", mk(CM_DIST_LOGNORMAL, -2, 0.4, 0, 0), ref_lognormal, m2,
         m2 * sqrt(exp(0.16) - 1)},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_ks_triangular(void)
{
    ccase_t c[] = {
        {"triangular(1,2,5)", mk(CM_DIST_TRIANGULAR, 1, 2, 5, 0), ref_triangular,
         8.0 / 3.0, sqrt(13.0 / 18.0)},
        {"triangular(0,0,1)", mk(CM_DIST_TRIANGULAR, 0, 0, 1, 0), ref_triangular,
         1.0 / 3.0, sqrt(1.0 / 18.0)},
        {"triangular(0,1,1)", mk(CM_DIST_TRIANGULAR, 0, 1, 1, 0), ref_triangular,
         2.0 / 3.0, sqrt(1.0 / 18.0)},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_ks_pert(void)
{
    ccase_t c[] = {
        /* Beta(2, 4) on [1, 5]: mean (1 + 4*2 + 5)/6, var 16 * 8/(36*7). */
        {"pert(1,2,5,4)", mk(CM_DIST_PERT, 1, 2, 5, 4), ref_pert, 7.0 / 3.0,
         sqrt(32.0 / 63.0)},
        /* Beta(4.6, 1.4) on [0, 10]: mean 46/6, var 100 * 6.44/(36*7). */
        {"pert(0,9,10,4)", mk(CM_DIST_PERT, 0, 9, 10, 4), ref_pert, 46.0 / 6.0,
         sqrt(644.0 / 252.0)},
        /* lambda 2: Beta(1 + 2/2, 1 + 2/2) = Beta(2, 2) on [0, 2]: mean 1,
         * var 4 * 4/(16*5). */
        {"pert(0,1,2,2)", mk(CM_DIST_PERT, 0, 1, 2, 2), ref_pert, 1.0, sqrt(0.2)},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void test_ks_beta(void)
{
    ccase_t c[] = {
        {"beta(0.5,0.5)", mk(CM_DIST_BETA, 0.5, 0.5, 0, 1), ref_beta, 0.5, sqrt(0.125)},
        {"beta(2,5,[10,20])", mk(CM_DIST_BETA, 2, 5, 10, 20), ref_beta, 10 + 20.0 / 7.0,
         sqrt(1000.0 / 392.0)},
        {"beta(0.3,4)", mk(CM_DIST_BETA, 0.3, 4, 0, 1), ref_beta, 0.3 / 4.3,
         sqrt(1.2 / (4.3 * 4.3 * 5.3))},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

/* Frequencies of a discrete sample: chi-square over the values with
 * positive probability; values of zero weight and values outside the list
 * never appear. */
static void test_discrete_chisq(void)
{
    const double v[] = {7, 1, 5, 2, -3}, w[] = {6, 1, 3, 0, 0.5};
    cm_dist_t d = mk_discrete(5, v, w);
    CHECK(checked(&d));
    double *x = sample(&d, "test/discrete", NDRAW);
    CHECK(x != NULL);
    if (x == NULL)
        return;
    double count[5] = {0};
    size_t other = 0;
    for (size_t i = 0; i < NDRAW; i++) {
        int hit = 0;
        for (int j = 0; j < 5; j++)
            if (x[i] == v[j]) {
                count[j]++;
                hit = 1;
            }
        other += !hit;
    }
    CHECK(other == 0);
    CHECK(count[3] == 0);
    double chi2 = 0;
    for (int j = 0; j < 5; j++) {
        if (w[j] == 0)
            continue;
        double e = NDRAW * w[j] / 10.5;
        chi2 += (count[j] - e) * (count[j] - e) / e;
    }
    double p = gsl_cdf_chisq_Q(chi2, 3);
    printf("     discrete chi-square %.2f on 3 df, p = %.4f\n", chi2, p);
    CHECK(p > 1e-4);
    check_moments("discrete", x, NDRAW, cm_dist_mean(&d), cm_dist_sd(&d));
    /* Hand values: mean = (42 + 1 + 15 - 1.5) / 10.5. */
    CHECK_REL(cm_dist_mean(&d), 56.5 / 10.5, 1e-14);
    free(x);

    /* A single value. */
    const double one[] = {4}, w1[] = {2};
    d = mk_discrete(1, one, w1);
    CHECK(checked(&d));
    CHECK(d.cum[0] == 1 && cm_dist_is_fixed(&d));
}

static void test_bernoulli_chisq(void)
{
    const double ps[] = {0.3, 0.01, 0.999};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        cm_dist_t d = mk(CM_DIST_BERNOULLI, ps[k], 0, 0, 0);
        CHECK(checked(&d));
        double *x = sample(&d, "test/bernoulli", NDRAW);
        CHECK(x != NULL);
        if (x == NULL)
            return;
        double ones = 0;
        size_t other = 0;
        for (size_t i = 0; i < NDRAW; i++) {
            ones += x[i] == 1;
            other += x[i] != 0 && x[i] != 1;
        }
        CHECK(other == 0);
        double e1 = NDRAW * ps[k], e0 = NDRAW - e1;
        double chi2 = (ones - e1) * (ones - e1) / e1 +
                      (NDRAW - ones - e0) * (NDRAW - ones - e0) / e0;
        double p = gsl_cdf_chisq_Q(chi2, 1);
        printf("     bernoulli(%g) chi-square %.2f, p = %.4f\n", ps[k], chi2, p);
        CHECK(p > 1e-4);
        free(x);
    }
}

/* ------------------------------------------------------------------------ */
/* Common random numbers                                                    */

/* Draw d and e at the same addresses; returns 1 when every pair is
 * comonotone (x_i < x_j implies y_i <= y_j) over n paths. */
static int comonotone(const cm_dist_t *d, const cm_dist_t *e, size_t n)
{
    double *x = sample(d, "test/crn", n), *y = sample(e, "test/crn", n);
    int ok = x != NULL && y != NULL;
    for (size_t i = 0; ok && i < n; i++)
        for (size_t j = 0; ok && j < n; j++)
            if (x[i] < x[j] && y[i] > y[j])
                ok = 0;
    free(x);
    free(y);
    return ok;
}

static void test_crn_coupling(void)
{
    enum { N = 2000 };
    cm_dist_t u1 = mk(CM_DIST_UNIFORM, 0, 1, 0, 0), u2 = mk(CM_DIST_UNIFORM, 0, 2, 0, 0);
    cm_dist_t n1 = mk_normal(0, 1, -INFINITY, INFINITY), n2 = mk_normal(5, 2, -INFINITY, INFINITY);
    cm_dist_t l1 = mk(CM_DIST_LOGNORMAL, 0, 1, 0, 0), l2 = mk(CM_DIST_LOGNORMAL, 1, 2, 0, 0);
    CHECK(checked(&u1) && checked(&u2) && checked(&n1) && checked(&n2));
    CHECK(checked(&l1) && checked(&l2));
    double *a = sample(&u1, "test/crn", N), *b = sample(&u2, "test/crn", N);
    double *c = sample(&n1, "test/crn", N), *e = sample(&n2, "test/crn", N);
    double *f = sample(&l1, "test/crn", N), *g = sample(&l2, "test/crn", N);
    CHECK(a && b && c && e && f && g);
    if (a && b && c && e && f && g) {
        size_t bad_u = 0, bad_n = 0, bad_l = 0;
        for (size_t i = 0; i < N; i++) {
            bad_u += b[i] != 2 * a[i];
            bad_n += fabs(e[i] - (5 + 2 * c[i])) > 1e-12;
            bad_l += fabs(g[i] - exp(1 + 2 * log(f[i]))) > 1e-9 * g[i];
        }
        CHECK(bad_u == 0);
        CHECK(bad_n == 0);
        CHECK(bad_l == 0);
    }
    free(a);
    free(b);
    free(c);
    free(e);
    free(f);
    free(g);

    /* Inversion samplers are comonotone across parameter changes. */
    const double v[] = {1, 2, 3}, w1[] = {1, 1, 1}, w2[] = {5, 1, 1};
    struct {
        cm_dist_t d, e;
    } pairs[] = {
        {mk_normal(0, 1, -1, 2), mk_normal(0.5, 2, -1, 5)},
        {mk_normal(0, 1, 5, 6), mk_normal(0, 1, -1, 2)},
        {mk(CM_DIST_TRIANGULAR, 0, 1, 4, 0), mk(CM_DIST_TRIANGULAR, 0, 3, 5, 0)},
        {mk_discrete(3, v, w1), mk_discrete(3, v, w2)},
        {mk(CM_DIST_BERNOULLI, 0.3, 0, 0, 0), mk(CM_DIST_BERNOULLI, 0.6, 0, 0, 0)},
        {mk(CM_DIST_UNIFORM, 0, 1, 0, 0), mk(CM_DIST_TRIANGULAR, 0, 1, 4, 0)},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK(checked(&pairs[i].d) && checked(&pairs[i].e));
        CHECK(comonotone(&pairs[i].d, &pairs[i].e, 1000));
    }
    /* ...which the independent draws of two sites are not (so the check
     * above can fail). */
    cm_dist_t t = mk(CM_DIST_TRIANGULAR, 0, 1, 4, 0);
    CHECK(checked(&t));
    double *x = sample(&t, "test/crn", 100), *y = sample(&t, "test/other", 100);
    CHECK(x && y);
    int mono = 1;
    for (size_t i = 0; x && y && i < 100; i++)
        for (size_t j = 0; j < 100; j++)
            if (x[i] < x[j] && y[i] > y[j])
                mono = 0;
    CHECK(!mono);
    free(x);
    free(y);
}

static const cm_test_t tests[] = {
    {"names", test_names},
    {"fixed", test_fixed},
    {"check_messages", test_check_messages},
    {"check_nonfinite", test_check_nonfinite},
    {"degenerate_valid", test_degenerate_valid},
    {"discrete_normalised", test_discrete_normalised},
    {"normal_cdf_bounds", test_normal_cdf_bounds},
    {"analytic", test_analytic},
    {"ks_uniform", test_ks_uniform},
    {"ks_normal", test_ks_normal},
    {"ks_truncated_normal", test_ks_truncated_normal},
    {"ks_far_tail", test_ks_far_tail},
    {"truncated_bounds", test_truncated_bounds},
    {"ks_lognormal", test_ks_lognormal},
    {"ks_triangular", test_ks_triangular},
    {"ks_pert", test_ks_pert},
    {"ks_beta", test_ks_beta},
    {"discrete_chisq", test_discrete_chisq},
    {"bernoulli_chisq", test_bernoulli_chisq},
    {"crn_coupling", test_crn_coupling},
};

int main(int argc, char **argv)
{
    return CM_TEST_MAIN(tests);
}
