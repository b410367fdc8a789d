/* test_stats.c - the statistics module (include/cmsim/stats.h).
 *
 * References: GSL (gsl_stats_mean, gsl_stats_sd, gsl_stats_minmax,
 * gsl_stats_quantile_from_sorted_data) on the same data, order statistics of
 * a sorted copy, hand computations (1..20, 0/1 data, cancelling sums, the
 * rounding rule at the ends of the sums' range), long double two-pass
 * moments, an independent exact reference for the sums (big integers added
 * bit position by bit position, turned into doubles by strtod on their exact
 * decimal expansion), the documented sketch mapping evaluated with log(),
 * and the sketch's documented bound |v - x| <= CM_STATS_ALPHA |x|, checked on
 * both sides of bucket edges located through the public interface by
 * bisection.
 *
 * `test_stats --bench` times cm_stats_add instead of testing (see
 * bench_add below).
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, unlink */

#include <float.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "check.h"
#include "cmsim/error.h"
#include "cmsim/stats.h"

#define ALPHA CM_STATS_ALPHA
#define BIG_N 100000

/* ------------------------------------------------------------------ */
/* Helpers */

enum {
    D_NORMAL,     /* N(5, 2^2) */
    D_LOGNORMAL,  /* lognormal(0, 1) */
    D_T2,         /* Student t, 2 df (mixed sign, infinite variance) */
    D_ZEROS,      /* 60 % exact zeros, the rest exponential(3) and its negative */
    D_LOGNORMAL2, /* lognormal(0, 2): very skewed */
    D_T15,        /* Student t, 1.5 df, times 100 */
    D_PARETO,     /* Pareto a = 1.2, b = 1 */
    D_NEGPARETO,  /* minus Pareto a = 1.5, b = 0.01, some zeros */
    D_COUNT
};

static const char *const dist_name[D_COUNT] = {
    "normal", "lognormal", "t2", "zeros", "lognormal2", "t1.5", "pareto",
    "-pareto"};

static double draw(gsl_rng *r, int dist)
{
    switch (dist) {
    case D_NORMAL:
        return 5.0 + gsl_ran_gaussian(r, 2.0);
    case D_LOGNORMAL:
        return gsl_ran_lognormal(r, 0.0, 1.0);
    case D_T2:
        return gsl_ran_tdist(r, 2.0);
    case D_ZEROS: {
        double u = gsl_rng_uniform(r);
        if (u < 0.6)
            return 0.0;
        return (u < 0.8 ? 1.0 : -1.0) * gsl_ran_exponential(r, 3.0);
    }
    case D_LOGNORMAL2:
        return gsl_ran_lognormal(r, 0.0, 2.0);
    case D_T15:
        return 100.0 * gsl_ran_tdist(r, 1.5);
    case D_PARETO:
        return gsl_ran_pareto(r, 1.2, 1.0);
    default:
        return gsl_rng_uniform(r) < 0.05 ? 0.0 : -gsl_ran_pareto(r, 1.5, 0.01);
    }
}

static double *sample(int dist, size_t n, unsigned long seed)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = draw(r, dist);
    gsl_rng_free(r);
    return x;
}

static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc(n * sizeof *s);
    memcpy(s, x, n * sizeof *s);
    gsl_sort(s, 1, n);
    return s;
}

/* Summary of one slot of the given kind holding x[0..n-1]. */
static void summarise(cm_stat_kind_t kind, int exact, const double *x,
                      size_t n, cm_summary_t *out)
{
    cm_stats_t st;
    CHECK(cm_stats_init(&st, 1, &kind, exact) == CM_EOK);
    for (size_t i = 0; i < n; i++)
        CHECK(cm_stats_add(&st, &x[i]) == CM_EOK);
    cm_stats_summary(&st, 0, out);
    cm_stats_free(&st);
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Bitwise equality of two summaries, naming the first field that differs. */
static int same_summary(const cm_summary_t *a, const cm_summary_t *b)
{
    static const char *const names[] = {
        "mean", "sd", "se", "min", "p05", "p25", "p50", "p75", "p95", "max",
        "cvar05", "prob", "prob_se"};
    const double fa[] = {a->mean, a->sd, a->se, a->min, a->p05, a->p25,
                         a->p50, a->p75, a->p95, a->max, a->cvar05, a->prob,
                         a->prob_se};
    const double fb[] = {b->mean, b->sd, b->se, b->min, b->p05, b->p25,
                         b->p50, b->p75, b->p95, b->max, b->cvar05, b->prob,
                         b->prob_se};
    if (a->n != b->n || a->n_undef != b->n_undef) {
        fprintf(stderr, "  n %llu/%llu, n_undef %llu/%llu differ\n",
                (unsigned long long)a->n, (unsigned long long)b->n,
                (unsigned long long)a->n_undef,
                (unsigned long long)b->n_undef);
        return 0;
    }
    for (size_t i = 0; i < sizeof fa / sizeof fa[0]; i++)
        if (!same_bits(fa[i], fb[i])) {
            fprintf(stderr, "  %s differs: %.17g vs %.17g\n", names[i], fa[i],
                    fb[i]);
            return 0;
        }
    return 1;
}

/* The quantile fields only (order-free in sketch mode). */
static int same_quantiles(const cm_summary_t *a, const cm_summary_t *b)
{
    return a->n == b->n && a->n_undef == b->n_undef &&
           same_bits(a->min, b->min) && same_bits(a->p05, b->p05) &&
           same_bits(a->p25, b->p25) && same_bits(a->p50, b->p50) &&
           same_bits(a->p75, b->p75) && same_bits(a->p95, b->p95) &&
           same_bits(a->max, b->max) && same_bits(a->cvar05, b->cvar05);
}

static FILE *temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/test_stats_XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    FILE *f = fdopen(fd, "w+b");
    if (f == NULL)
        close(fd);
    return f;
}

/* The serialised bytes of st (malloc'ed; *len bytes). */
static unsigned char *serialise(const cm_stats_t *st, size_t *len)
{
    *len = 0;
    FILE *f = temp_file();
    CHECK(f != NULL);
    if (f == NULL)
        return NULL;
    CHECK(cm_stats_write(st, f) == CM_EOK);
    long end = ftell(f);
    CHECK(end >= 0);
    rewind(f);
    unsigned char *buf = malloc(end > 0 ? (size_t)end : 1);
    CHECK(fread(buf, 1, (size_t)end, f) == (size_t)end);
    fclose(f);
    *len = (size_t)end;
    return buf;
}

static const double quantile_q[5] = {0.05, 0.25, 0.50, 0.75, 0.95};

static void quantiles_of(const cm_summary_t *s, double p[5])
{
    p[0] = s->p05;
    p[1] = s->p25;
    p[2] = s->p50;
    p[3] = s->p75;
    p[4] = s->p95;
}

/* The sketch's promise for a value v standing for x. */
static int within_bound(double v, double x)
{
    if (fabs(x) < CM_STATS_ZERO)
        return v == 0.0 || fabs(v - x) <= ALPHA * fabs(x);
    return fabs(v - x) <= ALPHA * fabs(x);
}

/* k = ceil(0.05 n), as the smallest k with 20 k >= n. */
static size_t tail_k(size_t n)
{
    size_t k = 0;
    while (20 * k < n)
        k++;
    return k;
}

/* ------------------------------------------------------------------ */
/* An exact reference for the sums (stats.c documents mean = fl(S1) / n and
 * var = fl(n S2 - S1^2) / n / (n - 1), S1 and S2 exact for
 * 2^-44 <= |x| < 2^78): non-negative big integers in base 2^32, added one
 * shifted 32-bit piece at a time with the carry propagated at once, and
 * turned into doubles through their exact decimal expansion and strtod
 * (correctly rounded in glibc), a road independent of stats.c's. */

#define REF_DIGITS 48 /* 1536 bits: D 5^192 < 2^476 2^446 fits */

typedef struct {
    uint32_t d[REF_DIGITS];
} big_t;

/* a += v 2^shift, v < 2^32. */
static void big_add_piece(big_t *a, uint32_t v, int shift)
{
    int k = shift / 32, s = shift % 32;
    uint64_t carry = (uint64_t)v << s; /* < 2^63 */
    for (; carry != 0 && k < REF_DIGITS; k++) {
        carry += a->d[k];
        a->d[k] = (uint32_t)carry;
        carry >>= 32;
    }
    CHECK(carry == 0);
}

/* a += v 2^shift for a 64-bit v. */
static void big_add_u64(big_t *a, uint64_t v, int shift)
{
    big_add_piece(a, (uint32_t)v, shift);
    big_add_piece(a, (uint32_t)(v >> 32), shift + 32);
}

static int big_cmp(const big_t *a, const big_t *b)
{
    for (int k = REF_DIGITS - 1; k >= 0; k--)
        if (a->d[k] != b->d[k])
            return a->d[k] < b->d[k] ? -1 : 1;
    return 0;
}

/* a -= b, a >= b. */
static void big_sub(big_t *a, const big_t *b)
{
    int64_t borrow = 0;
    for (int k = 0; k < REF_DIGITS; k++) {
        int64_t t = (int64_t)a->d[k] - b->d[k] + borrow;
        borrow = t < 0 ? -1 : 0;
        a->d[k] = (uint32_t)(t + (borrow ? (INT64_C(1) << 32) : 0));
    }
}

/* a *= m, m < 2^32. */
static void big_mul_small(big_t *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int k = 0; k < REF_DIGITS; k++) {
        carry += (uint64_t)a->d[k] * m;
        a->d[k] = (uint32_t)carry;
        carry >>= 32;
    }
    CHECK(carry == 0);
}

/* out = a a (must fit). */
static void big_square(const big_t *a, big_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < REF_DIGITS; i++)
        for (int j = 0; j < REF_DIGITS; j++)
            if (a->d[i] != 0 && a->d[j] != 0) {
                CHECK(i + j + 1 < REF_DIGITS);
                big_add_u64(out, (uint64_t)a->d[i] * a->d[j], 32 * (i + j));
            }
}

/* a 2^-p rounded to the nearest double: a 5^p is the digits of a 10^-p. */
static double big_to_double(const big_t *a, int p)
{
    big_t t = *a;
    for (int i = 0; i < p; i++)
        big_mul_small(&t, 5);
    char buf[REF_DIGITS * 10 + 16], rev[REF_DIGITS * 10 + 1];
    size_t nd = 0;
    for (;;) { /* decimal digits, least significant first */
        uint64_t rem = 0;
        int zero = 1;
        for (int k = REF_DIGITS - 1; k >= 0; k--) {
            uint64_t cur = (rem << 32) | t.d[k];
            t.d[k] = (uint32_t)(cur / 10);
            rem = cur % 10;
            zero &= t.d[k] == 0;
        }
        rev[nd++] = (char)('0' + rem);
        if (zero)
            break;
    }
    for (size_t i = 0; i < nd; i++)
        buf[i] = rev[nd - 1 - i];
    snprintf(buf + nd, sizeof buf - nd, "e-%d", p);
    return strtod(buf, NULL);
}

typedef struct {
    big_t pos, neg; /* S1 = pos - neg, units of 2^-96 */
    big_t s2;       /* units of 2^-192 */
    uint64_t n;
} ref_sums_t;

/* x with 2^-44 <= |x| < 2^78 (or 0): x = m 2^(e-1075) is m 2^(e-979)
 * units of 2^-96, x^2 = m^2 2^(2(e-979)) units of 2^-192. */
static void ref_add(ref_sums_t *r, double x)
{
    r->n++;
    if (x == 0.0)
        return;
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    int e = (int)((u >> 52) & 0x7ff);
    uint64_t m = (u & UINT64_C(0xfffffffffffff)) | (UINT64_C(1) << 52);
    CHECK(e >= 979 && e < 1101);
    int p = e - 979;
    big_add_u64(x < 0 ? &r->neg : &r->pos, m, p);
    uint64_t m0 = m & 0xffffffffu, m1 = m >> 32;
    big_add_u64(&r->s2, m0 * m0, 2 * p);
    big_add_u64(&r->s2, m0 * m1, 2 * p + 32);
    big_add_u64(&r->s2, m0 * m1, 2 * p + 32);
    big_add_u64(&r->s2, m1 * m1, 2 * p + 64);
}

/* The documented mean and sd of the reference sums. */
static void ref_moments(const ref_sums_t *r, double *mean, double *sd)
{
    big_t s1 = r->pos, sq, d;
    int negative = big_cmp(&r->pos, &r->neg) < 0;
    if (negative) {
        s1 = r->neg;
        big_sub(&s1, &r->pos);
    } else {
        big_sub(&s1, &r->neg);
    }
    const double n = (double)r->n;
    double m = big_to_double(&s1, 96);
    *mean = (negative ? -m : m) / n;
    *sd = NAN;
    if (r->n < 2)
        return;
    CHECK(r->n < UINT64_C(1) << 32);
    big_square(&s1, &sq);
    d = r->s2;
    big_mul_small(&d, (uint32_t)r->n);
    double num = 0.0;
    if (big_cmp(&d, &sq) > 0) {
        big_sub(&d, &sq);
        num = big_to_double(&d, 192);
    }
    *sd = sqrt(num / n / (n - 1.0));
}

/* Summary of x[0..n-1] against the reference, bit for bit. */
static void check_against_reference(cm_stat_kind_t kind, int exact,
                                     const double *x, size_t n)
{
    ref_sums_t *r = calloc(1, sizeof *r);
    for (size_t i = 0; i < n; i++)
        ref_add(r, x[i]);
    double mean, sd;
    ref_moments(r, &mean, &sd);
    cm_summary_t s;
    summarise(kind, exact, x, n, &s);
    if (!same_bits(s.mean, mean) || !same_bits(s.sd, sd)) {
        fprintf(stderr, "  kind %d exact %d n %zu: mean %.17g vs %.17g, "
                "sd %.17g vs %.17g\n", (int)kind, exact, n, s.mean, mean,
                s.sd, sd);
        CHECK(0);
    }
    free(r);
}

/* ------------------------------------------------------------------ */
/* Moments */

static void test_moments_match_gsl(void)
{
    const int dists[] = {D_NORMAL, D_LOGNORMAL, D_T2, D_ZEROS};
    for (size_t d = 0; d < sizeof dists / sizeof dists[0]; d++) {
        int before = cm_test_failures_;
        double *x = sample(dists[d], BIG_N, 11 + d);
        double mean = gsl_stats_mean(x, 1, BIG_N);
        double sd = gsl_stats_sd(x, 1, BIG_N);
        double mn, mx;
        gsl_stats_minmax(&mn, &mx, x, 1, BIG_N);
        /* t with 2 df has a mean near 0 and values in the hundreds: the
         * mean's relative error is measured against mean |x|, its natural
         * scale (the rounding of GSL's running mean is relative to it).
         * The module's mean is the exact sum rounded once; GSL's
         * recurrence drifts by a few ulp, hence 1e-13 and not 1e-15. */
        double scale = dists[d] == D_T2 ? gsl_stats_absdev_m(x, 1, BIG_N, 0.0)
                                        : fabs(mean);
        cm_summary_t s[2];
        for (int exact = 0; exact < 2; exact++) {
            summarise(CM_STAT_PLAIN, exact, x, BIG_N, &s[exact]);
            CHECK(s[exact].n == BIG_N);
            CHECK(s[exact].n_undef == 0);
            CHECK_NEAR(s[exact].mean, mean, 1e-13 * scale);
            CHECK_REL(s[exact].sd, sd, 1e-13);
            CHECK_REL(s[exact].se, sd / sqrt((double)BIG_N), 1e-13);
            CHECK(s[exact].min == mn);
            CHECK(s[exact].max == mx);
        }
        /* Both modes share the moment code: identical bits. */
        CHECK(same_bits(s[0].mean, s[1].mean));
        CHECK(same_bits(s[0].sd, s[1].sd));
        if (cm_test_failures_ != before)
            fprintf(stderr, "  (distribution %s)\n", dist_name[dists[d]]);
        free(x);
    }
}

/* ------------------------------------------------------------------ */
/* Exact mode */

static void test_exact_hand_case(void)
{
    /* 1..20 in a scrambled order.  Type 7 quantiles: position (n-1) q =
     * 19 q, so p05 = 1 + 0.95, p25 = 5 + 0.75, p50 = 10.5, p75 = 15.25,
     * p95 = 19.05; sample variance of 1..n is n (n+1) / 12 = 35; k = 1. */
    double x[21];
    for (int i = 0; i < 20; i++)
        x[i] = (double)((i * 7) % 20 + 1);
    cm_summary_t s;
    summarise(CM_STAT_TAIL_LOW, 1, x, 20, &s);
    CHECK(s.n == 20);
    CHECK_REL(s.mean, 10.5, 1e-15);
    CHECK_REL(s.sd, sqrt(35.0), 1e-15);
    CHECK_REL(s.se, sqrt(35.0 / 20.0), 1e-15);
    CHECK(s.min == 1.0 && s.max == 20.0);
    CHECK_REL(s.p05, 1.95, 1e-15);
    CHECK_REL(s.p25, 5.75, 1e-15);
    CHECK_REL(s.p50, 10.5, 1e-15);
    CHECK_REL(s.p75, 15.25, 1e-15);
    CHECK_REL(s.p95, 19.05, 1e-15);
    CHECK(s.cvar05 == 1.0);
    CHECK(isnan(s.prob) && isnan(s.prob_se));
    summarise(CM_STAT_TAIL_HIGH, 1, x, 20, &s);
    CHECK(s.cvar05 == 20.0);

    /* 1..21: k = ceil(21 / 20) = 2. */
    x[20] = 21.0;
    summarise(CM_STAT_TAIL_LOW, 1, x, 21, &s);
    CHECK(s.cvar05 == 1.5);
    CHECK(s.p50 == 11.0);
    summarise(CM_STAT_TAIL_HIGH, 1, x, 21, &s);
    CHECK(s.cvar05 == 20.5);
    /* The sketch on the same data: each quantile within relative ALPHA of
     * the order statistic of rank floor(q (n - 1)) = 1, 5, 10, 15, 19. */
    summarise(CM_STAT_TAIL_HIGH, 0, x, 21, &s);
    CHECK(within_bound(s.p05, 2.0));
    CHECK(within_bound(s.p25, 6.0));
    CHECK(within_bound(s.p50, 11.0));
    CHECK(within_bound(s.p75, 16.0));
    CHECK(within_bound(s.p95, 20.0));
    CHECK(s.min == 1.0 && s.max == 21.0);
    CHECK(fabs(s.cvar05 - 20.5) <= ALPHA * 20.5);
}

static void test_exact_quantiles_match_gsl(void)
{
    const size_t sizes[] = {1, 2, 3, 5, 19, 20, 21, 39, 40, 41, 100, 101,
                            1000, 12345, BIG_N};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        for (int d = 0; d < D_COUNT; d++) {
            size_t n = sizes[z];
            if (n == BIG_N && d != D_T15 && d != D_ZEROS)
                continue; /* two large cases are enough */
            int before = cm_test_failures_;
            double *x = sample(d, n, 1000 + 37 * z + (unsigned long)d);
            double *sx = sorted_copy(x, n);
            cm_stat_kind_t kinds[2] = {CM_STAT_TAIL_LOW, CM_STAT_TAIL_HIGH};
            cm_stats_t st;
            CHECK(cm_stats_init(&st, 2, kinds, 1) == CM_EOK);
            for (size_t i = 0; i < n; i++) {
                double v[2] = {x[i], x[i]};
                CHECK(cm_stats_add(&st, v) == CM_EOK);
            }
            cm_summary_t lo, hi;
            cm_stats_summary(&st, 0, &lo);
            cm_stats_summary(&st, 1, &hi);
            double p[5];
            quantiles_of(&lo, p);
            for (int q = 0; q < 5; q++)
                CHECK(p[q] == gsl_stats_quantile_from_sorted_data(
                                  sx, 1, n, quantile_q[q]));
            CHECK(lo.min == sx[0] && lo.max == sx[n - 1]);
            /* Hand sort-and-mean, summed in ascending order as documented. */
            size_t k = tail_k(n);
            double slo = 0.0, shi = 0.0;
            long double llo = 0.0L, lhi = 0.0L;
            for (size_t i = 0; i < k; i++) {
                slo += sx[i];
                shi += sx[n - k + i];
                llo += sx[i];
                lhi += sx[n - k + i];
            }
            CHECK(lo.cvar05 == slo / (double)k);
            CHECK(hi.cvar05 == shi / (double)k);
            CHECK_NEAR(lo.cvar05, (double)(llo / k),
                       1e-12 * fmax(fabs(sx[0]), fabs(sx[k - 1])));
            CHECK_NEAR(hi.cvar05, (double)(lhi / k),
                       1e-12 * fmax(fabs(sx[n - k]), fabs(sx[n - 1])));
            /* A second summary (store already sorted) is identical. */
            cm_summary_t again;
            cm_stats_summary(&st, 0, &again);
            CHECK(same_summary(&lo, &again));
            if (cm_test_failures_ != before)
                fprintf(stderr, "  (n %zu, distribution %s)\n", n,
                        dist_name[d]);
            cm_stats_free(&st);
            free(x);
            free(sx);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Sketch accuracy */

static void test_sketch_quantiles_within_bound(void)
{
    const int dists[] = {D_LOGNORMAL2, D_T15, D_PARETO, D_NEGPARETO, D_ZEROS,
                         D_NORMAL};
    for (size_t d = 0; d < sizeof dists / sizeof dists[0]; d++) {
        for (unsigned long seed = 1; seed <= 2; seed++) {
            double *x = sample(dists[d], BIG_N, 500 * seed + d);
            double *sx = sorted_copy(x, BIG_N);
            cm_summary_t s;
            summarise(CM_STAT_PLAIN, 0, x, BIG_N, &s);
            double p[5];
            quantiles_of(&s, p);
            for (int q = 0; q < 5; q++) {
                size_t r = (size_t)floor(quantile_q[q] * (double)(BIG_N - 1));
                if (!within_bound(p[q], sx[r])) {
                    fprintf(stderr, "  %s q %.2f: %.17g vs x_(%zu) = %.17g\n",
                            dist_name[dists[d]], quantile_q[q], p[q], r,
                            sx[r]);
                    CHECK(within_bound(p[q], sx[r]));
                }
            }
            CHECK(s.min == sx[0]);
            CHECK(s.max == sx[BIG_N - 1]);
            free(x);
            free(sx);
        }
    }
}

static void test_sketch_cvar_within_bound(void)
{
    const int dists[] = {D_LOGNORMAL2, D_T15, D_PARETO, D_NEGPARETO, D_ZEROS};
    for (size_t d = 0; d < sizeof dists / sizeof dists[0]; d++) {
        const size_t n = BIG_N + 7; /* k = ceil(n / 20) not a divisor */
        int before = cm_test_failures_;
        double *x = sample(dists[d], n, 900 + d);
        double *sx = sorted_copy(x, n);
        size_t k = tail_k(n);
        double elo = 0.0, ehi = 0.0, alo = 0.0, ahi = 0.0;
        for (size_t i = 0; i < k; i++) {
            elo += sx[i];
            alo += fabs(sx[i]);
            ehi += sx[n - k + i];
            ahi += fabs(sx[n - k + i]);
        }
        elo /= (double)k;
        ehi /= (double)k;
        alo /= (double)k;
        ahi /= (double)k;
        cm_summary_t lo, hi, lo_exact;
        summarise(CM_STAT_TAIL_LOW, 0, x, n, &lo);
        summarise(CM_STAT_TAIL_HIGH, 0, x, n, &hi);
        summarise(CM_STAT_TAIL_LOW, 1, x, n, &lo_exact);
        /* Documented: within ALPHA times the tail's mean |x|, plus ZERO. */
        CHECK_NEAR(lo.cvar05, elo, ALPHA * alo + CM_STATS_ZERO);
        CHECK_NEAR(hi.cvar05, ehi, ALPHA * ahi + CM_STATS_ZERO);
        CHECK_REL(lo_exact.cvar05, elo, 1e-12);
        if (cm_test_failures_ != before)
            fprintf(stderr, "  (distribution %s)\n", dist_name[dists[d]]);
        free(x);
        free(sx);
    }
}

/* The representative the sketch gives x: the median of {a, x, b} with a <
 * x < b far enough that clamping to [min, max] cannot touch it. */
static double rep_of(cm_stats_t *st, double x)
{
    double a, b;
    if (x > 0.0) {
        a = 0.0;
        b = x <= DBL_MAX / 2 ? 2.0 * x : DBL_MAX;
    } else {
        a = x >= -DBL_MAX / 2 ? 2.0 * x : -DBL_MAX;
        b = 0.0;
    }
    cm_stats_reset(st);
    CHECK(cm_stats_add(st, &a) == CM_EOK);
    CHECK(cm_stats_add(st, &x) == CM_EOK);
    CHECK(cm_stats_add(st, &b) == CM_EOK);
    cm_summary_t s;
    cm_stats_summary(st, 0, &s);
    return s.p50;
}

/* |x| as a monotone integer and back (x of a fixed sign). */
static uint64_t mag_bits(double x)
{
    double a = fabs(x);
    uint64_t u;
    memcpy(&u, &a, sizeof u);
    return u;
}

static double from_bits(uint64_t u, double sign)
{
    double a;
    memcpy(&a, &u, sizeof a);
    return sign * a;
}

static void test_sketch_bound_at_bucket_edges(void)
{
    cm_stats_t st;
    cm_stat_kind_t kind = CM_STAT_PLAIN;
    CHECK(cm_stats_init(&st, 1, &kind, 0) == CM_EOK);
    const double gamma = (1.0 + ALPHA) / (1.0 - ALPHA);
    int edges = 0;
    for (int g = 0; g <= 400; g++) {
        /* log-spaced over [ZERO, 1e300], then the top of the range */
        double x0 = g == 0     ? CM_STATS_ZERO
                    : g < 400 ? pow(10.0, -12.0 + 312.0 * g / 399.0)
                              : 1.78e308;
        for (int sgn = 0; sgn < 2; sgn++) {
            double sign = sgn ? -1.0 : 1.0;
            uint64_t lo = mag_bits(x0);
            double x1 = fmin(fabs(x0) * 1.012, DBL_MAX);
            uint64_t hi = mag_bits(x1);
            double rlo = rep_of(&st, from_bits(lo, sign));
            double rhi = rep_of(&st, from_bits(hi, sign));
            CHECK(rlo != rhi);
            if (rlo == rhi)
                continue;
            while (hi - lo > 1) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (rep_of(&st, from_bits(mid, sign)) == rlo)
                    lo = mid;
                else
                    hi = mid;
            }
            /* lo is the last double of one bucket, hi the first of the next */
            double vlo = rep_of(&st, from_bits(lo, sign));
            double vhi = rep_of(&st, from_bits(hi, sign));
            for (int k = -3; k <= 3; k++) {
                double x = from_bits((k <= 0 ? lo : hi) + (uint64_t)k, sign);
                double v = rep_of(&st, x);
                if (!within_bound(v, x)) {
                    fprintf(stderr, "  x %.17g: representative %.17g\n", x,
                            v);
                    CHECK(within_bound(v, x));
                }
            }
            /* Bucket width: consecutive representatives a ratio gamma apart
             * (up to the documented 1e-6 relative margin on alpha), i.e.
             * about 230 buckets per decade; the top one is DBL_MAX. */
            if (isfinite(vhi * gamma))
                CHECK_REL(vhi / vlo, gamma, 1e-7);
            else
                CHECK(vhi == sign * DBL_MAX);
            edges++;
        }
    }
    CHECK(edges == 802);
    /* Special values: 1 is a representative; the zero threshold. */
    CHECK(rep_of(&st, 1.0) == 1.0);
    CHECK(rep_of(&st, -1.0) == -1.0);
    CHECK(rep_of(&st, nextafter(CM_STATS_ZERO, 0.0)) == 0.0);
    CHECK(rep_of(&st, -nextafter(CM_STATS_ZERO, 0.0)) == 0.0);
    CHECK(within_bound(rep_of(&st, CM_STATS_ZERO), CM_STATS_ZERO));
    CHECK(rep_of(&st, CM_STATS_ZERO) != 0.0);
    CHECK(within_bound(rep_of(&st, DBL_MAX), DBL_MAX));
    CHECK(within_bound(rep_of(&st, 1.795e308), 1.795e308));
    cm_stats_free(&st);
}

/* The documented mapping (stats.c's file comment), evaluated with log() as
 * there: i(x) = ceil(ln|x| SK_MULT + SK_SHIFT), representative
 * exp(i ln gamma_m), DBL_MAX for the top bucket. */
static double formula_rep(double x)
{
    const double mult = 99.99926666204438845895608;
    const double shift = -0.5012500039583784728692647;
    const double ln_gamma = 0.0100000733343333496550521;
    double i = ceil(log(fabs(x)) * mult + shift);
    double v = exp(i * ln_gamma);
    return copysign(v <= DBL_MAX ? v : DBL_MAX, x);
}

/* The sketch computes its buckets without log(); they must be the
 * formula's exactly: at random doubles over the whole range and on both
 * sides of every 23rd bucket edge of the formula. */
static void test_sketch_index_matches_formula(void)
{
    cm_stats_t st;
    cm_stat_kind_t kind = CM_STAT_PLAIN;
    CHECK(cm_stats_init(&st, 1, &kind, 0) == CM_EOK);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 31);
    const uint64_t lo = mag_bits(CM_STATS_ZERO), hi = mag_bits(DBL_MAX);
    int bad = 0, probes = 0;
    for (int it = 0; it < 20000; it++) {
        uint64_t u = lo + (uint64_t)(gsl_rng_uniform(r) * (double)(hi - lo));
        double x = from_bits(u, it % 2 ? -1.0 : 1.0);
        bad += !same_bits(rep_of(&st, x), formula_rep(x));
        probes++;
    }
    for (double x0 = CM_STATS_ZERO; x0 < 1e308; x0 *= 1.26) {
        /* the first double past x0 in the next bucket, by bisection */
        uint64_t a = mag_bits(x0), b = mag_bits(fmin(x0 * 1.02, DBL_MAX));
        if (formula_rep(from_bits(a, 1.0)) == formula_rep(from_bits(b, 1.0)))
            continue;
        while (b - a > 1) {
            uint64_t mid = a + (b - a) / 2;
            if (formula_rep(from_bits(mid, 1.0)) == formula_rep(from_bits(a, 1.0)))
                a = mid;
            else
                b = mid;
        }
        for (int d = -2; d <= 2; d++) {
            double x = from_bits(b + (uint64_t)(int64_t)d, probes % 2 ? -1.0 : 1.0);
            bad += !same_bits(rep_of(&st, x), formula_rep(x));
            probes++;
        }
    }
    CHECK(probes > 25000);
    if (bad != 0)
        fprintf(stderr, "  %d of %d probes differ\n", bad, probes);
    CHECK(bad == 0);
    gsl_rng_free(r);
    cm_stats_free(&st);
}

/* Values added so that the stores grow downwards and upwards many times,
 * and merges of stores with disjoint and overlapping ranges. */
static void test_sketch_growth_and_wide_ranges(void)
{
    const size_t n = 20000;
    double *x = malloc(n * sizeof *x);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    for (size_t i = 0; i < n; i++) {
        /* a sweep that widens in both directions over 600 decades */
        double e = (double)(i % 2 ? i : -(double)i) * 300.0 / (double)n;
        double sign = gsl_rng_uniform(r) < 0.3 ? -1.0 : 1.0;
        x[i] = sign * pow(10.0, e) * (1.0 + gsl_rng_uniform(r));
        if (!(fabs(x[i]) >= 1e-300 && fabs(x[i]) <= 1e300))
            x[i] = sign;
    }
    x[0] = DBL_MAX;
    x[1] = -DBL_MAX;
    x[2] = CM_STATS_ZERO;
    gsl_rng_free(r);

    double *sx = sorted_copy(x, n);
    cm_summary_t whole;
    summarise(CM_STAT_TAIL_HIGH, 0, x, n, &whole);
    double p[5];
    quantiles_of(&whole, p);
    for (int q = 0; q < 5; q++) {
        size_t rk = (size_t)floor(quantile_q[q] * (double)(n - 1));
        CHECK(within_bound(p[q], sx[rk]));
    }
    CHECK(whole.min == -DBL_MAX && whole.max == DBL_MAX);

    /* Blocks: small |x| first, then large, merged both ways round. */
    cm_stat_kind_t kind = CM_STAT_TAIL_HIGH;
    cm_stats_t a, b, c;
    CHECK(cm_stats_init(&a, 1, &kind, 0) == CM_EOK);
    CHECK(cm_stats_init(&b, 1, &kind, 0) == CM_EOK);
    CHECK(cm_stats_init(&c, 1, &kind, 0) == CM_EOK);
    for (size_t i = 0; i < n; i++)
        CHECK(cm_stats_add(fabs(x[i]) < 1.0 ? &a : &b, &x[i]) == CM_EOK);
    CHECK(cm_stats_merge(&c, &b) == CM_EOK);
    CHECK(cm_stats_merge(&c, &a) == CM_EOK);
    CHECK(cm_stats_merge(&a, &b) == CM_EOK);
    cm_summary_t sa, sc;
    cm_stats_summary(&a, 0, &sa);
    cm_stats_summary(&c, 0, &sc);
    CHECK(same_quantiles(&sa, &whole));
    CHECK(same_quantiles(&sc, &whole));
    cm_stats_free(&a);
    cm_stats_free(&b);
    cm_stats_free(&c);
    free(x);
    free(sx);
}

/* ------------------------------------------------------------------ */
/* Merging */

#define MS_SLOTS 6
static const cm_stat_kind_t ms_kinds[MS_SLOTS] = {
    CM_STAT_PLAIN, CM_STAT_BINARY, CM_STAT_TAIL_LOW, CM_STAT_TAIL_HIGH,
    CM_STAT_MOMENTS, CM_STAT_PLAIN};

/* npaths x MS_SLOTS values with NaNs, zeros and heavy tails. */
static double *merge_data(size_t npaths)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242);
    double *v = malloc(npaths * MS_SLOTS * sizeof *v);
    for (size_t p = 0; p < npaths; p++) {
        double *row = v + p * MS_SLOTS;
        row[0] = draw(r, D_LOGNORMAL2);
        row[1] = gsl_rng_uniform(r) < 0.13 ? 1.0 : 0.0;
        row[2] = draw(r, D_T15);
        row[3] = gsl_rng_uniform(r) < 0.2 ? NAN : draw(r, D_PARETO);
        row[4] = draw(r, D_NORMAL);
        row[5] = draw(r, D_ZEROS);
    }
    gsl_rng_free(r);
    return v;
}

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void add_rows(cm_stats_t *st, const double *v, size_t from, size_t to)
{
    for (size_t p = from; p < to; p++)
        CHECK(cm_stats_add(st, v + p * MS_SLOTS) == CM_EOK);
}

static void test_merge_block_order_bit_identical(void)
{
    const size_t npaths = 30011, bsize = 997;
    const size_t nblocks = (npaths + bsize - 1) / bsize;
    double *v = merge_data(npaths);
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t run[3];
        cm_stats_t *blocks = calloc(nblocks, sizeof *blocks);
        for (int m = 0; m < 3; m++)
            CHECK(cm_stats_init(&run[m], MS_SLOTS, ms_kinds, exact) == CM_EOK);

        /* 0: one block accumulator, reset and reused, blocks in order. */
        cm_stats_t blk;
        CHECK(cm_stats_init(&blk, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        for (size_t b = 0; b < nblocks; b++) {
            cm_stats_reset(&blk);
            add_rows(&blk, v, b * bsize, min_sz((b + 1) * bsize, npaths));
            CHECK(cm_stats_merge(&run[0], &blk) == CM_EOK);
        }
        cm_stats_free(&blk);

        /* 1: blocks computed in reverse order, merged in block order. */
        for (size_t bb = nblocks; bb-- > 0;) {
            CHECK(cm_stats_init(&blocks[bb], MS_SLOTS, ms_kinds, exact) ==
                  CM_EOK);
            add_rows(&blocks[bb], v, bb * bsize,
                     min_sz((bb + 1) * bsize, npaths));
        }
        for (size_t b = 0; b < nblocks; b++) {
            CHECK(cm_stats_merge(&run[1], &blocks[b]) == CM_EOK);
            cm_stats_free(&blocks[b]);
        }

        /* 2: blocks computed by OpenMP threads in whatever order. */
        int init_ok = 1;
#pragma omp parallel for schedule(dynamic, 1) reduction(&& : init_ok)
        for (size_t b = 0; b < nblocks; b++) {
            init_ok = init_ok && cm_stats_init(&blocks[b], MS_SLOTS, ms_kinds,
                                               exact) == CM_EOK;
            for (size_t p = b * bsize; p < (b + 1) * bsize && p < npaths; p++)
                init_ok = init_ok &&
                          cm_stats_add(&blocks[b], v + p * MS_SLOTS) == CM_EOK;
        }
        CHECK(init_ok);
        for (size_t b = 0; b < nblocks; b++) {
            CHECK(cm_stats_merge(&run[2], &blocks[b]) == CM_EOK);
            cm_stats_free(&blocks[b]);
        }

        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t s0, s;
            cm_stats_summary(&run[0], slot, &s0);
            CHECK(s0.n + s0.n_undef == npaths);
            for (int m = 1; m < 3; m++) {
                cm_stats_summary(&run[m], slot, &s);
                if (!same_summary(&s0, &s)) {
                    fprintf(stderr, "  exact %d slot %zu method %d\n", exact,
                            slot, m);
                    CHECK(0);
                }
            }
        }
        /* The state itself, as serialised, is identical too. */
        size_t len0, len;
        unsigned char *b0 = serialise(&run[0], &len0);
        for (int m = 1; m < 3; m++) {
            unsigned char *bm = serialise(&run[m], &len);
            CHECK(len == len0 && b0 != NULL && bm != NULL &&
                  memcmp(b0, bm, len) == 0);
            free(bm);
        }
        free(b0);
        for (int m = 0; m < 3; m++)
            cm_stats_free(&run[m]);
        free(blocks);
    }
    free(v);
}

static void test_merge_any_order_sketch_quantiles(void)
{
    const size_t npaths = 24000, nblocks = 8, bsize = npaths / nblocks;
    double *v = merge_data(npaths);
    cm_stats_t blocks[8];
    for (size_t b = 0; b < nblocks; b++) {
        CHECK(cm_stats_init(&blocks[b], MS_SLOTS, ms_kinds, 0) == CM_EOK);
        add_rows(&blocks[b], v, b * bsize, (b + 1) * bsize);
    }
    cm_summary_t ref[MS_SLOTS];
    cm_stats_t all;
    CHECK(cm_stats_init(&all, MS_SLOTS, ms_kinds, 0) == CM_EOK);
    add_rows(&all, v, 0, npaths);
    for (size_t slot = 0; slot < MS_SLOTS; slot++)
        cm_stats_summary(&all, slot, &ref[slot]);
    cm_stats_free(&all);

    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 9);
    size_t order[8];
    for (size_t b = 0; b < nblocks; b++)
        order[b] = b;
    for (int trial = 0; trial < 25; trial++) {
        if (trial > 0)
            gsl_ran_shuffle(r, order, nblocks, sizeof order[0]);
        cm_stats_t run;
        CHECK(cm_stats_init(&run, MS_SLOTS, ms_kinds, 0) == CM_EOK);
        for (size_t b = 0; b < nblocks; b++)
            CHECK(cm_stats_merge(&run, &blocks[order[b]]) == CM_EOK);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t s;
            cm_stats_summary(&run, slot, &s);
            /* counts, exact sums, min and max are order-free: every
             * statistic equals that of a single pass, bit for bit */
            CHECK(same_quantiles(&s, &ref[slot]));
            CHECK(same_summary(&s, &ref[slot]));
        }
        cm_stats_free(&run);
    }
    gsl_rng_free(r);
    for (size_t b = 0; b < nblocks; b++)
        cm_stats_free(&blocks[b]);
    free(v);
}

/* One accumulator per block of a random partition of the paths (taken in a
 * random order, blocks of random sizes, empty ones included), merged along
 * a random binary tree: every summary and the serialised state are those of
 * one pass over the paths in order, bit for bit. */
static void test_merge_any_grouping_bit_identical(void)
{
    const size_t npaths = 12007;
    double *v = merge_data(npaths);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2024);
    size_t *order = malloc(npaths * sizeof *order);
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t one;
        CHECK(cm_stats_init(&one, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        add_rows(&one, v, 0, npaths);
        cm_summary_t ref[MS_SLOTS];
        for (size_t slot = 0; slot < MS_SLOTS; slot++)
            cm_stats_summary(&one, slot, &ref[slot]);
        size_t len1;
        unsigned char *b1 = serialise(&one, &len1);
        for (int trial = 0; trial < 6; trial++) {
            for (size_t i = 0; i < npaths; i++)
                order[i] = i;
            if (trial > 0)
                gsl_ran_shuffle(r, order, npaths, sizeof order[0]);
            /* blocks: sizes 0 .. 3000, the last takes the rest */
            cm_stats_t acc[64];
            size_t nacc = 0, p = 0;
            while (p < npaths || nacc == 0) {
                size_t len = nacc == 63 ? npaths - p
                                        : (size_t)gsl_rng_uniform_int(r, 3001);
                if (len > npaths - p)
                    len = npaths - p;
                CHECK(cm_stats_init(&acc[nacc], MS_SLOTS, ms_kinds, exact) ==
                      CM_EOK);
                for (size_t i = p; i < p + len; i++)
                    CHECK(cm_stats_add(&acc[nacc], v + order[i] * MS_SLOTS) ==
                          CM_EOK);
                p += len;
                nacc++;
            }
            /* a random tree: merge a random accumulator into another */
            while (nacc > 1) {
                size_t i = (size_t)gsl_rng_uniform_int(r, nacc);
                size_t j = (size_t)gsl_rng_uniform_int(r, nacc - 1);
                if (j >= i)
                    j++;
                CHECK(cm_stats_merge(&acc[i], &acc[j]) == CM_EOK);
                cm_stats_free(&acc[j]);
                acc[j] = acc[--nacc];
            }
            for (size_t slot = 0; slot < MS_SLOTS; slot++) {
                cm_summary_t sm;
                cm_stats_summary(&acc[0], slot, &sm);
                if (!same_summary(&sm, &ref[slot])) {
                    fprintf(stderr, "  exact %d trial %d slot %zu\n", exact,
                            trial, slot);
                    CHECK(0);
                }
            }
            size_t len2;
            unsigned char *b2 = serialise(&acc[0], &len2);
            CHECK(len1 == len2 && b1 != NULL && b2 != NULL &&
                  memcmp(b1, b2, len1) == 0);
            free(b2);
            cm_stats_free(&acc[0]);
        }
        free(b1);

        /* Merging an accumulator into itself doubles every count and sum:
         * the mean keeps its bits (2 S1 / 2n), D becomes 4 D. */
        cm_stats_t copy;
        CHECK(cm_stats_init(&copy, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        CHECK(cm_stats_merge(&copy, &one) == CM_EOK);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t sc;
            cm_stats_summary(&copy, slot, &sc);
            CHECK(same_summary(&sc, &ref[slot]));
        }
        CHECK(cm_stats_merge(&copy, &copy) == CM_EOK);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t sc;
            cm_stats_summary(&copy, slot, &sc);
            const double n = (double)ref[slot].n;
            CHECK(sc.n == 2 * ref[slot].n);
            CHECK(sc.n_undef == 2 * ref[slot].n_undef);
            CHECK(same_bits(sc.mean, ref[slot].mean));
            CHECK_REL(sc.sd, ref[slot].sd * sqrt((2 * n - 2) / (2 * n - 1)),
                      1e-15);
            CHECK(sc.min == ref[slot].min && sc.max == ref[slot].max);
        }
        cm_stats_free(&copy);
        cm_stats_free(&one);
    }
    free(order);
    gsl_rng_free(r);
    free(v);
}

/* Random data over the whole exact range, both signs, all magnitudes at
 * once, and other awkward sets: mean and sd equal the reference's, bit for
 * bit, in both modes, for a sketch slot and a MOMENTS slot. */
static void test_sums_exact_against_reference(void)
{
    const size_t n = 4000;
    double *x = malloc(n * sizeof *x);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    for (int set = 0; set < 6; set++) {
        for (size_t i = 0; i < n; i++) {
            double u = gsl_rng_uniform(r), sign = u < 0.5 ? -1.0 : 1.0;
            switch (set) {
            case 0: /* 2^-44 .. 2^78, every binade of the exact range */
                x[i] = sign * ldexp(1.0 + gsl_rng_uniform(r),
                                    -44 + (int)gsl_rng_uniform_int(r, 122));
                break;
            case 1: /* cancelling giants and small change */
                x[i] = i % 3 == 0 ? 1e16 : i % 3 == 1 ? 1.0 + u : -1e16;
                break;
            case 2: /* large mean, small spread */
                x[i] = 1e8 + gsl_ran_gaussian(r, 1.0);
                break;
            case 3: /* zeros, ones, shares and money */
                x[i] = u < 0.3 ? 0.0 : u < 0.4 ? 1.0
                                      : u < 0.7 ? gsl_rng_uniform(r)
                                                : draw(r, D_T15);
                break;
            case 4: /* two clusters 2^60 apart: windows move */
                x[i] = sign * (u < 0.5 ? 1e-6 : 1e12) * (1.0 + u);
                break;
            default: /* near the ends */
                x[i] = sign * (u < 0.5 ? ldexp(1.0 + u, -44)
                                       : nextafter(ldexp(1.0, 78), 0.0));
                break;
            }
        }
        int before = cm_test_failures_;
        for (int exact = 0; exact < 2; exact++) {
            check_against_reference(CM_STAT_PLAIN, exact, x, n);
            check_against_reference(CM_STAT_MOMENTS, exact, x, n);
        }
        check_against_reference(CM_STAT_MOMENTS, 0, x, 1);
        check_against_reference(CM_STAT_MOMENTS, 0, x, 2);
        if (cm_test_failures_ != before)
            fprintf(stderr, "  (set %d)\n", set);
    }
    gsl_rng_free(r);
    free(x);
}

/* Sums a float sum gets wrong, in every order: the exact result. */
static void test_sums_exact_cancellation(void)
{
    const double a[3] = {1e16, 1.0, -1e16};
    const int perm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                            {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int k = 0; k < 6; k++) {
        double x[3] = {a[perm[k][0]], a[perm[k][1]], a[perm[k][2]]};
        cm_summary_t s;
        summarise(CM_STAT_MOMENTS, 0, x, 3, &s);
        CHECK(s.mean == 1.0 / 3.0); /* fl(1) / 3 */
        /* var = (2e32 + 1 - 1/3) / 2 = 1e32 + 1/3 */
        CHECK(s.sd == sqrt(1e32));
    }
    /* 2^60, many ones, -2^60: the ones survive. */
    double y[1002];
    y[0] = 0x1p60;
    for (int i = 1; i <= 1000; i++)
        y[i] = 1.0;
    y[1001] = -0x1p60;
    cm_summary_t s;
    summarise(CM_STAT_TAIL_LOW, 0, y, 1002, &s);
    CHECK(s.mean == 1000.0 / 1002.0);
    summarise(CM_STAT_TAIL_LOW, 1, y, 1002, &s);
    CHECK(s.mean == 1000.0 / 1002.0);
}

/* Data with a large mean and a small spread: no cancellation. */
static void test_variance_large_mean(void)
{
    const double centre[2] = {1e8, 1e12}, spread[2] = {1.0, 1e-3};
    const size_t n = 100000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i < n; i++) {
            x[i] = centre[c] + gsl_ran_gaussian(r, spread[c]);
            y[i] = x[i] - centre[c]; /* exact (Sterbenz) */
        }
        /* two passes in long double on the shifted data */
        long double sum = 0.0L, ss = 0.0L;
        for (size_t i = 0; i < n; i++)
            sum += y[i];
        long double mean = sum / n;
        for (size_t i = 0; i < n; i++)
            ss += (y[i] - mean) * (y[i] - mean);
        double sd = (double)sqrtl(ss / (n - 1));
        cm_summary_t s;
        summarise(CM_STAT_PLAIN, 0, x, n, &s);
        CHECK_REL(s.sd, sd, 1e-12);
        CHECK_REL(s.sd, gsl_stats_sd(y, 1, n), 1e-12);
        CHECK_REL(s.mean, (double)(centre[c] + mean), 1e-15);
        check_against_reference(CM_STAT_PLAIN, 0, x, n);
    }
    gsl_rng_free(r);
    free(x);
    free(y);
}

/* The ends of the sums' range: |x| >= 2^78 overflows the slot (mean, sd,
 * se, prob NaN; the rest unaffected, and merges pass it on); just below it
 * is exact; below 2^-44, x is rounded to units of 2^-96 and x^2 to units
 * of 2^-192, to nearest, ties away from zero; subnormals count as 0. */
static void test_sums_range_ends(void)
{
    const double big = 0x1p78, below = nextafter(0x1p78, 0.0);
    cm_summary_t s;
    for (int exact = 0; exact < 2; exact++) {
        const double a[4] = {1.0, 2.0, big, 3.0};
        summarise(CM_STAT_TAIL_HIGH, exact, a, 4, &s);
        CHECK(s.n == 4 && isnan(s.mean) && isnan(s.sd) && isnan(s.se));
        CHECK(s.min == 1.0 && s.max == big);
        /* rank 1 (sketch) or type 7 between 2 and 3 (exact) */
        CHECK(exact ? s.p50 == 2.5 : fabs(s.p50 - 2.0) <= ALPHA * 2.0);
        CHECK(fabs(s.cvar05 - big) <= ALPHA * big);
        const double neg = -big;
        summarise(CM_STAT_BINARY, exact, &neg, 1, &s);
        CHECK(isnan(s.mean) && isnan(s.prob) && isnan(s.prob_se));
        CHECK(s.min == -big);
        /* exact just below: (b - b + b) / 3 and the sd of {b, -b, b} */
        const double b[3] = {below, -below, below};
        summarise(CM_STAT_PLAIN, exact, b, 3, &s);
        CHECK(s.mean == below / 3.0);
        check_against_reference(CM_STAT_PLAIN, exact, b, 3);
    }
    /* An overflowed accumulator merged into a clean one, in either
     * direction, and through serialisation. */
    cm_stat_kind_t kind = CM_STAT_MOMENTS;
    cm_stats_t clean, dirty;
    CHECK(cm_stats_init(&clean, 1, &kind, 0) == CM_EOK);
    CHECK(cm_stats_init(&dirty, 1, &kind, 0) == CM_EOK);
    const double one = 1.0, inf_ish = -DBL_MAX;
    CHECK(cm_stats_add(&clean, &one) == CM_EOK);
    CHECK(cm_stats_add(&dirty, &inf_ish) == CM_EOK);
    CHECK(cm_stats_merge(&clean, &dirty) == CM_EOK);
    cm_stats_summary(&clean, 0, &s);
    CHECK(s.n == 2 && isnan(s.mean) && s.min == -DBL_MAX && s.max == 1.0);
    size_t len;
    unsigned char *bytes = serialise(&clean, &len);
    FILE *f = temp_file();
    CHECK(f != NULL && bytes != NULL);
    if (f != NULL && bytes != NULL) {
        CHECK(fwrite(bytes, 1, len, f) == len);
        rewind(f);
        cm_stats_t back;
        CHECK(cm_stats_read(&back, f) == CM_EOK);
        cm_stats_summary(&back, 0, &s);
        CHECK(s.n == 2 && isnan(s.mean) && isnan(s.sd));
        cm_stats_free(&back);
        fclose(f);
    }
    free(bytes);
    cm_stats_free(&clean);
    cm_stats_free(&dirty);

    /* Tiny values: 2^-44 exact; below, rounded as documented. */
    const double u96 = 0x1p-96;
    const double t1[2] = {0x1p-44, 0x1p-44 * 3.0};
    summarise(CM_STAT_PLAIN, 0, t1, 2, &s);
    CHECK(s.mean == 0x1p-43 && s.sd == 0x1p-44 * sqrt(2.0));
    struct {
        double x, mean;
    } const cases[] = {
        {0x1p-97, u96},            /* half a unit: away from zero */
        {-0x1p-97, -u96},
        {0x1.8p-97, u96},          /* 0.75 unit */
        {0x1p-98, 0.0},            /* 0.25 unit */
        {0x1.fffffffffffffp-98, 0.0}, /* just below half */
        {0x1.0000000000001p-96, u96}, /* 1 unit + 2^-52: rounds to 1 */
        {0x1.8p-96, 2 * u96},      /* 1.5 units: away from zero */
        {DBL_MIN, 0.0},
        {DBL_TRUE_MIN, 0.0},
        {-DBL_TRUE_MIN, 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        summarise(CM_STAT_PLAIN, 0, &cases[i].x, 1, &s);
        if (!same_bits(s.mean, cases[i].mean)) {
            fprintf(stderr, "  x %a: mean %a, expected %a\n", cases[i].x,
                    s.mean, cases[i].mean);
            CHECK(0);
        }
        CHECK(s.min == cases[i].x && s.max == cases[i].x);
    }
    /* x^2 in units of 2^-192: {2^-60, -2^-60} exact (x^2 = 2^-120), sd
     * sqrt(2^-119); {2^-97, 2^-97}: S1 = 2 units of 2^-96, S2 = 0 (x^2 =
     * 2^-194 is a quarter unit), so D = 2 * 0 - 2^2 < 0 counts as 0: sd
     * 0. */
    const double t2[2] = {0x1p-60, -0x1p-60};
    summarise(CM_STAT_PLAIN, 0, t2, 2, &s);
    CHECK(s.mean == 0.0 && s.sd == sqrt(0x1p-119));
    const double t3[2] = {0x1p-97, 0x1p-97};
    summarise(CM_STAT_PLAIN, 0, t3, 2, &s);
    CHECK(s.mean == u96 && s.sd == 0.0);
    const double t4[2] = {0x1.6a09e667f3bcdp-97, -0x1.6a09e667f3bcdp-97};
    /* each x rounds to +-1 unit (0.707 unit), x^2 = 0.50000000000000004
     * units of 2^-192 rounds to 1: S1 = 0, S2 = 2 units, D = 4 units of
     * 2^-192, var = 4 2^-192 / 2 / 1 */
    summarise(CM_STAT_PLAIN, 0, t4, 2, &s);
    CHECK(s.mean == 0.0 && s.sd == sqrt(0x1p-191));
}

static void test_merge_and_init_errors(void)
{
    cm_stat_kind_t k2[2] = {CM_STAT_PLAIN, CM_STAT_BINARY};
    cm_stat_kind_t k2b[2] = {CM_STAT_PLAIN, CM_STAT_TAIL_LOW};
    cm_stats_t a, b, c, d;
    CHECK(cm_stats_init(&a, 2, k2, 0) == CM_EOK);
    CHECK(cm_stats_init(&b, 2, k2b, 0) == CM_EOK);
    CHECK(cm_stats_init(&c, 1, k2, 0) == CM_EOK);
    CHECK(cm_stats_init(&d, 2, k2, 1) == CM_EOK);
    double v[2] = {1.0, 0.0};
    CHECK(cm_stats_add(&a, v) == CM_EOK);
    CHECK(cm_stats_merge(&a, &b) == CM_EINTERNAL);
    CHECK(cm_stats_merge(&a, &c) == CM_EINTERNAL);
    CHECK(cm_stats_merge(&a, &d) == CM_EINTERNAL);
    cm_summary_t s;
    cm_stats_summary(&a, 0, &s);
    CHECK(s.n == 1 && s.mean == 1.0); /* unchanged by the failed merges */
    /* A slot index out of range reports nothing. */
    cm_stats_summary(&a, 2, &s);
    CHECK(s.n == 0 && s.n_undef == 0 && isnan(s.mean) && isnan(s.p50));
    cm_stats_free(&a);
    cm_stats_free(&b);
    cm_stats_free(&c);
    cm_stats_free(&d);

    /* Invalid kinds and missing kinds; free after a failed init, on a
     * zeroed struct, twice, and on NULL. */
    cm_stat_kind_t bad = (cm_stat_kind_t)99;
    CHECK(cm_stats_init(&a, 1, &bad, 0) == CM_EINTERNAL);
    cm_stats_free(&a);
    CHECK(cm_stats_init(&a, 3, NULL, 0) == CM_EINTERNAL);
    cm_stats_free(&a);
    cm_stats_t z;
    memset(&z, 0, sizeof z);
    cm_stats_free(&z);
    cm_stats_free(&z);
    cm_stats_free(NULL);
    /* Zero slots are allowed. */
    CHECK(cm_stats_init(&a, 0, NULL, 0) == CM_EOK);
    CHECK(cm_stats_add(&a, v) == CM_EOK);
    CHECK(cm_stats_merge(&a, &a) == CM_EOK);
    cm_stats_free(&a);
}

/* ------------------------------------------------------------------ */
/* Special values and small n */

static void test_undefined_values(void)
{
    const size_t n = 5000;
    double *x = sample(D_T2, n, 5);
    cm_stat_kind_t kind = CM_STAT_TAIL_LOW;
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t with, without;
        CHECK(cm_stats_init(&with, 1, &kind, exact) == CM_EOK);
        CHECK(cm_stats_init(&without, 1, &kind, exact) == CM_EOK);
        const double undef[3] = {NAN, INFINITY, -INFINITY};
        size_t nundef = 0;
        for (size_t i = 0; i < n; i++) {
            if (i % 7 == 3) {
                CHECK(cm_stats_add(&with, &undef[nundef % 3]) == CM_EOK);
                nundef++;
            }
            CHECK(cm_stats_add(&with, &x[i]) == CM_EOK);
            CHECK(cm_stats_add(&without, &x[i]) == CM_EOK);
        }
        cm_summary_t sw, so;
        cm_stats_summary(&with, 0, &sw);
        cm_stats_summary(&without, 0, &so);
        CHECK(sw.n_undef == nundef && so.n_undef == 0);
        CHECK(sw.n == n);
        sw.n_undef = 0;
        CHECK(same_summary(&sw, &so));
        CHECK(isfinite(sw.mean) && isfinite(sw.sd) && isfinite(sw.max));
        cm_stats_free(&with);
        cm_stats_free(&without);

        /* A slot that is never defined: NaN everywhere but n_undef. */
        cm_stats_t st;
        CHECK(cm_stats_init(&st, 1, &kind, exact) == CM_EOK);
        for (int i = 0; i < 10; i++)
            CHECK(cm_stats_add(&st, &undef[i % 3]) == CM_EOK);
        cm_summary_t s;
        cm_stats_summary(&st, 0, &s);
        CHECK(s.n == 0 && s.n_undef == 10);
        CHECK(isnan(s.mean) && isnan(s.sd) && isnan(s.se) && isnan(s.min));
        CHECK(isnan(s.p05) && isnan(s.p50) && isnan(s.p95) && isnan(s.max));
        CHECK(isnan(s.cvar05) && isnan(s.prob) && isnan(s.prob_se));
        cm_stats_free(&st);

        /* -0.0 and +0.0 in either order: identical bits, +0.0. */
        const double z1[3] = {-0.0, 0.0, -0.0}, z2[3] = {0.0, -0.0, 0.0};
        cm_summary_t s1, s2;
        summarise(kind, exact, z1, 3, &s1);
        summarise(kind, exact, z2, 3, &s2);
        CHECK(same_summary(&s1, &s2));
        CHECK(s1.min == 0.0 && !signbit(s1.min) && !signbit(s1.max));
        CHECK(!signbit(s1.p05) && !signbit(s1.cvar05));
    }
    free(x);
}

static void test_binary_prob(void)
{
    /* 37 ones and 63 zeros, interleaved. */
    double x[100];
    for (int i = 0; i < 100; i++)
        x[i] = (i * 37) % 100 < 37 ? 1.0 : 0.0;
    for (int exact = 0; exact < 2; exact++) {
        cm_summary_t s;
        summarise(CM_STAT_BINARY, exact, x, 100, &s);
        CHECK(s.n == 100);
        CHECK_REL(s.prob, 0.37, 1e-15);
        CHECK_REL(s.mean, 0.37, 1e-15);
        CHECK_REL(s.prob_se, sqrt(0.37 * 0.63 / 100.0), 1e-14);
        /* sample sd of 0/1 data: sqrt(n p (1 - p) / (n - 1)) */
        CHECK_REL(s.sd, sqrt(100.0 * 0.37 * 0.63 / 99.0), 1e-14);
        /* ranks floor(q 99) = 4, 24, 49 -> 0; 74, 94 -> 1, exactly (the
         * sketch represents 0 and 1 exactly; type 7 interpolates between
         * equal neighbours) */
        CHECK(s.p05 == 0.0 && s.p25 == 0.0 && s.p50 == 0.0);
        CHECK(s.p75 == 1.0 && s.p95 == 1.0);
        CHECK(s.min == 0.0 && s.max == 1.0);
        CHECK(isnan(s.cvar05));
        /* Not binary: no prob. */
        summarise(CM_STAT_PLAIN, exact, x, 100, &s);
        CHECK(isnan(s.prob) && isnan(s.prob_se) && isnan(s.cvar05));
    }
}

/* MOMENTS slots take a short path for +-0 (the paired differences of a
 * batch are often exactly 0).  Long runs of zeros (past several flushes of
 * the sums' window), -0.0, NaN and values of both signs: the summaries
 * equal a sketch slot's (which takes every value the long way) and GSL's,
 * and the serialised state does not depend on the order, zeros first,
 * last or interleaved. */
static void test_moments_zeros(void)
{
    const size_t n = 5000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242);
    for (size_t i = 0; i < n; i++) {
        double u = gsl_rng_uniform(r);
        if (i % 1700 < 1300) /* runs of 1300 zeros, both signs */
            x[i] = u < 0.5 ? 0.0 : -0.0;
        else
            x[i] = u < 0.05 ? NAN : gsl_ran_gaussian(r, 3.0) + 0.5;
    }
    /* the same values: zeros last, then reversed */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] == 0.0))
            y[k++] = x[i];
    for (size_t i = 0; i < n; i++)
        if (x[i] == 0.0)
            y[k++] = x[i];
    const cm_stat_kind_t kinds[2] = {CM_STAT_MOMENTS, CM_STAT_PLAIN};
    cm_stats_t a, b, c;
    CHECK(cm_stats_init(&a, 2, kinds, 0) == CM_EOK);
    CHECK(cm_stats_init(&b, 2, kinds, 0) == CM_EOK);
    CHECK(cm_stats_init(&c, 2, kinds, 0) == CM_EOK);
    for (size_t i = 0; i < n; i++) {
        double va[2] = {x[i], x[i]}, vb[2] = {y[i], y[i]}, vc[2] = {y[n - 1 - i], y[n - 1 - i]};
        CHECK(cm_stats_add(&a, va) == CM_EOK);
        CHECK(cm_stats_add(&b, vb) == CM_EOK);
        CHECK(cm_stats_add(&c, vc) == CM_EOK);
    }
    cm_summary_t sm, sp;
    cm_stats_summary(&a, 0, &sm);
    cm_stats_summary(&a, 1, &sp);
    CHECK(sm.n == sp.n && sm.n_undef == sp.n_undef);
    CHECK(sm.mean == sp.mean && sm.sd == sp.sd);
    CHECK(sm.min == sp.min && sm.max == sp.max);
    /* against GSL on the defined values */
    double *d = malloc(n * sizeof *d);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            d[nd++] = x[i];
    CHECK(sm.n == nd);
    CHECK_REL(sm.mean, gsl_stats_mean(d, 1, nd), 1e-12);
    CHECK_REL(sm.sd, gsl_stats_sd(d, 1, nd), 1e-12);
    /* order-free, bit for bit */
    size_t la, lb, lc;
    unsigned char *ba = serialise(&a, &la), *bb = serialise(&b, &lb), *bc = serialise(&c, &lc);
    CHECK(ba != NULL && bb != NULL && bc != NULL && la == lb && la == lc);
    CHECK(ba && bb && bc && memcmp(ba, bb, la) == 0 && memcmp(ba, bc, la) == 0);
    free(ba);
    free(bb);
    free(bc);
    /* zeros only: min and max are +0 */
    cm_stats_t z;
    CHECK(cm_stats_init(&z, 2, kinds, 0) == CM_EOK);
    for (int i = 0; i < 2000; i++) {
        double v[2] = {-0.0, -0.0};
        CHECK(cm_stats_add(&z, v) == CM_EOK);
    }
    cm_stats_summary(&z, 0, &sm);
    CHECK(sm.n == 2000 && sm.mean == 0.0 && sm.sd == 0.0);
    CHECK(sm.min == 0.0 && !signbit(sm.min) && sm.max == 0.0 && !signbit(sm.max));
    cm_stats_free(&z);
    cm_stats_free(&a);
    cm_stats_free(&b);
    cm_stats_free(&c);
    gsl_rng_free(r);
    free(d);
    free(x);
    free(y);
}

/* cm_stats_add_zeros is the same as adding that many zeros and undefined
 * values one by one, for every kind and both modes, around other values
 * and across flushes of the sums' window. */
static void test_add_zeros(void)
{
    const cm_stat_kind_t kinds[6] = {CM_STAT_PLAIN, CM_STAT_BINARY, CM_STAT_TAIL_LOW,
                                     CM_STAT_TAIL_HIGH, CM_STAT_MOMENTS, CM_STAT_INTEGER};
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t a, b;
        CHECK(cm_stats_init(&a, 6, kinds, exact) == CM_EOK);
        CHECK(cm_stats_init(&b, 6, kinds, exact) == CM_EOK);
        const double before[6] = {-2.5, 1.0, 300.0, 7e-3, -1e9, 2031.0};
        const double after[6] = {4.0, 0.0, -12.0, 1e12, 3.0, 2040.0};
        CHECK(cm_stats_add(&a, before) == CM_EOK && cm_stats_add(&b, before) == CM_EOK);
        const uint64_t nz = 1300, nu = 7;
        for (uint64_t k = 0; k < nz + nu; k++) {
            double v[6];
            for (int i = 0; i < 6; i++)
                v[i] = k < nz ? (k % 2 ? 0.0 : -0.0) : NAN;
            CHECK(cm_stats_add(&a, v) == CM_EOK);
        }
        for (size_t i = 0; i < 6; i++)
            CHECK(cm_stats_add_zeros(&b, i, nz, nu) == CM_EOK);
        for (int k = 0; k < 600; k++) /* past the next flush */
            CHECK(cm_stats_add(&a, after) == CM_EOK && cm_stats_add(&b, after) == CM_EOK);
        size_t la, lb;
        unsigned char *xa = serialise(&a, &la), *xb = serialise(&b, &lb);
        CHECK(xa != NULL && xb != NULL && la == lb && memcmp(xa, xb, la) == 0);
        free(xa);
        free(xb);
        for (size_t i = 0; i < 6; i++) {
            uint64_t n, u;
            cm_stats_counts(&b, i, &n, &u);
            CHECK(n == 1 + nz + 600 && u == nu);
        }
        cm_stats_free(&a);
        cm_stats_free(&b);
    }
}

static void test_small_n_summaries(void)
{
    const cm_stat_kind_t kinds[5] = {CM_STAT_PLAIN, CM_STAT_BINARY,
                                     CM_STAT_TAIL_LOW, CM_STAT_TAIL_HIGH,
                                     CM_STAT_MOMENTS};
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t st;
        CHECK(cm_stats_init(&st, 5, kinds, exact) == CM_EOK);
        /* n == 0 */
        for (size_t k = 0; k < 5; k++) {
            cm_summary_t s;
            cm_stats_summary(&st, k, &s);
            CHECK(s.n == 0 && s.n_undef == 0);
            CHECK(isnan(s.mean) && isnan(s.sd) && isnan(s.se));
            CHECK(isnan(s.min) && isnan(s.p05) && isnan(s.p25));
            CHECK(isnan(s.p50) && isnan(s.p75) && isnan(s.p95));
            CHECK(isnan(s.max) && isnan(s.cvar05) && isnan(s.prob));
            CHECK(isnan(s.prob_se));
        }
        /* n == 1: everything is that value; sd, se undefined. */
        const double one[5] = {-3.25, 1.0, 1234.5, 7e-13, 42.0};
        CHECK(cm_stats_add(&st, one) == CM_EOK);
        for (size_t k = 0; k < 5; k++) {
            cm_summary_t s;
            cm_stats_summary(&st, k, &s);
            CHECK(s.n == 1);
            CHECK(s.mean == one[k] && s.min == one[k] && s.max == one[k]);
            CHECK(isnan(s.sd) && isnan(s.se));
            if (kinds[k] == CM_STAT_MOMENTS) {
                CHECK(isnan(s.p05) && isnan(s.p50) && isnan(s.p95));
            } else {
                CHECK(s.p05 == one[k] && s.p25 == one[k] && s.p50 == one[k]);
                CHECK(s.p75 == one[k] && s.p95 == one[k]);
            }
            if (kinds[k] == CM_STAT_TAIL_LOW || kinds[k] == CM_STAT_TAIL_HIGH)
                CHECK(s.cvar05 == one[k]);
            else
                CHECK(isnan(s.cvar05));
            if (kinds[k] == CM_STAT_BINARY)
                CHECK(s.prob == 1.0 && s.prob_se == 0.0);
            else
                CHECK(isnan(s.prob) && isnan(s.prob_se));
        }
        /* n == 2: sd = |a - b| / sqrt(2). */
        const double two[5] = {0.75, 0.0, 1235.5, 7e-13, 40.0};
        CHECK(cm_stats_add(&st, two) == CM_EOK);
        for (size_t k = 0; k < 5; k++) {
            cm_summary_t s;
            cm_stats_summary(&st, k, &s);
            double sd = fabs(one[k] - two[k]) / sqrt(2.0);
            CHECK(s.n == 2);
            CHECK_REL(s.mean, 0.5 * (one[k] + two[k]), 1e-15);
            CHECK_REL(s.sd, sd, 1e-14);
            CHECK_REL(s.se, sd / sqrt(2.0), 1e-14);
            CHECK(s.min == fmin(one[k], two[k]) &&
                  s.max == fmax(one[k], two[k]));
        }
        cm_stats_free(&st);
    }
}

static void test_moments_slots(void)
{
    double *x = sample(D_LOGNORMAL2, 20000, 8);
    for (int exact = 0; exact < 2; exact++) {
        cm_summary_t s;
        summarise(CM_STAT_MOMENTS, exact, x, 20000, &s);
        CHECK(s.n == 20000);
        CHECK_REL(s.mean, gsl_stats_mean(x, 1, 20000), 1e-12);
        CHECK_REL(s.sd, gsl_stats_sd(x, 1, 20000), 1e-12);
        CHECK(isnan(s.p05) && isnan(s.p25) && isnan(s.p50));
        CHECK(isnan(s.p75) && isnan(s.p95));
        CHECK(isnan(s.cvar05) && isnan(s.prob) && isnan(s.prob_se));

        /* No sketch or value memory: the serialised state of a MOMENTS
         * slot has the same size after 20000 spread-out values as after
         * one, while a PLAIN slot's grows. */
        cm_stat_kind_t kinds[2] = {CM_STAT_MOMENTS, CM_STAT_PLAIN};
        cm_stats_t m, p;
        CHECK(cm_stats_init(&m, 1, &kinds[0], exact) == CM_EOK);
        CHECK(cm_stats_init(&p, 1, &kinds[1], exact) == CM_EOK);
        CHECK(cm_stats_add(&m, &x[0]) == CM_EOK);
        CHECK(cm_stats_add(&p, &x[0]) == CM_EOK);
        size_t m1, p1, m2, p2;
        free(serialise(&m, &m1));
        free(serialise(&p, &p1));
        for (size_t i = 1; i < 20000; i++) {
            CHECK(cm_stats_add(&m, &x[i]) == CM_EOK);
            CHECK(cm_stats_add(&p, &x[i]) == CM_EOK);
        }
        free(serialise(&m, &m2));
        free(serialise(&p, &p2));
        CHECK(m1 == m2);
        CHECK(p2 > p1 + 1000);
        cm_stats_free(&m);
        cm_stats_free(&p);
    }
    free(x);
}

/* ------------------------------------------------------------------ */
/* Reset and serialisation */

static void test_reset_then_reuse(void)
{
    const size_t n = 20000;
    double *v = merge_data(2 * n); /* rows 0..n-1, then others */
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t used, fresh;
        CHECK(cm_stats_init(&used, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        CHECK(cm_stats_init(&fresh, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        add_rows(&used, v, 0, n);
        cm_summary_t tmp;
        cm_stats_summary(&used, 0, &tmp); /* sorts the exact store */
        cm_stats_reset(&used);
        add_rows(&used, v, n, n + n / 2);
        add_rows(&fresh, v, n, n + n / 2);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t su, sf;
            cm_stats_summary(&used, slot, &su);
            cm_stats_summary(&fresh, slot, &sf);
            CHECK(same_summary(&su, &sf));
        }
        size_t lu, lf;
        unsigned char *bu = serialise(&used, &lu);
        unsigned char *bf = serialise(&fresh, &lf);
        CHECK(lu == lf && bu != NULL && bf != NULL && memcmp(bu, bf, lu) == 0);
        free(bu);
        free(bf);
        /* Reset to empty equals a fresh, empty accumulator. */
        cm_stats_reset(&used);
        cm_stats_reset(&fresh);
        cm_summary_t s;
        cm_stats_summary(&used, 2, &s);
        CHECK(s.n == 0 && s.n_undef == 0 && isnan(s.mean));
        cm_stats_free(&used);
        cm_stats_free(&fresh);
    }
    free(v);
}

static void test_write_read_round_trip(void)
{
    const size_t n = 15000;
    double *v = merge_data(n);
    for (int exact = 0; exact < 2; exact++) {
        cm_stats_t st, back, m1, m2;
        CHECK(cm_stats_init(&st, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        add_rows(&st, v, 0, n);
        FILE *f = temp_file();
        CHECK(f != NULL);
        if (f == NULL)
            break;
        CHECK(cm_stats_write(&st, f) == CM_EOK);
        long len = ftell(f);
        rewind(f);
        CHECK(cm_stats_read(&back, f) == CM_EOK);
        CHECK(ftell(f) == len);
        CHECK(back.nslots == MS_SLOTS && back.exact == exact);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t a, b;
            cm_stats_summary(&st, slot, &a);
            cm_stats_summary(&back, slot, &b);
            CHECK(same_summary(&a, &b));
        }
        /* Writing what was read gives the same bytes. */
        size_t l1, l2;
        unsigned char *b1 = serialise(&st, &l1);
        unsigned char *b2 = serialise(&back, &l2);
        CHECK(l1 == l2 && (long)l1 == len && b1 != NULL && b2 != NULL &&
              memcmp(b1, b2, l1) == 0);
        /* The read-back accumulator takes values like the original. */
        add_rows(&st, v, 0, 700);
        add_rows(&back, v, 0, 700);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t a, b;
            cm_stats_summary(&st, slot, &a);
            cm_stats_summary(&back, slot, &b);
            CHECK(same_summary(&a, &b));
        }
        /* ... and merges like it. */
        CHECK(cm_stats_init(&m1, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        CHECK(cm_stats_init(&m2, MS_SLOTS, ms_kinds, exact) == CM_EOK);
        add_rows(&m1, v, 0, 100);
        add_rows(&m2, v, 0, 100);
        CHECK(cm_stats_merge(&m1, &st) == CM_EOK);
        CHECK(cm_stats_merge(&m2, &back) == CM_EOK);
        for (size_t slot = 0; slot < MS_SLOTS; slot++) {
            cm_summary_t a, b;
            cm_stats_summary(&m1, slot, &a);
            cm_stats_summary(&m2, slot, &b);
            CHECK(same_summary(&a, &b));
        }
        /* Damaged input: every truncation fails cleanly, as does a bad
         * magic or a count that does not add up. */
        for (long cut = 0; cut < len; cut += (cut < 200 ? 1 : 997)) {
            FILE *g = temp_file();
            CHECK(g != NULL);
            if (g == NULL)
                break;
            CHECK(fwrite(b1, 1, (size_t)cut, g) == (size_t)cut);
            rewind(g);
            cm_stats_t t;
            CHECK(cm_stats_read(&t, g) == CM_EIO);
            cm_stats_free(&t);
            fclose(g);
        }
        /* Slot 0 starts at byte 24: u32 kind, u64 n, u64 n_undef, u32
         * overflow (44), f64 min, max, S1's 6 digits (64) and top limb
         * (88), S2's 11 digits (96) and top limb (140). */
        for (int damage = 0; damage < 5; damage++) {
            FILE *g = temp_file();
            CHECK(g != NULL);
            if (g == NULL)
                break;
            unsigned char *c = malloc(l1);
            memcpy(c, b1, l1);
            if (damage == 0)
                c[0] ^= 0x20; /* magic */
            else if (damage == 1)
                c[24 + 4] ^= 1; /* slot 0's n */
            else if (damage == 2)
                c[8] = 1; /* version 1: order-dependent moments */
            else if (damage == 3)
                c[44] = 2; /* overflow flag */
            else
                c[88 + 7] ^= 0x40; /* S1's top limb beyond its bound */
            CHECK(fwrite(c, 1, l1, g) == l1);
            rewind(g);
            cm_stats_t t;
            CHECK(cm_stats_read(&t, g) == CM_EIO);
            cm_stats_free(&t);
            fclose(g);
            free(c);
        }
        free(b1);
        free(b2);
        fclose(f);
        cm_stats_free(&st);
        cm_stats_free(&back);
        cm_stats_free(&m1);
        cm_stats_free(&m2);
    }
    free(v);
}

/* INTEGER slots (calendar years): sketch quantiles are the exact order
 * statistics of rank floor(q (n-1)), and the tail means exact. */
static void test_integer_slots_exact(void)
{
    const size_t n = 20001;
    double *v = malloc(n * sizeof *v);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 99);
    cm_stat_kind_t kind = CM_STAT_INTEGER;
    cm_stats_t st;
    CHECK(cm_stats_init(&st, 1, &kind, 0) == 0);
    for (size_t i = 0; i < n; i++) {
        v[i] = 2030.0 + (double)gsl_rng_uniform_int(r, 31); /* 2030..2060 */
        CHECK(cm_stats_add(&st, &v[i]) == 0);
    }
    gsl_sort(v, 1, n);
    cm_summary_t sm;
    cm_stats_summary(&st, 0, &sm);
    const double qs[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    const double got[5] = {sm.p05, sm.p25, sm.p50, sm.p75, sm.p95};
    for (int k = 0; k < 5; k++)
        CHECK(got[k] == v[(size_t)floor(qs[k] * (double)(n - 1))]);
    CHECK(sm.min == v[0] && sm.max == v[n - 1]);
    /* negative whole numbers and zero too */
    cm_stats_t st2;
    CHECK(cm_stats_init(&st2, 1, &kind, 0) == 0);
    const double w[5] = {-3, 0, 0, 2, 7};
    for (int i = 0; i < 5; i++)
        CHECK(cm_stats_add(&st2, &w[i]) == 0);
    cm_stats_summary(&st2, 0, &sm);
    CHECK(sm.p25 == 0.0 && sm.p50 == 0.0 && sm.p75 == 2.0 && sm.p05 == -3.0);
    cm_stats_free(&st2);
    /* Exact mode gives the same whole numbers (not interpolated years),
     * also for values that are not whole (rounded, ties to even, as the
     * sketch's buckets round them) and for every rank. */
    for (int set = 0; set < 2; set++) {
        cm_stats_t a, b;
        CHECK(cm_stats_init(&a, 1, &kind, 0) == 0);
        CHECK(cm_stats_init(&b, 1, &kind, 1) == 0);
        const size_t m = set == 0 ? 1002 : 37; /* q (m - 1) not whole */
        for (size_t i = 0; i < m; i++) {
            double x = set == 0 ? 2030.0 + (double)gsl_rng_uniform_int(r, 31)
                                : -5.0 + 0.5 * (double)gsl_rng_uniform_int(r, 25);
            CHECK(cm_stats_add(&a, &x) == 0 && cm_stats_add(&b, &x) == 0);
        }
        cm_summary_t sa, sb;
        cm_stats_summary(&a, 0, &sa);
        cm_stats_summary(&b, 0, &sb);
        CHECK(sa.p05 == sb.p05 && sa.p25 == sb.p25 && sa.p50 == sb.p50);
        CHECK(sa.p75 == sb.p75 && sa.p95 == sb.p95);
        CHECK(sb.p25 == floor(sb.p25) && sb.p75 == floor(sb.p75));
        CHECK(sa.min == sb.min && sa.max == sb.max && sa.mean == sb.mean);
        cm_stats_free(&a);
        cm_stats_free(&b);
    }
    cm_stats_free(&st);
    gsl_rng_free(r);
    free(v);
}

static const cm_test_t tests[] = {
    {"integer_slots_exact", test_integer_slots_exact},
    {"moments_match_gsl", test_moments_match_gsl},
    {"exact_hand_case", test_exact_hand_case},
    {"exact_quantiles_match_gsl", test_exact_quantiles_match_gsl},
    {"sketch_quantiles_within_bound", test_sketch_quantiles_within_bound},
    {"sketch_cvar_within_bound", test_sketch_cvar_within_bound},
    {"sketch_bound_at_bucket_edges", test_sketch_bound_at_bucket_edges},
    {"sketch_index_matches_formula", test_sketch_index_matches_formula},
    {"sketch_growth_and_wide_ranges", test_sketch_growth_and_wide_ranges},
    {"merge_block_order_bit_identical", test_merge_block_order_bit_identical},
    {"merge_any_order_sketch_quantiles", test_merge_any_order_sketch_quantiles},
    {"merge_any_grouping_bit_identical", test_merge_any_grouping_bit_identical},
    {"sums_exact_against_reference", test_sums_exact_against_reference},
    {"sums_exact_cancellation", test_sums_exact_cancellation},
    {"variance_large_mean", test_variance_large_mean},
    {"sums_range_ends", test_sums_range_ends},
    {"merge_and_init_errors", test_merge_and_init_errors},
    {"undefined_values", test_undefined_values},
    {"binary_prob", test_binary_prob},
    {"small_n_summaries", test_small_n_summaries},
    {"moments_zeros", test_moments_zeros},
    {"add_zeros", test_add_zeros},
    {"moments_slots", test_moments_slots},
    {"reset_then_reuse", test_reset_then_reuse},
    {"write_read_round_trip", test_write_read_round_trip},
};

/* ------------------------------------------------------------------ */
/* Benchmark (test_stats --bench; not a test): ns per slot-add of
 * cm_stats_add over BENCH_SLOTS slots laid out like a scenario's (10
 * projects' scalars, then yearly market outcomes), values like the model's:
 * money of both signs with some undefined, money >= 0 with many zeros,
 * prices, shares with exact zeros and ones, 0/1, calendar years or
 * undefined, HHI, ratios; and MOMENTS slots fed paired differences (half
 * exactly 0).  Best of many short runs of thread CPU time, so that other
 * processes on the machine disturb it little.  The third line mimics the
 * driver: per path, 12 scenario accumulators and 11 of differences. */

#define BENCH_SLOTS 2000
#define BENCH_PATHS 1024

static double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double bench_value(gsl_rng *r, int type, size_t slot)
{
    double u = gsl_rng_uniform(r);
    switch (type) {
    case 0:
        return u < 0.03 ? NAN : 150.0 + gsl_ran_gaussian(r, 400.0);
    case 1:
        return u < 0.7 ? 0.0 : gsl_ran_lognormal(r, 5.0, 1.0);
    case 2:
        return gsl_ran_lognormal(r, 9.5 + 0.001 * (double)slot, 0.4);
    case 3:
        return u < 0.2 ? 1.0 : u < 0.3 ? 0.0 : gsl_rng_uniform(r);
    case 4:
        return u < 0.15 ? 1.0 : 0.0;
    case 5:
        return u < 0.5 ? NAN : 2030.0 + (double)gsl_rng_uniform_int(r, 25);
    case 6:
        return 10000.0 * gsl_ran_beta(r, 5.0, 2.0);
    default:
        return u < 0.1 ? NAN : gsl_ran_lognormal(r, 0.3, 0.5);
    }
}

/* Best ns per slot-add of adding paths v[0 .. npaths-1] in runs of 128. */
static double bench_run(const cm_stat_kind_t *kinds, const double *v)
{
    cm_stats_t st;
    if (cm_stats_init(&st, BENCH_SLOTS, kinds, 0) != CM_EOK)
        return NAN;
    for (size_t p = 0; p < BENCH_PATHS; p++) /* warm-up: stores grow */
        (void)cm_stats_add(&st, v + p * BENCH_SLOTS);
    double best = INFINITY;
    for (int rep = 0; rep < 400; rep++) {
        size_t p0 = (size_t)(rep % 8) * (BENCH_PATHS / 8);
        if (p0 == 0)
            cm_stats_reset(&st);
        double t0 = bench_now();
        for (size_t p = p0; p < p0 + BENCH_PATHS / 8; p++)
            (void)cm_stats_add(&st, v + p * BENCH_SLOTS);
        best = fmin(best, bench_now() - t0);
    }
    cm_stats_free(&st);
    return 1e9 * best / ((double)(BENCH_PATHS / 8) * BENCH_SLOTS);
}

static int bench_add(void)
{
    static const cm_stat_kind_t type_kind[8] = {
        CM_STAT_TAIL_LOW, CM_STAT_TAIL_HIGH, CM_STAT_PLAIN, CM_STAT_PLAIN,
        CM_STAT_BINARY,   CM_STAT_INTEGER,   CM_STAT_PLAIN, CM_STAT_PLAIN};
    static const int proj[14] = {0, 7, 0, 7, 7, 7, 4, 5, 1, 4, 5, 1, 5, 2};
    static const int year[10] = {2, 4, 1, 3, 6, 3, 3, 4, 3, 1};
    static int type[BENCH_SLOTS];
    static cm_stat_kind_t kinds[BENCH_SLOTS], moments[BENCH_SLOTS];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 1);
    for (size_t i = 0; i < BENCH_SLOTS; i++) {
        type[i] = i < 140 ? proj[i % 14] : year[((i - 140) / 30) % 10];
        kinds[i] = type_kind[type[i]];
        moments[i] = CM_STAT_MOMENTS;
    }
    const size_t nv = (size_t)BENCH_PATHS * BENCH_SLOTS;
    double *v = malloc(nv * sizeof *v), *d = malloc(nv * sizeof *d);
    if (v == NULL || d == NULL)
        return 1;
    for (size_t p = 0; p < BENCH_PATHS; p++)
        for (size_t i = 0; i < BENCH_SLOTS; i++) {
            double x = bench_value(r, type[i], i);
            v[p * BENCH_SLOTS + i] = x;
            d[p * BENCH_SLOTS + i] =
                gsl_rng_uniform(r) < 0.5 ? 0.0 : x - bench_value(r, type[i], i);
        }
    printf("mixed kinds:   %.2f ns per slot-add\n", bench_run(kinds, v));
    printf("MOMENTS slots: %.2f ns per slot-add\n", bench_run(moments, d));

    enum { NSCEN = 12, NP = 256 };
    cm_stats_t blk[NSCEN], dif[NSCEN];
    for (int s = 0; s < NSCEN; s++)
        if (cm_stats_init(&blk[s], BENCH_SLOTS, kinds, 0) != CM_EOK ||
            cm_stats_init(&dif[s], BENCH_SLOTS, moments, 0) != CM_EOK)
            return 1;
    double best = INFINITY;
    for (int rep = 0; rep < 12; rep++) {
        double t0 = bench_now();
        for (size_t p = 0; p < NP; p++)
            for (int s = 0; s < NSCEN; s++) {
                (void)cm_stats_add(&blk[s], v + p * BENCH_SLOTS);
                if (s > 0)
                    (void)cm_stats_add(&dif[s], d + p * BENCH_SLOTS);
            }
        if (rep >= 2) /* stores grown */
            best = fmin(best, bench_now() - t0);
    }
    printf("driver-like (12 x %d mixed + 11 x %d MOMENTS per path): %.2f ns "
           "per slot-add\n", BENCH_SLOTS, BENCH_SLOTS,
           1e9 * best / ((double)NP * BENCH_SLOTS * (2 * NSCEN - 1)));
    for (int s = 0; s < NSCEN; s++) {
        cm_stats_free(&blk[s]);
        cm_stats_free(&dif[s]);
    }
    free(v);
    free(d);
    gsl_rng_free(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--bench") == 0)
        return bench_add();
    return CM_TEST_MAIN(tests);
}
