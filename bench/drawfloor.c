/* drawfloor.c - the draw floor: the time to draw only the random numbers
 * that cm_model_path draws, and nothing else.
 *
 *   cmsim_drawfloor FILE [--scenario NAME] [--paths N] [--seed S]
 *                        [--each] [--check PREFIX]
 *
 * For every path 0..N-1 and every scenario of FILE (a batch runs each of its
 * scenarios on every path, as cm_run_execute does), this program performs
 * exactly the draws of engine/model.c: the same sites (the scenario's
 * precomputed *_key fields), the same addresses (path, year, k), the same
 * calls (cm_stream_at, cm_dist_draw, gsl_ran_gaussian_ziggurat,
 * gsl_ran_poisson, gsl_rng_uniform), the same counts, and the same control
 * flow where a draw decides whether another draw happens (the Poisson count
 * before the jump size, the hazard before the event uniforms and the first
 * event ending them, the build years before the production years'
 * utilisation draws, FIXED parameters skipped as draw_at skips them).  In
 * a batch, a variant draws only what it does not share with the reference
 * (cm_model_share_init, as the driver's cm_model_path_shared): shared draws
 * are copies in the engine, not draws, so they are not part of the floor.
 * --each instead makes every scenario draw all its numbers, as if it ran
 * alone: the floor counted per path-scenario (every scenario's paths use
 * their numbers, however the engine obtains them).  It
 * does none of the model arithmetic (Cholesky products, price recursions,
 * project finance, markets), no statistics and no output: each drawn value
 * is only added to a checksum so that nothing can be optimised away.
 *
 * Output, one JSON object on stdout:
 *   {"file": ..., "scenarios": S, "paths": N, "seconds": T,
 *    "addresses_per_path": A, "checksum": C}
 * seconds: wall time (CLOCK_MONOTONIC) of the draw loop only, comparable to
 * run.json's wall_seconds at --threads 1 (which times cm_run_execute only);
 * addresses: cm_stream_at calls (each followed by one sampler call) per
 * path, summed over the scenarios.
 *
 * --check PREFIX: also record the draws of the first scenario and write
 *   PREFIX.paths.csv   scenario,path,<project>__capex,
 *                      <project>__first_output_year,<project>__output_total,
 *                      <project>__expropriated  (cmsim --dump-paths columns)
 *   PREFIX.years.csv   mineral,year,price_mean,restricted_mean
 * recomputed from the recorded draws with MODEL.md's formulas, so that
 * bench/bench.py can compare them with cmsim's --dump-paths file and
 * summary.csv: equal values mean this program drew what the engine drew
 * (capex, build years, capacity, utilisation, hazards, expropriation events,
 * price shocks, jumps, export-control regimes).  The checking arithmetic
 * runs outside the timed loop's hot path (rec == NULL when not checking).
 *
 * Keep in step with engine/model.c: a new random site there needs its draw
 * here, and the check catches most omissions.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>

#include "cmsim/config.h"
#include "cmsim/dist.h"
#include "cmsim/error.h"
#include "cmsim/model.h"
#include "cmsim/rng.h"
#include "cmsim/scenario.h"

/* Draws of one path of one scenario, kept only in --check mode. */
typedef struct {
    double *e;          /* [nm * H] price shocks e(m, t), t >= 1 */
    unsigned *jump_n;   /* [nm * H] Poisson jump counts */
    double *jump_z;     /* [nm * H] jump-size normals (0 when no jump) */
    double *ctrl_u;     /* [nm * H] export-control uniforms */
    int *expro_year;    /* [nc] first event year or -1 */
    double *capex;      /* [np] */
    int *build;         /* [np] build years after rounding and clamping */
    double *capacity;   /* [np] */
    double *util;       /* [np * H] raw utilisation draws (0 outside production) */
} floor_rec_t;

typedef struct {
    const cm_scenario_t *s;
    cm_model_share_t share; /* variants: what is copied from the reference */
    int is_variant;
    cm_stream_t stream;
    uint64_t addresses; /* cm_stream_at calls: one per sampler call */
    double sum;         /* checksum of every drawn value */
} floor_ws_t;

static gsl_rng *at(floor_ws_t *w, uint64_t key, uint64_t path, unsigned year, unsigned k)
{
    w->addresses++;
    return cm_stream_at(&w->stream, key, path, year, k);
}

/* engine/model.c's draw_at: FIXED parameters draw nothing. */
static double draw_at(floor_ws_t *w, const cm_dist_t *d, uint64_t key, uint64_t path,
                      unsigned year)
{
    if (d->kind == CM_DIST_FIXED)
        return d->p[0];
    return cm_dist_draw(d, at(w, key, path, year, 0));
}

/* simulate_prices and simulate_shared: prices (shocks, jumps), export-control
 * regimes, route disruptions, expropriation, producer growth.  Returns the
 * sum of the values drawn. */
static double floor_world(floor_ws_t *w, uint64_t path, floor_rec_t *rec)
{
    const cm_scenario_t *s = w->s;
    const int H = s->horizon, nm = s->nminerals;
    double sum = 0.0;
    for (int t = 1; t < H; t++) {
        for (int m = 0; m < nm; m++) {
            double e = gsl_ran_gaussian_ziggurat(
                at(w, s->minerals[m].price_key, path, (unsigned)t, 0), 1.0);
            sum += e;
            if (rec)
                rec->e[(size_t)m * H + t] = e;
        }
        for (int m = 0; m < nm; m++) {
            const cm_mineral_t *mi = &s->minerals[m];
            if (mi->jump_rate > 0.0) {
                unsigned n = gsl_ran_poisson(at(w, mi->jump_key, path, (unsigned)t, 0),
                                             mi->jump_rate);
                double z = 0.0;
                if (n > 0)
                    z = gsl_ran_gaussian_ziggurat(at(w, mi->jump_key, path, (unsigned)t, 1), 1.0);
                sum += n + z;
                if (rec) {
                    rec->jump_n[(size_t)m * H + t] = n;
                    rec->jump_z[(size_t)m * H + t] = z;
                }
            }
            if (mi->has_controls) {
                double u = gsl_rng_uniform(at(w, mi->controls_key, path, (unsigned)t, 0));
                sum += u;
                if (rec)
                    rec->ctrl_u[(size_t)m * H + t] = u;
            }
        }
    }
    for (int r = 0; r < s->nroutes; r++) {
        const cm_route_t *ro = &s->routes[r];
        if (!(ro->disruption > 0.0))
            continue;
        for (int t = 0; t < H; t++)
            sum += gsl_rng_uniform(at(w, ro->key, path, (unsigned)t, 0));
    }
    for (int c = 0; c < s->ncountries; c++) {
        const cm_country_t *co = &s->countries[c];
        double h = draw_at(w, &co->expropriation, co->hazard_key, path, 0);
        int year = -1;
        sum += h;
        if (h > 0.0) {
            for (int t = 0; t < H; t++) {
                double u = gsl_rng_uniform(at(w, co->event_key, path, (unsigned)t, 0));
                sum += u;
                if (u < h) {
                    year = t;
                    break;
                }
            }
        }
        if (rec)
            rec->expro_year[c] = year;
    }
    for (int m = 0; m < nm; m++) {
        const cm_mineral_t *mi = &s->minerals[m];
        for (int j = 0; j < mi->nproducers; j++)
            sum += draw_at(w, &mi->producers[j].growth, mi->producers[j].growth_key, path, 0);
    }
    return sum;
}

/* simulate_projects' draws: capex, build years, capacity, opex, and the
 * utilisation of each production year.  Returns the sum of the values. */
static double floor_project(floor_ws_t *w, int p, uint64_t path, floor_rec_t *rec)
{
    const cm_scenario_t *s = w->s;
    const cm_project_t *pr = &s->projects[p];
    const int H = s->horizon;
    double capex = draw_at(w, &pr->capex, pr->capex_key, path, 0);
    double k = round(draw_at(w, &pr->build_years, pr->build_key, path, 0));
    int build = k < 1.0 ? 1 : (k > 100000.0 ? 100000 : (int)k);
    double capacity = draw_at(w, &pr->capacity, pr->capacity_key, path, 0);
    double sum = capex + build + capacity + draw_at(w, &pr->opex, pr->opex_key, path, 0);
    int prod0 = pr->start + build;
    if (rec) {
        rec->capex[p] = capex;
        rec->build[p] = build;
        rec->capacity[p] = capacity;
        memset(rec->util + (size_t)p * H, 0, (size_t)H * sizeof *rec->util);
    }
    for (int t = prod0 < 0 ? 0 : prod0; t < prod0 + pr->life && t < H; t++) {
        double u = draw_at(w, &pr->utilization, pr->utilization_key, path, (unsigned)t);
        sum += u;
        if (rec)
            rec->util[(size_t)p * H + t] = u;
    }
    return sum;
}

/* Every draw of one path of one scenario, in the engine's order: the
 * reference as cm_model_path, a variant as cm_model_path_shared with the
 * reference as donor (what it shares is copied there, so skipped here). */
static void floor_path(floor_ws_t *w, uint64_t path, floor_rec_t *rec)
{
    const cm_model_share_t *sh = w->is_variant ? &w->share : NULL;
    double sum = 0.0;
    if (sh == NULL || !sh->world)
        sum += floor_world(w, path, rec);
    for (int p = 0; p < w->s->nprojects; p++)
        if (sh == NULL || sh->project[p] < 0)
            sum += floor_project(w, p, path, rec);
    w->sum += sum;
}

static void rec_free(floor_rec_t *r)
{
    free(r->e);
    free(r->jump_n);
    free(r->jump_z);
    free(r->ctrl_u);
    free(r->expro_year);
    free(r->capex);
    free(r->build);
    free(r->capacity);
    free(r->util);
    memset(r, 0, sizeof *r);
}

static int rec_init(floor_rec_t *r, const cm_scenario_t *s)
{
    size_t mh = (size_t)s->nminerals * (size_t)s->horizon + 1;
    size_t np = (size_t)s->nprojects + 1;
    memset(r, 0, sizeof *r);
    r->e = calloc(mh, sizeof *r->e);
    r->jump_n = calloc(mh, sizeof *r->jump_n);
    r->jump_z = calloc(mh, sizeof *r->jump_z);
    r->ctrl_u = calloc(mh, sizeof *r->ctrl_u);
    r->expro_year = calloc((size_t)s->ncountries + 1, sizeof *r->expro_year);
    r->capex = calloc(np, sizeof *r->capex);
    r->build = calloc(np, sizeof *r->build);
    r->capacity = calloc(np, sizeof *r->capacity);
    r->util = calloc(np * (size_t)s->horizon, sizeof *r->util);
    if (!r->e || !r->jump_n || !r->jump_z || !r->ctrl_u || !r->expro_year || !r->capex ||
        !r->build || !r->capacity || !r->util) {
        rec_free(r);
        return CM_ENOMEM;
    }
    return CM_EOK;
}

/* --check: what the recorded draws imply, by MODEL.md sections 3, 4 and 6
 * (the same operations in the same order as engine/model.c and
 * engine/project.c, so that capex, years and output totals match exactly
 * and price means to rounding). */
typedef struct {
    double *price_sum;      /* [nm * H] */
    double *restricted_sum; /* [nm * H] */
    double *x, *z;          /* [nm] ln P, correlated shocks */
    unsigned char *was;     /* [nm] restricted the year before */
} floor_check_t;

static void check_path(const cm_scenario_t *s, const floor_rec_t *rec, uint64_t path,
                       floor_check_t *ck, FILE *paths_csv)
{
    const int H = s->horizon, nm = s->nminerals;
    for (int m = 0; m < nm; m++) {
        ck->x[m] = log(s->minerals[m].p0);
        ck->was[m] = 0;
        ck->price_sum[(size_t)m * H] += s->minerals[m].p0;
    }
    for (int t = 1; t < H; t++) {
        for (int i = 0; i < nm; i++) {
            if (s->correlated) {
                double acc = 0.0;
                for (int j = 0; j <= i; j++)
                    acc += s->chol[(size_t)i * nm + j] * rec->e[(size_t)j * H + t];
                ck->z[i] = acc;
            } else {
                ck->z[i] = rec->e[(size_t)i * H + t];
            }
        }
        for (int m = 0; m < nm; m++) {
            const cm_mineral_t *mi = &s->minerals[m];
            double prev = ck->x[m], xt;
            if (mi->model == CM_PRICE_GBM) {
                xt = prev + (mi->mu - 0.5 * mi->sigma * mi->sigma) + mi->sigma * ck->z[m];
            } else {
                double a = log(mi->long_run), ek = exp(-mi->kappa);
                double sd = mi->sigma * sqrt((1.0 - exp(-2.0 * mi->kappa)) / (2.0 * mi->kappa));
                xt = a + (prev - a) * ek + sd * ck->z[m];
            }
            unsigned n = rec->jump_n[(size_t)m * H + t];
            if (mi->jump_rate > 0.0 && n > 0)
                xt += n * mi->jump_mean +
                      sqrt((double)n) * mi->jump_sd * rec->jump_z[(size_t)m * H + t];
            ck->x[m] = xt;
            ck->price_sum[(size_t)m * H + t] += exp(xt);
            if (mi->has_controls) {
                double u = rec->ctrl_u[(size_t)m * H + t];
                ck->was[m] = ck->was[m] ? (unsigned char)(u >= mi->p_end)
                                        : (unsigned char)(u < mi->p_start);
                ck->restricted_sum[(size_t)m * H + t] += ck->was[m];
            }
        }
    }
    fprintf(paths_csv, "%s,%" PRIu64, s->name, path);
    for (int p = 0; p < s->nprojects; p++) {
        const cm_project_t *pr = &s->projects[p];
        int prod0 = pr->start + rec->build[p];
        double output_total = 0.0;
        for (int t = prod0 < 0 ? 0 : prod0; t < prod0 + pr->life && t < H; t++) {
            int a = t - prod0;
            double r = a < pr->nramp ? pr->ramp_up[a] : 1.0;
            double u = rec->util[(size_t)p * H + t];
            u = u < 0.0 ? 0.0 : (u > 1.0 ? 1.0 : u);
            output_total += rec->capacity[p] * r * u;
        }
        int tau = rec->expro_year[pr->country];
        int expropriated = tau >= pr->start && tau < H;
        fprintf(paths_csv, ",%.17g,", rec->capex[p]);
        if (prod0 < H)
            fprintf(paths_csv, "%d", s->base_year + prod0);
        fprintf(paths_csv, ",%.17g,%d", output_total, expropriated);
    }
    fputc('\n', paths_csv);
}

/* The timed loop: paths in order, every scenario on each path, as the
 * driver's blocks do at one thread.  rec != NULL (--check): record the first
 * scenario's draws and write what they imply.  Never inlined or cloned, so
 * that callgrind can count it alone (--toggle-collect=floor_loop). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, noclone))
#elif defined(__GNUC__)
__attribute__((noinline))
#endif
static void floor_loop(floor_ws_t *ws, int nscen, uint64_t paths, floor_rec_t *rec,
                       floor_check_t *ck, FILE *paths_csv)
{
    for (uint64_t path = 0; path < paths; path++) {
        for (int i = 0; i < nscen; i++) {
            floor_path(&ws[i], path, i == 0 ? rec : NULL);
            if (i == 0 && rec != NULL)
                check_path(ws[0].s, rec, path, ck, paths_csv);
        }
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "cmsim_drawfloor: %s\n", msg);
    fputs("usage: cmsim_drawfloor FILE [--scenario NAME] [--paths N] [--seed S] "
          "[--each] [--check PREFIX]\n",
          stderr);
    return cm_exit_status(CM_EUSAGE);
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end = NULL;
    if (v == NULL || *v == '\0' || *v == '-')
        return CM_EUSAGE;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0')
        return CM_EUSAGE;
    *out = (uint64_t)x;
    return CM_EOK;
}

/* Write PREFIX.years.csv from the sums of --check. */
static int write_years(const cm_scenario_t *s, const floor_check_t *ck, uint64_t paths,
                       const char *prefix)
{
    char name[4200];
    snprintf(name, sizeof name, "%s.years.csv", prefix);
    FILE *f = fopen(name, "w");
    if (f == NULL)
        return CM_EIO;
    fputs("mineral,year,price_mean,restricted_mean\n", f);
    for (int m = 0; m < s->nminerals; m++)
        for (int t = 0; t < s->horizon; t++) {
            size_t i = (size_t)m * s->horizon + t;
            fprintf(f, "%s,%d,%.17g,", s->minerals[m].name, s->base_year + t,
                    ck->price_sum[i] / (double)paths);
            if (s->minerals[m].has_controls)
                fprintf(f, "%.17g", ck->restricted_sum[i] / (double)paths);
            fputc('\n', f);
        }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? CM_EIO : CM_EOK;
}

int main(int argc, char **argv)
{
    const char *file = NULL, *only = NULL, *check = NULL;
    uint64_t paths = 0, seed = 0;
    int has_paths = 0, has_seed = 0, each = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--each") == 0) {
            each = 1;
        } else if (strcmp(o, "--scenario") == 0 && v) {
            only = v;
            i++;
        } else if (strcmp(o, "--paths") == 0 && v) {
            if (parse_u64(v, &paths) != CM_EOK || paths == 0)
                return usage("--paths needs a whole number >= 1");
            has_paths = 1;
            i++;
        } else if (strcmp(o, "--seed") == 0 && v) {
            if (parse_u64(v, &seed) != CM_EOK)
                return usage("--seed needs a whole number");
            has_seed = 1;
            i++;
        } else if (strcmp(o, "--check") == 0 && v) {
            check = v;
            i++;
        } else if (o[0] == '-' || file != NULL) {
            return usage(o[0] == '-' ? "unknown option or missing value" : "one FILE only");
        } else {
            file = o;
        }
    }
    if (file == NULL)
        return usage("no scenario file given");
    gsl_set_error_handler_off();

    int rc = CM_EOK;
    cm_diag_t diag;
    cm_diag_init(&diag);
    cm_batch_t b;
    cm_batch_init(&b);
    floor_ws_t *ws = NULL;
    floor_rec_t rec;
    memset(&rec, 0, sizeof rec);
    floor_check_t ck;
    memset(&ck, 0, sizeof ck);
    FILE *paths_csv = NULL;

    rc = cm_batch_load(file, NULL, 0, only, &b, &diag);
    if (rc != CM_EOK)
        goto out;
    ws = calloc((size_t)b.nscen, sizeof *ws);
    if (ws == NULL) {
        rc = CM_ENOMEM;
        goto out;
    }
    for (int i = 0; i < b.nscen; i++) {
        cm_scenario_t *s = &b.scen[i];
        if (has_seed) {
            s->seed = seed;
            cm_scenario_derive_keys(s);
        }
        ws[i].s = s;
        ws[i].is_variant = i > 0 && !each;
        if ((rc = cm_stream_init(&ws[i].stream)) != CM_EOK)
            goto out;
    }
    for (int i = 1; i < b.nscen && !each; i++) {
        if ((rc = cm_model_share_init(&ws[i].share, ws[i].s, ws[0].s)) != CM_EOK)
            goto out;
    }
    if (!has_paths)
        paths = b.scen[0].paths;

    const cm_scenario_t *s0 = &b.scen[0];
    if (check != NULL) {
        size_t mh = (size_t)s0->nminerals * (size_t)s0->horizon + 1;
        char name[4200];
        rc = rec_init(&rec, s0);
        ck.price_sum = calloc(mh, sizeof *ck.price_sum);
        ck.restricted_sum = calloc(mh, sizeof *ck.restricted_sum);
        ck.x = calloc((size_t)s0->nminerals + 1, sizeof *ck.x);
        ck.z = calloc((size_t)s0->nminerals + 1, sizeof *ck.z);
        ck.was = calloc((size_t)s0->nminerals + 1, 1);
        if (rc != CM_EOK || !ck.price_sum || !ck.restricted_sum || !ck.x || !ck.z || !ck.was) {
            rc = CM_ENOMEM;
            goto out;
        }
        snprintf(name, sizeof name, "%s.paths.csv", check);
        paths_csv = fopen(name, "w");
        if (paths_csv == NULL) {
            rc = cm_diag_add(&diag, CM_EIO, name, 0, "", "cannot write");
            goto out;
        }
        fputs("scenario,path", paths_csv);
        for (int p = 0; p < s0->nprojects; p++) {
            const char *n = s0->projects[p].name;
            fprintf(paths_csv, ",%s__capex,%s__first_output_year,%s__output_total,%s__expropriated",
                    n, n, n, n);
        }
        fputc('\n', paths_csv);
    }

    double t0 = now_seconds();
    floor_loop(ws, b.nscen, paths, check != NULL ? &rec : NULL, &ck, paths_csv);
    double seconds = now_seconds() - t0;

    if (check != NULL) {
        int bad = ferror(paths_csv);
        bad |= fclose(paths_csv) != 0;
        paths_csv = NULL;
        if (bad || write_years(s0, &ck, paths, check) != CM_EOK) {
            rc = cm_diag_add(&diag, CM_EIO, check, 0, "", "cannot write the check files");
            goto out;
        }
    }
    uint64_t addresses = 0;
    double sum = 0.0;
    for (int i = 0; i < b.nscen; i++) {
        addresses += ws[i].addresses;
        sum += ws[i].sum;
    }
    printf("{\"file\": \"%s\", \"scenarios\": %d, \"paths\": %" PRIu64
           ", \"seconds\": %.9g, \"addresses_per_path\": %.6g"
           ", \"checksum\": %.17g}\n",
           file, b.nscen, paths, seconds, (double)addresses / (double)paths, sum);

out:
    if (rc != CM_EOK && cm_diag_errors(&diag) == 0)
        cm_diag_add(&diag, rc, file, 0, "", "%s", cm_strerror(rc));
    cm_diag_print(&diag, stderr);
    if (paths_csv != NULL)
        fclose(paths_csv);
    if (ws != NULL)
        for (int i = 0; i < b.nscen; i++) {
            cm_stream_free(&ws[i].stream);
            cm_model_share_free(&ws[i].share);
        }
    free(ws);
    rec_free(&rec);
    free(ck.price_sum);
    free(ck.restricted_sum);
    free(ck.x);
    free(ck.z);
    free(ck.was);
    cm_batch_free(&b);
    cm_diag_free(&diag);
    return cm_exit_status(rc);
}
