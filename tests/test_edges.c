/* test_edges.c - numerical edge cases through the whole library: zero
 * capacity, zero capex, a 100 % grant, no debt, debt whose tenor outlives
 * the horizon, every path defaulting, an IRR undefined on every path, a
 * one-year horizon, a market with no supply, and cash flows that overflow
 * a double.
 *
 * Each case is the scenario BASE below (every input fixed, sigma = 0, no
 * political risk, so every path is the same hand-computable one unless the
 * case draws something) with command-line style overrides, loaded by
 * cm_batch_load, run by cm_run_init / cm_run_execute on 2 threads with the
 * per-path dump on, and checked twice:
 *  - against hand computations written out below (docs/model.md sections
 *    5 and 6, the same conventions);
 *  - for invariants that hold for any input: n + n_undefined = paths; a
 *    defined statistic is finite and min <= p05 <= ... <= max; an undefined
 *    one is NaN; probabilities lie in [0, 1]; summary.csv, compare.csv and
 *    the dump contain no "nan" or "inf" field (undefined values are empty).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "check.h"
#include "cmsim/config.h"
#include "cmsim/driver.h"
#include "cmsim/error.h"
#include "cmsim/outcomes.h"
#include "cmsim/report.h"

/* Money in USD million, quantities in t, prices in USD/t.  Build years 0
 * and 1 (capex 50 each), production in years 2..9 at 1000 t/yr and
 * 100 000 USD/t: revenue 100, opex 1000 x 200 / 1e6 = 0.2, EBITDA 99.8 a
 * year; no royalty, no tax.  Debt: 60 % of capex at 10 %, linear over 4
 * years from year 2 (grace 0).  The market: "A" (the project's country,
 * nothing before the project) and "Other" at 1000 t/yr. */
static const char BASE[] =
    "name = \"edges\";\n"
    "run = { seed = 1; paths = 50; horizon = 10; base_year = 2030; discount_rate = 0.1; };\n"
    "countries = ( { name = \"A\"; expropriation = 0.0; } );\n"
    "minerals = ( { name = \"m\"; unit = \"t\";\n"
    "  price = { model = \"gbm\"; p0 = 100000.0; mu = 0.0; sigma = 0.0; };\n"
    "  market = { dominant = \"A\"; export_fraction = 0.5;\n"
    "    producers = ( { country = \"A\"; output0 = 0.0; growth = 0.0; },\n"
    "                  { country = \"Other\"; output0 = 1000.0; growth = 0.0; } ); }; } );\n"
    "projects = ( { name = \"p\"; country = \"A\"; mineral = \"m\"; start = 0;\n"
    "  capex = 100.0; build_years = 2; capacity = 1000.0; ramp_up = [ ]; life = 8;\n"
    "  utilization = 1.0; opex = 200.0; royalty = 0.0; tax = 0.0; depreciation_years = 4;\n"
    "  financing = ( { name = \"equity\"; type = \"equity\"; share = 0.4; },\n"
    "                { name = \"loan\"; type = \"debt\"; share = 0.6; rate = 0.1; tenor = 4;\n"
    "                  grace = 0; amortisation = \"linear\"; } ); } );\n";

#define PATHS 50u
#define EBITDA 99.8
#define R 0.1

/* ------------------------------------------------------------------------ */
/* Running a case                                                           */

static char tmp_dir_[512];
static char cfg_path_[600];

static void cleanup(void)
{
    if (cfg_path_[0])
        unlink(cfg_path_);
    if (tmp_dir_[0])
        rmdir(tmp_dir_);
}

static const char *base_file(void)
{
    if (cfg_path_[0])
        return cfg_path_;
    const char *t = getenv("TMPDIR");
    snprintf(tmp_dir_, sizeof tmp_dir_, "%s/cmsim_test_edges_XXXXXX", t && t[0] ? t : "/tmp");
    if (mkdtemp(tmp_dir_) == NULL) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        exit(1);
    }
    atexit(cleanup);
    snprintf(cfg_path_, sizeof cfg_path_, "%s/edges.cfg", tmp_dir_);
    FILE *f = fopen(cfg_path_, "w");
    if (f == NULL || fputs(BASE, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", cfg_path_);
        exit(1);
    }
    return cfg_path_;
}

typedef struct {
    cm_batch_t b;
    const cm_scenario_t *list[1];
    cm_run_t run;
    int ok;
} edge_t;

/* Every field of a CSV text that reads as a non-finite number. */
static int nonfinite_fields(const char *text)
{
    int bad = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *e = p;
        while (*e != '\0' && *e != ',' && *e != '\n')
            e++;
        char field[32];
        size_t n = (size_t)(e - p);
        if (n > 0 && n < sizeof field) {
            size_t k = 0;
            for (const char *q = p; q < e; q++)
                if (*q != '"' && *q != '\r')
                    field[k++] = (char)tolower((unsigned char)*q);
            field[k] = '\0';
            const char *f = field[0] == '-' || field[0] == '+' ? field + 1 : field;
            if (strcmp(f, "nan") == 0 || strcmp(f, "inf") == 0 || strcmp(f, "infinity") == 0) {
                fprintf(stderr, "  non-finite field '%s'\n", field);
                bad++;
            }
        }
        p = *e != '\0' ? e + 1 : e;
    }
    return bad;
}

/* The whole of a stream written so far, as a string (caller frees). */
static char *slurp(FILE *f)
{
    if (fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0)
        return NULL;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        return NULL;
    char *buf = malloc((size_t)n + 1);
    if (buf == NULL)
        return NULL;
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    return buf;
}

/* Invariants of every slot's summary and of the result texts. */
static void check_invariants(const cm_run_t *run, FILE *dump)
{
    const cm_layout_t *l = &run->layouts[0];
    for (size_t i = 0; i < l->nslots; i++) {
        cm_summary_t s;
        cm_stats_summary(&run->stats[0], i, &s);
        const cm_slot_t *sl = &l->slots[i];
        int bad = 0;
        bad |= s.n + s.n_undef != run->paths;
        if (s.n == 0) {
            bad |= !isnan(s.mean) || !isnan(s.min) || !isnan(s.max) || !isnan(s.p50);
        } else {
            double q[] = {s.min, s.p05, s.p25, s.p50, s.p75, s.p95, s.max};
            for (size_t k = 0; k < sizeof q / sizeof q[0]; k++)
                bad |= !isfinite(q[k]) || (k > 0 && q[k] < q[k - 1]);
            /* Values of 2^78 (3.0e23) or more make the exact sums overflow:
             * mean, sd, se and prob are then undefined by design
             * (docs/model.md, "Mean and standard deviation from exact
             * sums"); otherwise they are finite. */
            int overflowed = fmax(fabs(s.min), fabs(s.max)) >= 0x1p78;
            if (overflowed) {
                bad |= !isnan(s.mean) || !isnan(s.sd);
            } else {
                bad |= !isfinite(s.mean) || s.mean < s.min - 1e-9 * fabs(s.min) ||
                       s.mean > s.max + 1e-9 * fabs(s.max);
                if (s.n >= 2)
                    bad |= !isfinite(s.sd) || s.sd < 0.0 || !isfinite(s.se);
                if (sl->kind == CM_STAT_BINARY)
                    bad |= !(s.prob >= 0.0 && s.prob <= 1.0) || !(s.prob_se >= 0.0);
            }
            if (sl->kind == CM_STAT_TAIL_LOW || sl->kind == CM_STAT_TAIL_HIGH)
                bad |= !isfinite(s.cvar05);
        }
        if (bad) {
            fprintf(stderr, "  slot %zu (%s %s %s %d): n %llu, n_undef %llu, mean %g, min %g, "
                            "max %g, sd %g, prob %g\n",
                    i, sl->outcome, sl->entity_type, sl->entity, sl->year,
                    (unsigned long long)s.n, (unsigned long long)s.n_undef, s.mean, s.min,
                    s.max, s.sd, s.prob);
            CHECK(!bad);
        }
    }
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK(cm_report_write_summary(run, f) == CM_EOK);
    CHECK(cm_report_write_compare(run, f) == CM_EOK);
    char *text = slurp(f);
    CHECK(text != NULL);
    if (text != NULL) {
        CHECK(strstr(text, "scenario,outcome") != NULL);
        CHECK(nonfinite_fields(text) == 0);
    }
    free(text);
    fclose(f);
    if (dump != NULL) {
        char *d = slurp(dump);
        CHECK(d != NULL);
        if (d != NULL) {
            size_t rows = 0;
            for (const char *p = d; *p; p++)
                rows += *p == '\n';
            CHECK(rows == run->paths + 1); /* header + one row a path */
            CHECK(nonfinite_fields(d) == 0);
        }
        free(d);
    }
}

/* Load BASE with overrides ("path=value" pairs) and run it. */
static void edge_run(edge_t *e, const char *const *sets, size_t nsets, int exact)
{
    memset(e, 0, sizeof *e);
    cm_override_t ov[8];
    char buf[8][256];
    for (size_t i = 0; i < nsets && i < 8; i++) {
        snprintf(buf[i], sizeof buf[i], "%s", sets[i]);
        char *eq = strchr(buf[i], '=');
        *eq = '\0';
        ov[i].path = buf[i];
        ov[i].value = eq + 1;
    }
    cm_diag_t diag;
    cm_diag_init(&diag);
    cm_batch_init(&e->b);
    int rc = cm_batch_load(base_file(), ov, nsets, NULL, &e->b, &diag);
    if (rc != CM_EOK)
        cm_diag_print(&diag, stderr);
    CHECK(rc == CM_EOK);
    if (rc == CM_EOK) {
        CHECK(e->b.nscen == 1);
        e->list[0] = &e->b.scen[0];
        rc = cm_run_init(&e->run, e->list, 1, PATHS, exact, &diag);
        CHECK(rc == CM_EOK);
    }
    FILE *dump = tmpfile();
    if (rc == CM_EOK) {
        cm_run_options_t opt;
        memset(&opt, 0, sizeof opt);
        opt.threads = 2;
        opt.dump = dump;
        rc = cm_run_execute(&e->run, &opt, &diag);
        if (rc != CM_EOK)
            cm_diag_print(&diag, stderr);
        CHECK(rc == CM_EOK);
    }
    if (rc == CM_EOK) {
        e->ok = 1;
        check_invariants(&e->run, dump);
    }
    if (dump != NULL)
        fclose(dump);
    cm_diag_free(&diag);
}

static void edge_free(edge_t *e)
{
    cm_run_free(&e->run);
    cm_batch_free(&e->b);
}

/* Summary of project p's outcome o, or of a portfolio / tranche slot. */
static cm_summary_t proj(const edge_t *e, int o)
{
    cm_summary_t s;
    memset(&s, 0, sizeof s);
    if (e->ok)
        cm_stats_summary(&e->run.stats[0], cm_layout_project(&e->run.layouts[0], 0, o), &s);
    return s;
}

static cm_summary_t portfolio(const edge_t *e, int o)
{
    cm_summary_t s;
    memset(&s, 0, sizeof s);
    if (e->ok)
        cm_stats_summary(&e->run.stats[0], e->run.layouts[0].portfolio_base + (size_t)o, &s);
    return s;
}

static cm_summary_t financing(const edge_t *e, const char *name)
{
    cm_summary_t s;
    memset(&s, 0, sizeof s);
    s.n = UINT64_MAX;
    if (!e->ok)
        return s;
    const cm_scenario_t *sc = e->list[0];
    for (int k = 0; k < sc->ntranche_names; k++)
        if (strcmp(sc->tranche_names[k], name) == 0)
            cm_stats_summary(&e->run.stats[0], e->run.layouts[0].financing_base + (size_t)k, &s);
    return s;
}

/* Summary of mineral 0's yearly outcome o in year t, or n = UINT64_MAX when
 * the outcome does not apply. */
static cm_summary_t yearly(const edge_t *e, int o, int t)
{
    cm_summary_t s;
    memset(&s, 0, sizeof s);
    s.n = UINT64_MAX;
    if (!e->ok)
        return s;
    size_t base = e->run.layouts[0].mineral_slot[o];
    if (base != (size_t)-1)
        cm_stats_summary(&e->run.stats[0], base + (size_t)t, &s);
    return s;
}

/* An outcome that every path defines, equal to v (absolute or relative 1e-9). */
#define CHECK_ALL(s, v)                                                  \
    do {                                                                 \
        cm_summary_t s_ = (s);                                           \
        CHECK(s_.n == PATHS && s_.n_undef == 0);                         \
        CHECK_REL(s_.mean, (v), 1e-9);                                   \
        CHECK_REL(s_.min, (v), 1e-9);                                    \
        CHECK_REL(s_.max, (v), 1e-9);                                    \
    } while (0)

/* An outcome undefined on every path. */
#define CHECK_UNDEF(s)                                                   \
    do {                                                                 \
        cm_summary_t s_ = (s);                                           \
        CHECK(s_.n == 0 && s_.n_undef == PATHS);                         \
        CHECK(isnan(s_.mean) && isnan(s_.p50));                          \
    } while (0)

/* sum_{t=a..b} x (1 + r)^-t */
static double pv_level(double x, int a, int b, double r)
{
    double s = 0.0;
    for (int t = a; t <= b; t++)
        s += x * pow(1.0 + r, -t);
    return s;
}

/* f(x) = sum_t flow[t] (1 + x)^-t */
static double npv_at(const double *flow, int n, double x)
{
    double s = 0.0;
    for (int t = 0; t < n; t++)
        s += flow[t] * pow(1.0 + x, -t);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

/* The base case by hand: NPV, DSCR, LLCR, payback; equity NPV equals the
 * project NPV because the loan's rate equals the discount rate and it is
 * repaid within the horizon (the debt flows have present value 0). */
static void test_base_by_hand(void)
{
    edge_t e;
    edge_run(&e, NULL, 0, 0);
    double npv = -50.0 - 50.0 / 1.1 + pv_level(EBITDA, 2, 9, R);
    CHECK_ALL(proj(&e, CM_PO_NPV), npv);
    CHECK_ALL(proj(&e, CM_PO_NPV_EQUITY), npv);
    /* debt: draws 30 in years 0 and 1; B(2) = 30 + 3 + 30 = 63; linear
     * principal 15.75; DS(2) = 15.75 + 6.3 is the largest */
    CHECK_ALL(proj(&e, CM_PO_MIN_DSCR), EBITDA / (15.75 + 6.3));
    CHECK_ALL(proj(&e, CM_PO_LLCR), pv_level(EBITDA, 0, 3, R) / 63.0);
    /* cumulative FCF: -50, -100, -0.2, 99.6: paid back in year 3 */
    CHECK_ALL(proj(&e, CM_PO_PAYBACK_YEAR), 2033.0);
    CHECK_ALL(proj(&e, CM_PO_FIRST_OUTPUT_YEAR), 2032.0);
    CHECK_ALL(proj(&e, CM_PO_OUTPUT_TOTAL), 8000.0);
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 0.0);
    CHECK_UNDEF(proj(&e, CM_PO_DEFAULT_YEAR));
    CHECK_ALL(proj(&e, CM_PO_EXPOSURE), 0.0);
    /* the IRR is a root of the flows -50, -50, 99.8 x 8 */
    double flow[10] = {-50.0, -50.0};
    for (int t = 2; t < 10; t++)
        flow[t] = EBITDA;
    cm_summary_t irr = proj(&e, CM_PO_IRR);
    CHECK(irr.n == PATHS);
    CHECK_NEAR(npv_at(flow, 10, irr.mean), 0.0, 1e-6);
    CHECK_ALL(financing(&e, "loan"), 60.0);
    CHECK_ALL(financing(&e, "equity"), 40.0);
    /* market: A's share = project output / (output + 1000) */
    CHECK_ALL(yearly(&e, CM_MY_DOMINANT_SHARE, 0), 0.0);
    CHECK_ALL(yearly(&e, CM_MY_DOMINANT_SHARE, 5), 0.5);
    CHECK_ALL(yearly(&e, CM_MY_HHI, 5), 5000.0);
    edge_free(&e);
}

/* Capacity 0: no revenue, no cost; the project flows are the capex alone
 * (IRR undefined on every path), the debt cannot be served (every path
 * defaults in the first repayment year with DSCR 0). */
static void test_zero_capacity(void)
{
    static const char *const sets[] = {"projects.p.capacity=0.0"};
    edge_t e;
    edge_run(&e, sets, 1, 0);
    CHECK_ALL(proj(&e, CM_PO_NPV), -50.0 - 50.0 / 1.1);
    CHECK_UNDEF(proj(&e, CM_PO_IRR));
    CHECK_ALL(proj(&e, CM_PO_NPV_EQUITY), -20.0 - 20.0 / 1.1);
    CHECK_UNDEF(proj(&e, CM_PO_IRR_EQUITY));
    CHECK_ALL(proj(&e, CM_PO_MIN_DSCR), 0.0);
    CHECK_ALL(proj(&e, CM_PO_LLCR), 0.0);
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 1.0);
    CHECK_ALL(proj(&e, CM_PO_DEFAULT_YEAR), 2032.0);
    CHECK_ALL(proj(&e, CM_PO_EXPOSURE), 63.0);
    CHECK_UNDEF(proj(&e, CM_PO_PAYBACK_YEAR));
    CHECK_ALL(proj(&e, CM_PO_OUTPUT_TOTAL), 0.0);
    CHECK_ALL(portfolio(&e, CM_PF_ANY_DEFAULT), 1.0);
    CHECK_ALL(portfolio(&e, CM_PF_EXPOSURE_TOTAL), 63.0);
    cm_summary_t d = proj(&e, CM_PO_DEFAULT);
    CHECK(d.prob == 1.0 && d.prob_se == 0.0);
    for (int t = 0; t < 10; t++) {
        CHECK_ALL(yearly(&e, CM_MY_NEW_OUTPUT, t), 0.0);
        CHECK_ALL(yearly(&e, CM_MY_DOMINANT_SHARE, t), 0.0);
        CHECK_ALL(yearly(&e, CM_MY_HHI, t), 10000.0);
    }
    edge_free(&e);
}

/* No supply at all (capacity 0 and no other producer): every share, the
 * HHI and eu65 are undefined in every year; the output is 0. */
static void test_market_without_supply(void)
{
    static const char *const sets[] = {"projects.p.capacity=0.0",
                                       "minerals.m.market.producers.[1].output0=0.0"};
    edge_t e;
    edge_run(&e, sets, 2, 0);
    for (int t = 0; t < 10; t++) {
        CHECK_ALL(yearly(&e, CM_MY_NEW_OUTPUT, t), 0.0);
        CHECK_UNDEF(yearly(&e, CM_MY_DOMINANT_SHARE, t));
        CHECK_UNDEF(yearly(&e, CM_MY_HHI, t));
        CHECK_UNDEF(yearly(&e, CM_MY_EU65, t));
        CHECK_UNDEF(yearly(&e, CM_MY_TOP3_SHARE, t));
    }
    edge_free(&e);
}

/* Capex 0: flows of one sign (IRR undefined), no debt balance (no DSCR, no
 * LLCR, no default), paid back in the first output year. */
static void test_zero_capex(void)
{
    static const char *const sets[] = {"projects.p.capex=0.0"};
    edge_t e;
    edge_run(&e, sets, 1, 0);
    double npv = pv_level(EBITDA, 2, 9, R);
    CHECK_ALL(proj(&e, CM_PO_NPV), npv);
    CHECK_UNDEF(proj(&e, CM_PO_IRR));
    CHECK_ALL(proj(&e, CM_PO_NPV_EQUITY), npv);
    CHECK_UNDEF(proj(&e, CM_PO_IRR_EQUITY));
    CHECK_UNDEF(proj(&e, CM_PO_MIN_DSCR));
    CHECK_UNDEF(proj(&e, CM_PO_LLCR));
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 0.0);
    CHECK_ALL(proj(&e, CM_PO_EXPOSURE), 0.0);
    CHECK_ALL(proj(&e, CM_PO_PAYBACK_YEAR), 2032.0);
    CHECK_ALL(proj(&e, CM_PO_CAPEX), 0.0);
    CHECK_ALL(financing(&e, "loan"), 0.0);
    edge_free(&e);
}

/* A 100 % grant: the project's flows are unchanged, the equity holders put
 * in nothing and receive EBITDA (IRR undefined: one sign), no debt. */
static void test_full_grant(void)
{
    static const char *const sets[] = {
        "projects.p.financing=( { name = \"g\"; type = \"grant\"; share = 1.0; } )"};
    edge_t e;
    edge_run(&e, sets, 1, 0);
    CHECK_ALL(proj(&e, CM_PO_NPV), -50.0 - 50.0 / 1.1 + pv_level(EBITDA, 2, 9, R));
    CHECK(proj(&e, CM_PO_IRR).n == PATHS);
    CHECK_ALL(proj(&e, CM_PO_NPV_EQUITY), pv_level(EBITDA, 2, 9, R));
    CHECK_UNDEF(proj(&e, CM_PO_IRR_EQUITY));
    CHECK_UNDEF(proj(&e, CM_PO_MIN_DSCR));
    CHECK_UNDEF(proj(&e, CM_PO_LLCR));
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 0.0);
    CHECK_UNDEF(proj(&e, CM_PO_DEFAULT_YEAR));
    CHECK_ALL(financing(&e, "g"), 100.0);
    edge_free(&e);
}

/* All equity, no tax: the equity flows are the project flows. */
static void test_no_debt(void)
{
    static const char *const sets[] = {
        "projects.p.financing=( { name = \"equity\"; type = \"equity\"; share = 1.0; } )"};
    edge_t e;
    edge_run(&e, sets, 1, 0);
    cm_summary_t irr = proj(&e, CM_PO_IRR), irr_e = proj(&e, CM_PO_IRR_EQUITY);
    CHECK(irr.n == PATHS && irr_e.n == PATHS);
    CHECK_REL(irr_e.mean, irr.mean, 1e-12);
    CHECK_ALL(proj(&e, CM_PO_NPV_EQUITY), proj(&e, CM_PO_NPV).mean);
    CHECK_UNDEF(proj(&e, CM_PO_MIN_DSCR));
    CHECK_UNDEF(proj(&e, CM_PO_LLCR));
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 0.0);
    CHECK_UNDEF(proj(&e, CM_PO_DEFAULT_YEAR));
    CHECK_ALL(proj(&e, CM_PO_EXPOSURE), 0.0);
    edge_free(&e);
}

/* Tenor 50 years on a 10-year horizon: repayment runs past the end; the
 * balance then is outstanding, not a default.  Linear principal
 * 63 / 50 = 1.26 from year 2; the LLCR sums years 2..9 only. */
static void test_tenor_beyond_horizon(void)
{
    static const char *const sets[] = {"projects.p.financing.loan.tenor=50"};
    edge_t e;
    edge_run(&e, sets, 1, 0);
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 0.0);
    CHECK_ALL(proj(&e, CM_PO_MIN_DSCR), EBITDA / (1.26 + 6.3));
    CHECK_ALL(proj(&e, CM_PO_LLCR), pv_level(EBITDA, 0, 7, R) / 63.0);
    double npv_e = -20.0 - 20.0 / 1.1;
    for (int t = 2; t < 10; t++) {
        double balance = 63.0 - 1.26 * (t - 2);
        npv_e += (EBITDA - (1.26 + R * balance)) * pow(1.0 + R, -t);
    }
    CHECK_ALL(proj(&e, CM_PO_NPV_EQUITY), npv_e);
    CHECK_ALL(proj(&e, CM_PO_EXPOSURE), 0.0);
    edge_free(&e);
}

/* A price of 1 USD/t: EBITDA negative on every path whatever the drawn
 * utilization, so every path defaults in the first repayment year (also in
 * exact-quantile mode), and the project IRR is undefined on every path. */
static void test_every_path_defaults(void)
{
    static const char *const sets[] = {
        "minerals.m.price.p0=1.0",
        "projects.p.utilization={ dist = \"uniform\"; min = 0.5; max = 1.0; }"};
    for (int exact = 0; exact <= 1; exact++) {
        edge_t e;
        edge_run(&e, sets, 2, exact);
        CHECK_ALL(proj(&e, CM_PO_DEFAULT), 1.0);
        CHECK_ALL(proj(&e, CM_PO_DEFAULT_YEAR), 2032.0);
        CHECK_ALL(proj(&e, CM_PO_EXPOSURE), 63.0);
        CHECK_ALL(portfolio(&e, CM_PF_ANY_DEFAULT), 1.0);
        CHECK_UNDEF(proj(&e, CM_PO_IRR));
        CHECK_UNDEF(proj(&e, CM_PO_PAYBACK_YEAR));
        cm_summary_t m = proj(&e, CM_PO_MIN_DSCR);
        CHECK(m.n == PATHS && m.max < 0.0); /* negative CFADS over a positive DS */
        cm_summary_t npv = proj(&e, CM_PO_NPV);
        CHECK(npv.n == PATHS && npv.max < -95.4545);
        CHECK(npv.sd > 0.0); /* the utilization draws differ */
        edge_free(&e);
    }
}

/* A one-year horizon: building never ends within it.  No output year, no
 * payback, no repayment (no DSCR, LLCR undefined: t0 beyond the horizon),
 * a single negative flow (IRR undefined). */
static void test_one_year_horizon(void)
{
    static const char *const sets[] = {"run.horizon=1"};
    edge_t e;
    edge_run(&e, sets, 1, 0);
    CHECK_ALL(proj(&e, CM_PO_NPV), -50.0);
    CHECK_UNDEF(proj(&e, CM_PO_IRR));
    CHECK_UNDEF(proj(&e, CM_PO_FIRST_OUTPUT_YEAR));
    CHECK_UNDEF(proj(&e, CM_PO_PAYBACK_YEAR));
    CHECK_UNDEF(proj(&e, CM_PO_MIN_DSCR));
    CHECK_UNDEF(proj(&e, CM_PO_LLCR));
    CHECK_ALL(proj(&e, CM_PO_DEFAULT), 0.0);
    CHECK_ALL(proj(&e, CM_PO_OUTPUT_TOTAL), 0.0);
    CHECK_ALL(yearly(&e, CM_MY_PRICE, 0), 100000.0);
    edge_free(&e);
}

/* Capacity and price of 1e300 each: revenue overflows to infinity.  The
 * run must still end cleanly with finite-or-empty results (the invariants
 * in edge_run), and the IRR of such flows is undefined like the NPV (it was
 * -0.99 on every path before the fix of F8, docs/hardening.md). */
static void test_overflowing_cash_flows(void)
{
    static const char *const sets[] = {"projects.p.capacity=1e300", "minerals.m.price.p0=1e300"};
    edge_t e;
    edge_run(&e, sets, 2, 0);
    cm_summary_t npv = proj(&e, CM_PO_NPV), irr = proj(&e, CM_PO_IRR);
    CHECK(npv.n + npv.n_undef == PATHS);
    CHECK(!(npv.n == 0 && irr.n > 0));
    edge_free(&e);
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    static const cm_test_t tests[] = {
        {"base_by_hand", test_base_by_hand},
        {"zero_capacity", test_zero_capacity},
        {"market_without_supply", test_market_without_supply},
        {"zero_capex", test_zero_capex},
        {"full_grant", test_full_grant},
        {"no_debt", test_no_debt},
        {"tenor_beyond_horizon", test_tenor_beyond_horizon},
        {"every_path_defaults", test_every_path_defaults},
        {"one_year_horizon", test_one_year_horizon},
        {"overflowing_cash_flows", test_overflowing_cash_flows},
    };
    return CM_TEST_MAIN(tests);
}
