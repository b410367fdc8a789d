/* cmsim/outcomes.h - the per-path outcomes of MODEL.md section 8 as a flat
 * array of named slots.
 *
 * The model writes one path's outcomes into a double array of
 * layout.nslots values (NaN = undefined on this path); the statistics
 * accumulate those arrays without knowing what they mean; the report names
 * each slot from its cm_slot_t.  The layout is a pure function of the
 * scenario's structure (entities and horizon), so two scenarios with the same
 * structure have the same layout, slot for slot.
 *
 * Order of the slots (stable, documented in docs/model.md):
 *   1. per project, CM_PO_COUNT scalars each, projects in file order;
 *   2. the portfolio scalars, then financing mobilised per tranche name;
 *   3. per mineral, for each yearly outcome that applies to it (market
 *      outcomes need a market, restricted/shortfall/covered need export
 *      controls), H consecutive years.
 */
#ifndef CMSIM_OUTCOMES_H
#define CMSIM_OUTCOMES_H

#include <stddef.h>

#include "cmsim/scenario.h"
#include "cmsim/stats.h"

/* Per-project scalars. X(id, name, stat kind, unit) */
#define CM_PROJECT_OUTCOMES(X)                                        \
    X(NPV, "npv", CM_STAT_TAIL_LOW, "USD million")                    \
    X(IRR, "irr", CM_STAT_PLAIN, "fraction per year")                 \
    X(NPV_EQUITY, "npv_equity", CM_STAT_TAIL_LOW, "USD million")      \
    X(IRR_EQUITY, "irr_equity", CM_STAT_PLAIN, "fraction per year")   \
    X(MIN_DSCR, "min_dscr", CM_STAT_PLAIN, "ratio")                   \
    X(LLCR, "llcr", CM_STAT_PLAIN, "ratio")                           \
    X(DEFAULT, "default", CM_STAT_BINARY, "0/1")                      \
    X(DEFAULT_YEAR, "default_year", CM_STAT_INTEGER, "calendar year")   \
    X(EXPOSURE, "exposure_at_default", CM_STAT_TAIL_HIGH, "USD million") \
    X(EXPROPRIATED, "expropriated", CM_STAT_BINARY, "0/1")            \
    X(PAYBACK_YEAR, "payback_year", CM_STAT_INTEGER, "calendar year")   \
    X(CAPEX, "capex", CM_STAT_TAIL_HIGH, "USD million")               \
    X(FIRST_OUTPUT_YEAR, "first_output_year", CM_STAT_INTEGER, "calendar year") \
    X(OUTPUT_TOTAL, "output_total", CM_STAT_PLAIN, "units")

/* Portfolio scalars (financing per tranche name follows them). */
#define CM_PORTFOLIO_OUTCOMES(X)                                      \
    X(NPV_TOTAL, "npv_total", CM_STAT_TAIL_LOW, "USD million")        \
    X(NPV_EQUITY_TOTAL, "npv_equity_total", CM_STAT_TAIL_LOW, "USD million") \
    X(CAPEX_TOTAL, "capex_total", CM_STAT_TAIL_HIGH, "USD million")   \
    X(EXPOSURE_TOTAL, "exposure_total", CM_STAT_TAIL_HIGH, "USD million") \
    X(ANY_DEFAULT, "any_default", CM_STAT_BINARY, "0/1")

/* Per-mineral yearly outcomes. */
#define CM_MINERAL_OUTCOMES(X)                                        \
    X(PRICE, "price", CM_STAT_PLAIN, "USD per unit")                  \
    X(RESTRICTED, "restricted", CM_STAT_BINARY, "0/1")                \
    X(NEW_OUTPUT, "new_output", CM_STAT_PLAIN, "units")               \
    X(DOMINANT_SHARE, "dominant_share", CM_STAT_PLAIN, "fraction")    \
    X(HHI, "hhi", CM_STAT_PLAIN, "index 0-10000")                     \
    X(REGION_SHARE, "region_share", CM_STAT_PLAIN, "fraction")        \
    X(TOP3_SHARE, "top3_share", CM_STAT_PLAIN, "fraction")            \
    X(EU65, "eu65", CM_STAT_BINARY, "0/1")                            \
    X(DIVERSIFICATION, "diversification", CM_STAT_PLAIN, "fraction")  \
    X(SHORTFALL, "shortfall", CM_STAT_PLAIN, "units")                 \
    X(COVERED, "covered", CM_STAT_PLAIN, "fraction")

enum {
#define CM_X(id, name, kind, unit) CM_PO_##id,
    CM_PROJECT_OUTCOMES(CM_X)
#undef CM_X
    CM_PO_COUNT
};
enum {
#define CM_X(id, name, kind, unit) CM_PF_##id,
    CM_PORTFOLIO_OUTCOMES(CM_X)
#undef CM_X
    CM_PF_COUNT
};
enum {
#define CM_X(id, name, kind, unit) CM_MY_##id,
    CM_MINERAL_OUTCOMES(CM_X)
#undef CM_X
    CM_MY_COUNT
};

/* What a slot is, for the report. */
typedef struct {
    const char *outcome;      /* "npv" (static string) */
    const char *entity_type;  /* "project", "portfolio", "tranche", "mineral" */
    const char *entity;       /* the entity's name (points into the scenario) */
    int year;                 /* calendar year, or -1 for scalars */
    const char *unit;         /* static string */
    cm_stat_kind_t kind;
} cm_slot_t;

typedef struct {
    size_t nslots;
    cm_slot_t *slots;         /* nslots entries */
    cm_stat_kind_t *kinds;    /* nslots entries, for cm_stats_init */
    size_t project_base;      /* slot of project 0's first outcome */
    size_t portfolio_base;    /* slot of CM_PF_NPV_TOTAL */
    size_t financing_base;    /* slot of tranche name 0's financing */
    int horizon;
    /* mineral_slot[m * CM_MY_COUNT + o] = slot of year 0 of outcome o of
     * mineral m, or (size_t)-1 when the outcome does not apply. */
    size_t *mineral_slot;
} cm_layout_t;

/* Build the layout of a scenario.  The slots point into s (names): s must
 * outlive the layout.  Returns 0 or CM_ENOMEM; free is safe after failure. */
int cm_layout_init(cm_layout_t *l, const cm_scenario_t *s);
void cm_layout_free(cm_layout_t *l);

static inline size_t cm_layout_project(const cm_layout_t *l, int p, int o)
{
    return l->project_base + (size_t)p * CM_PO_COUNT + (size_t)o;
}

#endif
