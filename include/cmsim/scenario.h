/* cmsim/scenario.h - a validated scenario as plain C structs.
 *
 * Produced only by the config module (cm_config_load); everything after it
 * reads these structs and never libconfig.  Once loaded, a scenario is
 * read-only and may be shared by any number of threads.
 *
 * Units (MODEL.md): money in USD million (constant dollars), prices in USD
 * per unit of the mineral's own quantity unit, quantities in that unit per
 * year, time in whole years, rates as fractions per year (0.08 = 8 %).
 *
 * Cross references are indices into the scenario's own arrays, resolved and
 * checked by the loader: a project's country, mineral and route, a market's
 * producers and dominant supplier.  -1 means "none" where a reference is
 * optional.
 *
 * The *_key fields are the Philox keys of each random site, computed once
 * by cm_scenario_derive from the seed and the site names of rng.h, so that
 * the per-path model never hashes a string.
 */
#ifndef CMSIM_SCENARIO_H
#define CMSIM_SCENARIO_H

#include <stdint.h>

#include "cmsim/dist.h"

#define CM_NAME_MAX 64
#define CM_RAMP_MAX 16

typedef enum { CM_PRICE_GBM = 0, CM_PRICE_OU = 1 } cm_price_model_t;
typedef enum { CM_TRANCHE_EQUITY = 0, CM_TRANCHE_GRANT, CM_TRANCHE_DEBT } cm_tranche_kind_t;
typedef enum { CM_AMORT_ANNUITY = 0, CM_AMORT_LINEAR } cm_amort_t;

typedef struct {
    char name[CM_NAME_MAX];
    char region[CM_NAME_MAX];  /* "" when none */
    cm_dist_t expropriation;   /* annual hazard h (U), drawn once per path, in [0,1] */
    int implicit;              /* 1 for the implicit "Other" (rest of the world) */
    int in_region;             /* derived: region equals the run's region */
    uint64_t hazard_key;       /* site "country/<name>/hazard" */
    uint64_t event_key;        /* site "country/<name>/expropriation" */
} cm_country_t;

typedef struct {
    char name[CM_NAME_MAX];
    double cost;          /* k_r, USD per unit shipped on the route */
    double disruption;    /* p_r, probability of a disrupted year */
    double cut;           /* fraction of output that cannot use the route in a disrupted year */
    int has_fallback;     /* 1 when a fallback route is configured */
    double fallback_cost; /* f_r, USD per unit shipped on the fallback */
    uint64_t key;         /* site "route/<name>" */
} cm_route_t;

typedef struct {
    int country;       /* index into countries */
    double output0;    /* units per year at t = 0 */
    cm_dist_t growth;  /* g (U), per path, fraction per year */
    uint64_t growth_key; /* site "market/<mineral>/<country>/growth" */
} cm_producer_t;

typedef struct {
    char name[CM_NAME_MAX];
    char unit[CM_NAME_MAX];   /* quantity unit, e.g. "t" */
    /* Price (MODEL.md section 3) */
    cm_price_model_t model;
    double p0;          /* USD per unit at t = 0 */
    double mu;          /* gbm drift per year */
    double sigma;       /* volatility of ln P per year */
    double kappa;       /* ou mean-reversion speed per year (> 0) */
    double long_run;    /* ou long-run price level, USD per unit */
    double jump_rate;   /* Poisson jumps per year (0 = none) */
    double jump_mean;   /* mean log jump size */
    double jump_sd;     /* sd of log jump size */
    /* Export controls by the dominant supplier (optional) */
    int has_controls;
    double p_start;          /* open -> restricted per year */
    double p_end;            /* restricted -> open per year */
    double price_multiplier; /* price outside the dominant country in restricted years */
    double export_cut;       /* fraction of the dominant supplier's exports withheld */
    /* Market (MODEL.md section 7) */
    int nproducers;
    cm_producer_t *producers;
    int dominant;            /* index into countries, -1 when no market */
    double export_fraction;  /* share of the dominant supplier's output exported */
    /* Derived */
    uint64_t price_key;      /* site "price/<name>" */
    uint64_t jump_key;       /* site "price/<name>/jumps" */
    uint64_t controls_key;   /* site "controls/<name>" */
} cm_mineral_t;

typedef struct {
    char name[CM_NAME_MAX];
    cm_tranche_kind_t kind;
    double share;       /* w, fraction of capex */
    double rate;        /* debt: interest rate per year */
    int tenor;          /* debt: repayment years n */
    int grace;          /* debt: years after construction before repayment */
    cm_amort_t amort;   /* debt: annuity or linear */
    int name_id;        /* index into cm_scenario_t.tranche_names */
} cm_tranche_t;

typedef struct {
    char name[CM_NAME_MAX];
    int country, mineral, route;  /* route -1 when none */
    int start;                    /* s, first build year (year index) */
    cm_dist_t capex;              /* C (U), USD million in total */
    cm_dist_t build_years;        /* K (U), rounded to nearest integer, >= 1 */
    cm_dist_t capacity;           /* Q (U), units per year */
    int nramp;
    double ramp_up[CM_RAMP_MAX];  /* r(0), r(1), ..; then 1 */
    int life;                     /* L, production years */
    cm_dist_t utilization;        /* u (U), each year, clamped to [0,1] */
    cm_dist_t opex;               /* c (U), USD per unit */
    double royalty;               /* rho, fraction of revenue */
    double tax;                   /* tau, fraction of taxable profit */
    int depreciation_years;       /* D */
    double discount_rate;         /* r for the project NPV */
    double equity_discount_rate;  /* for equity NPV */
    double pri_cover;             /* political risk insurance cover fraction */
    int ntranches;
    cm_tranche_t *tranches;
    /* Derived */
    uint64_t capex_key, build_key, capacity_key, utilization_key, opex_key;
} cm_project_t;

typedef struct {
    /* Where it came from */
    char name[CM_NAME_MAX];
    char file[512];               /* the scenario file as given */
    char description[512];
    /* Run settings (MODEL.md sections 2 and 4) */
    uint64_t seed;
    uint64_t paths;
    int horizon;                  /* H, years */
    int base_year;                /* calendar year of t = 0 */
    double discount_rate;         /* r */
    double equity_discount_rate;  /* default r */
    char region[CM_NAME_MAX];     /* region whose share is reported ("" none) */
    int exact_quantiles;          /* 1: keep every value for exact quantiles */
    /* Entities */
    int ncountries, nroutes, nminerals, nprojects;
    cm_country_t *countries;
    cm_route_t *routes;
    cm_mineral_t *minerals;
    cm_project_t *projects;
    /* Price shock correlation across minerals: nminerals x nminerals,
     * row-major; chol is its lower Cholesky factor L (L L^T = R). */
    double *correlation;
    double *chol;
    int correlated;               /* 0 when R is the identity */
    /* Tranche names across all projects (financing mobilised per name) */
    int ntranche_names;
    char (*tranche_names)[CM_NAME_MAX];
} cm_scenario_t;

/* Zero the struct so that cm_scenario_free is always safe. */
void cm_scenario_init(cm_scenario_t *s);
void cm_scenario_free(cm_scenario_t *s);

/* Compute the derived fields: the site keys of every entity from s->seed,
 * and each country's in_region flag.  Call again after changing the seed
 * (the command line's --seed does) or the region. */
void cm_scenario_derive_keys(cm_scenario_t *s);

/* Index of a named entity, or -1. */
int cm_scenario_country(const cm_scenario_t *s, const char *name);
int cm_scenario_mineral(const cm_scenario_t *s, const char *name);
int cm_scenario_route(const cm_scenario_t *s, const char *name);
int cm_scenario_project(const cm_scenario_t *s, const char *name);

#endif
