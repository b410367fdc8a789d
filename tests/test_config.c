/* test_config.c - the configuration loader (engine/config.c) and the
 * scenario helpers (engine/scenario.c).
 *
 * The reference scenario scenarios/example.cfg is loaded and spot-checked
 * against the numbers written in it and hand computations (lognormal moments,
 * normalised discrete weights, the Cholesky factor of a 2x2 correlation).
 * Every bad configuration is a small edit of MINI below, written to a
 * temporary file; each case names the exact diagnostic (file:line: path:
 * message) and return code the loader must give.  Overrides are checked the
 * same way.  Temporary files live in a mkdtemp folder under $TMPDIR (or
 * /tmp) and are removed at exit.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, mkdir, rmdir */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_cdf.h>

#include "check.h"
#include "cmsim/config.h"
#include "cmsim/error.h"
#include "cmsim/rng.h"
#include "cmsim/scenario.h"

#ifndef CMSIM_SOURCE_DIR
#error "CMSIM_SOURCE_DIR must name the source tree"
#endif

/* ------------------------------------------------------------------------ */
/* A minimal valid scenario; line numbers on the right are used below.      */

static const char MINI[] =
    "name = \"mini\";\n"                                                        /*  1 */
    "run = {\n"                                                                 /*  2 */
    "  seed = 7;\n"                                                             /*  3 */
    "  paths = 100;\n"                                                          /*  4 */
    "  horizon = 10;\n"                                                         /*  5 */
    "  discount_rate = 0.08;\n"                                                 /*  6 */
    "  region = \"central_asia\";\n"                                            /*  7 */
    "};\n"                                                                      /*  8 */
    "countries = (\n"                                                           /*  9 */
    "  { name = \"Kazakhstan\"; region = \"central_asia\";\n"                   /* 10 */
    "    expropriation = { dist = \"pert\"; min = 0.0; mode = 0.004; max = 0.02; }; },\n" /* 11 */
    "  { name = \"China\"; }\n"                                                 /* 12 */
    ");\n"                                                                      /* 13 */
    "routes = (\n"                                                              /* 14 */
    "  { name = \"middle_corridor\"; cost = 60; disruption = 0.08; cut = 0.5; }\n" /* 15 */
    ");\n"                                                                      /* 16 */
    "minerals = (\n"                                                            /* 17 */
    "  { name = \"copper\";\n"                                                  /* 18 */
    "    price = { model = \"gbm\"; p0 = 8500.0; mu = 0.0; sigma = 0.2; };\n"   /* 19 */
    "  },\n"                                                                    /* 20 */
    "  { name = \"antimony\";\n"                                                /* 21 */
    "    price = { model = \"ou\"; p0 = 12000.0; long_run = 11000.0; kappa = 0.3; sigma = 0.4; };\n" /* 22 */
    "    controls = { p_start = 0.1; p_end = 0.25; price_multiplier = 1.8; export_cut = 0.5; };\n" /* 23 */
    "    market = {\n"                                                          /* 24 */
    "      dominant = \"China\"; export_fraction = 0.6;\n"                      /* 25 */
    "      producers = (\n"                                                     /* 26 */
    "        { country = \"China\"; output0 = 40000.0; growth = 0.01; },\n"     /* 27 */
    "        { country = \"Other\"; output0 = 22000.0; }\n"                     /* 28 */
    "      );\n"                                                                /* 29 */
    "    };\n"                                                                  /* 30 */
    "  }\n"                                                                     /* 31 */
    ");\n"                                                                      /* 32 */
    "correlations = (\n"                                                        /* 33 */
    "  { between = [ \"copper\", \"antimony\" ]; rho = 0.3; }\n"                /* 34 */
    ");\n"                                                                      /* 35 */
    "projects = (\n"                                                            /* 36 */
    "  { name = \"kz_cu\"; country = \"Kazakhstan\"; mineral = \"copper\"; route = \"middle_corridor\";\n" /* 37 */
    "    start = 0;\n"                                                          /* 38 */
    "    capex = { dist = \"triangular\"; min = 300.0; mode = 400.0; max = 600.0; };\n" /* 39 */
    "    build_years = 3;\n"                                                    /* 40 */
    "    capacity = { dist = \"normal\"; mean = 50000.0; sd = 5000.0; min = 0.0; };\n" /* 41 */
    "    ramp_up = [ 0.5 ];\n"                                                  /* 42 */
    "    life = 15;\n"                                                          /* 43 */
    "    utilization = { dist = \"uniform\"; min = 0.8; max = 1.0; };\n"        /* 44 */
    "    opex = { dist = \"discrete\"; values = [ 5000.0, 6000.0 ]; weights = [ 1.0, 3.0 ]; };\n" /* 45 */
    "    royalty = 0.05; tax = 0.2; depreciation_years = 10;\n"                 /* 46 */
    "    financing = (\n"                                                       /* 47 */
    "      { name = \"equity\"; type = \"equity\"; share = 0.4; },\n"           /* 48 */
    "      { name = \"loan\"; type = \"debt\"; share = 0.6; rate = 0.07; tenor = 8; }\n" /* 49 */
    "    );\n"                                                                  /* 50 */
    "  }\n"                                                                     /* 51 */
    ");\n";                                                                     /* 52 */

/* ------------------------------------------------------------------------ */
/* Temporary files                                                          */

#define MAX_TMP 64
static char tmp_dir[512];
static char tmp_paths[MAX_TMP][600]; /* files and folders, removed in reverse */
static int ntmp;

static void cleanup_tmp(void)
{
    for (int i = ntmp - 1; i >= 0; i--)
        remove(tmp_paths[i]);
    ntmp = 0;
    if (tmp_dir[0] != '\0')
        rmdir(tmp_dir);
}

static const char *ensure_tmp_dir(void)
{
    if (tmp_dir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        if (base == NULL || base[0] == '\0')
            base = "/tmp";
        snprintf(tmp_dir, sizeof tmp_dir, "%s/cmsim_test_config_XXXXXX", base);
        if (mkdtemp(tmp_dir) == NULL) {
            fprintf(stderr, "mkdtemp %s: %s\n", tmp_dir, strerror(errno));
            exit(1);
        }
        atexit(cleanup_tmp);
    }
    return tmp_dir;
}

static void remember(const char *path)
{
    for (int i = 0; i < ntmp; i++)
        if (strcmp(tmp_paths[i], path) == 0)
            return;
    if (ntmp < MAX_TMP)
        snprintf(tmp_paths[ntmp++], sizeof tmp_paths[0], "%s", path);
}

/* Create folder rel (one level) under the temporary folder. */
static void make_tmp_subdir(const char *rel, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", ensure_tmp_dir(), rel);
    if (mkdir(out, 0700) != 0) {
        fprintf(stderr, "mkdir %s: %s\n", out, strerror(errno));
        exit(1);
    }
    remember(out);
}

/* Write text to the file rel under the temporary folder; path into out. */
static void write_tmp(const char *rel, const char *text, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", ensure_tmp_dir(), rel);
    FILE *f = fopen(out, "w");
    if (f == NULL) {
        fprintf(stderr, "cannot write %s: %s\n", out, strerror(errno));
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    remember(out);
}

/* MINI with up to two substring replacements (each find must occur). */
static char *edit_mini(const char *find, const char *repl, const char *find2,
                       const char *repl2)
{
    char *text = malloc(sizeof MINI);
    CHECK(text != NULL);
    if (text == NULL)
        exit(1);
    memcpy(text, MINI, sizeof MINI);
    const char *finds[2] = {find, find2}, *repls[2] = {repl, repl2};
    for (int k = 0; k < 2; k++) {
        if (finds[k] == NULL)
            continue;
        char *at = strstr(text, finds[k]);
        CHECK(at != NULL); /* the edit must apply, or the case tests nothing */
        if (at == NULL)
            continue;
        size_t pre = (size_t)(at - text), flen = strlen(finds[k]);
        size_t rlen = strlen(repls[k]), rest = strlen(at + flen);
        char *nt = malloc(pre + rlen + rest + 1);
        if (nt == NULL)
            exit(1);
        memcpy(nt, text, pre);
        memcpy(nt + pre, repls[k], rlen);
        memcpy(nt + pre + rlen, at + flen, rest + 1);
        free(text);
        text = nt;
    }
    return text;
}

/* 1 when some diagnostic, formatted "file:line: path: message", contains
 * needle; otherwise prints them all. */
static int has_diag(const cm_diag_t *d, const char *needle)
{
    char buf[1200];
    for (size_t i = 0; i < d->count; i++)
        if (strstr(cm_diag_format(&d->items[i], buf, sizeof buf), needle) != NULL)
            return 1;
    fprintf(stderr, "  expected a diagnostic containing: %s\n  got:\n", needle);
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "    %s\n", cm_diag_format(&d->items[i], buf, sizeof buf));
    return 0;
}

static void print_diag(const cm_diag_t *d)
{
    char buf[1200];
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "    %s\n", cm_diag_format(&d->items[i], buf, sizeof buf));
}

/* A failed load leaves the scenario freed (zeroed). */
static int scenario_is_empty(const cm_scenario_t *s)
{
    return s->countries == NULL && s->routes == NULL && s->minerals == NULL &&
           s->projects == NULL && s->correlation == NULL && s->chol == NULL &&
           s->tranche_names == NULL && s->ncountries == 0 && s->nprojects == 0;
}

/* Load text (written as rel) with overrides; expects success. */
static int load_text(const char *rel, const char *text, const cm_override_t *ov,
                     size_t nov, cm_scenario_t *s)
{
    char path[600];
    cm_diag_t d;
    cm_diag_init(&d);
    write_tmp(rel, text, path, sizeof path);
    int rc = cm_config_load(path, ov, nov, s, &d);
    if (rc != 0) {
        fprintf(stderr, "  unexpected failure %d loading %s:\n", rc, rel);
        print_diag(&d);
    }
    cm_diag_free(&d);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The reference scenario                                                   */

static void test_example_loads(void)
{
    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    const char *file = CMSIM_SOURCE_DIR "/scenarios/example.cfg";
    int rc = cm_config_load(file, NULL, 0, &s, &d);
    CHECK(rc == CM_EOK);
    if (rc != CM_EOK) {
        print_diag(&d);
        cm_diag_free(&d);
        return;
    }
    CHECK(d.count == 0);
    CHECK(strcmp(s.file, file) == 0);
    CHECK(strcmp(s.name, "example") == 0);
    CHECK(strcmp(s.description, "Two minerals, three projects: every kind of setting once") == 0);
    /* run */
    CHECK(s.seed == 20261128u);
    CHECK(s.paths == 20000u);
    CHECK(s.horizon == 25);
    CHECK(s.base_year == 2026);
    CHECK_NEAR(s.discount_rate, 0.08, 0);
    CHECK_NEAR(s.equity_discount_rate, 0.12, 0);
    CHECK(strcmp(s.region, "central_asia") == 0);
    CHECK(s.exact_quantiles == 0);

    /* countries, with the implicit "Other" appended by the markets */
    CHECK(s.ncountries == 5);
    CHECK(cm_scenario_country(&s, "Kazakhstan") == 0);
    CHECK(cm_scenario_country(&s, "China") == 3);
    CHECK(cm_scenario_country(&s, "Other") == 4);
    CHECK(cm_scenario_country(&s, "Kyrgyzstan") == -1);
    if (s.ncountries == 5) {
        const cm_country_t *kz = &s.countries[0], *cn = &s.countries[3], *ot = &s.countries[4];
        CHECK(strcmp(kz->region, "central_asia") == 0);
        CHECK(kz->expropriation.kind == CM_DIST_PERT);
        CHECK_NEAR(kz->expropriation.p[0], 0.0, 0);
        CHECK_NEAR(kz->expropriation.p[1], 0.004, 0);
        CHECK_NEAR(kz->expropriation.p[2], 0.02, 0);
        CHECK_NEAR(kz->expropriation.p[3], 4.0, 0); /* default lambda */
        CHECK(s.countries[1].expropriation.kind == CM_DIST_UNIFORM);
        CHECK(s.countries[2].expropriation.kind == CM_DIST_TRIANGULAR);
        CHECK(cn->expropriation.kind == CM_DIST_FIXED);
        CHECK(cn->region[0] == '\0');
        CHECK(cn->implicit == 0);
        CHECK(ot->implicit == 1);
        CHECK(ot->region[0] == '\0');
        CHECK(ot->expropriation.kind == CM_DIST_FIXED);
        CHECK_NEAR(ot->expropriation.p[0], 0.0, 0);
    }

    /* routes */
    CHECK(s.nroutes == 2);
    CHECK(cm_scenario_route(&s, "northern") == 1);
    if (s.nroutes == 2) {
        CHECK_NEAR(s.routes[0].cost, 60.0, 0);
        CHECK_NEAR(s.routes[0].disruption, 0.08, 0);
        CHECK_NEAR(s.routes[0].cut, 0.5, 0);
        CHECK(s.routes[0].has_fallback == 1);
        CHECK_NEAR(s.routes[0].fallback_cost, 140.0, 0);
        CHECK(s.routes[1].has_fallback == 0);
        CHECK_NEAR(s.routes[1].cut, 1.0, 0);
    }

    /* minerals and markets */
    CHECK(s.nminerals == 2);
    CHECK(cm_scenario_mineral(&s, "antimony") == 1);
    if (s.nminerals == 2) {
        const cm_mineral_t *cu = &s.minerals[0], *sb = &s.minerals[1];
        CHECK(strcmp(cu->unit, "t") == 0);
        CHECK(cu->model == CM_PRICE_OU);
        CHECK_NEAR(cu->p0, 8500.0, 0);
        CHECK_NEAR(cu->long_run, 8000.0, 0);
        CHECK_NEAR(cu->kappa, 0.13, 0);
        CHECK_NEAR(cu->sigma, 0.18, 0);
        CHECK(cu->jump_rate == 0.0);
        CHECK(cu->has_controls == 0);
        CHECK(cu->dominant == 3);
        CHECK_NEAR(cu->export_fraction, 0.1, 0);
        CHECK(cu->nproducers == 4);
        if (cu->nproducers == 4) {
            CHECK(cu->producers[0].country == 3);
            CHECK(cu->producers[3].country == 4); /* Other */
            CHECK_NEAR(cu->producers[3].output0, 19550000.0, 0);
            const cm_dist_t *g = &cu->producers[1].growth;
            CHECK(g->kind == CM_DIST_NORMAL);
            CHECK_NEAR(g->p[0], 0.02, 0);
            CHECK_NEAR(g->p[1], 0.01, 0);
            CHECK_NEAR(g->p[2], -0.05, 0);
            CHECK_NEAR(g->p[3], 0.08, 0);
            /* derived by cm_dist_check: Phi((min - mean) / sd) */
            CHECK_REL(g->cdf_lo, gsl_cdf_ugaussian_P(-7.0), 1e-12);
            CHECK_REL(g->cdf_hi, gsl_cdf_ugaussian_P(6.0), 1e-12);
        }
        CHECK(sb->model == CM_PRICE_GBM);
        CHECK_NEAR(sb->mu, 0.01, 0);
        CHECK_NEAR(sb->sigma, 0.45, 0);
        CHECK_NEAR(sb->jump_rate, 0.1, 0);
        CHECK_NEAR(sb->jump_mean, 0.3, 0);
        CHECK_NEAR(sb->jump_sd, 0.2, 0);
        CHECK(sb->has_controls == 1);
        CHECK_NEAR(sb->p_start, 0.1, 0);
        CHECK_NEAR(sb->p_end, 0.25, 0);
        CHECK_NEAR(sb->price_multiplier, 1.8, 0);
        CHECK_NEAR(sb->export_cut, 0.5, 0);
        CHECK(sb->dominant == 3);
        CHECK(sb->nproducers == 3);
        if (sb->nproducers == 3) {
            CHECK(sb->producers[0].growth.kind == CM_DIST_LOGNORMAL);
            CHECK_NEAR(sb->producers[0].growth.p[0], -4.0, 0); /* mu, sigma as given */
            CHECK_NEAR(sb->producers[0].growth.p[1], 0.3, 0);
            CHECK(sb->producers[2].country == 4);
        }
    }

    /* correlation R = [1 .3; .3 1], L = [1 0; .3 sqrt(1 - .09)] */
    CHECK(s.correlated == 1);
    if (s.correlation != NULL && s.chol != NULL) {
        CHECK_NEAR(s.correlation[0], 1.0, 0);
        CHECK_NEAR(s.correlation[1], 0.3, 0);
        CHECK_NEAR(s.correlation[2], 0.3, 0);
        CHECK_NEAR(s.correlation[3], 1.0, 0);
        CHECK_NEAR(s.chol[0], 1.0, 1e-15);
        CHECK_NEAR(s.chol[1], 0.0, 0);
        CHECK_NEAR(s.chol[2], 0.3, 1e-15);
        CHECK_NEAR(s.chol[3], sqrt(0.91), 1e-15);
    }

    /* projects */
    CHECK(s.nprojects == 3);
    CHECK(cm_scenario_project(&s, "tj_sb") == 2);
    CHECK(cm_scenario_project(&s, "kz_sb") == -1);
    if (s.nprojects == 3) {
        const cm_project_t *kz = &s.projects[0], *uz = &s.projects[1], *tj = &s.projects[2];
        CHECK(kz->country == 0 && kz->mineral == 0 && kz->route == 0);
        CHECK(kz->start == 0);
        /* lognormal given by mean 420, sd 120 of X: sigma^2 = ln(1 + (120/420)^2),
         * mu = ln 420 - sigma^2 / 2; then E X and sd X come back. */
        double s2 = log(1.0 + (120.0 / 420.0) * (120.0 / 420.0));
        CHECK(kz->capex.kind == CM_DIST_LOGNORMAL);
        CHECK_REL(kz->capex.p[1], sqrt(s2), 1e-14);
        CHECK_REL(kz->capex.p[0], log(420.0) - s2 / 2, 1e-14);
        CHECK_REL(exp(kz->capex.p[0] + kz->capex.p[1] * kz->capex.p[1] / 2), 420.0, 1e-13);
        CHECK_REL(420.0 * sqrt(exp(kz->capex.p[1] * kz->capex.p[1]) - 1), 120.0, 1e-13);
        /* discrete weights 0.3, 0.5, 0.2 -> cumulative 0.3, 0.8, 1 */
        CHECK(kz->build_years.kind == CM_DIST_DISCRETE);
        CHECK(kz->build_years.n == 3);
        CHECK_NEAR(kz->build_years.values[0], 2.0, 0);
        CHECK_NEAR(kz->build_years.values[2], 4.0, 0);
        CHECK_NEAR(kz->build_years.cum[0], 0.3, 1e-15);
        CHECK_NEAR(kz->build_years.cum[1], 0.8, 1e-15);
        CHECK(kz->build_years.cum[2] == 1.0);
        CHECK(kz->capacity.kind == CM_DIST_TRIANGULAR);
        CHECK(kz->nramp == 2);
        CHECK_NEAR(kz->ramp_up[1], 0.8, 0);
        CHECK(kz->life == 20);
        CHECK(kz->utilization.kind == CM_DIST_BETA);
        CHECK_NEAR(kz->utilization.p[2], 0.0, 0); /* default support [0, 1] */
        CHECK_NEAR(kz->utilization.p[3], 1.0, 0);
        CHECK(kz->opex.kind == CM_DIST_NORMAL);
        CHECK_NEAR(kz->opex.p[2], 3000.0, 0);
        CHECK(isinf(kz->opex.p[3]) && kz->opex.p[3] > 0);
        CHECK_NEAR(kz->royalty, 0.06, 0);
        CHECK_NEAR(kz->tax, 0.20, 0);
        CHECK(kz->depreciation_years == 10);
        CHECK_NEAR(kz->discount_rate, 0.09, 0);        /* its own */
        CHECK_NEAR(kz->equity_discount_rate, 0.12, 0); /* the run's */
        CHECK_NEAR(kz->pri_cover, 0.0, 0);
        CHECK(kz->ntranches == 2);
        if (kz->ntranches == 2) {
            CHECK(kz->tranches[1].kind == CM_TRANCHE_DEBT);
            CHECK(kz->tranches[1].amort == CM_AMORT_ANNUITY);
            CHECK(kz->tranches[1].grace == 1);
            CHECK(kz->tranches[1].tenor == 8);
        }

        CHECK(uz->route == 1);
        CHECK(uz->start == 1);
        CHECK(uz->capex.kind == CM_DIST_PERT);
        CHECK_NEAR(uz->capex.p[3], 4.0, 0);
        CHECK(uz->build_years.kind == CM_DIST_FIXED);
        CHECK_NEAR(uz->build_years.p[0], 3.0, 0);
        CHECK_NEAR(uz->discount_rate, 0.08, 0);        /* the run's */
        CHECK_NEAR(uz->equity_discount_rate, 0.15, 0); /* its own */
        CHECK_NEAR(uz->pri_cover, 0.9, 0);
        CHECK(uz->ntranches == 3);
        if (uz->ntranches == 3) {
            const cm_tranche_t *t = &uz->tranches[1];
            CHECK(strcmp(t->name, "dfc") == 0);
            CHECK(t->kind == CM_TRANCHE_DEBT);
            CHECK(t->amort == CM_AMORT_LINEAR);
            CHECK_NEAR(t->rate, 0.045, 0);
            CHECK(t->tenor == 12);
            CHECK(t->grace == 2);
            CHECK_NEAR(t->share, 0.5, 0);
            CHECK(uz->tranches[2].kind == CM_TRANCHE_GRANT);
        }

        CHECK(tj->route == -1);
        CHECK(tj->nramp == 0);
        CHECK(tj->utilization.kind == CM_DIST_BERNOULLI);
        CHECK_NEAR(tj->utilization.p[0], 0.95, 0);
        CHECK(tj->opex.kind == CM_DIST_FIXED);
        CHECK_NEAR(tj->opex.p[0], 6500.0, 0);
        CHECK(tj->capex.kind == CM_DIST_NORMAL);
        CHECK_NEAR(tj->capex.p[3], 260.0, 0);
    }

    /* tranche names in first-appearance order */
    CHECK(s.ntranche_names == 5);
    if (s.ntranche_names == 5 && s.nprojects == 3) {
        const char *want[5] = {"equity", "commercial", "dfc", "grant", "bri"};
        for (int i = 0; i < 5; i++)
            CHECK(strcmp(s.tranche_names[i], want[i]) == 0);
        CHECK(s.projects[1].tranches[0].name_id == 0); /* "equity" again */
        CHECK(s.projects[1].tranches[2].name_id == 3);
        CHECK(s.projects[2].tranches[1].name_id == 4);
    }
    cm_scenario_free(&s);
    CHECK(scenario_is_empty(&s));
    cm_diag_free(&d);
}

/* Site keys: the names of rng.h/the brief, hashed with the seed. */
static void test_derive_keys(void)
{
    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_config_load(CMSIM_SOURCE_DIR "/scenarios/example.cfg", NULL, 0, &s, &d);
    CHECK(rc == CM_EOK);
    if (rc != CM_EOK) {
        cm_diag_free(&d);
        return;
    }
    uint64_t seed = s.seed;
    CHECK(s.countries[0].hazard_key == cm_rng_site_key(seed, "country/Kazakhstan/hazard"));
    CHECK(s.countries[0].event_key == cm_rng_site_key(seed, "country/Kazakhstan/expropriation"));
    CHECK(s.countries[4].event_key == cm_rng_site_key(seed, "country/Other/expropriation"));
    CHECK(s.routes[1].key == cm_rng_site_key(seed, "route/northern"));
    CHECK(s.minerals[1].price_key == cm_rng_site_key(seed, "price/antimony"));
    CHECK(s.minerals[1].jump_key == cm_rng_site_key(seed, "price/antimony/jumps"));
    CHECK(s.minerals[1].controls_key == cm_rng_site_key(seed, "controls/antimony"));
    CHECK(s.minerals[0].producers[1].growth_key ==
          cm_rng_site_key(seed, "market/copper/Kazakhstan/growth"));
    CHECK(s.minerals[0].producers[3].growth_key ==
          cm_rng_site_key(seed, "market/copper/Other/growth"));
    const cm_project_t *p = &s.projects[1];
    CHECK(p->capex_key == cm_rng_site_key(seed, "project/uz_cu/capex"));
    CHECK(p->build_key == cm_rng_site_key(seed, "project/uz_cu/build_years"));
    CHECK(p->capacity_key == cm_rng_site_key(seed, "project/uz_cu/capacity"));
    CHECK(p->utilization_key == cm_rng_site_key(seed, "project/uz_cu/utilization"));
    CHECK(p->opex_key == cm_rng_site_key(seed, "project/uz_cu/opex"));
    CHECK(p->capex_key != p->opex_key);
    /* A new seed changes every key; deriving again follows it. */
    uint64_t old = p->capex_key;
    s.seed = seed + 1;
    cm_scenario_derive_keys(&s);
    CHECK(s.projects[1].capex_key != old);
    CHECK(s.projects[1].capex_key == cm_rng_site_key(seed + 1, "project/uz_cu/capex"));
    cm_scenario_free(&s);
    cm_diag_free(&d);
}

static void test_scenario_free_safe(void)
{
    cm_scenario_t s;
    cm_scenario_init(&s);
    CHECK(scenario_is_empty(&s));
    cm_scenario_free(&s);
    cm_scenario_free(&s);
    cm_scenario_free(NULL);
    CHECK(cm_scenario_country(&s, "China") == -1);
    CHECK(cm_scenario_project(&s, NULL) == -1);
}

/* ------------------------------------------------------------------------ */
/* Good variations of MINI                                                  */

static void test_mini_loads(void)
{
    cm_scenario_t s;
    if (load_text("mini.cfg", MINI, NULL, 0, &s) != 0) {
        CHECK(0);
        return;
    }
    CHECK(s.seed == 7);
    CHECK(s.base_year == 2026);                    /* default */
    CHECK_NEAR(s.equity_discount_rate, 0.08, 0);   /* default: discount_rate */
    CHECK_NEAR(s.routes[0].cost, 60.0, 0);         /* an int where a float goes */
    CHECK(s.routes[0].has_fallback == 0);
    CHECK(strcmp(s.minerals[0].unit, "t") == 0);   /* default unit */
    CHECK(s.minerals[0].dominant == -1);           /* no market */
    CHECK(s.minerals[1].producers[1].growth.kind == CM_DIST_FIXED);
    CHECK_NEAR(s.minerals[1].producers[1].growth.p[0], 0.0, 0); /* default growth */
    CHECK(s.ncountries == 3 && s.countries[2].implicit == 1);
    CHECK(s.projects[0].tranches[1].grace == 0);   /* default */
    CHECK(s.projects[0].tranches[1].amort == CM_AMORT_ANNUITY);
    CHECK_NEAR(s.projects[0].opex.cum[0], 0.25, 1e-15); /* weights 1, 3 */
    cm_scenario_free(&s);
}

static void test_variants_load(void)
{
    static const struct {
        const char *name, *find, *repl;
    } cases[] = {
        {"zero projects", NULL, NULL},
        {"seed with L", "seed = 7;", "seed = 3000000000L;"},
        {"paths with L", "paths = 100;", "paths = 3000000000L;"},
        {"no correlations", "correlations = (\n  { between = [ \"copper\", \"antimony\" ]; rho = 0.3; }\n);\n", ""},
        {"explicit Other", "{ name = \"China\"; }", "{ name = \"China\"; }, { name = \"Other\"; expropriation = 0.001; }"},
        {"mu/sigma lognormal", "build_years = 3;", "build_years = { dist = \"lognormal\"; mu = 1.0; sigma = 0.2; };"},
        {"batch group (the batch module's)", "name = \"mini\";",
         "name = \"mini\";\nbatch = { reference = \"mini\"; variants = ( { name = \"v\"; } ); };"},
        {"beta with bounds", "capex = { dist = \"triangular\"; min = 300.0; mode = 400.0; max = 600.0; };",
         "capex = { dist = \"beta\"; a = 2.0; b = 3.0; min = 300.0; max = 600.0; };"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = edit_mini(cases[i].find, cases[i].repl, NULL, NULL);
        if (i == 0) {
            /* cut the project list and give an empty one */
            char *cut = strstr(text, "projects = (\n");
            CHECK(cut != NULL);
            if (cut != NULL)
                strcpy(cut, "projects = ();\n");
        }
        cm_scenario_t s;
        int rc = load_text("variant.cfg", text, NULL, 0, &s);
        free(text);
        if (rc != 0) {
            fprintf(stderr, "  variant \"%s\" failed\n", cases[i].name);
            CHECK(rc == 0);
            continue;
        }
        switch (i) {
        case 0:
            CHECK(s.nprojects == 0 && s.projects == NULL && s.ntranche_names == 0);
            break;
        case 1:
            CHECK(s.seed == 3000000000u);
            break;
        case 2:
            CHECK(s.paths == 3000000000u);
            break;
        case 3:
            CHECK(s.correlated == 0);
            CHECK(s.correlation != NULL && s.chol != NULL);
            if (s.correlation != NULL && s.chol != NULL) {
                CHECK(s.correlation[1] == 0.0 && s.correlation[3] == 1.0);
                CHECK(s.chol[0] == 1.0 && s.chol[2] == 0.0 && s.chol[3] == 1.0);
            }
            break;
        case 4:
            CHECK(s.ncountries == 3);
            CHECK(s.countries[2].implicit == 0);
            CHECK_NEAR(s.countries[2].expropriation.p[0], 0.001, 0);
            CHECK(s.minerals[1].producers[1].country == 2);
            break;
        case 5:
            CHECK(s.projects[0].build_years.kind == CM_DIST_LOGNORMAL);
            CHECK_NEAR(s.projects[0].build_years.p[0], 1.0, 0);
            CHECK_NEAR(s.projects[0].build_years.p[1], 0.2, 0);
            break;
        case 6:
            CHECK(strcmp(s.name, "mini") == 0);
            break;
        case 7:
            CHECK(s.projects[0].capex.kind == CM_DIST_BETA);
            CHECK_NEAR(s.projects[0].capex.p[2], 300.0, 0);
            CHECK_NEAR(s.projects[0].capex.p[3], 600.0, 0);
            break;
        }
        cm_scenario_free(&s);
    }
}

/* @include resolves against the including file's folder, not the working
 * directory; errors inside an included file name that file. */
static void test_include_relative(void)
{
    char dir[600], path[600], inc[600];
    make_tmp_subdir("inc", dir, sizeof dir);
    make_tmp_subdir("inc/parts", dir, sizeof dir);
    const char *countries =
        "countries = (\n  { name = \"Kazakhstan\"; region = \"central_asia\"; },\n"
        "  { name = \"China\"; }\n);\n";
    char *text = edit_mini("countries = (\n  { name = \"Kazakhstan\"; region = \"central_asia\";\n"
                           "    expropriation = { dist = \"pert\"; min = 0.0; mode = 0.004; max = 0.02; }; },\n"
                           "  { name = \"China\"; }\n);\n",
                           "@include \"parts/countries.cfg\"\n", NULL, NULL);
    write_tmp("inc/parts/countries.cfg", countries, inc, sizeof inc);
    write_tmp("inc/main.cfg", text, path, sizeof path);
    free(text);

    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_config_load(path, NULL, 0, &s, &d);
    CHECK(rc == CM_EOK);
    if (rc == CM_EOK) {
        CHECK(s.ncountries == 3);
        CHECK(strcmp(s.countries[1].name, "China") == 0);
    } else {
        print_diag(&d);
    }
    cm_scenario_free(&s);
    cm_diag_free(&d);

    /* An error inside the included file: its path and its own line. */
    write_tmp("inc/parts/countries.cfg",
              "countries = (\n  { name = \"Kazakhstan\"; region = \"central_asia\"; },\n"
              "  { name = \"China\"; expropriation = 1.5; }\n);\n",
              inc, sizeof inc);
    cm_diag_init(&d);
    rc = cm_config_load(path, NULL, 0, &s, &d);
    CHECK(rc == CM_ECONFIG);
    char want[800];
    snprintf(want, sizeof want,
             "%s:3: countries.[1].expropriation: expected a number in [0, 1], got 1.5", inc);
    CHECK(has_diag(&d, want));
    CHECK(cm_diag_errors(&d) == 1);
    cm_diag_free(&d);

    /* A syntax error inside the included file names that file. */
    write_tmp("inc/parts/countries.cfg",
              "countries = (\n  { name = \"Kazakhstan\"; },\n  { name = = \"China\"; }\n);\n",
              inc, sizeof inc);
    cm_diag_init(&d);
    rc = cm_config_load(path, NULL, 0, &s, &d);
    CHECK(rc == CM_ECONFIG);
    CHECK(scenario_is_empty(&s));
    snprintf(want, sizeof want, "%s:3: syntax error", inc);
    CHECK(has_diag(&d, want));
    cm_diag_free(&d);
}

/* ------------------------------------------------------------------------ */
/* Bad configurations                                                       */

typedef struct {
    const char *name;
    const char *find, *repl;   /* edit of MINI */
    const char *find2, *repl2; /* optional second edit */
    int line;                  /* expected line; 0: the message has none */
    const char *fragment;      /* "path: message" after "file:line: " */
    int nerr;                  /* expected number of errors; 0: not checked */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"syntax error", "paths = 100;", "paths = = 100;", NULL, NULL, 4, "syntax error", 1},
    {"nan is a syntax error", "rho = 0.3;", "rho = nan;", NULL, NULL, 34, "syntax error", 1},
    {"inf", "royalty = 0.05;", "royalty = 1e999;", NULL, NULL, 46,
     "projects.[0].royalty: expected a finite number, got inf", 1},
    {"inf in a distribution", "sd = 5000.0;", "sd = -1e999;", NULL, NULL, 41,
     "projects.[0].capacity.sd: expected a finite number, got -inf", 1},
    {"unknown key with suggestion", "life = 15;", "lfe = 15;", NULL, NULL, 43,
     "projects.[0].lfe: unknown key 'lfe' in a project (did you mean 'life'?)", 2},
    {"unknown key without suggestion", "tax = 0.2;", "tax = 0.2; colour = 1;", NULL, NULL, 46,
     "projects.[0].colour: unknown key 'colour' in a project (allowed: name, country, mineral", 1},
    {"unknown top-level key", "name = \"mini\";", "name = \"mini\";\nrunn = { paths = 1; };", NULL,
     NULL, 2, "runn: unknown key 'runn' in the scenario (did you mean 'run'?)", 1},
    {"unknown key in a distribution", "mode = 400.0;", "mode = 400.0; lambda = 4.0;", NULL, NULL,
     39, "projects.[0].capex.lambda: unknown key 'lambda' in a \"triangular\" distribution", 1},
    {"missing required key", "tax = 0.2; ", "", NULL, NULL, 37,
     "projects.[0].tax: missing required setting (expected a number in [0, 1])", 1},
    {"string for a number", "paths = 100;", "paths = \"100\";", NULL, NULL, 4,
     "run.paths: expected an integer, got a string", 1},
    {"absurd life (int overflow in the model)", "life = 15;", "life = 2000000000;", NULL, NULL, 43,
     "projects.[0].life: expected an integer in [1, 10000], got 2000000000", 1},
    {"float for an integer", "life = 15;", "life = 15.5;", NULL, NULL, 43,
     "projects.[0].life: expected an integer, got the floating-point number 15.5", 1},
    {"group for an array", "ramp_up = [ 0.5 ];", "ramp_up = { a = 0.5; };", NULL, NULL, 42,
     "projects.[0].ramp_up: expected an array [ ... ] of numbers, got a group { ... }", 1},
    {"list for a group", "price = { model = \"gbm\"; p0 = 8500.0; mu = 0.0; sigma = 0.2; };",
     "price = ( 1 );", NULL, NULL, 19,
     "minerals.[0].price: expected a group { ... }, got a list ( ... )", 1},
    {"group for a list", "routes = (\n  { name = \"middle_corridor\"; cost = 60; disruption = 0.08; cut = 0.5; }\n);",
     "routes = { name = \"middle_corridor\"; };", NULL, NULL, 14,
     "routes: expected a list ( { ... }, ... ), got a group { ... }", 2},
    {"number for a boolean", "region = \"central_asia\";", "region = \"central_asia\"; exact_quantiles = 1;",
     NULL, NULL, 7, "run.exact_quantiles: expected a boolean (true or false), got an integer", 1},
    {"negative sd", "sd = 5000.0;", "sd = -5000.0;", NULL, NULL, 41,
     "projects.[0].capacity.sd: expected a number >= 0, got -5000", 1},
    {"min above mode", "min = 300.0; mode = 400.0;", "min = 450.0; mode = 400.0;", NULL, NULL, 39,
     "projects.[0].capex.mode: 400 is below min 450", 1},
    {"mode above max", "max = 600.0;", "max = 350.0;", NULL, NULL, 39,
     "projects.[0].capex.mode: 400 is above max 350", 1},
    {"uniform min above max", "min = 0.8; max = 1.0;", "min = 0.8; max = 0.7;", NULL, NULL, 44,
     "projects.[0].utilization.max: 0.7 is below min 0.8", 1},
    {"weights summing to 0", "weights = [ 1.0, 3.0 ]", "weights = [ 0.0, 0.0 ]", NULL, NULL, 45,
     "projects.[0].opex.weights: weights sum to 0; expected a positive sum", 1},
    {"negative weight", "weights = [ 1.0, 3.0 ]", "weights = [ -1.0, 3.0 ]", NULL, NULL, 45,
     "projects.[0].opex.weights.[0]: expected a number >= 0, got -1", 1},
    {"weights of another length", "weights = [ 1.0, 3.0 ]", "weights = [ 1.0 ]", NULL, NULL, 45,
     "projects.[0].opex.weights: has 1 elements but values has 2", 1},
    {"unknown distribution", "dist = \"triangular\"", "dist = \"trianglar\"", NULL, NULL, 39,
     "projects.[0].capex.dist: unknown distribution \"trianglar\" (did you mean \"triangular\"?)", 1},
    {"lognormal in both forms", "build_years = 3;",
     "build_years = { dist = \"lognormal\"; mean = 3.0; sd = 1.0; mu = 1.0; };", NULL, NULL, 40,
     "projects.[0].build_years: give either mean and sd (of the variable) or mu and sigma", 1},
    {"capex support below 0", "capex = { dist = \"triangular\"; min = 300.0; mode = 400.0; max = 600.0; };",
     "capex = { dist = \"normal\"; mean = 400.0; sd = 50.0; };", NULL, NULL, 39,
     "projects.[0].capex: expected values >= 0, but this normal distribution takes values in [-inf, inf]", 1},
    {"growth at -1", "growth = 0.01;", "growth = -1;", NULL, NULL, 27,
     "minerals.[1].market.producers.[0].growth: expected a number > -1, got -1", 1},
    {"probability above 1", "disruption = 0.08;", "disruption = 1.5;", NULL, NULL, 15,
     "routes.[0].disruption: expected a number in [0, 1], got 1.5", 1},
    {"hazard above 1", "max = 0.02;", "max = 1.2;", NULL, NULL, 11,
     "countries.[0].expropriation: expected values in [0, 1], but this pert distribution takes values in [0, 1.2]", 1},
    {"duplicate route", "cut = 0.5; }\n",
     "cut = 0.5; },\n  { name = \"middle_corridor\"; cost = 1.0; disruption = 0.0; cut = 0.0; }\n",
     NULL, NULL, 16, "routes.[1].name: duplicate route name 'middle_corridor' (also element [0])", 1},
    {"duplicate country", "{ name = \"China\"; }", "{ name = \"China\"; }, { name = \"China\"; }",
     NULL, NULL, 12, "countries.[2].name: duplicate country name 'China' (also element [1])", 1},
    {"duplicate mineral", "{ name = \"antimony\";", "{ name = \"copper\";", NULL, NULL, 21,
     "minerals.[1].name: duplicate mineral name 'copper' (also element [0])", 0},
    {"duplicate tranche", "{ name = \"loan\";", "{ name = \"equity\";", NULL, NULL, 49,
     "projects.[0].financing.[1].name: duplicate tranche name 'equity' (also element [0])", 1},
    {"duplicate producer", "{ country = \"Other\";", "{ country = \"China\";", NULL, NULL, 28,
     "minerals.[1].market.producers.[1].country: duplicate producer 'China' in this market (also producers.[0])", 1},
    {"undefined country", "country = \"Kazakhstan\";", "country = \"Kazakstan\";", NULL, NULL, 37,
     "projects.[0].country: unknown country 'Kazakstan' (did you mean 'Kazakhstan'?)", 1},
    {"undefined producer country", "{ country = \"Other\";", "{ country = \"Othr\";", NULL, NULL, 28,
     "minerals.[1].market.producers.[1].country: unknown country 'Othr' (did you mean 'Other'?)", 1},
    {"undefined mineral", "mineral = \"copper\";", "mineral = \"coper\";", NULL, NULL, 37,
     "projects.[0].mineral: unknown mineral 'coper' (did you mean 'copper'?)", 1},
    {"undefined route", "route = \"middle_corridor\";", "route = \"middle_coridor\";", NULL, NULL, 37,
     "projects.[0].route: unknown route 'middle_coridor' (did you mean 'middle_corridor'?)", 1},
    {"undefined route, nothing close", "route = \"middle_corridor\";", "route = \"sea\";", NULL, NULL, 37,
     "projects.[0].route: unknown route 'sea' (defined: middle_corridor)", 1},
    {"dominant not a producer", "dominant = \"China\";", "dominant = \"Kazakhstan\";", NULL, NULL, 25,
     "minerals.[1].market.dominant: 'Kazakhstan' is not among this market's producers", 1},
    {"shares not summing to 1", "share = 0.6;", "share = 0.5;", NULL, NULL, 47,
     "projects.[0].financing: tranche shares sum to 0.9; expected 1 (within 1e-09)", 1},
    {"tranche type typo", "type = \"equity\";", "type = \"equty\";", NULL, NULL, 48,
     "projects.[0].financing.[0].type: expected \"equity\", \"grant\" or \"debt\", got \"equty\" (did you mean 'equity'?)", 1},
    {"debt key on equity", "type = \"equity\"; share = 0.4;", "type = \"equity\"; share = 0.4; rate = 0.1;",
     NULL, NULL, 48,
     "projects.[0].financing.[0].rate: unknown key 'rate' in an equity tranche (allowed: name, type, share)", 1},
    {"amortisation typo", "tenor = 8;", "tenor = 8; amortisation = \"lienar\";", NULL, NULL, 49,
     "projects.[0].financing.[1].amortisation: expected \"annuity\" or \"linear\", got \"lienar\" (did you mean 'linear'?)", 1},
    {"empty financing", "financing = (\n      { name = \"equity\"; type = \"equity\"; share = 0.4; },\n"
     "      { name = \"loan\"; type = \"debt\"; share = 0.6; rate = 0.07; tenor = 8; }\n    );",
     "financing = ();", NULL, NULL, 47, "projects.[0].financing: expected at least one tranche", 1},
    {"horizon 0", "horizon = 10;", "horizon = 0;", NULL, NULL, 5,
     "run.horizon: expected an integer in [1, 1000], got 0", 1},
    {"paths 0", "paths = 100;", "paths = 0;", NULL, NULL, 4,
     "run.paths: expected an integer >= 1, got 0", 1},
    {"negative seed", "seed = 7;", "seed = -1;", NULL, NULL, 3,
     "run.seed: expected an integer >= 0, got -1", 1},
    {"start beyond the horizon", "start = 0;", "start = 10;", NULL, NULL, 38,
     "projects.[0].start: expected an integer in [0, 9], got 10", 1},
    {"huge integer without L", "paths = 100;", "paths = 3000000000;", NULL, NULL, 4,
     "run.paths: integer 3000000000 does not fit in 32 bits (libconfig 1.5 would silently read -1294967296); write 3000000000L", 1},
    {"huge integer in an array", "values = [ 5000.0, 6000.0 ]", "values = [ 5000, 4294967297 ]", NULL,
     NULL, 45, "projects.[0].opex.values.[1]: integer 4294967297 does not fit in 32 bits", 1},
    {"huge negative integer", "tenor = 8;", "tenor = -2147483649;", NULL, NULL, 49,
     "projects.[0].financing.[1].tenor: integer -2147483649 does not fit in 32 bits", 1},
    {"integer beyond 64 bits", "paths = 100;", "paths = 99999999999999999999;", NULL, NULL, 4,
     "run.paths: integer 99999999999999999999 does not fit in 64 bits", 1},
    {"huge L integer", "seed = 7;", "seed = 99999999999999999999L;", NULL, NULL, 3,
     "run.seed: integer 99999999999999999999L does not fit in 64 bits", 1},
    {"correlation not positive definite",
     "  { between = [ \"copper\", \"antimony\" ]; rho = 0.3; }",
     "  { between = [ \"copper\", \"antimony\" ]; rho = 0.9; },\n"
     "  { between = [ \"copper\", \"nickel\" ]; rho = 0.9; },\n"
     "  { between = [ \"antimony\", \"nickel\" ]; rho = -0.9; }",
     "  { name = \"antimony\";",
     "  { name = \"nickel\"; price = { model = \"gbm\"; p0 = 1.0; mu = 0.0; sigma = 0.1; }; },\n"
     "  { name = \"antimony\";",
     /* R = I + 0.9 B with B's eigenvalues 1, 1, -2: the smallest is 1 - 1.8 */
     34, "correlations: the correlation matrix of the 3 minerals is not positive definite (smallest eigenvalue -0.8)", 1},
    {"correlation of one mineral with itself", "[ \"copper\", \"antimony\" ]", "[ \"copper\", \"copper\" ]",
     NULL, NULL, 34, "correlations.[0].between: a mineral cannot be correlated with itself ('copper')", 1},
    {"correlation duplicate pair", "rho = 0.3; }", "rho = 0.3; },\n  { between = [ \"antimony\", \"copper\" ]; rho = 0.1; }",
     NULL, NULL, 35, "correlations.[1].between: duplicate pair ('antimony', 'copper'), also correlations.[0]", 1},
    {"correlation above 1", "rho = 0.3;", "rho = 1.3;", NULL, NULL, 34,
     "correlations.[0].rho: expected a number in [-1, 1], got 1.3", 1},
    {"correlation of an unknown mineral", "[ \"copper\", \"antimony\" ]", "[ \"copper\", \"antimon\" ]",
     NULL, NULL, 34, "correlations.[0].between.[1]: unknown mineral 'antimon' (did you mean 'antimony'?)", 1},
    {"controls without market", "mu = 0.0; sigma = 0.2; };",
     "mu = 0.0; sigma = 0.2; };\n    controls = { p_start = 0.1; p_end = 0.2; price_multiplier = 1.5; export_cut = 0.5; };",
     NULL, NULL, 20, "minerals.[0].controls: export controls need a market with a dominant supplier", 1},
    {"unknown price model", "model = \"ou\";", "model = \"ouu\";", NULL, NULL, 22,
     "minerals.[1].price.model: expected \"gbm\" or \"ou\", got \"ouu\" (did you mean 'ou'?)", 1},
    {"gbm key on an ou price", "kappa = 0.3;", "kappa = 0.3; mu = 0.1;", NULL, NULL, 22,
     "minerals.[1].price.mu: unknown key 'mu' in an \"ou\" price", 1},
    {"region of no country", "region = \"central_asia\";\n};", "region = \"centralasia\";\n};", NULL, NULL, 7,
     "run.region: no country has region 'centralasia' (did you mean 'central_asia'?)", 1},
    {"batch not a group", "name = \"mini\";", "name = \"mini\";\nbatch = 1;", NULL, NULL, 2,
     "batch: expected a group { ... }, got an integer", 1},
    {"bad scenario name", "name = \"mini\";", "name = \"mini scenario\";", NULL, NULL, 1,
     "name: expected a name of 1 to 63 letters, digits, '_' or '-', got \"mini scenario\"", 1},
    {"name with a slash", "{ name = \"China\"; }", "{ name = \"Ch/ina\"; }", NULL, NULL, 12,
     "countries.[1].name: name 'Ch/ina' contains '/'", 0},
    {"ramp_up too long", "ramp_up = [ 0.5 ];",
     "ramp_up = [ 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 ];",
     NULL, NULL, 42, "projects.[0].ramp_up: has 17 elements; at most 16 are allowed", 1},
    {"ramp_up fraction above 1", "ramp_up = [ 0.5 ];", "ramp_up = [ 0.5, 1.5 ];", NULL, NULL, 42,
     "projects.[0].ramp_up.[1]: expected a number in [0, 1], got 1.5", 1},
    {"no minerals", "minerals = (\n", "minerals = ();\nxminerals = (\n", NULL, NULL, 17,
     "minerals: expected at least one mineral", 0},
    {"included file missing", "name = \"mini\";", "name = \"mini\";\n@include \"parts/none.cfg\"", NULL,
     NULL, 2, "cannot open include file \"parts/none.cfg\"", 1},
};

static void test_bad_configs(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *bc = &bad_cases[i];
        int before = cm_test_failures_;
        char *text = edit_mini(bc->find, bc->repl, bc->find2, bc->repl2);
        char path[600], want[1200];
        write_tmp("bad.cfg", text, path, sizeof path);
        free(text);
        cm_scenario_t s;
        cm_diag_t d;
        cm_diag_init(&d);
        int rc = cm_config_load(path, NULL, 0, &s, &d);
        CHECK(rc == CM_ECONFIG);
        CHECK(cm_exit_status(rc) == 2);
        CHECK(scenario_is_empty(&s));
        if (bc->line > 0)
            snprintf(want, sizeof want, "%s:%d: %s", path, bc->line, bc->fragment);
        else
            snprintf(want, sizeof want, "%s: %s", path, bc->fragment);
        CHECK(has_diag(&d, want));
        if (bc->nerr > 0 && cm_diag_errors(&d) != (size_t)bc->nerr) {
            fprintf(stderr, "  %zu errors, expected %d:\n", cm_diag_errors(&d), bc->nerr);
            print_diag(&d);
            CHECK(cm_diag_errors(&d) == (size_t)bc->nerr);
        }
        if (cm_test_failures_ != before)
            fprintf(stderr, "  in bad case \"%s\"\n", bc->name);
        cm_diag_free(&d);
        cm_scenario_free(&s);
    }
}

static void test_missing_file(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/no_such_scenario.cfg", ensure_tmp_dir());
    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_config_load(path, NULL, 0, &s, &d);
    CHECK(rc == CM_EIO);
    CHECK(cm_exit_status(rc) == 4);
    CHECK(scenario_is_empty(&s));
    char want[800];
    snprintf(want, sizeof want, "%s: cannot read the scenario file: %s", path, strerror(ENOENT));
    CHECK(has_diag(&d, want));
    CHECK(d.count == 1 && d.items[0].code == CM_EIO);
    cm_diag_free(&d);
}

/* A folder is not a scenario file: an I/O error with its reason. */
static void test_folder_as_file(void)
{
    const char *dir = ensure_tmp_dir();
    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_config_load(dir, NULL, 0, &s, &d);
    CHECK(rc == CM_EIO);
    char want[800];
    snprintf(want, sizeof want, "%s: cannot read the scenario file: %s", dir, strerror(EISDIR));
    CHECK(has_diag(&d, want));
    cm_diag_free(&d);
}

/* The caller's list may hold earlier items: a load judges only its own. */
static void test_diag_appends(void)
{
    char path[600];
    write_tmp("appends.cfg", MINI, path, sizeof path);
    cm_diag_t d;
    cm_diag_init(&d);
    cm_diag_add(&d, CM_ECONFIG, "other.cfg", 1, "", "an earlier error");
    cm_scenario_t s;
    int rc = cm_config_load(path, NULL, 0, &s, &d);
    CHECK(rc == CM_EOK);
    CHECK(d.count == 1);
    CHECK(s.nprojects == 1);
    cm_scenario_free(&s);
    cm_diag_free(&d);
}

/* Three independent errors give three diagnostics, in one pass. */
static void test_collects_all_errors(void)
{
    char *t1 = edit_mini("horizon = 10;", "horizon = 0;", "sd = 5000.0;", "sd = -1.0;");
    char *t2 = NULL;
    char path[600], want[800];
    size_t len = strlen(t1);
    /* third error: an unknown route */
    char *at = strstr(t1, "route = \"middle_corridor\";");
    CHECK(at != NULL);
    if (at != NULL) {
        t2 = malloc(len + 8);
        if (t2 == NULL)
            exit(1);
        size_t pre = (size_t)(at - t1);
        memcpy(t2, t1, pre);
        strcpy(t2 + pre, "route = \"south\";");
        strcat(t2, at + strlen("route = \"middle_corridor\";"));
    }
    write_tmp("three.cfg", t2 ? t2 : t1, path, sizeof path);
    free(t1);
    free(t2);
    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_config_load(path, NULL, 0, &s, &d);
    CHECK(rc == CM_ECONFIG);
    CHECK(cm_diag_errors(&d) == 3);
    snprintf(want, sizeof want, "%s:5: run.horizon:", path);
    CHECK(has_diag(&d, want));
    snprintf(want, sizeof want, "%s:41: projects.[0].capacity.sd:", path);
    CHECK(has_diag(&d, want));
    snprintf(want, sizeof want, "%s:37: projects.[0].route: unknown route 'south'", path);
    CHECK(has_diag(&d, want));
    cm_diag_free(&d);
}

/* ------------------------------------------------------------------------ */
/* Overrides                                                                */

static void test_overrides_good(void)
{
    const cm_override_t ov[] = {
        {"projects.kz_cu.financing.loan.rate", "0.05"},
        {"run.paths", "3000000000L"},
        {"run.seed", "5000000000"}, /* no L needed in an override */
        {"projects.kz_cu.opex", "{ dist = \"discrete\"; values = [ 3000000000, 4000000000 ]; weights = [ 1, 1 ]; }"},
        {"projects.kz_cu.capex", "450.0"}, /* a distribution replaced by a number */
        {"projects.[0].build_years",       /* a number replaced by a distribution */
         "{ dist = \"discrete\"; values = [ 2, 3 ]; weights = [ 1.0, 1.0 ]; }"},
        {"projects.kz_cu.ramp_up", "[ 0.2, 0.6 ]"},
        {"projects.kz_cu.ramp_up.[1]", "0.7"},
        {"projects.kz_cu.pri_cover", "0.5"}, /* absent from the file: added */
        {"minerals.copper.price.jumps", "{ rate = 0.2; mean = 0.0; sd = 0.1; }"},
        {"countries.Kazakhstan", "{ name = \"Kazakhstan\"; region = \"central_asia\"; expropriation = 0.01; }"},
        {"minerals[1].market.producers[0].growth", "0.02"},
    };
    cm_scenario_t s;
    if (load_text("override.cfg", MINI, ov, sizeof ov / sizeof ov[0], &s) != 0) {
        CHECK(0);
        return;
    }
    CHECK_NEAR(s.projects[0].tranches[1].rate, 0.05, 0);
    CHECK(s.paths == 3000000000u);
    CHECK(s.seed == 5000000000u);
    CHECK(s.projects[0].opex.kind == CM_DIST_DISCRETE);
    CHECK_NEAR(s.projects[0].opex.values[0], 3e9, 0);
    CHECK_NEAR(s.projects[0].opex.values[1], 4e9, 0);
    CHECK(s.projects[0].capex.kind == CM_DIST_FIXED);
    CHECK_NEAR(s.projects[0].capex.p[0], 450.0, 0);
    CHECK(s.projects[0].build_years.kind == CM_DIST_DISCRETE);
    CHECK(s.projects[0].build_years.n == 2);
    CHECK_NEAR(s.projects[0].build_years.cum[0], 0.5, 0);
    CHECK(s.projects[0].nramp == 2);
    CHECK_NEAR(s.projects[0].ramp_up[0], 0.2, 0);
    CHECK_NEAR(s.projects[0].ramp_up[1], 0.7, 0);
    CHECK_NEAR(s.projects[0].pri_cover, 0.5, 0);
    CHECK_NEAR(s.minerals[0].jump_rate, 0.2, 0);
    /* the replaced list element keeps its place */
    CHECK(strcmp(s.countries[0].name, "Kazakhstan") == 0);
    CHECK(strcmp(s.countries[1].name, "China") == 0);
    CHECK(s.countries[0].expropriation.kind == CM_DIST_FIXED);
    CHECK_NEAR(s.countries[0].expropriation.p[0], 0.01, 0);
    CHECK_NEAR(s.minerals[1].producers[0].growth.p[0], 0.02, 0);
    cm_scenario_free(&s);

    /* An override can repair a file's error (the wrapped integer). */
    char *text = edit_mini("paths = 100;", "paths = 3000000000;", NULL, NULL);
    const cm_override_t fix = {"run.paths", "100"};
    CHECK(load_text("override_fix.cfg", text, &fix, 1, &s) == 0);
    CHECK(s.paths == 100);
    cm_scenario_free(&s);
    free(text);
}

typedef struct {
    const char *name;
    cm_override_t ov;
    int line;              /* expected line; 0: none */
    const char *fragment;  /* "path: message" after "file[:line]: " */
} bad_override_t;

static const bad_override_t bad_overrides[] = {
    {"missing key with suggestion", {"projects.kz_cu.capx", "5"}, 0,
     "projects.kz_cu.capx: override: no setting 'capx' in 'projects.kz_cu' (did you mean 'projects.kz_cu.capex'?)"},
    {"missing element with suggestion", {"projects.kz_ce.capex", "5"}, 0,
     "projects.kz_ce.capex: override: no setting 'kz_ce' in 'projects' (did you mean 'projects.kz_cu'?)"},
    {"index out of range", {"projects.[3].capex", "5"}, 0,
     "projects.[3].capex: override: no setting '[3]' in 'projects' (valid here: projects.kz_cu)"},
    {"unknown top-level", {"bogus", "1"}, 0,
     "bogus: override: no setting 'bogus' (valid here: name, run, countries"},
    {"unparsable value", {"run.paths", "1 2"}, 0,
     "run.paths: override: cannot parse the value '1 2'"},
    {"integer beyond 64 bits", {"run.paths", "99999999999999999999"}, 0,
     "run.paths: override: integer 99999999999999999999 does not fit in 64 bits"},
    {"group into an array", {"projects.kz_cu.ramp_up.[0]", "{ a = 1; }"}, 0,
     "projects.kz_cu.ramp_up.[0]: override: an array element must be a number, string or boolean"},
    {"malformed index", {"projects.[x].capex", "1"}, 0,
     "projects.[x].capex: override: '[x]' is not a list index like [0]"},
    {"trailing dot", {"run.", "1"}, 0, "run.: override: expected a setting path"},
    {"invalid value: checked at the replaced line",
     {"projects.kz_cu.capex", "{ dist = \"uniform\"; min = 5.0; max = 1.0; }"}, 39,
     "projects.[0].capex.max: 1 is below min 5 (override)"},
    {"invalid number", {"run.horizon", "0"}, 5,
     "run.horizon: expected an integer in [1, 1000], got 0 (override)"},
    {"added key checked", {"projects.kz_cu.pri_cover", "2.0"}, 37,
     "projects.[0].pri_cover: expected a number in [0, 1], got 2 (override)"},
};

static void test_overrides_bad(void)
{
    char path[600], want[1200];
    write_tmp("override_bad.cfg", MINI, path, sizeof path);
    for (size_t i = 0; i < sizeof bad_overrides / sizeof bad_overrides[0]; i++) {
        const bad_override_t *bo = &bad_overrides[i];
        int before = cm_test_failures_;
        cm_scenario_t s;
        cm_diag_t d;
        cm_diag_init(&d);
        int rc = cm_config_load(path, &bo->ov, 1, &s, &d);
        CHECK(rc == CM_ECONFIG);
        CHECK(cm_exit_status(rc) == 2);
        CHECK(scenario_is_empty(&s));
        CHECK(cm_diag_errors(&d) == 1);
        if (bo->line > 0)
            snprintf(want, sizeof want, "%s:%d: %s", path, bo->line, bo->fragment);
        else
            snprintf(want, sizeof want, "%s: %s", path, bo->fragment);
        CHECK(has_diag(&d, want));
        if (cm_test_failures_ != before)
            fprintf(stderr, "  in bad override \"%s\"\n", bo->name);
        cm_diag_free(&d);
    }
}

/* Several overrides, several errors: all reported, the good ones applied. */
static void test_overrides_collect(void)
{
    const cm_override_t ov[] = {
        {"run.horizon", "20"},
        {"projects.kz_cu.capx", "5"},
        {"run.paths", "0"},
    };
    char path[600], want[800];
    write_tmp("override_many.cfg", MINI, path, sizeof path);
    cm_scenario_t s;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_config_load(path, ov, 3, &s, &d);
    CHECK(rc == CM_ECONFIG);
    CHECK(cm_diag_errors(&d) == 2);
    snprintf(want, sizeof want, "%s: projects.kz_cu.capx: override: no setting", path);
    CHECK(has_diag(&d, want));
    snprintf(want, sizeof want, "%s:4: run.paths: expected an integer >= 1, got 0 (override)", path);
    CHECK(has_diag(&d, want));
    cm_diag_free(&d);
}

static const cm_test_t tests[] = {
    {"example_loads", test_example_loads},
    {"derive_keys", test_derive_keys},
    {"scenario_free_safe", test_scenario_free_safe},
    {"mini_loads", test_mini_loads},
    {"variants_load", test_variants_load},
    {"include_relative", test_include_relative},
    {"bad_configs", test_bad_configs},
    {"missing_file", test_missing_file},
    {"folder_as_file", test_folder_as_file},
    {"diag_appends", test_diag_appends},
    {"collects_all_errors", test_collects_all_errors},
    {"overrides_good", test_overrides_good},
    {"overrides_bad", test_overrides_bad},
    {"overrides_collect", test_overrides_collect},
};

int main(int argc, char **argv)
{
    return CM_TEST_MAIN(tests);
}
