/* project.c - one project's cash flows, financing and political-risk events
 * on one path (MODEL.md sections 4-6), with no randomness.
 *
 * Work per call: O(H x (1 + debt tranches)) plus two IRR solves
 * (safeguarded Halley, usually about six O(H) passes).  No allocation.
 *
 * Decisions where MODEL.md is silent (docs/model.md lists them):
 *  - debt lines (interest, principal, ds, balance) show the contractual
 *    schedule; after a default or an expropriation they are what was due,
 *    not what was paid, and no DSCR is computed;
 *  - an expropriation and a debt payment due in the same year: the
 *    expropriation comes first (flows stop from tau on, so nothing is due);
 *  - after a default, the lenders' claim stays at the balance of the default
 *    year: that is the "outstanding debt" an expropriation later insures;
 *  - LLCR counts CFADS as 0 from an expropriation year on (the flows belong
 *    to the state), and uses the path's realised CFADS otherwise;
 *  - exposure_at_default is 0 on paths with neither a default nor an
 *    expropriation, so its mean is the expected exposure per project.
 */
#include "cmsim/project.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "cmsim/error.h"

int cm_project_lines_init(cm_project_lines_t *lines, int horizon)
{
    memset(lines, 0, sizeof *lines);
    lines->horizon = horizon;
    size_t n = (size_t)(horizon > 0 ? horizon : 1);
#define CM_X(name)                                          \
    lines->name = calloc(n, sizeof(double));                \
    if (lines->name == NULL)                                \
        goto fail;
    CM_PROJECT_LINES(CM_X)
#undef CM_X
    return CM_EOK;
fail:
    cm_project_lines_free(lines);
    return CM_ENOMEM;
}

void cm_project_lines_free(cm_project_lines_t *lines)
{
    if (lines == NULL)
        return;
#define CM_X(name) free(lines->name);
    CM_PROJECT_LINES(CM_X)
#undef CM_X
    memset(lines, 0, sizeof *lines);
}

double cm_npv(const double *flows, int n, double r)
{
    /* Horner from the last year: sum flows[t] v^t with v = 1/(1+r). */
    double v = 1.0 / (1.0 + r), acc = 0.0;
    for (int t = n - 1; t >= 0; t--)
        acc = acc * v + flows[t];
    return acc;
}

/* The IRR function and its scaled twin.  With T the last non-zero year,
 * f(x) = sum F_t (1+x)^-t and h(x) = f(x) (1+x)^T = sum F_t (1+x)^(T-t):
 * same sign and roots on x > -1; f stays finite for x >= 0 and h for
 * x <= 0 whatever T is.  irr_eval returns f (scaled = 0) or h (scaled = 1)
 * at x with its first and second derivatives in x, in one Horner pass of
 * three independent chains:
 *   f = p(v), v = 1/(1+x), p(v) = sum F_t v^t:
 *       f' = -v^2 p'(v),  f'' = v^4 p''(v) + 2 v^3 p'(v);
 *   h = q(g), g = 1+x, q(g) = sum F_t g^(T-t): h' = q'(g), h'' = q''(g).
 * (p'' and q'' come out halved from Horner's scheme, hence the 2s.) */
static double irr_eval(const double *flows, int last, int scaled, double x, double *d1,
                       double *d2)
{
    double acc = 0.0, dacc = 0.0, ddacc = 0.0;
    if (scaled) {
        const double g = 1.0 + x;
        for (int t = 0; t <= last; t++) {
            ddacc = ddacc * g + dacc;
            dacc = dacc * g + acc;
            acc = acc * g + flows[t];
        }
        *d1 = dacc;
        *d2 = 2.0 * ddacc;
    } else {
        const double v = 1.0 / (1.0 + x);
        for (int t = last; t >= 0; t--) {
            ddacc = ddacc * v + dacc;
            dacc = dacc * v + acc;
            acc = acc * v + flows[t];
        }
        const double v2 = v * v;
        *d1 = -v2 * dacc;
        *d2 = v2 * v * (2.0 * v * ddacc + 2.0 * dacc);
    }
    return acc;
}

static int sign_of(double v)
{
    return (v > 0) - (v < 0);
}

/* Bracketed, safeguarded Halley iteration: the root of f (or h) in (a, b),
 * whose ends have signs s_a and -s_a, from x0 = 0 (an end), where f and its
 * derivatives are already known (f0, f1, f2).  Each value of f narrows the
 * bracket; a Halley step that would not land strictly inside it is
 * replaced by a Newton step, and that, if it fails too, by a bisection;
 * after IRR_FAST_IT steps only bisections are taken, so it converges
 * whatever f looks like inside.  With the usual invest-then-earn flows f
 * is decreasing and convex, and Halley's cubic convergence from 0 needs
 * about four evaluations of f where Newton's needed seven or eight
 * (counted on the default batch's reference scenario and the benchmark
 * portfolio; the derivatives cost little extra time, their chains run
 * alongside f's).  Stops when a step and the Newton correction f/f' are
 * both below IRR_TOL (absolute: the error after such a step is far smaller)
 * or the bracket is narrower than IRR_TOL.  (A small step alone is not
 * enough: near a stationary point of f a Halley step is small though f is
 * not; found in review, test irr_edge_cases.)
 * Why not GSL: its derivative solvers (gsl_root_fdfsolver_*) are not
 * bracketed, and its bracketing ones (Brent, used before) use no
 * derivatives, which come nearly free here, and call f through a pointer;
 * tests/test_project.c compares the two. */
#define IRR_TOL 1e-10
#define IRR_FAST_IT 40
#define IRR_MAX_IT 200
static double irr_solve(const double *flows, int last, int scaled, double a, double b, int s_a,
                        double f0, double f1, double f2)
{
    double lo = a, hi = b; /* f(lo) has sign s_a, f(hi) sign -s_a */
    double x = 0.0, fx = f0, d1 = f1, d2 = f2;
    for (int it = 0; it < IRR_MAX_IT; it++) {
        /* Newton's correction f/f' measures the distance to a root; a
         * Halley step can also be tiny where f' is near 0 and f is not
         * (about -2 f'/f''), so a tiny Halley step counts only when the
         * Newton correction is tiny too, and is otherwise replaced. */
        const double newton = fx / d1; /* NaN or infinite when d1 = 0 */
        const int near = fabs(newton) < IRR_TOL;
        double xn = x - 2.0 * fx * d1 / (2.0 * d1 * d1 - fx * d2); /* Halley */
        int ok = it < IRR_FAST_IT && (xn - lo) * (xn - hi) < 0.0 &&
                 (near || !(fabs(xn - x) < IRR_TOL));
        if (!ok) {
            xn = x - newton; /* Newton */
            ok = it < IRR_FAST_IT && (xn - lo) * (xn - hi) < 0.0;
        }
        if (!ok)
            xn = 0.5 * (lo + hi); /* NaN or infinite steps fail too */
        const double dx = xn - x;
        x = xn;
        if ((fabs(dx) < IRR_TOL && near) || fabs(hi - lo) < IRR_TOL)
            return x;
        fx = irr_eval(flows, last, scaled, x, &d1, &d2);
        const int sx = sign_of(fx);
        if (sx == 0)
            return x;
        if (sx == s_a)
            lo = x;
        else
            hi = x;
    }
    return NAN; /* not reached for a sign change: bisection halves the bracket */
}

/* f at -0.99 (as h) and at 10 (as f), in one loop of two chains. */
static void irr_ends(const double *flows, int last, double lo, double hi, double *h_lo,
                     double *f_hi)
{
    const double g = 1.0 + lo, v = 1.0 / (1.0 + hi);
    double a = 0.0, b = 0.0;
    for (int t = 0; t <= last; t++) {
        a = a * g + flows[t];
        b = b * v + flows[last - t];
    }
    *h_lo = a;
    *f_hi = b;
}

double cm_irr(const double *flows, int n)
{
    const double lo = -0.99, hi = 10.0;
    int last = n - 1;
    while (last >= 0 && flows[last] == 0.0)
        last--;
    if (last < 0)
        return NAN;
    for (int t = 0; t <= last; t++)
        if (!isfinite(flows[t]))
            return NAN; /* flows that overflowed have no meaningful rate */
    double h_lo, f_hi;
    irr_ends(flows, last, lo, hi, &h_lo, &f_hi);
    const int s_lo = sign_of(h_lo), s_hi = sign_of(f_hi);
    /* MODEL.md: defined only when f changes sign between the ends. */
    if (s_lo == 0)
        return lo;
    if (s_hi == 0)
        return hi;
    if (s_lo == s_hi)
        return NAN;
    /* At 0 (g = v = 1): f = h = sum F_t, f' = -sum t F_t, h' = sum (T-t)
     * F_t, f'' = sum t (t+1) F_t, h'' = sum (T-t) (T-t-1) F_t. */
    double s0 = 0.0, s1 = 0.0, s2 = 0.0;
    for (int t = 0; t <= last; t++) {
        s0 += flows[t];
        s1 += (double)t * flows[t];
        s2 += (double)t * (double)t * flows[t];
    }
    const int s_0 = sign_of(s0);
    if (s_0 == 0)
        return 0.0;
    if (s_lo != s_0) { /* root in (-0.99, 0): h */
        const double T = last;
        const double h1 = T * s0 - s1;
        const double h2 = T * (T - 1.0) * s0 - (2.0 * T - 1.0) * s1 + s2;
        return irr_solve(flows, last, 1, lo, 0.0, s_lo, s0, h1, h2);
    }
    /* root in (0, 10): f */
    return irr_solve(flows, last, 0, 0.0, hi, s_0, s0, -s1, s1 + s2);
}

/* max(0, x), as fmax(0, x) (0 for a NaN x) but inline: GCC calls libm's
 * fmax for its NaN rules. */
static inline double pos_part(double x)
{
    return x > 0.0 ? x : 0.0;
}

/* The contractual schedule of one debt tranche, added into the lines.
 * Returns the tranche's opening balance in year t0 (for the LLCR). */
static double debt_schedule(const cm_tranche_t *tr, double share_capex_scale,
                            int repay_start, int t0, cm_project_lines_t *L,
                            int H)
{
    double B = 0.0, B_repay = 0.0, payment = 0.0, at_t0 = 0.0;
    const double i = tr->rate;
    const int n = tr->tenor;
    for (int t = 0; t < H; t++) {
        double open = B;
        double interest = i * open;
        double draw = share_capex_scale * L->capex[t];
        if (t == t0)
            at_t0 = open;
        L->balance[t] += open;
        L->draw[t] += draw;
        if (t < repay_start) {
            /* construction and grace: interest capitalised */
            L->interest[t] += interest;
            B = open + interest + draw;
        } else if (t < repay_start + n) {
            if (t == repay_start) {
                B_repay = open;
                payment = (i == 0.0) ? open / n : open * i / (1.0 - pow(1.0 + i, -n));
            }
            double principal;
            if (t == repay_start + n - 1)
                principal = open; /* clears rounding in the last year */
            else if (tr->amort == CM_AMORT_ANNUITY)
                principal = payment - interest;
            else
                principal = B_repay / n;
            L->interest[t] += interest;
            L->interest_paid[t] += interest;
            L->principal[t] += principal;
            B = open - principal + draw;
        } else {
            B = open + draw;
        }
    }
    return at_t0;
}

void cm_project_eval(const cm_scenario_t *s, int p, const cm_project_inputs_t *in,
                     cm_project_lines_t *L, double *out, double *financing)
{
    const cm_project_t *pr = &s->projects[p];
    const int H = s->horizon;
    const size_t bytes = (size_t)H * sizeof(double);
#define CM_X(name) memset(L->name, 0, bytes);
    CM_PROJECT_LINES(CM_X)
#undef CM_X

    const double C = in->capex;
    const int K = in->build_years;
    const int st = pr->start;
    const int prod0 = st + K;
    const cm_route_t *route = pr->route >= 0 ? &s->routes[pr->route] : NULL;

    /* Equity and grant shares; financing mobilised per tranche name. */
    double w_equity = 0.0;
    for (int j = 0; j < pr->ntranches; j++) {
        const cm_tranche_t *tr = &pr->tranches[j];
        if (tr->kind == CM_TRANCHE_EQUITY)
            w_equity += tr->share;
        if (financing != NULL)
            financing[tr->name_id] += tr->share * C;
    }

    /* Capex and production lines. */
    for (int t = st; t < st + K && t < H; t++) {
        L->capex[t] = C / K;
        L->equity_in[t] = w_equity * L->capex[t];
    }
    double output_total = 0.0;
    for (int t = prod0 < 0 ? 0 : prod0; t < prod0 + pr->life && t < H; t++) {
        int a = t - prod0;
        double r = a < pr->nramp ? pr->ramp_up[a] : 1.0;
        double q = in->capacity * r * in->utilization[t];
        double sold = q, transport = 0.0;
        if (route != NULL) {
            if (in->disrupted != NULL && in->disrupted[t]) {
                double cut = route->cut * q;
                if (route->has_fallback)
                    transport = ((q - cut) * route->cost + cut * route->fallback_cost) / 1e6;
                else {
                    sold = q - cut;
                    transport = (q - cut) * route->cost / 1e6;
                }
            } else {
                transport = q * route->cost / 1e6;
            }
        }
        double price = in->price[t];
        if (in->restricted != NULL && in->restricted[t])
            price *= in->price_multiplier;
        L->q[t] = q;
        L->q_sold[t] = sold;
        L->price[t] = price;
        L->revenue[t] = sold * price / 1e6;
        L->royalty[t] = pr->royalty * L->revenue[t];
        L->transport[t] = transport;
        L->opex[t] = q * in->opex / 1e6 + transport;
        L->ebitda[t] = L->revenue[t] - L->royalty[t] - L->opex[t];
        L->dep[t] = a < pr->depreciation_years ? C / pr->depreciation_years : 0.0;
        L->tax_u[t] = pr->tax * pos_part(L->ebitda[t] - L->dep[t]);
        output_total += q;
    }
    for (int t = 0; t < H; t++)
        L->fcf[t] = L->ebitda[t] - L->tax_u[t] - L->capex[t];

    /* Debt: contractual schedules of every tranche, summed. */
    int t0 = INT32_MAX, t_last = -1; /* first and last repayment years */
    for (int j = 0; j < pr->ntranches; j++) {
        const cm_tranche_t *tr = &pr->tranches[j];
        if (tr->kind != CM_TRANCHE_DEBT || tr->share <= 0.0)
            continue;
        int R = prod0 + tr->grace;
        if (R < t0)
            t0 = R;
        if (R + tr->tenor - 1 > t_last)
            t_last = R + tr->tenor - 1;
    }
    double llcr_num_rate = 0.0; /* sum of i_j B_j(t0) */
    for (int j = 0; j < pr->ntranches; j++) {
        const cm_tranche_t *tr = &pr->tranches[j];
        if (tr->kind != CM_TRANCHE_DEBT || tr->share <= 0.0)
            continue;
        double b0 = debt_schedule(tr, tr->share, prod0 + tr->grace, t0, L, H);
        llcr_num_rate += tr->rate * b0;
    }
    for (int t = 0; t < H; t++) {
        L->ds[t] = L->interest_paid[t] + L->principal[t];
        L->tax_l[t] = pr->tax * pos_part(L->ebitda[t] - L->dep[t] - L->interest_paid[t]);
        L->cfads[t] = L->ebitda[t] - L->tax_l[t];
        L->dscr[t] = NAN;
    }

    /* Events: expropriation (if it hits this project) and default. */
    const int tau = (in->expro_year >= st && in->expro_year < H) ? in->expro_year : -1;
    const int t_stop = tau >= 0 ? tau : H;
    int td = -1;
    double min_dscr = NAN;
    for (int t = 0; t < t_stop; t++) {
        if (L->ds[t] > 0.0) {
            L->dscr[t] = L->cfads[t] / L->ds[t];
            if (isnan(min_dscr) || L->dscr[t] < min_dscr)
                min_dscr = L->dscr[t];
            if (L->dscr[t] < 1.0) {
                td = t;
                break;
            }
        }
    }
    const int t_equity_end = td >= 0 ? td : t_stop; /* equity receives nothing from here */
    double equity_before = 0.0; /* equity contributed before tau */
    for (int t = 0; t < H; t++) {
        if (t < t_equity_end)
            L->equity_flow[t] = -L->equity_in[t] + (L->cfads[t] - L->ds[t]);
        if (tau >= 0 && t < tau)
            equity_before += L->equity_in[t];
    }
    double exposure = 0.0;
    if (td >= 0)
        exposure = L->balance[td];
    if (tau >= 0) {
        double outstanding = td >= 0 ? L->balance[td] : L->balance[tau];
        L->fcf[tau] = pr->pri_cover * (outstanding + equity_before);
        for (int t = tau + 1; t < H; t++)
            L->fcf[t] = 0.0;
        if (td < 0) {
            L->equity_flow[tau] = pr->pri_cover * equity_before;
            exposure = (1.0 - pr->pri_cover) * outstanding;
        }
    }

    /* LLCR at the start of repayment. */
    double llcr = NAN;
    if (t0 < H && L->balance[t0] > 0.0) {
        double B0 = L->balance[t0];
        double iw = llcr_num_rate / B0;
        double v = 1.0 / (1.0 + iw), df = 1.0, sum = 0.0;
        for (int t = t0; t <= t_last && t < H; t++) {
            if (tau < 0 || t < tau)
                sum += L->cfads[t] * df;
            df *= v;
        }
        llcr = sum / B0;
    }

    /* Payback: first t >= s + K with cumulative FCF >= 0. */
    double payback = NAN, cum = 0.0;
    for (int t = 0; t < H; t++) {
        cum += L->fcf[t];
        if (t >= prod0 && cum >= 0.0) {
            payback = s->base_year + t;
            break;
        }
    }

    const double r = pr->discount_rate, re = pr->equity_discount_rate;
    out[CM_PO_NPV] = cm_npv(L->fcf, H, r);
    out[CM_PO_IRR] = cm_irr(L->fcf, H);
    out[CM_PO_NPV_EQUITY] = cm_npv(L->equity_flow, H, re);
    out[CM_PO_IRR_EQUITY] = cm_irr(L->equity_flow, H);
    out[CM_PO_MIN_DSCR] = min_dscr;
    out[CM_PO_LLCR] = llcr;
    out[CM_PO_DEFAULT] = td >= 0 ? 1.0 : 0.0;
    out[CM_PO_DEFAULT_YEAR] = td >= 0 ? (double)(s->base_year + td) : NAN;
    out[CM_PO_EXPOSURE] = exposure;
    out[CM_PO_EXPROPRIATED] = tau >= 0 ? 1.0 : 0.0;
    out[CM_PO_PAYBACK_YEAR] = payback;
    out[CM_PO_CAPEX] = C;
    out[CM_PO_FIRST_OUTPUT_YEAR] = prod0 < H ? (double)(s->base_year + prod0) : NAN;
    out[CM_PO_OUTPUT_TOTAL] = output_total;
}
