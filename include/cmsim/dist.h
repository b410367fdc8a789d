/* cmsim/dist.h - the uncertain-parameter distributions (MODEL.md section 1).
 *
 * A cm_dist_t is a plain value (no heap): a kind and its parameters, checked
 * once by cm_dist_check() before any path runs.  cm_dist_draw() then draws
 * one value from an addressed stream.  Samplers are chosen so that a change
 * of parameters keeps draws coupled across scenarios (common random
 * numbers): inversion of one uniform wherever the CDF inverts cheaply
 * (uniform, truncated normal, triangular, discrete, bernoulli), a ziggurat
 * normal scaled and shifted for normal and lognormal, and GSL's beta sampler
 * for beta and PERT.
 *
 * Parameter layout by kind (p[0..3]):
 *   FIXED       value
 *   UNIFORM     min, max
 *   NORMAL      mean, sd, min, max     (min/max = -inf/+inf when absent;
 *                                       truncation by inversion, not clamping)
 *   LOGNORMAL   mu, sigma of ln X      (the loader converts mean/sd of X)
 *   TRIANGULAR  min, mode, max
 *   PERT        min, mode, max, lambda (lambda default 4)
 *   BETA        a, b, min, max         (min 0, max 1 by default)
 *   DISCRETE    values[], weights cum[] (n <= 16): the loader stores the raw
 *               weights (>= 0) and cm_dist_check turns them, in place, into
 *               cumulative normalised weights (last = 1): check only once
 *   BERNOULLI   p
 */
#ifndef CMSIM_DIST_H
#define CMSIM_DIST_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#define CM_DISCRETE_MAX 16

typedef enum {
    CM_DIST_FIXED = 0,
    CM_DIST_UNIFORM,
    CM_DIST_NORMAL,
    CM_DIST_LOGNORMAL,
    CM_DIST_TRIANGULAR,
    CM_DIST_PERT,
    CM_DIST_BETA,
    CM_DIST_DISCRETE,
    CM_DIST_BERNOULLI,
    CM_DIST_KINDS
} cm_dist_kind_t;

typedef struct {
    cm_dist_kind_t kind;
    double p[4];
    int n;                          /* DISCRETE: number of values */
    double values[CM_DISCRETE_MAX]; /* DISCRETE */
    double cum[CM_DISCRETE_MAX];    /* DISCRETE: cumulative weights, last = 1 */
    /* Derived once by cm_dist_check (not set by the user): */
    double cdf_lo, cdf_hi;          /* NORMAL: Phi((min-mean)/sd), Phi((max-mean)/sd) */
} cm_dist_t;

/* Name of a kind as written in scenario files ("pert"), or NULL. */
const char *cm_dist_name(cm_dist_kind_t kind);

/* Kind for a name; returns -1 when unknown. */
int cm_dist_kind_from_name(const char *name);

/* A fixed value. */
cm_dist_t cm_dist_fixed(double value);

/* Check parameters and fill the derived fields.  On error returns CM_ECONFIG
 * and writes what was expected into msg (e.g. "min 5 is above mode 3"). */
int cm_dist_check(cm_dist_t *d, char *msg, size_t msg_size);

/* Draw one value.  d must have passed cm_dist_check. */
double cm_dist_draw(const cm_dist_t *d, gsl_rng *r);

/* Analytic mean and standard deviation (for tests and docs/model.md). */
double cm_dist_mean(const cm_dist_t *d);
double cm_dist_sd(const cm_dist_t *d);

/* Analytic CDF at x (for the Kolmogorov-Smirnov tests). */
double cm_dist_cdf(const cm_dist_t *d, double x);

/* Smallest and largest value the distribution can take (may be infinite). */
double cm_dist_min(const cm_dist_t *d);
double cm_dist_max(const cm_dist_t *d);

/* 1 when the value does not vary (FIXED, or a degenerate range). */
int cm_dist_is_fixed(const cm_dist_t *d);

#endif
