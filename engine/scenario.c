/* scenario.c - lifetime, site keys and name lookups of a validated scenario
 * (include/cmsim/scenario.h).
 *
 * A cm_scenario_t owns its arrays (countries, routes, minerals and their
 * producers, projects and their tranches, the correlation matrix and its
 * Cholesky factor, the tranche names); cm_scenario_free releases all of
 * them and leaves the struct zeroed, so it is safe on a zeroed struct, after
 * a failed load and twice in a row.
 *
 * The site names hashed by cm_scenario_derive_keys are fixed forever: they
 * address every random draw (MODEL.md section 2), so renaming one changes
 * every published result that depends on it.  Entity names are at most
 * CM_NAME_MAX - 1 bytes, so every site name fits the buffers below.
 */
#include "cmsim/scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmsim/rng.h"

void cm_scenario_init(cm_scenario_t *s)
{
    memset(s, 0, sizeof *s);
}

void cm_scenario_free(cm_scenario_t *s)
{
    if (s == NULL)
        return;
    for (int i = 0; s->minerals != NULL && i < s->nminerals; i++)
        free(s->minerals[i].producers);
    for (int i = 0; s->projects != NULL && i < s->nprojects; i++)
        free(s->projects[i].tranches);
    free(s->countries);
    free(s->routes);
    free(s->minerals);
    free(s->projects);
    free(s->correlation);
    free(s->chol);
    free(s->tranche_names);
    memset(s, 0, sizeof *s);
}

/* Key of the site "<a>/<b>[/<c>][/<d>]" (NULL parts left out). */
static uint64_t site_key(uint64_t seed, const char *a, const char *b,
                         const char *c, const char *d)
{
    char site[4 * CM_NAME_MAX + 8];
    snprintf(site, sizeof site, "%s/%s%s%s%s%s", a, b, c ? "/" : "", c ? c : "",
             d ? "/" : "", d ? d : "");
    return cm_rng_site_key(seed, site);
}

void cm_scenario_derive_keys(cm_scenario_t *s)
{
    const uint64_t seed = s->seed;
    for (int i = 0; i < s->ncountries; i++) {
        cm_country_t *c = &s->countries[i];
        c->hazard_key = site_key(seed, "country", c->name, "hazard", NULL);
        c->event_key = site_key(seed, "country", c->name, "expropriation", NULL);
        c->in_region = s->region[0] != '\0' && strcmp(c->region, s->region) == 0;
    }
    for (int i = 0; i < s->nroutes; i++)
        s->routes[i].key = site_key(seed, "route", s->routes[i].name, NULL, NULL);
    for (int i = 0; i < s->nminerals; i++) {
        cm_mineral_t *m = &s->minerals[i];
        m->price_key = site_key(seed, "price", m->name, NULL, NULL);
        m->jump_key = site_key(seed, "price", m->name, "jumps", NULL);
        m->controls_key = site_key(seed, "controls", m->name, NULL, NULL);
        for (int j = 0; j < m->nproducers; j++) {
            cm_producer_t *p = &m->producers[j];
            const char *country = p->country >= 0 && p->country < s->ncountries
                                      ? s->countries[p->country].name
                                      : "";
            p->growth_key = site_key(seed, "market", m->name, country, "growth");
        }
    }
    for (int i = 0; i < s->nprojects; i++) {
        cm_project_t *p = &s->projects[i];
        p->capex_key = site_key(seed, "project", p->name, "capex", NULL);
        p->build_key = site_key(seed, "project", p->name, "build_years", NULL);
        p->capacity_key = site_key(seed, "project", p->name, "capacity", NULL);
        p->utilization_key = site_key(seed, "project", p->name, "utilization", NULL);
        p->opex_key = site_key(seed, "project", p->name, "opex", NULL);
    }
}

int cm_scenario_country(const cm_scenario_t *s, const char *name)
{
    for (int i = 0; name != NULL && i < s->ncountries; i++)
        if (strcmp(s->countries[i].name, name) == 0)
            return i;
    return -1;
}

int cm_scenario_mineral(const cm_scenario_t *s, const char *name)
{
    for (int i = 0; name != NULL && i < s->nminerals; i++)
        if (strcmp(s->minerals[i].name, name) == 0)
            return i;
    return -1;
}

int cm_scenario_route(const cm_scenario_t *s, const char *name)
{
    for (int i = 0; name != NULL && i < s->nroutes; i++)
        if (strcmp(s->routes[i].name, name) == 0)
            return i;
    return -1;
}

int cm_scenario_project(const cm_scenario_t *s, const char *name)
{
    for (int i = 0; name != NULL && i < s->nprojects; i++)
        if (strcmp(s->projects[i].name, name) == 0)
            return i;
    return -1;
}
