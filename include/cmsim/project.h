/* cmsim/project.h - one project's cash flows and financing on one path
 * (MODEL.md sections 4, 5 and 6), as a deterministic function.
 *
 * The model module draws a project's uncertain inputs and the shared state
 * of the path (prices, route disruptions, expropriation year) and hands them
 * here; cm_project_eval then computes every yearly line and the scalar
 * outcomes with no randomness, so a test can feed it hand-made inputs and
 * compare each line with a hand computation.
 *
 * Units: money in USD million, quantities in units per year, prices in USD
 * per unit, year indices t = 0 .. H-1.  No allocation: the caller owns the
 * line arrays (cm_project_lines_init sizes them once per thread).
 */
#ifndef CMSIM_PROJECT_H
#define CMSIM_PROJECT_H

#include "cmsim/outcomes.h"
#include "cmsim/scenario.h"

/* The drawn inputs of one project on one path. */
typedef struct {
    double capex;                    /* C, USD million */
    int build_years;                 /* K >= 1 */
    double capacity;                 /* Q, units per year */
    double opex;                     /* c, USD per unit */
    const double *utilization;       /* u(t) in [0,1] for t = 0..H-1 (read in production years) */
    const double *price;             /* P(m,t) before export controls, USD per unit */
    const unsigned char *restricted; /* export controls on in t (NULL: never) */
    double price_multiplier;         /* applied in restricted years (1 for the dominant country) */
    const unsigned char *disrupted;  /* route disrupted in t (NULL: no route) */
    int expro_year;                  /* tau, year index of expropriation hitting it, or -1 */
} cm_project_inputs_t;

/* Every yearly line, each an array of H values. */
#define CM_PROJECT_LINES(X)                                                  \
    X(capex) X(q) X(q_sold) X(price) X(revenue) X(royalty) X(transport)      \
    X(opex) X(ebitda) X(dep) X(tax_u) X(fcf) X(draw) X(balance) X(interest)  \
    X(interest_paid) X(principal) X(ds) X(tax_l) X(cfads) X(dscr)            \
    X(equity_in) X(equity_flow)

typedef struct {
    int horizon;
#define CM_X(name) double *name;
    CM_PROJECT_LINES(CM_X)
#undef CM_X
} cm_project_lines_t;
/* Meaning: capex(t) total capex spent; q output produced; q_sold output
 * sold; price P_eff received; revenue, royalty, transport, opex (incl.
 * transport), ebitda, dep, tax_u (unlevered tax), fcf (project free cash
 * flow after political-risk events); draw (debt drawn), balance (total debt
 * at the opening of t), interest (accrued on the opening balance, paid or
 * capitalised), interest_paid, principal, ds (debt service), tax_l (levered
 * tax), cfads, dscr (NaN where ds = 0 or after the event), equity_in (equity
 * share of capex), equity_flow E(t). */

int cm_project_lines_init(cm_project_lines_t *lines, int horizon);
void cm_project_lines_free(cm_project_lines_t *lines);

/* Evaluate project p of s on the given inputs.  Writes every line and the
 * CM_PO_COUNT scalar outcomes into out_scalars (NaN where undefined) and
 * adds the financing mobilised per tranche name (share x C, USD million)
 * into financing[name_id] (caller zeroes it per path). */
void cm_project_eval(const cm_scenario_t *s, int p, const cm_project_inputs_t *in,
                     cm_project_lines_t *lines, double *out_scalars,
                     double *financing);

/* Net present value of flows[0..n-1] at rate r: sum flows[t] (1+r)^-t. */
double cm_npv(const double *flows, int n, double r);

/* Internal rate of return on (-0.99, 10) to 1e-10 by a bracketed,
 * safeguarded Halley iteration (docs/model.md); NaN when f(x) = sum
 * flows[t] (1+x)^-t has the same sign at both ends (even if it has roots
 * inside).  Works for any n: f is evaluated scaled by a positive factor
 * where (1+x)^-t would overflow, which keeps its sign and roots. */
double cm_irr(const double *flows, int n);

#endif
