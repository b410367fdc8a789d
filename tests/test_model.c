/* test_model.c - the per-path model against analytic results (MODEL.md
 * section 9) and hand-made markets.
 *
 * Scenarios are built in code, so this test depends on the model alone,
 * not on the configuration loader.  Statistical checks use a fixed seed and
 * a stated number of paths and hold within 4 standard errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cmsim/model.h"
#include "cmsim/outcomes.h"

/* A scenario with nm minerals (gbm, p0 100, no market) and no projects. */
static void make_scenario(cm_scenario_t *s, int nm, int H)
{
    cm_scenario_init(s);
    strcpy(s->name, "t");
    s->seed = 12345;
    s->paths = 1;
    s->horizon = H;
    s->base_year = 2030;
    s->discount_rate = 0.08;
    s->equity_discount_rate = 0.08;
    s->nminerals = nm;
    s->minerals = calloc((size_t)nm, sizeof *s->minerals);
    for (int m = 0; m < nm; m++) {
        cm_mineral_t *mi = &s->minerals[m];
        snprintf(mi->name, sizeof mi->name, "m%d", m);
        strcpy(mi->unit, "t");
        mi->model = CM_PRICE_GBM;
        mi->p0 = 100.0;
        mi->dominant = -1;
        mi->price_multiplier = 1.0;
    }
    s->tranche_names = calloc(1, sizeof *s->tranche_names);
}

typedef struct {
    cm_layout_t layout;
    cm_model_ws_t ws;
    double *out;
} sim_t;

static void sim_init(sim_t *sim, cm_scenario_t *s)
{
    cm_scenario_derive_keys(s);
    CHECK(cm_layout_init(&sim->layout, s) == 0);
    CHECK(cm_model_ws_init(&sim->ws, s, &sim->layout) == 0);
    sim->out = calloc(sim->layout.nslots + 1, sizeof(double));
}

static void sim_free(sim_t *sim)
{
    free(sim->out);
    cm_model_ws_free(&sim->ws);
    cm_layout_free(&sim->layout);
}

static double price_at(const sim_t *sim, int m, int t)
{
    return sim->ws.price[(size_t)m * (size_t)sim->ws.s->horizon + (size_t)t];
}

/* gbm: E P(t) = p0 e^(mu t) */
static void test_gbm_mean(void)
{
    cm_scenario_t s;
    make_scenario(&s, 1, 11);
    s.minerals[0].mu = 0.05;
    s.minerals[0].sigma = 0.3;
    sim_t sim;
    sim_init(&sim, &s);
    const int N = 40000;
    double sum = 0, sum2 = 0;
    for (int p = 0; p < N; p++) {
        cm_model_path(&sim.ws, (uint64_t)p, sim.out);
        double v = price_at(&sim, 0, 10);
        sum += v;
        sum2 += v * v;
    }
    double mean = sum / N, sd = sqrt((sum2 - N * mean * mean) / (N - 1));
    double want = 100.0 * exp(0.05 * 10);
    CHECK_NEAR(mean, want, 4.0 * sd / sqrt(N));
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* ou: Var ln P(t) = sigma^2 (1 - e^(-2 kappa t)) / (2 kappa) -> sigma^2 / (2 kappa) */
static void test_ou_variance(void)
{
    cm_scenario_t s;
    make_scenario(&s, 1, 31);
    cm_mineral_t *mi = &s.minerals[0];
    mi->model = CM_PRICE_OU;
    mi->p0 = 50.0;
    mi->long_run = 50.0;
    mi->kappa = 0.5;
    mi->sigma = 0.3;
    sim_t sim;
    sim_init(&sim, &s);
    const int N = 40000;
    double sum = 0, sum2 = 0;
    for (int p = 0; p < N; p++) {
        cm_model_path(&sim.ws, (uint64_t)p, sim.out);
        double x = log(price_at(&sim, 0, 30));
        sum += x;
        sum2 += x * x;
    }
    double mean = sum / N, var = (sum2 - N * mean * mean) / (N - 1);
    double want = 0.09 / 1.0 * (1.0 - exp(-2.0 * 0.5 * 30)); /* sigma^2 / (2 kappa) */
    /* se of a normal sample variance: var sqrt(2 / (N - 1)) */
    CHECK_NEAR(var, want, 4.0 * want * sqrt(2.0 / (N - 1)));
    CHECK_NEAR(mean, log(50.0), 4.0 * sqrt(want / N));
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* Poisson jumps: P(no jump in a year) = e^-rate; mean log increment = rate x mean */
static void test_jump_frequency(void)
{
    cm_scenario_t s;
    make_scenario(&s, 1, 21);
    cm_mineral_t *mi = &s.minerals[0];
    mi->jump_rate = 0.3;
    mi->jump_mean = 0.1;
    mi->jump_sd = 0.05;
    sim_t sim;
    sim_init(&sim, &s);
    const int N = 5000;
    long still = 0, years = 0;
    double sum = 0;
    for (int p = 0; p < N; p++) {
        cm_model_path(&sim.ws, (uint64_t)p, sim.out);
        for (int t = 1; t < 21; t++) {
            double dx = log(price_at(&sim, 0, t)) - log(price_at(&sim, 0, t - 1));
            still += dx == 0.0;
            sum += dx;
            years++;
        }
    }
    double p0 = exp(-0.3);
    CHECK_NEAR((double)still / years, p0, 4.0 * sqrt(p0 * (1 - p0) / years));
    /* Var of one year's increment: rate (sd^2 + mean^2) */
    double var = 0.3 * (0.05 * 0.05 + 0.1 * 0.1);
    CHECK_NEAR(sum / years, 0.3 * 0.1, 4.0 * sqrt(var / years));
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* Correlated shocks: corr of the two minerals' log increments = rho */
static void test_shock_correlation(void)
{
    cm_scenario_t s;
    make_scenario(&s, 3, 6);
    const double rho = 0.6;
    for (int m = 0; m < 3; m++)
        s.minerals[m].sigma = 0.25;
    s.correlation = calloc(9, sizeof(double));
    s.chol = calloc(9, sizeof(double));
    /* m0-m1 correlated rho, m2 independent */
    double R[9] = {1, rho, 0, rho, 1, 0, 0, 0, 1};
    double L[9] = {1, 0, 0, rho, sqrt(1 - rho * rho), 0, 0, 0, 1};
    memcpy(s.correlation, R, sizeof R);
    memcpy(s.chol, L, sizeof L);
    s.correlated = 1;
    sim_t sim;
    sim_init(&sim, &s);
    const int N = 20000;
    double sa = 0, sb = 0, sc = 0, saa = 0, sbb = 0, scc = 0, sab = 0, sac = 0;
    for (int p = 0; p < N; p++) {
        cm_model_path(&sim.ws, (uint64_t)p, sim.out);
        double a = log(price_at(&sim, 0, 3) / price_at(&sim, 0, 2));
        double b = log(price_at(&sim, 1, 3) / price_at(&sim, 1, 2));
        double c = log(price_at(&sim, 2, 3) / price_at(&sim, 2, 2));
        sa += a; sb += b; sc += c;
        saa += a * a; sbb += b * b; scc += c * c;
        sab += a * b; sac += a * c;
    }
    double ma = sa / N, mb = sb / N, mc = sc / N;
    double va = saa / N - ma * ma, vb = sbb / N - mb * mb, vc = scc / N - mc * mc;
    double r_ab = (sab / N - ma * mb) / sqrt(va * vb);
    double r_ac = (sac / N - ma * mc) / sqrt(va * vc);
    CHECK_NEAR(r_ab, rho, 4.0 * (1 - rho * rho) / sqrt(N));
    CHECK_NEAR(r_ac, 0.0, 4.0 / sqrt(N));
    /* the marginal volatility is unchanged by the correlation */
    CHECK_NEAR(sqrt(vb), 0.25, 4.0 * 0.25 / sqrt(2.0 * N));
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* A mineral with sigma 0 still passes its shock to the minerals correlated
 * with it, so their volatility stays sigma (MODEL.md: e are independent
 * standard normals whatever the sigmas). */
static void test_sigma0_correlated(void)
{
    cm_scenario_t s;
    make_scenario(&s, 2, 4);
    const double rho = 0.8;
    s.minerals[0].sigma = 0.0;
    s.minerals[1].sigma = 0.3;
    s.correlation = calloc(4, sizeof(double));
    s.chol = calloc(4, sizeof(double));
    double R[4] = {1, rho, rho, 1}, L[4] = {1, 0, rho, sqrt(1 - rho * rho)};
    memcpy(s.correlation, R, sizeof R);
    memcpy(s.chol, L, sizeof L);
    s.correlated = 1;
    sim_t sim;
    sim_init(&sim, &s);
    const int N = 20000;
    double sum = 0, sum2 = 0;
    for (int p = 0; p < N; p++) {
        cm_model_path(&sim.ws, (uint64_t)p, sim.out);
        double d = log(price_at(&sim, 1, 2) / price_at(&sim, 1, 1));
        sum += d;
        sum2 += d * d;
        CHECK_REL(price_at(&sim, 0, 3), 100.0, 1e-12);
    }
    double mean = sum / N, sd = sqrt((sum2 - N * mean * mean) / (N - 1));
    CHECK_NEAR(sd, 0.3, 4.0 * 0.3 / sqrt(2.0 * N));
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* Build years are rounded to the nearest integer, at least 1; utilisation
 * is clamped to [0, 1]. */
static void test_build_rounding_and_clamp(void)
{
    cm_scenario_t s;
    make_scenario(&s, 1, 6);
    s.ncountries = 1;
    s.countries = calloc(1, sizeof *s.countries);
    strcpy(s.countries[0].name, "A");
    s.countries[0].expropriation = cm_dist_fixed(0.0);
    s.nprojects = 1;
    s.projects = calloc(1, sizeof *s.projects);
    cm_project_t *p = &s.projects[0];
    strcpy(p->name, "p");
    p->route = -1;
    p->capex = cm_dist_fixed(10.0);
    p->capacity = cm_dist_fixed(100.0);
    p->life = 10;
    p->opex = cm_dist_fixed(0.0);
    p->depreciation_years = 1;
    p->ntranches = 1;
    p->tranches = calloc(1, sizeof *p->tranches);
    p->tranches[0] = (cm_tranche_t){"equity", CM_TRANCHE_EQUITY, 1.0, 0, 0, 0, CM_AMORT_ANNUITY, 0};
    s.ntranche_names = 1;
    strcpy(s.tranche_names[0], "equity");
    const double k_in[4] = {0.2, 1.4, 1.6, 2.5};
    const double first[4] = {2031, 2031, 2032, 2033}; /* 2.5 rounds up to 3 */
    for (int i = 0; i < 4; i++) {
        p->build_years = cm_dist_fixed(k_in[i]);
        p->utilization = cm_dist_fixed(1.7); /* clamped to 1 */
        sim_t sim;
        sim_init(&sim, &s);
        cm_model_path(&sim.ws, 0, sim.out);
        CHECK(sim.out[cm_layout_project(&sim.layout, 0, CM_PO_FIRST_OUTPUT_YEAR)] == first[i]);
        CHECK(sim.ws.q[5] == 100.0);
        sim_free(&sim);
    }
    cm_scenario_free(&s);
}

/* Export-control chain: long-run restricted share = p_start / (p_start + p_end) */
static void test_controls_long_run(void)
{
    cm_scenario_t s;
    make_scenario(&s, 1, 60);
    cm_mineral_t *mi = &s.minerals[0];
    mi->has_controls = 1;
    mi->p_start = 0.1;
    mi->p_end = 0.3;
    mi->price_multiplier = 1.5;
    sim_t sim;
    sim_init(&sim, &s);
    const int N = 10000;
    double sum = 0, sum2 = 0;
    for (int p = 0; p < N; p++) {
        cm_model_path(&sim.ws, (uint64_t)p, sim.out);
        CHECK(sim.ws.restricted[0] == 0); /* open at t = 0 */
        int k = 0;
        for (int t = 20; t < 60; t++)
            k += sim.ws.restricted[t];
        double share = k / 40.0;
        sum += share;
        sum2 += share * share;
    }
    double mean = sum / N, sd = sqrt((sum2 - N * mean * mean) / (N - 1));
    CHECK_NEAR(mean, 0.25, 4.0 * sd / sqrt(N));
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* HHI, shares, top-3 and the 65 % flag for hand-made markets. */
static void test_market_known(void)
{
    cm_scenario_t s;
    cm_scenario_init(&s);
    s.ncountries = 4;
    s.countries = calloc(4, sizeof *s.countries);
    const char *names[4] = {"China", "Kazakhstan", "Uzbekistan", "Other"};
    for (int c = 0; c < 4; c++)
        strcpy(s.countries[c].name, names[c]);
    strcpy(s.countries[1].region, "central_asia");
    strcpy(s.countries[2].region, "central_asia");
    strcpy(s.region, "central_asia");
    cm_scenario_derive_keys(&s); /* derives in_region */
    cm_mineral_t m;
    memset(&m, 0, sizeof m);
    m.dominant = 0;
    cm_market_year_t y;
    const double a[4] = {60, 20, 10, 10};
    cm_market_year(&s, &m, a, &y);
    CHECK_REL(y.total, 100.0, 1e-12);
    CHECK_REL(y.dominant_share, 0.6, 1e-12);
    CHECK_REL(y.hhi, 3600.0 + 400.0 + 100.0 + 100.0, 1e-12);
    CHECK_REL(y.top3_share, 0.9, 1e-12);
    CHECK_REL(y.region_share, 0.3, 1e-12);
    CHECK(y.eu65 == 0);
    const double b[4] = {70, 10, 0, 20};
    cm_market_year(&s, &m, b, &y);
    CHECK_REL(y.hhi, 4900.0 + 100.0 + 400.0, 1e-12);
    CHECK_REL(y.top3_share, 1.0, 1e-12);
    CHECK_REL(y.region_share, 0.1, 1e-12);
    CHECK(y.eu65 == 1);
    const double c[4] = {65, 35, 0, 0}; /* exactly 65 % is not above the benchmark */
    cm_market_year(&s, &m, c, &y);
    CHECK(y.eu65 == 0);
    const double z[4] = {0, 0, 0, 0};
    cm_market_year(&s, &m, z, &y);
    CHECK(isnan(y.dominant_share) && isnan(y.hhi));
    cm_scenario_free(&s);
}

/* A deterministic market with one project: shares, diversification,
 * shortfall and cover through the whole path. */
static void test_market_with_project(void)
{
    cm_scenario_t s;
    make_scenario(&s, 1, 5);
    s.ncountries = 3;
    s.countries = calloc(3, sizeof *s.countries);
    strcpy(s.countries[0].name, "China");
    strcpy(s.countries[1].name, "Kazakhstan");
    strcpy(s.countries[2].name, "Other");
    for (int c = 0; c < 3; c++)
        s.countries[c].expropriation = cm_dist_fixed(0.0);
    cm_mineral_t *mi = &s.minerals[0];
    mi->nproducers = 2;
    mi->producers = calloc(2, sizeof *mi->producers);
    mi->producers[0] = (cm_producer_t){0, 600.0, cm_dist_fixed(0.0), 0};
    mi->producers[1] = (cm_producer_t){2, 400.0, cm_dist_fixed(0.0), 0};
    mi->dominant = 0;
    mi->export_fraction = 0.4;
    mi->has_controls = 1;
    mi->p_start = 1.0; /* restricted from t = 1 on */
    mi->p_end = 0.0;
    mi->price_multiplier = 2.0;
    mi->export_cut = 0.5;
    s.nprojects = 1;
    s.projects = calloc(1, sizeof *s.projects);
    cm_project_t *p = &s.projects[0];
    strcpy(p->name, "kz");
    p->country = 1;
    p->mineral = 0;
    p->route = -1;
    p->capex = cm_dist_fixed(10.0);
    p->build_years = cm_dist_fixed(1.0);
    p->capacity = cm_dist_fixed(200.0);
    p->life = 10;
    p->utilization = cm_dist_fixed(1.0);
    p->opex = cm_dist_fixed(10.0);
    p->depreciation_years = 1;
    p->discount_rate = 0.08;
    p->equity_discount_rate = 0.08;
    p->ntranches = 1;
    p->tranches = calloc(1, sizeof *p->tranches);
    p->tranches[0] = (cm_tranche_t){"equity", CM_TRANCHE_EQUITY, 1.0, 0, 0, 0, CM_AMORT_ANNUITY, 0};
    s.ntranche_names = 1;
    strcpy(s.tranche_names[0], "equity");
    sim_t sim;
    sim_init(&sim, &s);
    cm_model_path(&sim.ws, 7, sim.out);
    const cm_layout_t *l = &sim.layout;
#define AT(o, t) sim.out[l->mineral_slot[CM_MY_##o] + (t)]
    /* t = 0: building, no output */
    CHECK_REL(AT(DOMINANT_SHARE, 0), 0.6, 1e-12);
    CHECK_REL(AT(DIVERSIFICATION, 0), 0.0, 1e-12);
    CHECK(AT(RESTRICTED, 0) == 0.0);
    CHECK(AT(SHORTFALL, 0) == 0.0);
    CHECK(isnan(AT(COVERED, 0)));
    /* t >= 1: 600 / 400 / 200 */
    for (int t = 1; t < 5; t++) {
        CHECK_REL(AT(NEW_OUTPUT, t), 200.0, 1e-12);
        CHECK_REL(AT(DOMINANT_SHARE, t), 0.5, 1e-12);
        CHECK_REL(AT(DIVERSIFICATION, t), 0.1, 1e-12);
        CHECK_REL(AT(HHI, t), 2500.0 + 10000.0 / 9.0 + 10000.0 / 36.0, 1e-12);
        CHECK_REL(AT(TOP3_SHARE, t), 1.0, 1e-12);
        CHECK(AT(EU65, t) == 0.0);
        CHECK(AT(RESTRICTED, t) == 1.0);
        CHECK_REL(AT(SHORTFALL, t), 0.5 * 0.4 * 600.0, 1e-12);
        CHECK_REL(AT(COVERED, t), 1.0, 1e-12);
    }
    CHECK_REL(AT(PRICE, 3), 100.0, 1e-12); /* before the export-control multiplier */
    /* revenue outside the dominant country gets the multiplier: 200 t x 200 USD */
    CHECK_REL(sim.ws.lines.revenue[2], 200.0 * 200.0 / 1e6, 1e-12);
#undef AT
    sim_free(&sim);
    cm_scenario_free(&s);
}

/* A path is a pure function of its number: the order of evaluation and
 * other scenarios' projects do not change it. */
static void test_path_purity(void)
{
    cm_scenario_t s;
    make_scenario(&s, 2, 8);
    s.minerals[0].sigma = 0.3;
    s.minerals[1].sigma = 0.2;
    s.minerals[1].jump_rate = 0.5;
    s.minerals[1].jump_sd = 0.1;
    sim_t a, b;
    sim_init(&a, &s);
    sim_init(&b, &s);
    size_t n = a.layout.nslots;
    double *first = calloc(n * 10, sizeof(double));
    for (int p = 0; p < 10; p++) {
        cm_model_path(&a.ws, (uint64_t)p, a.out);
        memcpy(first + (size_t)p * n, a.out, n * sizeof(double));
    }
    for (int p = 9; p >= 0; p--) {
        cm_model_path(&b.ws, (uint64_t)p, b.out);
        CHECK(memcmp(first + (size_t)p * n, b.out, n * sizeof(double)) == 0);
    }
    /* paths above 2^32 work and differ from their low 32 bits */
    cm_model_path(&a.ws, (1ull << 32) + 3, a.out);
    CHECK(memcmp(first + 3 * n, a.out, n * sizeof(double)) != 0);
    free(first);
    sim_free(&a);
    sim_free(&b);
    cm_scenario_free(&s);
}

int main(int argc, char **argv)
{
    static const cm_test_t tests[] = {
        {"gbm_mean", test_gbm_mean},
        {"ou_variance", test_ou_variance},
        {"jump_frequency", test_jump_frequency},
        {"shock_correlation", test_shock_correlation},
        {"controls_long_run", test_controls_long_run},
        {"sigma0_correlated", test_sigma0_correlated},
        {"build_rounding_and_clamp", test_build_rounding_and_clamp},
        {"market_known", test_market_known},
        {"market_with_project", test_market_with_project},
        {"path_purity", test_path_purity},
    };
    return CM_TEST_MAIN(tests);
}
