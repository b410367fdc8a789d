/* model.c - one path: prices, regimes, routes, countries, projects, markets.
 *
 * Every draw is addressed (rng.h); the sites and their (year, k) use are:
 *   price/<m>            year t >= 1, k 0: e(m,t), a ziggurat standard normal
 *   price/<m>/jumps      year t >= 1, k 0: N ~ Poisson(rate); k 1: the sum of
 *                        the N jump sizes, Normal(N mean, sqrt(N) sd)
 *   controls/<m>         year t >= 1, k 0: the regime switch uniform
 *   route/<r>            year t, k 0: the disruption uniform
 *   country/<c>/hazard   year 0, k 0: h (U)
 *   country/<c>/expropriation  year t, k 0: the event uniform
 *   market/<m>/<c>/growth      year 0, k 0: g (U)
 *   project/<p>/capex, build_years, capacity, opex   year 0, k 0
 *   project/<p>/utilization    year t (production years only), k 0
 * so adding an entity never moves the draws of another (MODEL.md section 2).
 *
 * Work per path: O(nminerals^2 H) for correlated prices (O(nminerals H)
 * without correlation), O(nprojects H) for projects, O(nminerals H
 * nproducers log) for markets.
 */
#include "cmsim/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "cmsim/error.h"

int cm_model_ws_init(cm_model_ws_t *ws, const cm_scenario_t *s, const cm_layout_t *layout)
{
    memset(ws, 0, sizeof *ws);
    ws->s = s;
    ws->layout = layout;
    size_t H = (size_t)s->horizon;
    size_t nprod = 0;
    for (int m = 0; m < s->nminerals; m++)
        nprod += (size_t)s->minerals[m].nproducers;
    /* +1 keeps every size non-zero, so calloc never returns NULL on success */
    ws->price = calloc((size_t)s->nminerals * H + 1, sizeof *ws->price);
    ws->restricted = calloc((size_t)s->nminerals * H + 1, 1);
    ws->disrupted = calloc((size_t)s->nroutes * H + 1, 1);
    ws->expro_year = calloc((size_t)s->ncountries + 1, sizeof *ws->expro_year);
    ws->growth = calloc(nprod + 1, sizeof *ws->growth);
    ws->gfac = calloc(nprod + 1, sizeof *ws->gfac);
    ws->q = calloc((size_t)s->nprojects * H + 1, sizeof *ws->q);
    size_t np = (size_t)s->nprojects + 1;
    ws->draw_capex = calloc(np, sizeof *ws->draw_capex);
    ws->draw_capacity = calloc(np, sizeof *ws->draw_capacity);
    ws->draw_opex = calloc(np, sizeof *ws->draw_opex);
    ws->draw_build = calloc(np, sizeof *ws->draw_build);
    ws->draw_util = calloc(np * (H + 1), sizeof *ws->draw_util);
    ws->shock = calloc(6 * (size_t)s->nminerals + 1, sizeof *ws->shock);
    ws->mproj = calloc(np, sizeof *ws->mproj);
    ws->mproj_off = calloc((size_t)s->nminerals + 1, sizeof *ws->mproj_off);
    ws->supply = calloc(2 * (size_t)s->ncountries + 1, sizeof *ws->supply);
    ws->financing = calloc((size_t)s->ntranche_names + 1, sizeof *ws->financing);
    if (ws->price == NULL || ws->restricted == NULL || ws->disrupted == NULL ||
        ws->expro_year == NULL || ws->growth == NULL || ws->gfac == NULL || ws->q == NULL ||
        ws->shock == NULL || ws->supply == NULL || ws->mproj == NULL || ws->mproj_off == NULL ||
        ws->draw_capex == NULL || ws->draw_capacity == NULL || ws->draw_opex == NULL ||
        ws->draw_build == NULL || ws->draw_util == NULL ||
        ws->financing == NULL || cm_stream_init(&ws->stream) != CM_EOK ||
        cm_project_lines_init(&ws->lines, s->horizon) != CM_EOK) {
        cm_model_ws_free(ws);
        return CM_ENOMEM;
    }
    /* Each mineral's projects in index order (the order the markets add
     * their output in). */
    int k = 0;
    for (int m = 0; m < s->nminerals; m++) {
        ws->mproj_off[m] = k;
        for (int p = 0; p < s->nprojects; p++)
            if (s->projects[p].mineral == m)
                ws->mproj[k++] = p;
    }
    ws->mproj_off[s->nminerals] = k;
    return CM_EOK;
}

void cm_model_ws_free(cm_model_ws_t *ws)
{
    if (ws == NULL)
        return;
    free(ws->price);
    free(ws->restricted);
    free(ws->disrupted);
    free(ws->expro_year);
    free(ws->growth);
    free(ws->gfac);
    free(ws->q);
    free(ws->draw_capex);
    free(ws->draw_capacity);
    free(ws->draw_opex);
    free(ws->draw_build);
    free(ws->draw_util);
    free(ws->shock);
    free(ws->mproj);
    free(ws->mproj_off);
    free(ws->supply);
    free(ws->financing);
    cm_stream_free(&ws->stream);
    cm_project_lines_free(&ws->lines);
    memset(ws, 0, sizeof *ws);
}

static double draw_at(cm_model_ws_t *ws, const cm_dist_t *d, uint64_t key,
                      uint64_t path, unsigned year)
{
    if (d->kind == CM_DIST_FIXED)
        return d->p[0];
    return cm_dist_draw(d, cm_stream_at(&ws->stream, key, path, year, 0));
}

/* Prices and export-control regimes of every mineral. */
static void simulate_prices(cm_model_ws_t *ws, uint64_t path)
{
    const cm_scenario_t *s = ws->s;
    const int H = s->horizon, nm = s->nminerals;
    double *e = ws->shock, *z = ws->shock + nm, *x = ws->shock + 2 * nm;
    /* ou: ln(long run), exp(-kappa) and the shock's sd, once per path */
    double *ou_a = ws->shock + 3 * nm, *ou_ek = ws->shock + 4 * nm, *ou_sd = ws->shock + 5 * nm;
    for (int m = 0; m < nm; m++) {
        const cm_mineral_t *mi = &s->minerals[m];
        if (mi->model != CM_PRICE_GBM) {
            ou_a[m] = log(mi->long_run);
            ou_ek[m] = exp(-mi->kappa);
            ou_sd[m] = mi->sigma * sqrt((1.0 - exp(-2.0 * mi->kappa)) / (2.0 * mi->kappa));
        }
        x[m] = log(s->minerals[m].p0);
        ws->price[(size_t)m * H] = s->minerals[m].p0;
        ws->restricted[(size_t)m * H] = 0;
    }
    for (int t = 1; t < H; t++) {
        for (int m = 0; m < nm; m++) {
            const cm_mineral_t *mi = &s->minerals[m];
            /* drawn even when sigma is 0: through the Cholesky factor, e(m)
             * also feeds the minerals correlated with m */
            e[m] = gsl_ran_gaussian_ziggurat(
                cm_stream_at(&ws->stream, mi->price_key, path, (unsigned)t, 0), 1.0);
        }
        if (s->correlated) {
            for (int i = 0; i < nm; i++) {
                double acc = 0.0;
                const double *row = s->chol + (size_t)i * nm;
                for (int j = 0; j <= i; j++)
                    acc += row[j] * e[j];
                z[i] = acc;
            }
        } else {
            memcpy(z, e, (size_t)nm * sizeof *z);
        }
        for (int m = 0; m < nm; m++) {
            const cm_mineral_t *mi = &s->minerals[m];
            double prev = x[m];
            double xt;
            if (mi->model == CM_PRICE_GBM) {
                xt = prev + (mi->mu - 0.5 * mi->sigma * mi->sigma) + mi->sigma * z[m];
            } else {
                xt = ou_a[m] + (prev - ou_a[m]) * ou_ek[m] + ou_sd[m] * z[m];
            }
            if (mi->jump_rate > 0.0) {
                gsl_rng *r = cm_stream_at(&ws->stream, mi->jump_key, path, (unsigned)t, 0);
                unsigned n = gsl_ran_poisson(r, mi->jump_rate);
                if (n > 0) {
                    r = cm_stream_at(&ws->stream, mi->jump_key, path, (unsigned)t, 1);
                    xt += n * mi->jump_mean + sqrt((double)n) * mi->jump_sd *
                                                  gsl_ran_gaussian_ziggurat(r, 1.0);
                }
            }
            x[m] = xt;
            ws->price[(size_t)m * H + t] = exp(xt);
            if (mi->has_controls) {
                unsigned char was = ws->restricted[(size_t)m * H + t - 1];
                double u = gsl_rng_uniform(
                    cm_stream_at(&ws->stream, mi->controls_key, path, (unsigned)t, 0));
                ws->restricted[(size_t)m * H + t] =
                    was ? (unsigned char)(u >= mi->p_end) : (unsigned char)(u < mi->p_start);
            }
        }
    }
}

/* Route disruptions, expropriation years and producer growth. */
static void simulate_shared(cm_model_ws_t *ws, uint64_t path)
{
    const cm_scenario_t *s = ws->s;
    const int H = s->horizon;
    for (int r = 0; r < s->nroutes; r++) {
        const cm_route_t *ro = &s->routes[r];
        unsigned char *d = ws->disrupted + (size_t)r * H;
        for (int t = 0; t < H; t++)
            d[t] = ro->disruption > 0.0 &&
                   gsl_rng_uniform(cm_stream_at(&ws->stream, ro->key, path, (unsigned)t, 0)) <
                       ro->disruption;
    }
    for (int c = 0; c < s->ncountries; c++) {
        const cm_country_t *co = &s->countries[c];
        double h = draw_at(ws, &co->expropriation, co->hazard_key, path, 0);
        ws->expro_year[c] = -1;
        if (h <= 0.0)
            continue;
        for (int t = 0; t < H; t++) {
            if (gsl_rng_uniform(cm_stream_at(&ws->stream, co->event_key, path, (unsigned)t, 0)) < h) {
                ws->expro_year[c] = t;
                break;
            }
        }
    }
    size_t k = 0;
    for (int m = 0; m < s->nminerals; m++) {
        const cm_mineral_t *mi = &s->minerals[m];
        for (int j = 0; j < mi->nproducers; j++, k++)
            ws->growth[k] = draw_at(ws, &mi->producers[j].growth,
                                    mi->producers[j].growth_key, path, 0);
    }
}

/* Draw project p's uncertain inputs into the workspace's draw cache. */
static void draw_project(cm_model_ws_t *ws, int p, uint64_t path)
{
    const cm_scenario_t *s = ws->s;
    const cm_project_t *pr = &s->projects[p];
    const int H = s->horizon;
    ws->draw_capex[p] = draw_at(ws, &pr->capex, pr->capex_key, path, 0);
    double k = draw_at(ws, &pr->build_years, pr->build_key, path, 0);
    k = round(k); /* nearest integer, halves away from zero */
    ws->draw_build[p] = k < 1.0 ? 1 : (k > 100000.0 ? 100000 : (int)k);
    ws->draw_capacity[p] = draw_at(ws, &pr->capacity, pr->capacity_key, path, 0);
    ws->draw_opex[p] = draw_at(ws, &pr->opex, pr->opex_key, path, 0);
    int prod0 = pr->start + ws->draw_build[p];
    double *util = ws->draw_util + (size_t)p * (size_t)H;
    for (int t = 0; t < H; t++) {
        double u = 0.0;
        if (t >= prod0 && t < prod0 + pr->life) {
            u = draw_at(ws, &pr->utilization, pr->utilization_key, path, (unsigned)t);
            u = u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
        }
        util[t] = u;
    }
}

/* Project p's draws copied from the donor's project dp (identical sites
 * and distributions, so identical draws: only the copy is cheaper). */
static void copy_project(cm_model_ws_t *ws, int p, const cm_model_ws_t *donor, int dp)
{
    const size_t H = (size_t)ws->s->horizon;
    ws->draw_capex[p] = donor->draw_capex[dp];
    ws->draw_build[p] = donor->draw_build[dp];
    ws->draw_capacity[p] = donor->draw_capacity[dp];
    ws->draw_opex[p] = donor->draw_opex[dp];
    memcpy(ws->draw_util + (size_t)p * H, donor->draw_util + (size_t)dp * H, H * sizeof(double));
}

static void simulate_projects(cm_model_ws_t *ws, uint64_t path, double *out,
                              const cm_model_ws_t *donor, const cm_model_share_t *sh)
{
    const cm_scenario_t *s = ws->s;
    const cm_layout_t *l = ws->layout;
    const int H = s->horizon;
    double npv_total = 0.0, npv_equity_total = 0.0, capex_total = 0.0;
    double exposure_total = 0.0, any_default = 0.0;
    memset(ws->financing, 0, (size_t)s->ntranche_names * sizeof *ws->financing);
    for (int p = 0; p < s->nprojects; p++) {
        const cm_project_t *pr = &s->projects[p];
        const cm_mineral_t *mi = &s->minerals[pr->mineral];
        if (donor != NULL && sh->project[p] >= 0)
            copy_project(ws, p, donor, sh->project[p]);
        else
            draw_project(ws, p, path);
        cm_project_inputs_t in;
        in.capex = ws->draw_capex[p];
        in.build_years = ws->draw_build[p];
        in.capacity = ws->draw_capacity[p];
        in.opex = ws->draw_opex[p];
        in.utilization = ws->draw_util + (size_t)p * (size_t)H;
        in.price = ws->price + (size_t)pr->mineral * H;
        in.restricted = mi->has_controls ? ws->restricted + (size_t)pr->mineral * H : NULL;
        in.price_multiplier = (mi->dominant == pr->country) ? 1.0 : mi->price_multiplier;
        in.disrupted = pr->route >= 0 ? ws->disrupted + (size_t)pr->route * H : NULL;
        in.expro_year = ws->expro_year[pr->country];
        double *po = out + cm_layout_project(l, p, 0);
        cm_project_eval(s, p, &in, &ws->lines, po, ws->financing);
        memcpy(ws->q + (size_t)p * H, ws->lines.q, (size_t)H * sizeof(double));
        npv_total += po[CM_PO_NPV];
        npv_equity_total += po[CM_PO_NPV_EQUITY];
        capex_total += po[CM_PO_CAPEX];
        exposure_total += po[CM_PO_EXPOSURE];
        if (po[CM_PO_DEFAULT] > 0.0)
            any_default = 1.0;
    }
    out[l->portfolio_base + CM_PF_NPV_TOTAL] = npv_total;
    out[l->portfolio_base + CM_PF_NPV_EQUITY_TOTAL] = npv_equity_total;
    out[l->portfolio_base + CM_PF_CAPEX_TOTAL] = capex_total;
    out[l->portfolio_base + CM_PF_EXPOSURE_TOTAL] = exposure_total;
    out[l->portfolio_base + CM_PF_ANY_DEFAULT] = any_default;
    for (int k = 0; k < s->ntranche_names; k++)
        out[l->financing_base + (size_t)k] = ws->financing[k];
}

void cm_market_year(const cm_scenario_t *s, const cm_mineral_t *m,
                    const double *supply, cm_market_year_t *out)
{
    double total = 0.0;
    for (int c = 0; c < s->ncountries; c++)
        total += supply[c];
    double hhi = 0.0, region = 0.0, top[3] = {0.0, 0.0, 0.0};
    for (int c = 0; c < s->ncountries; c++) {
        if (supply[c] == 0.0)
            continue;
        double sh = total > 0.0 ? supply[c] / total : 0.0;
        hhi += (100.0 * sh) * (100.0 * sh);
        if (s->countries[c].in_region)
            region += sh;
        /* keep the three largest shares */
        if (sh > top[0]) {
            top[2] = top[1];
            top[1] = top[0];
            top[0] = sh;
        } else if (sh > top[1]) {
            top[2] = top[1];
            top[1] = sh;
        } else if (sh > top[2]) {
            top[2] = sh;
        }
    }
    out->total = total;
    out->dominant_share = total > 0.0 ? supply[m->dominant] / total : NAN;
    out->hhi = total > 0.0 ? hhi : NAN;
    out->region_share = (total > 0.0 && s->region[0] != '\0') ? region : NAN;
    out->top3_share = total > 0.0 ? top[0] + top[1] + top[2] : NAN;
    out->eu65 = total > 0.0 && out->dominant_share > 0.65;
}

static void put(const cm_layout_t *l, int m, int o, int t, double *out, double v)
{
    size_t base = l->mineral_slot[(size_t)m * CM_MY_COUNT + (size_t)o];
    if (base != (size_t)-1)
        out[base + (size_t)t] = v;
}

static void simulate_markets(cm_model_ws_t *ws, double *out)
{
    const cm_scenario_t *s = ws->s;
    const cm_layout_t *l = ws->layout;
    const int H = s->horizon;
    double *with = ws->supply, *without = ws->supply + s->ncountries;
    size_t g0 = 0;
    for (int m = 0; m < s->nminerals; m++) {
        const cm_mineral_t *mi = &s->minerals[m];
        for (int t = 0; t < H; t++) {
            double new_out = 0.0, new_out_outside = 0.0;
            for (int k = ws->mproj_off[m]; k < ws->mproj_off[m + 1]; k++) {
                const int p = ws->mproj[k];
                double q = ws->q[(size_t)p * H + t];
                new_out += q;
                if (s->projects[p].country != mi->dominant)
                    new_out_outside += q;
            }
            put(l, m, CM_MY_PRICE, t, out, ws->price[(size_t)m * H + t]);
            put(l, m, CM_MY_NEW_OUTPUT, t, out, new_out);
            int restricted = mi->has_controls && ws->restricted[(size_t)m * H + t];
            if (mi->has_controls)
                put(l, m, CM_MY_RESTRICTED, t, out, restricted);
            if (mi->dominant < 0 || mi->nproducers == 0)
                continue;
            memset(with, 0, (size_t)s->ncountries * sizeof *with);
            memset(without, 0, (size_t)s->ncountries * sizeof *without);
            for (int j = 0; j < mi->nproducers; j++) {
                /* output0 (1+g)^t, the power carried year to year */
                double *f = &ws->gfac[g0 + (size_t)j];
                *f = t == 0 ? 1.0 : *f * (1.0 + ws->growth[g0 + (size_t)j]);
                int c = mi->producers[j].country;
                double base = mi->producers[j].output0 * *f;
                without[c] = base;
                with[c] = base;
            }
            for (int k = ws->mproj_off[m]; k < ws->mproj_off[m + 1]; k++) {
                const int p = ws->mproj[k];
                with[s->projects[p].country] += ws->q[(size_t)p * H + t];
            }
            cm_market_year_t a;
            cm_market_year(s, mi, with, &a);
            /* the counterfactual's dominant share, all the markets need of
             * it, as cm_market_year computes it (same sum, same order) */
            double total0 = 0.0;
            for (int c = 0; c < s->ncountries; c++)
                total0 += without[c];
            const double dominant0 = total0 > 0.0 ? without[mi->dominant] / total0 : NAN;
            put(l, m, CM_MY_DOMINANT_SHARE, t, out, a.dominant_share);
            put(l, m, CM_MY_HHI, t, out, a.hhi);
            put(l, m, CM_MY_REGION_SHARE, t, out, a.region_share);
            put(l, m, CM_MY_TOP3_SHARE, t, out, a.top3_share);
            put(l, m, CM_MY_EU65, t, out, a.total > 0.0 ? (double)a.eu65 : NAN);
            put(l, m, CM_MY_DIVERSIFICATION, t, out, dominant0 - a.dominant_share);
            if (mi->has_controls) {
                double shortfall = restricted ? mi->export_cut * mi->export_fraction * with[mi->dominant] : 0.0;
                put(l, m, CM_MY_SHORTFALL, t, out, shortfall);
                put(l, m, CM_MY_COVERED, t, out,
                    shortfall > 0.0 ? fmin(1.0, new_out_outside / shortfall) : NAN);
            }
        }
        g0 += (size_t)mi->nproducers;
    }
}

void cm_model_path_shared(cm_model_ws_t *ws, uint64_t path, double *out,
                          const cm_model_ws_t *donor, const cm_model_share_t *sh)
{
    if (donor != NULL && sh != NULL && sh->world) {
        const cm_scenario_t *s = ws->s;
        const size_t H = (size_t)s->horizon;
        size_t nprod = 0;
        for (int m = 0; m < s->nminerals; m++)
            nprod += (size_t)s->minerals[m].nproducers;
        memcpy(ws->price, donor->price, (size_t)s->nminerals * H * sizeof *ws->price);
        memcpy(ws->restricted, donor->restricted, (size_t)s->nminerals * H);
        memcpy(ws->disrupted, donor->disrupted, (size_t)s->nroutes * H);
        memcpy(ws->expro_year, donor->expro_year, (size_t)s->ncountries * sizeof *ws->expro_year);
        memcpy(ws->growth, donor->growth, nprod * sizeof *ws->growth);
    } else {
        simulate_prices(ws, path);
        simulate_shared(ws, path);
    }
    simulate_projects(ws, path, out, sh != NULL ? donor : NULL, sh);
    simulate_markets(ws, out);
}

void cm_model_path(cm_model_ws_t *ws, uint64_t path, double *out)
{
    cm_model_path_shared(ws, path, out, NULL, NULL);
}

/* ---- which draws a scenario shares with another ---------------------- */

static int same_dist(const cm_dist_t *a, const cm_dist_t *b)
{
    if (a->kind != b->kind || a->n != b->n || a->cdf_lo != b->cdf_lo || a->cdf_hi != b->cdf_hi)
        return 0;
    for (int i = 0; i < 4; i++)
        if (a->p[i] != b->p[i])
            return 0;
    for (int i = 0; i < a->n && i < CM_DISCRETE_MAX; i++)
        if (a->values[i] != b->values[i] || a->cum[i] != b->cum[i])
            return 0;
    return 1;
}

/* Everything simulate_prices and simulate_shared read, compared. */
static int same_world(const cm_scenario_t *a, const cm_scenario_t *b)
{
    if (a->horizon != b->horizon || a->nminerals != b->nminerals ||
        a->ncountries != b->ncountries || a->nroutes != b->nroutes ||
        a->correlated != b->correlated)
        return 0;
    const int nm = a->nminerals;
    if (a->correlated)
        for (int i = 0; i < nm * nm; i++)
            if (a->chol[i] != b->chol[i])
                return 0;
    for (int m = 0; m < nm; m++) {
        const cm_mineral_t *x = &a->minerals[m], *y = &b->minerals[m];
        if (x->model != y->model || x->p0 != y->p0 || x->mu != y->mu || x->sigma != y->sigma ||
            x->kappa != y->kappa || x->long_run != y->long_run || x->jump_rate != y->jump_rate ||
            x->jump_mean != y->jump_mean || x->jump_sd != y->jump_sd ||
            x->has_controls != y->has_controls || x->p_start != y->p_start ||
            x->p_end != y->p_end || x->price_key != y->price_key ||
            x->jump_key != y->jump_key || x->controls_key != y->controls_key ||
            x->nproducers != y->nproducers)
            return 0;
        for (int j = 0; j < x->nproducers; j++)
            if (x->producers[j].growth_key != y->producers[j].growth_key ||
                !same_dist(&x->producers[j].growth, &y->producers[j].growth))
                return 0;
    }
    for (int r = 0; r < a->nroutes; r++)
        if (a->routes[r].disruption != b->routes[r].disruption ||
            a->routes[r].key != b->routes[r].key)
            return 0;
    for (int c = 0; c < a->ncountries; c++)
        if (a->countries[c].hazard_key != b->countries[c].hazard_key ||
            a->countries[c].event_key != b->countries[c].event_key ||
            !same_dist(&a->countries[c].expropriation, &b->countries[c].expropriation))
            return 0;
    return 1;
}

/* Everything draw_project reads, compared. */
static int same_project_draws(const cm_project_t *x, const cm_project_t *y)
{
    return x->start == y->start && x->life == y->life && x->capex_key == y->capex_key &&
           x->build_key == y->build_key && x->capacity_key == y->capacity_key &&
           x->utilization_key == y->utilization_key && x->opex_key == y->opex_key &&
           same_dist(&x->capex, &y->capex) && same_dist(&x->build_years, &y->build_years) &&
           same_dist(&x->capacity, &y->capacity) && same_dist(&x->opex, &y->opex) &&
           same_dist(&x->utilization, &y->utilization);
}

int cm_model_share_init(cm_model_share_t *sh, const cm_scenario_t *s, const cm_scenario_t *donor)
{
    memset(sh, 0, sizeof *sh);
    sh->project = malloc(((size_t)s->nprojects + 1) * sizeof *sh->project);
    if (sh->project == NULL)
        return CM_ENOMEM;
    sh->world = same_world(s, donor);
    for (int p = 0; p < s->nprojects; p++) {
        int dp = cm_scenario_project(donor, s->projects[p].name);
        sh->project[p] = (dp >= 0 && s->horizon == donor->horizon &&
                          same_project_draws(&s->projects[p], &donor->projects[dp]))
                             ? dp
                             : -1;
    }
    return CM_EOK;
}

void cm_model_share_free(cm_model_share_t *sh)
{
    if (sh == NULL)
        return;
    free(sh->project);
    memset(sh, 0, sizeof *sh);
}
