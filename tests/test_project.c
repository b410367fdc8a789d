/* test_project.c - one project's cash flows and financing against hand
 * computations (MODEL.md section 9, first case, and sections 4-6).
 *
 * The reference project (all inputs fixed, no randomness), H = 8, base year
 * 2030, r = 10 %, equity rate 12 %:
 *   start s = 1, capex C = 100 over K = 2 years, capacity Q = 1000 t/yr,
 *   ramp-up [0.5], life L = 4, utilisation 1, opex 30 000 USD/t, price
 *   100 000 USD/t flat, royalty 5 %, tax 25 %, depreciation over D = 2 years;
 *   financing: equity 30 %, grant 10 %, debt 60 % at 10 %, tenor 2, grace 1,
 *   annuity.
 * Every line of the table below was worked out by hand (see comments).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_roots.h>

#include "check.h"
#include "cmsim/project.h"

#define H 8
#define TOL 1e-9

static cm_tranche_t tranches[3];
static cm_project_t proj;
static cm_route_t route;
static cm_scenario_t scen;
static double price[H], util[H];

static void setup(void)
{
    memset(&scen, 0, sizeof scen);
    memset(&proj, 0, sizeof proj);
    memset(tranches, 0, sizeof tranches);
    scen.horizon = H;
    scen.base_year = 2030;
    scen.discount_rate = 0.10;
    scen.equity_discount_rate = 0.12;
    scen.nprojects = 1;
    scen.projects = &proj;
    scen.ntranche_names = 3;
    strcpy(proj.name, "ref");
    proj.start = 1;
    proj.nramp = 1;
    proj.ramp_up[0] = 0.5;
    proj.life = 4;
    proj.royalty = 0.05;
    proj.tax = 0.25;
    proj.depreciation_years = 2;
    proj.discount_rate = 0.10;
    proj.equity_discount_rate = 0.12;
    proj.route = -1;
    proj.ntranches = 3;
    proj.tranches = tranches;
    tranches[0] = (cm_tranche_t){"equity", CM_TRANCHE_EQUITY, 0.3, 0, 0, 0, CM_AMORT_ANNUITY, 0};
    tranches[1] = (cm_tranche_t){"grant", CM_TRANCHE_GRANT, 0.1, 0, 0, 0, CM_AMORT_ANNUITY, 1};
    tranches[2] = (cm_tranche_t){"bank", CM_TRANCHE_DEBT, 0.6, 0.10, 2, 1, CM_AMORT_ANNUITY, 2};
    for (int t = 0; t < H; t++) {
        price[t] = 100000.0;
        util[t] = 1.0;
    }
}

static cm_project_inputs_t inputs(void)
{
    cm_project_inputs_t in;
    memset(&in, 0, sizeof in);
    in.capex = 100.0;
    in.build_years = 2;
    in.capacity = 1000.0;
    in.opex = 30000.0;
    in.utilization = util;
    in.price = price;
    in.price_multiplier = 1.0;
    in.expro_year = -1;
    return in;
}

static void check_line(const char *name, const double *got, const double *want)
{
    for (int t = 0; t < H; t++) {
        int ok = (isnan(got[t]) && isnan(want[t])) ||
                 fabs(got[t] - want[t]) <= TOL * fmax(fabs(want[t]), 1.0);
        if (!ok) {
            fprintf(stderr, "line %s, t = %d: got %.17g, want %.17g\n", name, t, got[t], want[t]);
            cm_test_failures_++;
        }
    }
}

static void test_reference_table(void)
{
    setup();
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    double out[CM_PO_COUNT], fin[3] = {0, 0, 0};
    cm_project_eval(&scen, 0, &in, &L, out, fin);
    const double N = NAN;
    /* t:                       0     1      2      3        4         5         6      7 */
    const double capex[H]    = {0,   50,    50,     0,       0,        0,        0,     0};
    const double q[H]        = {0,    0,     0,   500,    1000,     1000,     1000,     0};
    const double revenue[H]  = {0,    0,     0,    50,     100,      100,      100,     0};
    const double royalty[H]  = {0,    0,     0,   2.5,       5,        5,        5,     0};
    const double opex[H]     = {0,    0,     0,    15,      30,       30,       30,     0};
    const double ebitda[H]   = {0,    0,     0,  32.5,      65,       65,       65,     0};
    const double dep[H]      = {0,    0,     0,    50,      50,        0,        0,     0};
    /* tax_u = 0.25 max(0, ebitda - dep) */
    const double tax_u[H]    = {0,    0,     0,     0,    3.75,    16.25,    16.25,     0};
    const double fcf[H]      = {0,  -50,   -50,  32.5,   61.25,    48.75,    48.75,     0};
    const double draw[H]     = {0,   30,    30,     0,       0,        0,        0,     0};
    /* opening balances: 30 drawn in 1; 30 + 3 interest + 30 drawn = 63 at 3;
     * 63 + 6.3 capitalised (grace) = 69.3 at 4; annuity 69.3 x 0.121/0.21 =
     * 39.93: interest 6.93, principal 33; then 36.3: interest 3.63,
     * principal 36.3 */
    const double balance[H]  = {0,    0,    30,    63,    69.3,     36.3,        0,     0};
    const double interest[H] = {0,    0,     3,   6.3,    6.93,     3.63,        0,     0};
    const double int_paid[H]= {0,    0,     0,     0,    6.93,     3.63,        0,     0};
    const double principal[H]= {0,    0,     0,     0,      33,     36.3,        0,     0};
    const double ds[H]       = {0,    0,     0,     0,   39.93,    39.93,        0,     0};
    /* tax_l = 0.25 max(0, ebitda - dep - interest paid) */
    const double tax_l[H]    = {0,    0,     0,     0,  2.0175,  15.3425,    16.25,     0};
    const double cfads[H]    = {0,    0,     0,  32.5, 62.9825,  49.6575,    48.75,     0};
    const double dscr[H]     = {N,    N,     N,     N, 62.9825 / 39.93, 49.6575 / 39.93, N, N};
    const double eq_in[H]    = {0,   15,    15,     0,       0,        0,        0,     0};
    /* E = -equity in + cfads - ds */
    const double eq_flow[H]  = {0,  -15,   -15,  32.5, 23.0525,   9.7275,    48.75,     0};
    check_line("capex", L.capex, capex);
    check_line("q", L.q, q);
    check_line("q_sold", L.q_sold, q);
    check_line("revenue", L.revenue, revenue);
    check_line("royalty", L.royalty, royalty);
    check_line("opex", L.opex, opex);
    check_line("ebitda", L.ebitda, ebitda);
    check_line("dep", L.dep, dep);
    check_line("tax_u", L.tax_u, tax_u);
    check_line("fcf", L.fcf, fcf);
    check_line("draw", L.draw, draw);
    check_line("balance", L.balance, balance);
    check_line("interest", L.interest, interest);
    check_line("interest_paid", L.interest_paid, int_paid);
    check_line("principal", L.principal, principal);
    check_line("ds", L.ds, ds);
    check_line("tax_l", L.tax_l, tax_l);
    check_line("cfads", L.cfads, cfads);
    check_line("dscr", L.dscr, dscr);
    check_line("equity_in", L.equity_in, eq_in);
    check_line("equity_flow", L.equity_flow, eq_flow);

    /* NPV: sum fcf / 1.1^t, IRR and equity values from an independent
     * bisection to 1e-15 (Python, exact decimal inputs). */
    double npv = 0.0;
    for (int t = 0; t < H; t++)
        npv += fcf[t] / pow(1.1, t);
    CHECK_REL(out[CM_PO_NPV], npv, TOL);
    CHECK_REL(out[CM_PO_NPV], 37.26346425553504, TOL);
    CHECK_REL(out[CM_PO_IRR], 0.24088511071498797, TOL);
    CHECK_REL(out[CM_PO_NPV_EQUITY], 42.65028514663783, TOL);
    CHECK_REL(out[CM_PO_IRR_EQUITY], 0.6021154115598499, TOL);
    /* LLCR at t0 = 4: (62.9825 + 49.6575 / 1.1) / 69.3 */
    CHECK_REL(out[CM_PO_LLCR], (62.9825 + 49.6575 / 1.1) / 69.3, TOL);
    CHECK_REL(out[CM_PO_MIN_DSCR], 49.6575 / 39.93, TOL);
    CHECK(out[CM_PO_DEFAULT] == 0.0);
    CHECK(isnan(out[CM_PO_DEFAULT_YEAR]));
    CHECK(out[CM_PO_EXPOSURE] == 0.0);
    CHECK(out[CM_PO_EXPROPRIATED] == 0.0);
    /* cumulative FCF: -50, -100, -67.5, -6.25, 42.5 -> t = 5 */
    CHECK(out[CM_PO_PAYBACK_YEAR] == 2035.0);
    CHECK(out[CM_PO_CAPEX] == 100.0);
    CHECK(out[CM_PO_FIRST_OUTPUT_YEAR] == 2033.0);
    CHECK_REL(out[CM_PO_OUTPUT_TOTAL], 3500.0, TOL);
    CHECK_REL(fin[0], 30.0, TOL);
    CHECK_REL(fin[1], 10.0, TOL);
    CHECK_REL(fin[2], 60.0, TOL);
    cm_project_lines_free(&L);
}

static void test_default_known_year(void)
{
    setup();
    util[5] = 0.2; /* q 200: revenue 20, royalty 1, opex 6, EBITDA 13 */
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    /* tax_l(5) = 0.25 (13 - 3.63) = 2.3425; cfads 10.6575 < ds 39.93 */
    CHECK_REL(L.cfads[5], 10.6575, TOL);
    CHECK(out[CM_PO_DEFAULT] == 1.0);
    CHECK(out[CM_PO_DEFAULT_YEAR] == 2035.0);
    CHECK_REL(out[CM_PO_EXPOSURE], 36.3, TOL);
    CHECK_REL(out[CM_PO_MIN_DSCR], 10.6575 / 39.93, TOL);
    CHECK(isnan(L.dscr[6]));
    /* equity receives nothing from the default year on */
    CHECK(L.equity_flow[5] == 0.0 && L.equity_flow[6] == 0.0);
    CHECK_REL(L.equity_flow[4], 23.0525, TOL);
    /* project FCF continues: fcf(5) = 13 - 0.25 x 13 = 9.75 */
    CHECK_REL(L.fcf[5], 9.75, TOL);
    CHECK_REL(L.fcf[6], 48.75, TOL);
    cm_project_lines_free(&L);
}

static void test_expropriation(void)
{
    for (int insured = 0; insured <= 1; insured++) {
        setup();
        proj.pri_cover = insured ? 0.9 : 0.0;
        cm_project_lines_t L;
        CHECK(cm_project_lines_init(&L, H) == 0);
        cm_project_inputs_t in = inputs();
        in.expro_year = 4;
        double out[CM_PO_COUNT];
        cm_project_eval(&scen, 0, &in, &L, out, NULL);
        /* outstanding debt at the opening of 4: 69.3; equity before 4: 30 */
        double cover = proj.pri_cover;
        CHECK_REL(L.fcf[3], 32.5, TOL);
        CHECK_REL(L.fcf[4], cover * (69.3 + 30.0), TOL);
        CHECK(L.fcf[5] == 0.0 && L.fcf[6] == 0.0);
        CHECK_REL(L.equity_flow[4], cover * 30.0, TOL);
        CHECK(L.equity_flow[5] == 0.0);
        CHECK_REL(out[CM_PO_EXPOSURE], (1.0 - cover) * 69.3, TOL);
        CHECK(out[CM_PO_EXPROPRIATED] == 1.0);
        CHECK(out[CM_PO_DEFAULT] == 0.0);
        CHECK(isnan(out[CM_PO_MIN_DSCR])); /* no debt service before tau */
        /* output continues (the mine keeps supplying the market) */
        CHECK_REL(out[CM_PO_OUTPUT_TOTAL], 3500.0, TOL);
        double npv = -50 / 1.1 - 50 / pow(1.1, 2) + 32.5 / pow(1.1, 3) +
                     cover * 99.3 / pow(1.1, 4);
        CHECK_REL(out[CM_PO_NPV], npv, TOL);
        cm_project_lines_free(&L);
    }
    /* a project that starts after the event is not hit */
    setup();
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    in.expro_year = 0; /* before start s = 1 */
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    CHECK(out[CM_PO_EXPROPRIATED] == 0.0);
    CHECK_REL(out[CM_PO_NPV], 37.26346425553504, TOL);
    cm_project_lines_free(&L);
}

static void test_route_disruption(void)
{
    static const unsigned char disrupted[H] = {0, 0, 0, 0, 1, 0, 0, 0};
    for (int fallback = 0; fallback <= 1; fallback++) {
        setup();
        route = (cm_route_t){"r", 10.0, 0.1, 0.5, fallback, 30.0, 0};
        scen.routes = &route;
        scen.nroutes = 1;
        proj.route = 0;
        cm_project_lines_t L;
        CHECK(cm_project_lines_init(&L, H) == 0);
        cm_project_inputs_t in = inputs();
        in.disrupted = disrupted;
        double out[CM_PO_COUNT];
        cm_project_eval(&scen, 0, &in, &L, out, NULL);
        /* undisrupted year 5: 1000 t x 10 USD = 0.01 USD million */
        CHECK_REL(L.transport[5], 0.01, TOL);
        CHECK_REL(L.opex[5], 30.01, TOL);
        if (fallback) {
            /* half by the route at 10, half by the fallback at 30 */
            CHECK_REL(L.q_sold[4], 1000.0, TOL);
            CHECK_REL(L.transport[4], (500 * 10.0 + 500 * 30.0) / 1e6, TOL);
            CHECK_REL(L.revenue[4], 100.0, TOL);
        } else {
            /* the cut half is neither shipped nor sold; opex still on output */
            CHECK_REL(L.q_sold[4], 500.0, TOL);
            CHECK_REL(L.transport[4], 500 * 10.0 / 1e6, TOL);
            CHECK_REL(L.revenue[4], 50.0, TOL);
            CHECK_REL(L.opex[4], 30.0 + 0.005, TOL);
        }
        CHECK_REL(L.q[4], 1000.0, TOL);
        cm_project_lines_free(&L);
    }
}

/* Annuity and linear schedules against closed forms, with capitalised
 * interest: one debt tranche of 100 % drawn in one build year. */
static void test_schedules_closed_form(void)
{
    const int n = 5;
    const double i = 0.07;
    for (int linear = 0; linear <= 1; linear++) {
        setup();
        scen.horizon = H;
        proj.start = 0;
        proj.ntranches = 1;
        tranches[0] = (cm_tranche_t){"d", CM_TRANCHE_DEBT, 1.0, i, n, 1,
                                     linear ? CM_AMORT_LINEAR : CM_AMORT_ANNUITY, 0};
        proj.tranches = tranches;
        proj.life = 20;
        cm_project_lines_t L;
        CHECK(cm_project_lines_init(&L, H) == 0);
        cm_project_inputs_t in = inputs();
        in.build_years = 1; /* draw 100 in t = 0; production from 1; repay from 2 */
        double out[CM_PO_COUNT];
        cm_project_eval(&scen, 0, &in, &L, out, NULL);
        /* capitalised: 100 at the opening of 1, 100 (1+i) at the opening of 2 */
        double B = 100.0 * (1.0 + i);
        CHECK_REL(L.balance[1], 100.0, TOL);
        CHECK_REL(L.balance[2], B, TOL);
        CHECK_REL(L.interest[1], 100.0 * i, TOL);
        CHECK(L.interest_paid[1] == 0.0);
        double A = B * i / (1.0 - pow(1.0 + i, -n));
        double sum_principal = 0.0;
        for (int k = 0; k < n && 2 + k < H; k++) {
            int t = 2 + k;
            double open;
            if (linear)
                open = B * (1.0 - (double)k / n);
            else /* balance after k level payments */
                open = B * pow(1.0 + i, k) - A * (pow(1.0 + i, k) - 1.0) / i;
            CHECK_REL(L.balance[t], open, TOL);
            CHECK_REL(L.interest_paid[t], i * open, TOL);
            if (linear)
                CHECK_REL(L.principal[t], B / n, TOL);
            else
                CHECK_REL(L.ds[t], A, TOL);
            sum_principal += L.principal[t];
        }
        CHECK_REL(sum_principal, B, TOL);
        CHECK(L.balance[7] == 0.0);
        cm_project_lines_free(&L);
    }
}

static void test_irr_edge_cases(void)
{
    const double none[4] = {0, 0, 0, 0};
    CHECK(isnan(cm_irr(none, 4)));
    const double allneg[3] = {-1, -2, -3};
    CHECK(isnan(cm_irr(allneg, 3)));
    const double simple[2] = {-100, 110};
    CHECK_NEAR(cm_irr(simple, 2), 0.10, 1e-10);
    /* a root below 0: -100 then 50 -> -50 % */
    const double loss[2] = {-100, 50};
    CHECK_NEAR(cm_irr(loss, 2), -0.5, 1e-10);
    /* a long horizon where (1+x)^-t overflows at x = -0.99 */
    static double longf[1000];
    longf[0] = -100.0;
    for (int t = 1; t < 1000; t++)
        longf[t] = 5.0;
    double irr = cm_irr(longf, 1000);
    CHECK_NEAR(cm_npv(longf, 1000, irr), 0.0, 1e-6);
    CHECK_NEAR(irr, 0.05, 1e-9);
    /* roots on both sides of 0 but no sign change between the ends:
     * undefined (MODEL.md section 4), not the root nearer 0 */
    const double two[3] = {-4, 8, -3};
    CHECK(isnan(cm_irr(two, 3)));
    /* flows that overflowed: undefined, not -0.99 */
    const double inf[3] = {-100, INFINITY, 5};
    CHECK(isnan(cm_irr(inf, 3)));
    /* f'(0) nearly 0 with f(0) = 1: a Halley step from 0 is tiny (about
     * -2 f'/f''), which must not pass for convergence; the root is near
     * 4.6858 (three sign changes, one root in (0, 10)) */
    for (int k = 0; k < 3; k++) {
        const double eps = k == 0 ? 1e-11 : k == 1 ? 3e-11 : 0.0;
        const double flat[4] = {-1, 7 - eps, -8, 3};
        double x = cm_irr(flat, 4);
        CHECK(fabs(cm_npv(flat, 4, x)) < 1e-9);
        CHECK_NEAR(x, 4.685779526, 1e-8);
    }
    /* outside the bracket: returns above 1000 % are undefined */
    const double huge[2] = {-1, 100};
    CHECK(isnan(cm_irr(huge, 2)));
}

/* The engine's safeguarded Halley iteration against GSL's Brent bracketing solver
 * (what cm_irr used before), on 20,000 random flow profiles: invest then
 * earn (one sign change, the usual case), profiles with several sign
 * changes (Halley and Newton steps leave the bracket, so it must bisect), roots
 * near both ends and long horizons.  Where f changes sign on the half
 * cm_irr searches, both must find a root there (f changes sign within
 * 1e-9 of cm_irr's) and, where the flows change sign once (so the root is
 * unique), the same one within 2e-10. */
static double npv_scaled(double x, void *p)
{
    const double *f = p;
    int n = (int)f[0];
    /* h(x) = f(x) (1+x)^(n-1): finite on the whole bracket */
    double g = 1.0 + x, acc = 0.0;
    for (int t = 0; t < n; t++)
        acc = acc * g + f[1 + t];
    return acc;
}

static double brent_root(double *f1, double a, double b)
{
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    gsl_function fn = {npv_scaled, f1};
    double root = NAN;
    if (s != NULL && gsl_root_fsolver_set(s, &fn, a, b) == GSL_SUCCESS) {
        for (int it = 0; it < 500; it++) {
            gsl_root_fsolver_iterate(s);
            if (gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s),
                                       1e-13, 0.0) == GSL_SUCCESS) {
                root = gsl_root_fsolver_root(s);
                break;
            }
        }
    }
    gsl_root_fsolver_free(s);
    return root;
}

static void test_irr_against_brent(void)
{
    gsl_set_error_handler_off();
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 20261128);
    static double f1[1 + 200];
    int compared = 0, single = 0;
    for (int trial = 0; trial < 20000; trial++) {
        int n = 2 + (int)gsl_rng_uniform_int(r, trial % 10 == 0 ? 199 : 40);
        double *f = f1 + 1;
        f1[0] = n;
        int kind = trial % 3;
        for (int t = 0; t < n; t++) {
            if (kind == 0) /* invest then earn */
                f[t] = t < 1 + (int)(n / 5) ? -gsl_rng_uniform(r) * 100.0
                                            : gsl_rng_uniform(r) * 30.0;
            else /* any signs */
                f[t] = (gsl_rng_uniform(r) - 0.5) * 100.0;
        }
        if (kind == 2) /* a root close to a chosen rate in (-0.99, 10) */
            f[0] -= cm_npv(f, n, -0.98 + 10.9 * gsl_rng_uniform(r));
        double irr = cm_irr(f, n);
        if (isnan(irr))
            continue;
        CHECK(irr >= -0.99 && irr <= 10.0);
        /* the half cm_irr searched: the side of 0 where irr lies */
        double a = irr < 0 ? -0.99 : 0.0, b = irr < 0 ? 0.0 : 10.0;
        double ref = brent_root(f1, a, b);
        if (isnan(ref))
            continue;
        compared++;
        /* one sign change in the flows: a single root on (-1, inf)
         * (Descartes' rule of signs in v = 1/(1+x)) */
        int changes = 0, last = 0;
        for (int t = 0; t < n; t++) {
            int sg = (f[t] > 0) - (f[t] < 0);
            if (sg != 0 && last != 0 && sg != last)
                changes++;
            if (sg != 0)
                last = sg;
        }
        if (changes == 1) {
            single++;
            CHECK_NEAR(irr, ref, 2e-10);
        }
        /* whichever root: f changes sign within 1e-9 of it */
        CHECK(npv_scaled(irr - 1e-9, f1) * npv_scaled(irr + 1e-9, f1) <= 0);
    }
    gsl_rng_free(r);
    CHECK(compared > 10000);
    CHECK(single > 5000);
}

/* A default, then an expropriation: the lenders' claim stays at the
 * default-year balance, equity gets nothing, both flags are set and the
 * exposure is the default's. */
static void test_default_then_expropriation(void)
{
    setup();
    util[5] = 0.2; /* default in 5 (see default_known_year) */
    proj.pri_cover = 0.9;
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    in.expro_year = 6;
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    CHECK(out[CM_PO_DEFAULT] == 1.0 && out[CM_PO_EXPROPRIATED] == 1.0);
    CHECK_REL(out[CM_PO_EXPOSURE], 36.3, TOL);
    CHECK_REL(L.fcf[6], 0.9 * (36.3 + 30.0), TOL);
    CHECK(L.equity_flow[6] == 0.0);
    cm_project_lines_free(&L);
}

/* LLCR counts CFADS as 0 from an expropriation on: expropriated at the
 * first repayment year, the LLCR is 0. */
static void test_llcr_after_expropriation(void)
{
    setup();
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    in.expro_year = 5;
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    CHECK_REL(out[CM_PO_LLCR], 62.9825 / 69.3, TOL);
    in.expro_year = 4;
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    CHECK(out[CM_PO_LLCR] == 0.0);
    cm_project_lines_free(&L);
}

/* A zero-rate annuity repays equal principal. */
static void test_zero_rate_annuity(void)
{
    setup();
    tranches[2].rate = 0.0;
    tranches[2].tenor = 3;
    tranches[2].grace = 0;
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    for (int t = 3; t < 6; t++) {
        CHECK_REL(L.principal[t], 20.0, TOL);
        CHECK(L.interest_paid[t] == 0.0);
    }
    cm_project_lines_free(&L);
}

/* Capex that runs past the horizon: only the years inside count, and no
 * output year exists. */
static void test_capex_beyond_horizon(void)
{
    setup();
    proj.start = 6;
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    in.build_years = 4;
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    CHECK(L.capex[6] == 25.0 && L.capex[7] == 25.0);
    CHECK(isnan(out[CM_PO_FIRST_OUTPUT_YEAR]));
    CHECK(isnan(out[CM_PO_PAYBACK_YEAR]));
    CHECK(isnan(out[CM_PO_IRR]));
    CHECK(isnan(out[CM_PO_LLCR])); /* repayment would start after the horizon */
    CHECK_REL(out[CM_PO_NPV], -25.0 / pow(1.1, 6) - 25.0 / pow(1.1, 7), TOL);
    CHECK(out[CM_PO_OUTPUT_TOTAL] == 0.0);
    cm_project_lines_free(&L);
}

/* All-equity project with operating losses: equity pays them (E = CFADS < 0),
 * there is no DSCR and no default. */
static void test_losses_paid_by_equity(void)
{
    setup();
    proj.ntranches = 1;
    tranches[0].share = 1.0;
    cm_project_lines_t L;
    CHECK(cm_project_lines_init(&L, H) == 0);
    cm_project_inputs_t in = inputs();
    in.opex = 120000.0; /* above the price: EBITDA < 0 */
    double out[CM_PO_COUNT];
    cm_project_eval(&scen, 0, &in, &L, out, NULL);
    /* t = 4: revenue 100, royalty 5, opex 120: EBITDA -25, no tax */
    CHECK_REL(L.ebitda[4], -25.0, TOL);
    CHECK_REL(L.equity_flow[4], -25.0, TOL);
    CHECK_REL(L.equity_flow[1], -50.0, TOL);
    CHECK(out[CM_PO_DEFAULT] == 0.0);
    CHECK(isnan(out[CM_PO_MIN_DSCR]) && isnan(out[CM_PO_LLCR]));
    CHECK(isnan(out[CM_PO_IRR]) && isnan(out[CM_PO_PAYBACK_YEAR]));
    cm_project_lines_free(&L);
}

static void test_npv_convention(void)
{
    /* year-0 flows are not discounted */
    const double f[3] = {10, 11, 12.1};
    CHECK_REL(cm_npv(f, 3, 0.1), 30.0, 1e-12);
}

int main(int argc, char **argv)
{
    static const cm_test_t tests[] = {
        {"reference_table", test_reference_table},
        {"default_known_year", test_default_known_year},
        {"expropriation", test_expropriation},
        {"route_disruption", test_route_disruption},
        {"schedules_closed_form", test_schedules_closed_form},
        {"irr_edge_cases", test_irr_edge_cases},
        {"irr_against_brent", test_irr_against_brent},
        {"npv_convention", test_npv_convention},
        {"default_then_expropriation", test_default_then_expropriation},
        {"llcr_after_expropriation", test_llcr_after_expropriation},
        {"zero_rate_annuity", test_zero_rate_annuity},
        {"capex_beyond_horizon", test_capex_beyond_horizon},
        {"losses_paid_by_equity", test_losses_paid_by_equity},
    };
    return CM_TEST_MAIN(tests);
}
