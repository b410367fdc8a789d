/* cmsim/model.h - one Monte Carlo path of a scenario (MODEL.md sections 3-7).
 *
 * cm_model_path maps (scenario, path number) to the outcome array of
 * outcomes.h.  It draws everything from addressed streams (rng.h), so the
 * result depends on nothing but the scenario (its seed included) and the
 * path number: not on the thread, the order of paths, or other scenarios.
 *
 * Order of work on a path:
 *   1. prices of every mineral (correlated shocks, jumps), export-control
 *      regimes, route disruptions, expropriation years, producer growth;
 *   2. each project: draw its inputs, evaluate (project.h);
 *   3. each mineral's market, with and without the projects.
 *
 * A workspace is sized once per (thread, scenario) and holds every buffer a
 * path needs: no allocation per path.  Thread-safety: one workspace per
 * thread; the scenario and layout are shared read-only.
 */
#ifndef CMSIM_MODEL_H
#define CMSIM_MODEL_H

#include <stdint.h>

#include "cmsim/outcomes.h"
#include "cmsim/project.h"
#include "cmsim/rng.h"
#include "cmsim/scenario.h"

typedef struct {
    const cm_scenario_t *s;
    const cm_layout_t *layout;
    cm_stream_t stream;
    double *price;             /* [nminerals * H] P(m,t), USD per unit */
    unsigned char *restricted; /* [nminerals * H] */
    unsigned char *disrupted;  /* [nroutes * H] */
    int *expro_year;           /* [ncountries]: tau or -1 */
    double *growth;            /* [sum of producers]: g per producer */
    double *gfac;              /* [sum of producers]: (1+g)^t of the year in hand */
    double *q;                 /* [nprojects * H] output of each project */
    /* The current path's draws of every project (a donor's cache, below). */
    double *draw_capex, *draw_capacity, *draw_opex; /* [nprojects] */
    int *draw_build;                                 /* [nprojects] K */
    double *draw_util;                               /* [nprojects * H] */
    double *shock;             /* [6 * nminerals] e, Z and ln P of the year before,
                                  then ou's ln(long run), exp(-kappa), shock sd */
    int *mproj, *mproj_off;    /* projects of mineral m: mproj[mproj_off[m] ..
                                  mproj_off[m + 1] - 1], in index order */
    double *supply;            /* [2 * ncountries] market scratch */
    double *financing;         /* [ntranche_names] */
    cm_project_lines_t lines;
} cm_model_ws_t;

/* Size a workspace for s (and its layout).  Returns 0 or CM_ENOMEM;
 * cm_model_ws_free is safe after a failed init. */
int cm_model_ws_init(cm_model_ws_t *ws, const cm_scenario_t *s, const cm_layout_t *layout);
void cm_model_ws_free(cm_model_ws_t *ws);

/* Simulate path number `path` and write layout->nslots outcomes into out
 * (NaN where undefined). */
void cm_model_path(cm_model_ws_t *ws, uint64_t path, double *out);

/* What a scenario draws identically to another (its donor) on the same
 * path.  In a batch most variants change financing or a few parameters: a
 * variant whose prices, regimes, routes, countries and growth draw exactly
 * as the reference's (same sites, same distributions) copies them from the
 * reference's workspace instead of drawing again, and likewise each project
 * whose draws are identical.  Copying gives the very same numbers, so the
 * results do not change, only the time. */
typedef struct {
    int world;     /* 1: prices, regimes, routes, expropriation, growth shared */
    int *project;  /* [nprojects]: the donor's identical project, or -1 */
} cm_model_share_t;

int cm_model_share_init(cm_model_share_t *sh, const cm_scenario_t *s, const cm_scenario_t *donor);
void cm_model_share_free(cm_model_share_t *sh);

/* cm_model_path, taking what sh allows from donor, a workspace that has
 * just simulated the same path for the donor scenario. */
void cm_model_path_shared(cm_model_ws_t *ws, uint64_t path, double *out,
                          const cm_model_ws_t *donor, const cm_model_share_t *sh);

/* Market statistics of one mineral in one year, from supply per country
 * (exposed for tests with hand-made markets).  supply[c] for every c in
 * 0..ncountries-1 (0 for countries that do not produce it: a project's
 * country joins the market even when it is not a listed producer).  Shares
 * are undefined (NaN) when total supply is 0. */
typedef struct {
    double total, dominant_share, hhi, region_share, top3_share;
    int eu65;
} cm_market_year_t;

void cm_market_year(const cm_scenario_t *s, const cm_mineral_t *m,
                    const double *supply, cm_market_year_t *out);

#endif
