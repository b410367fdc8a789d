/* outcomes.c - the slot layout of a scenario's per-path outcomes.
 *
 * Built once per scenario; its size is
 *   nprojects * CM_PO_COUNT + CM_PF_COUNT + ntranche_names
 *   + horizon * (number of mineral outcomes that apply).
 */
#include "cmsim/outcomes.h"

#include <stdlib.h>
#include <string.h>

#include "cmsim/error.h"

typedef struct {
    const char *name;
    const char *unit;
    cm_stat_kind_t kind;
} outcome_def_t;

static const outcome_def_t project_defs[CM_PO_COUNT] = {
#define CM_X(id, name, kind, unit) {name, unit, kind},
    CM_PROJECT_OUTCOMES(CM_X)
#undef CM_X
};
static const outcome_def_t portfolio_defs[CM_PF_COUNT] = {
#define CM_X(id, name, kind, unit) {name, unit, kind},
    CM_PORTFOLIO_OUTCOMES(CM_X)
#undef CM_X
};
static const outcome_def_t mineral_defs[CM_MY_COUNT] = {
#define CM_X(id, name, kind, unit) {name, unit, kind},
    CM_MINERAL_OUTCOMES(CM_X)
#undef CM_X
};

/* Does mineral outcome o apply to mineral m? */
static int mineral_outcome_applies(const cm_mineral_t *m, int o)
{
    switch (o) {
    case CM_MY_PRICE:
    case CM_MY_NEW_OUTPUT:
        return 1;
    case CM_MY_RESTRICTED:
        return m->has_controls;
    case CM_MY_SHORTFALL:
    case CM_MY_COVERED:
        return m->has_controls && m->dominant >= 0;
    default: /* market outcomes */
        return m->dominant >= 0 && m->nproducers > 0;
    }
}

void cm_layout_free(cm_layout_t *l)
{
    if (l == NULL)
        return;
    free(l->slots);
    free(l->kinds);
    free(l->mineral_slot);
    memset(l, 0, sizeof *l);
}

static void set_slot(cm_layout_t *l, size_t i, const outcome_def_t *d,
                     const char *etype, const char *entity, int year)
{
    l->slots[i] = (cm_slot_t){d->name, etype, entity, year, d->unit, d->kind};
    l->kinds[i] = d->kind;
}

int cm_layout_init(cm_layout_t *l, const cm_scenario_t *s)
{
    memset(l, 0, sizeof *l);
    size_t H = (size_t)s->horizon;
    size_t yearly = 0;
    for (int m = 0; m < s->nminerals; m++)
        for (int o = 0; o < CM_MY_COUNT; o++)
            yearly += (size_t)mineral_outcome_applies(&s->minerals[m], o);
    l->nslots = (size_t)s->nprojects * CM_PO_COUNT + CM_PF_COUNT +
                (size_t)s->ntranche_names + yearly * H;
    l->horizon = s->horizon;
    l->slots = calloc(l->nslots, sizeof *l->slots);
    l->kinds = calloc(l->nslots, sizeof *l->kinds);
    l->mineral_slot = malloc(((size_t)s->nminerals * CM_MY_COUNT + 1) *
                             sizeof *l->mineral_slot);
    if (l->slots == NULL || l->kinds == NULL || l->mineral_slot == NULL) {
        cm_layout_free(l);
        return CM_ENOMEM;
    }
    size_t i = 0;
    l->project_base = i;
    for (int p = 0; p < s->nprojects; p++)
        for (int o = 0; o < CM_PO_COUNT; o++)
            set_slot(l, i++, &project_defs[o], "project", s->projects[p].name, -1);
    l->portfolio_base = i;
    for (int o = 0; o < CM_PF_COUNT; o++)
        set_slot(l, i++, &portfolio_defs[o], "portfolio", "portfolio", -1);
    l->financing_base = i;
    static const outcome_def_t financing_def = {"financing", "USD million",
                                                CM_STAT_TAIL_LOW};
    for (int k = 0; k < s->ntranche_names; k++)
        set_slot(l, i++, &financing_def, "tranche", s->tranche_names[k], -1);
    for (int m = 0; m < s->nminerals; m++) {
        for (int o = 0; o < CM_MY_COUNT; o++) {
            size_t *ms = &l->mineral_slot[(size_t)m * CM_MY_COUNT + (size_t)o];
            if (!mineral_outcome_applies(&s->minerals[m], o)) {
                *ms = (size_t)-1;
                continue;
            }
            *ms = i;
            for (size_t t = 0; t < H; t++)
                set_slot(l, i++, &mineral_defs[o], "mineral", s->minerals[m].name,
                         s->base_year + (int)t);
        }
    }
    return CM_EOK;
}
