/* test_rng.c - tests of the addressed random streams (engine/rng.c).
 *
 * References: FNV-1a and SplitMix64 values computed by hand (an independent
 * few-line implementation outside this project); Philox4x32-10 known-answer
 * vectors from Random123's own test file tests/kat_vectors (the three
 * "philox4x32 10" lines), rechecked against the installed Random123 header;
 * statistical properties against analytic null distributions (chi-square
 * via GSL, Kolmogorov-Smirnov with Kolmogorov's limiting distribution).
 * Every statistical test uses fixed keys, so it is deterministic.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <omp.h>

#include "check.h"
#include "ks.h"
#include "cmsim/error.h"
#include "cmsim/rng.h"

#define SEED UINT64_C(20240611)

/* ------------------------------------------------------------------------ */
/* Statistics helpers                                                       */

/* The CDF of U(0, 1) on [0, 1]. */
static double cdf_uniform01(double x, const void *arg)
{
    (void)arg;
    return x;
}

/* KS p-value of sample x[0..n) (sorted in place) against U(0, 1). */
static double ks_uniform_pvalue(double *x, size_t n)
{
    return ks_pvalue(x, n, cdf_uniform01, NULL);
}

static double correlation(const double *x, const double *y, size_t n)
{
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / sqrt(sxx * syy);
}

/* ------------------------------------------------------------------------ */

static void test_hash_known(void)
{
    CHECK(cm_rng_hash("") == UINT64_C(0xcbf29ce484222325));
    CHECK(cm_rng_hash("a") == UINT64_C(0xaf63dc4c8601ec8c));
    CHECK(cm_rng_hash("foobar") == UINT64_C(0x85944171f73967e8));
    CHECK(cm_rng_hash("price/REO") == UINT64_C(0x666cafc435dc6a9b));
    /* Bytes, not chars: a UTF-8 name hashes as its bytes (hand value of
     * FNV-1a over c3 a9). */
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = (h ^ 0xc3u) * UINT64_C(0x100000001b3);
    h = (h ^ 0xa9u) * UINT64_C(0x100000001b3);
    CHECK(cm_rng_hash("\xc3\xa9") == h);
}

static void test_mix64_known(void)
{
    CHECK(cm_rng_mix64(0) == 0);
    /* The first output of SplitMix64 seeded with 0. */
    CHECK(cm_rng_mix64(UINT64_C(0x9e3779b97f4a7c15)) == UINT64_C(0xe220a8397b1dcdaf));
    CHECK(cm_rng_mix64(1) == UINT64_C(0x5692161d100b05e5));
    CHECK(cm_rng_mix64(UINT64_MAX) == UINT64_C(0xb4d055fcf2cbbd7b));
    /* key = mix64(hash ^ mix64(seed)), computed by hand. */
    CHECK(cm_rng_site_key(42, "price/REO") == UINT64_C(0xb2a922a4d1dd2a7e));
    CHECK(cm_rng_site_key(42, "price/REO") != cm_rng_site_key(43, "price/REO"));
}

/* Random123 tests/kat_vectors, the "philox4x32 10" lines: counter (4
 * words), key (2 words), expected output (4 words). */
static void test_philox_kat(void)
{
    static const uint32_t kat[3][10] = {
        {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
         0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        uint32_t out[4];
        cm_rng_philox_block(&kat[t][0], &kat[t][4], out);
        for (int i = 0; i < 4; i++)
            CHECK(out[i] == kat[t][6 + i]);
    }
}

/* The address layout of rng.h, word by word, against raw Philox blocks:
 * counter {path lo, path hi, year | k << 16, block}, key {K lo, K hi}, and
 * the words of a block handed out v[3], v[2], v[1], v[0]. */
static void check_layout(cm_stream_t *s, uint64_t key, uint64_t path,
                         unsigned year, unsigned k)
{
    gsl_rng *r = cm_stream_at(s, key, path, year, k);
    uint32_t kk[2] = {(uint32_t)key, (uint32_t)(key >> 32)};
    for (uint32_t j = 0; j < 3; j++) {
        uint32_t ctr[4] = {(uint32_t)path, (uint32_t)(path >> 32),
                           (uint32_t)year | ((uint32_t)k << 16), j};
        uint32_t out[4];
        cm_rng_philox_block(ctr, kk, out);
        for (int e = 3; e >= 0; e--)
            CHECK(gsl_rng_get(r) == out[e]);
    }
}

static void test_stream_layout(void)
{
    cm_stream_t s;
    CHECK(cm_stream_init(&s) == CM_EOK);
    check_layout(&s, UINT64_C(0x0123456789abcdef), UINT64_C(0xfedcba9876543210), 7, 3);
    check_layout(&s, 0, 0, 0, 0);
    check_layout(&s, UINT64_MAX, UINT64_MAX, 65535, 65535);
    check_layout(&s, cm_rng_site_key(SEED, "route/middle_corridor"), 12345, 29, 1);

    /* gsl_rng_uniform is the word over 2^32, so it lies in [0, 1). */
    gsl_rng *r = cm_stream_at(&s, 99, 5, 1, 2);
    uint32_t ctr[4] = {5, 0, 1u | 2u << 16, 0}, key[2] = {99, 0}, out[4];
    cm_rng_philox_block(ctr, key, out);
    CHECK(gsl_rng_uniform(r) == out[3] / 4294967296.0);
    CHECK(gsl_rng_max(r) == 0xffffffffUL && gsl_rng_min(r) == 0);
    cm_stream_free(&s);
}

/* A fresh stream sits at address (0, 0, 0, 0); repositioning discards the
 * rest of a partly used block. */
static void test_stream_reposition(void)
{
    cm_stream_t s, t;
    CHECK(cm_stream_init(&s) == CM_EOK);
    CHECK(cm_stream_init(&t) == CM_EOK);
    unsigned long first = gsl_rng_get(s.r);
    CHECK(first == gsl_rng_get(cm_stream_at(&t, 0, 0, 0, 0)));

    uint64_t ka = cm_rng_site_key(SEED, "a"), kb = cm_rng_site_key(SEED, "b");
    unsigned long a0 = gsl_rng_get(cm_stream_at(&s, ka, 1, 2, 3));
    /* s is now one word into a block at address A; go to B. */
    gsl_rng *r = cm_stream_at(&s, kb, 1, 2, 3);
    gsl_rng *q = cm_stream_at(&t, kb, 1, 2, 3);
    for (int i = 0; i < 10; i++)
        CHECK(gsl_rng_get(r) == gsl_rng_get(q));
    CHECK(gsl_rng_get(cm_stream_at(&s, ka, 1, 2, 3)) == a0);
    cm_stream_free(&s);
    cm_stream_free(&t);
}

static void test_stream_free_safe(void)
{
    cm_stream_t s;
    memset(&s, 0, sizeof s);
    cm_stream_free(&s);
    cm_stream_free(NULL);
    CHECK(cm_stream_init(&s) == CM_EOK);
    CHECK(s.r != NULL);
    cm_stream_free(&s);
    CHECK(s.r == NULL);
    cm_stream_free(&s);
}

#define ORDER_ADDR 600
#define ORDER_DRAWS 7 /* not a multiple of 4: ends inside a block */

static void fill_address(cm_stream_t *s, int a, unsigned long *out)
{
    static const char *const sites[3] = {"price/REO", "price/Li", "route/x"};
    uint64_t key = cm_rng_site_key(SEED, sites[a % 3]);
    gsl_rng *r = cm_stream_at(s, key, (uint64_t)(a / 3) * 1000003u, (unsigned)(a % 40),
                              (unsigned)(a % 5));
    for (int j = 0; j < ORDER_DRAWS; j++)
        out[j] = gsl_rng_get(r);
}

static void test_streams_order(void)
{
    static unsigned long fwd[ORDER_ADDR][ORDER_DRAWS], other[ORDER_ADDR][ORDER_DRAWS];
    cm_stream_t s, t;
    CHECK(cm_stream_init(&s) == CM_EOK);
    CHECK(cm_stream_init(&t) == CM_EOK);
    for (int a = 0; a < ORDER_ADDR; a++)
        fill_address(&s, a, fwd[a]);
    /* Reverse order on another stream. */
    for (int a = ORDER_ADDR - 1; a >= 0; a--)
        fill_address(&t, a, other[a]);
    CHECK(memcmp(fwd, other, sizeof fwd) == 0);
    /* A fixed permutation (stride 7 is coprime to 600), interleaved with
     * unrelated draws on the same stream. */
    memset(other, 0, sizeof other);
    for (int i = 0; i < ORDER_ADDR; i++) {
        int a = (i * 7 + 11) % ORDER_ADDR;
        fill_address(&s, a, other[a]);
        gsl_ran_beta(cm_stream_at(&s, 17, (uint64_t)i, 0, 0), 0.3, 0.4);
    }
    CHECK(memcmp(fwd, other, sizeof fwd) == 0);
    cm_stream_free(&s);
    cm_stream_free(&t);
}

#define THREAD_ADDR 20000

static void test_streams_threads(void)
{
    static unsigned long serial[THREAD_ADDR][ORDER_DRAWS];
    static unsigned long par[THREAD_ADDR][ORDER_DRAWS];
    cm_stream_t s;
    CHECK(cm_stream_init(&s) == CM_EOK);
    for (int a = 0; a < THREAD_ADDR; a++)
        fill_address(&s, a, serial[a]);
    cm_stream_free(&s);

    int failures = 0;
#pragma omp parallel num_threads(4) reduction(+ : failures)
    {
        cm_stream_t ts;
        int ok = cm_stream_init(&ts) == CM_EOK;
        failures += !ok;
        /* Dynamic scheduling with an odd chunk: each thread visits an
         * irregular subset, in an order unknown in advance. */
#pragma omp for schedule(dynamic, 7)
        for (int a = THREAD_ADDR - 1; a >= 0; a--)
            if (ok)
                fill_address(&ts, a, par[a]);
        cm_stream_free(&ts);
    }
    CHECK(failures == 0);
    CHECK(memcmp(serial, par, sizeof serial) == 0);
}

#define CORR_N 200000

/* x[i] = first uniform at address A(i), y[i] = first uniform at B(i). */
typedef struct {
    const char *what;
    uint64_t seed_a, seed_b;
    const char *site_a, *site_b;
    uint64_t path_off; /* B's path = A's path + path_off */
    unsigned year_b, k_b;
    int lag; /* 1: y is the next uniform at A itself */
} corr_case_t;

static void test_streams_uncorrelated(void)
{
    static const corr_case_t cases[] = {
        {"site", SEED, SEED, "price/REO", "price/Li", 0, 0, 0, 0},
        {"site one char apart", SEED, SEED, "price/REO", "price/REE", 0, 0, 0, 0},
        {"seed", SEED, SEED + 1, "price/REO", "price/REO", 0, 0, 0, 0},
        {"path + 1", SEED, SEED, "price/REO", "price/REO", 1, 0, 0, 0},
        {"path + 2^32", SEED, SEED, "price/REO", "price/REO", UINT64_C(1) << 32, 0, 0, 0},
        {"year + 1", SEED, SEED, "price/REO", "price/REO", 0, 1, 0, 0},
        {"k + 1", SEED, SEED, "price/REO", "price/REO", 0, 0, 1, 0},
        {"next draw", SEED, SEED, "price/REO", "price/REO", 0, 0, 0, 1},
    };
    double *x = malloc(CORR_N * sizeof *x), *y = malloc(CORR_N * sizeof *y);
    CHECK(x != NULL && y != NULL);
    if (x == NULL || y == NULL) {
        free(x);
        free(y);
        return;
    }
    cm_stream_t s;
    CHECK(cm_stream_init(&s) == CM_EOK);
    double bound = 4.0 / sqrt((double)CORR_N);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const corr_case_t *cc = &cases[c];
        uint64_t ka = cm_rng_site_key(cc->seed_a, cc->site_a);
        uint64_t kb = cm_rng_site_key(cc->seed_b, cc->site_b);
        for (size_t i = 0; i < CORR_N; i++) {
            gsl_rng *r = cm_stream_at(&s, ka, i, 0, 0);
            x[i] = gsl_rng_uniform(r);
            if (cc->lag) {
                y[i] = gsl_rng_uniform(r);
            } else {
                r = cm_stream_at(&s, kb, i + cc->path_off, cc->year_b, cc->k_b);
                y[i] = gsl_rng_uniform(r);
            }
        }
        double rho = correlation(x, y, CORR_N);
        if (!(fabs(rho) <= bound))
            fprintf(stderr, "  %s: correlation %g beyond %g\n", cc->what, rho, bound);
        CHECK(fabs(rho) <= bound);
    }
    cm_stream_free(&s);
    free(x);
    free(y);
}

#define UNI_N 1000000
#define UNI_BINS 100

/* 1e6 uniforms: 4 words at each of 250000 paths of one site, so the test
 * covers both the words within a block and the blocks across addresses. */
static double *uniform_sample(void)
{
    double *u = malloc(UNI_N * sizeof *u);
    cm_stream_t s;
    if (u == NULL || cm_stream_init(&s) != CM_EOK) {
        free(u);
        return NULL;
    }
    uint64_t key = cm_rng_site_key(SEED, "test/uniform");
    for (size_t i = 0; i < UNI_N / 4; i++) {
        gsl_rng *r = cm_stream_at(&s, key, i, 3, 0);
        for (size_t j = 0; j < 4; j++)
            u[4 * i + j] = gsl_rng_uniform(r);
    }
    cm_stream_free(&s);
    return u;
}

static void test_uniform_chisq(void)
{
    double *u = uniform_sample();
    CHECK(u != NULL);
    if (u == NULL)
        return;
    double count[UNI_BINS] = {0};
    int in_range = 1;
    for (size_t i = 0; i < UNI_N; i++) {
        in_range &= u[i] >= 0 && u[i] < 1;
        count[(int)(u[i] * UNI_BINS)] += 1;
    }
    CHECK(in_range);
    double e = (double)UNI_N / UNI_BINS, chi2 = 0;
    for (int b = 0; b < UNI_BINS; b++)
        chi2 += (count[b] - e) * (count[b] - e) / e;
    double p = gsl_cdf_chisq_Q(chi2, UNI_BINS - 1);
    printf("     chi-square %.2f on %d df, p = %.4f\n", chi2, UNI_BINS - 1, p);
    CHECK(p > 1e-4);
    free(u);
}

static void test_uniform_ks(void)
{
    double *u = uniform_sample();
    CHECK(u != NULL);
    if (u == NULL)
        return;
    double p = ks_uniform_pvalue(u, UNI_N);
    printf("     KS p = %.4f\n", p);
    CHECK(p > 1e-4);
    free(u);
}

/* The KS machinery itself: Kolmogorov's distribution at tabulated points
 * (its series summed to convergence by hand), and a sample that is not
 * uniform is rejected, so the KS tests above and in test_dist can fail. */
static void test_ks_pvalue_sane(void)
{
    CHECK_NEAR(kolmogorov_q(0.5), 0.9639452436648751, 1e-9);
    CHECK_NEAR(kolmogorov_q(1.0), 0.26999967167735456, 1e-9);
    CHECK_NEAR(kolmogorov_q(1.18), 0.1234538094297657, 1e-9);
    CHECK_NEAR(kolmogorov_q(1.3581), 0.0499996304316674, 1e-9);
    CHECK_NEAR(kolmogorov_q(1.6276), 0.010001537333060776, 1e-9);
    CHECK(kolmogorov_q(0) == 1.0);

    enum { N = 100000 };
    double *u = malloc(N * sizeof *u);
    CHECK(u != NULL);
    if (u == NULL)
        return;
    cm_stream_t s;
    CHECK(cm_stream_init(&s) == CM_EOK);
    uint64_t key = cm_rng_site_key(SEED, "test/ks");
    for (size_t i = 0; i < N; i++)
        u[i] = gsl_rng_uniform(cm_stream_at(&s, key, i, 0, 0));
    CHECK(ks_uniform_pvalue(u, N) > 1e-4);
    for (size_t i = 0; i < N; i++) /* U^1.05 is close to, but not, uniform (D ~ 0.05/e) */
        u[i] = pow(u[i], 1.05);
    CHECK(ks_uniform_pvalue(u, N) < 1e-6);
    cm_stream_free(&s);
    free(u);
}

/* Paths above 2^32 use the counter's second word: they are distinct
 * streams, laid out as documented, and statistically sound. */
static void test_counters_high_paths(void)
{
    cm_stream_t s;
    CHECK(cm_stream_init(&s) == CM_EOK);
    uint64_t key = cm_rng_site_key(SEED, "price/REO");
    uint64_t hi = (UINT64_C(1) << 32) + 5;
    unsigned long lo5 = gsl_rng_get(cm_stream_at(&s, key, 5, 0, 0));
    unsigned long hi5 = gsl_rng_get(cm_stream_at(&s, key, hi, 0, 0));
    CHECK(lo5 != hi5);
    check_layout(&s, key, hi, 0, 0);
    check_layout(&s, key, UINT64_C(0x123456789abcdef0), 100, 2);

    enum { N = 100000 };
    uint64_t base = UINT64_C(1) << 40;
    double sum = 0, sum2 = 0;
    for (uint64_t i = 0; i < N; i++) {
        double u = gsl_rng_uniform(cm_stream_at(&s, key, base + i * 4294967296u, 0, 0));
        sum += u;
        sum2 += u * u;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    CHECK_NEAR(mean, 0.5, 4.0 * sqrt(1.0 / 12.0 / N));
    /* The sample variance has variance (mu4 - sigma^4) / n = (1/80 - 1/144) / n. */
    CHECK_NEAR(var, 1.0 / 12.0, 4.0 * sqrt(1.0 / 180.0 / N));
    cm_stream_free(&s);
}

/* Samplers that consume a variable number of words (rejection) still give
 * a pure function of the address. */
static void variable_sequence(cm_stream_t *s, uint64_t key, uint64_t path,
                              double out[16])
{
    gsl_rng *r = cm_stream_at(s, key, path, 4, 9);
    for (int i = 0; i < 5; i++)
        out[i] = gsl_ran_beta(r, 0.5, 0.5); /* Johnk: rejection */
    for (int i = 5; i < 10; i++)
        out[i] = gsl_ran_poisson(r, 3.7);
    for (int i = 10; i < 15; i++)
        out[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
    out[15] = gsl_rng_uniform(r);
}

static void test_variable_consumption(void)
{
    enum { N = 300 };
    static double first[N][16], again[N][16];
    cm_stream_t s, t;
    CHECK(cm_stream_init(&s) == CM_EOK);
    CHECK(cm_stream_init(&t) == CM_EOK);
    uint64_t key = cm_rng_site_key(SEED, "project/kz_ree/capex");
    for (int i = 0; i < N; i++)
        variable_sequence(&s, key, (uint64_t)i, first[i]);
    for (int i = N - 1; i >= 0; i--) {
        gsl_ran_gamma(cm_stream_at(&t, key + 1, (uint64_t)i, 0, 0), 0.2, 1.0);
        variable_sequence(&t, key, (uint64_t)i, again[i]);
    }
    CHECK(memcmp(first, again, sizeof first) == 0);
    /* Not constant: the draws do vary from address to address. */
    int differ = 0;
    for (int i = 1; i < N; i++)
        differ += first[i][0] != first[0][0] && first[i][15] != first[0][15];
    CHECK(differ > N - 5);
    cm_stream_free(&s);
    cm_stream_free(&t);
}

static const cm_test_t tests[] = {
    {"hash_known", test_hash_known},
    {"mix64_known", test_mix64_known},
    {"philox_kat", test_philox_kat},
    {"stream_layout", test_stream_layout},
    {"stream_reposition", test_stream_reposition},
    {"stream_free_safe", test_stream_free_safe},
    {"streams_order", test_streams_order},
    {"streams_threads", test_streams_threads},
    {"streams_uncorrelated", test_streams_uncorrelated},
    {"uniform_chisq", test_uniform_chisq},
    {"uniform_ks", test_uniform_ks},
    {"ks_pvalue_sane", test_ks_pvalue_sane},
    {"counters_high_paths", test_counters_high_paths},
    {"variable_consumption", test_variable_consumption},
};

int main(int argc, char **argv)
{
    return CM_TEST_MAIN(tests);
}
