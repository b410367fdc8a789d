/* driver.c - the parallel run: blocks of paths, threads, ordered merges.
 *
 * Per thread: one model workspace and one outcome buffer per scenario, one
 * block accumulator per scenario (and per variant for the paired
 * differences).  Per block: reset the block accumulators, simulate the
 * block's paths in path order, then, in block order, merge into the run's
 * accumulators, write the dump rows, report progress and checkpoint.  The
 * merge is the only serial part; its cost is O(slots x sketch buckets) per
 * block, small against simulating CM_BLOCK_PATHS paths.  The merges are
 * order-free (stats.h); block order serves the dump and checkpoints.
 * In a batch, a variant's outcomes that equal the reference's on every path
 * are not added but copied from the reference's accumulator (mirrored
 * slots, below): the same bytes, at a fraction of the cost.
 */
#include "cmsim/driver.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "cmsim/model.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int same_key(const cm_slot_t *a, const cm_slot_t *b)
{
    return a->year == b->year && strcmp(a->outcome, b->outcome) == 0 &&
           strcmp(a->entity_type, b->entity_type) == 0 && strcmp(a->entity, b->entity) == 0;
}

/* An accumulator of n MOMENTS slots (paired differences). */
static int init_moments(cm_stats_t *st, size_t n)
{
    cm_stat_kind_t *kinds = malloc((n + 1) * sizeof *kinds);
    if (kinds == NULL)
        return CM_ENOMEM;
    for (size_t k = 0; k < n; k++)
        kinds[k] = CM_STAT_MOMENTS;
    int rc = cm_stats_init(st, n, kinds, 0);
    free(kinds);
    return rc;
}

void cm_run_free(cm_run_t *run)
{
    if (run == NULL)
        return;
    for (int i = 0; i < run->nscen; i++) {
        if (run->layouts)
            cm_layout_free(&run->layouts[i]);
        if (run->stats)
            cm_stats_free(&run->stats[i]);
        if (run->diff)
            cm_stats_free(&run->diff[i]);
        if (run->diff_ref)
            free(run->diff_ref[i]);
        if (run->share)
            cm_model_share_free(&run->share[i]);
    }
    free(run->layouts);
    free(run->stats);
    free(run->diff);
    free(run->diff_ref);
    free(run->share);
    memset(run, 0, sizeof *run);
}

/* Map each slot of layout v to the reference slot with the same key.
 * Slots are grouped by entity in both layouts, so a forward scan with a
 * moving hint is O(n) when the structures match and O(n^2) at worst. */
static int build_diff_map(const cm_layout_t *ref, const cm_layout_t *v, size_t **out)
{
    size_t *map = malloc((v->nslots + 1) * sizeof *map);
    if (map == NULL)
        return CM_ENOMEM;
    size_t hint = 0;
    for (size_t i = 0; i < v->nslots; i++) {
        map[i] = SIZE_MAX;
        for (size_t k = 0; k < ref->nslots; k++) {
            size_t j = (hint + k) % ref->nslots;
            if (same_key(&v->slots[i], &ref->slots[j])) {
                map[i] = j;
                hint = j + 1;
                break;
            }
        }
    }
    *out = map;
    return CM_EOK;
}

uint64_t cm_run_nblocks(uint64_t paths)
{
    return paths / CM_BLOCK_PATHS + (paths % CM_BLOCK_PATHS != 0);
}

int cm_run_set_share(cm_run_t *run, uint64_t k, uint64_t n)
{
    if (n == 0 || k == 0 || k > n || n > CM_MAX_SHARES)
        return CM_EUSAGE;
    /* floor(j nb / n) without overflow: (nb % n) j < n^2 <= 2^40 */
    const uint64_t nb = run->nblocks, q = nb / n, r = nb % n;
    run->block_begin = q * (k - 1) + r * (k - 1) / n;
    run->block_end = q * k + r * k / n;
    run->next_block = run->block_begin;
    return CM_EOK;
}

int cm_run_init(cm_run_t *run, const cm_scenario_t **scen, int nscen,
                uint64_t paths, int exact, cm_diag_t *diag)
{
    memset(run, 0, sizeof *run);
    if (nscen < 1)
        return cm_diag_add(diag, CM_EINTERNAL, "", 0, "", "a run needs at least one scenario");
    for (int i = 1; i < nscen; i++) {
        if (scen[i]->seed != scen[0]->seed || scen[i]->horizon != scen[0]->horizon ||
            scen[i]->base_year != scen[0]->base_year)
            return cm_diag_add(diag, CM_ECONFIG, scen[i]->file, 0, scen[i]->name,
                               "seed, horizon and base_year must equal the reference "
                               "scenario's (%s) for common random numbers",
                               scen[0]->name);
    }
    run->nscen = nscen;
    run->scen = scen;
    run->paths = paths;
    run->seed = scen[0]->seed;
    run->exact = exact;
    run->nblocks = cm_run_nblocks(paths);
    run->block_begin = 0;
    run->block_end = run->nblocks;
    run->next_block = 0;
    run->layouts = calloc((size_t)nscen, sizeof *run->layouts);
    run->stats = calloc((size_t)nscen, sizeof *run->stats);
    run->diff = calloc((size_t)nscen, sizeof *run->diff);
    run->diff_ref = calloc((size_t)nscen, sizeof *run->diff_ref);
    run->share = calloc((size_t)nscen, sizeof *run->share);
    if (!run->layouts || !run->stats || !run->diff || !run->diff_ref || !run->share)
        goto nomem;
    for (int i = 0; i < nscen; i++) {
        if (cm_layout_init(&run->layouts[i], scen[i]) != CM_EOK)
            goto nomem;
        if (cm_stats_init(&run->stats[i], run->layouts[i].nslots, run->layouts[i].kinds, exact) != CM_EOK)
            goto nomem;
    }
    for (int i = 1; i < nscen; i++) {
        if (build_diff_map(&run->layouts[0], &run->layouts[i], &run->diff_ref[i]) != CM_EOK)
            goto nomem;
        if (init_moments(&run->diff[i], run->layouts[i].nslots) != CM_EOK)
            goto nomem;
        if (cm_model_share_init(&run->share[i], scen[i], scen[0]) != CM_EOK)
            goto nomem;
    }
    return CM_EOK;
nomem:
    cm_run_free(run);
    return cm_diag_add(diag, CM_ENOMEM, "", 0, "", "out of memory preparing the run");
}

/* Scalar slots (year < 0) of scenario i: the --dump-paths columns. */
int cm_run_dump_header(const cm_run_t *run, FILE *f)
{
    fputs("scenario,path", f);
    const cm_layout_t *l = &run->layouts[0];
    for (size_t i = 0; i < l->nslots; i++) {
        if (l->slots[i].year >= 0)
            continue;
        fprintf(f, ",%s__%s", l->slots[i].entity, l->slots[i].outcome);
    }
    fputc('\n', f);
    return ferror(f) ? CM_EIO : CM_EOK;
}

static void dump_rows(const cm_run_t *run, FILE *f, uint64_t first, uint64_t n,
                      double *const *outs)
{
    for (uint64_t k = 0; k < n; k++) {
        for (int s = 0; s < run->nscen; s++) {
            const cm_layout_t *l = &run->layouts[s];
            const double *o = outs[s] + k * l->nslots;
            fprintf(f, "%s,%llu", run->scen[s]->name, (unsigned long long)(first + k));
            for (size_t i = 0; i < l->nslots; i++) {
                if (l->slots[i].year >= 0)
                    continue;
                if (isfinite(o[i]))
                    fprintf(f, ",%.17g", o[i]);
                else
                    fputc(',', f);
            }
            fputc('\n', f);
        }
    }
}

/* Mirrored slots.  In a batch most of a variant's outcomes are often the
 * reference's on every path (a financing variant leaves prices, output
 * and markets alone).  A variant's slot whose reference slot (same key and
 * kind) has had the bit-identical value on every path its accumulators have
 * seen is "mirrored": it is not added to, and before anything reads it, it
 * is made a copy of the reference slot (cm_stats_copy_slot), which holds
 * exactly the values it would have been given.  On the first path where
 * the two differ, the copy is made at once (before the reference adds that
 * path) and the slot is added to normally from then on.  So every
 * accumulator ends in the state it would have reached by adding every
 * value: the same bytes, at a fraction of the cost for unchanged slots. */
typedef struct {
    cm_model_ws_t *ws;  /* per scenario */
    cm_stats_t *block;  /* per scenario */
    cm_stats_t *bdiff;  /* per scenario */
    double **out;       /* per scenario: outcome rows of the block (one row unless dumping) */
    double *dvals;      /* difference buffer */
    unsigned char **skip; /* per variant: skip[i] = 1 while slot i is mirrored */
    size_t **mlist;     /* per variant: the mirrored slots, in no order */
    size_t *mcount;     /* per variant: how many */
    int mirror;         /* 0: nothing is mirrored (cm_run_options_t.no_mirror) */
    int ok;
} thread_ctx_t;

/* Every variant slot with a reference slot of the same kind starts
 * mirrored (after a reset of the accumulators). */
static void mirror_reset(const cm_run_t *run, thread_ctx_t *c)
{
    for (int s = 1; s < run->nscen; s++) {
        const cm_layout_t *l = &run->layouts[s], *l0 = &run->layouts[0];
        const size_t *map = run->diff_ref[s];
        size_t n = 0;
        for (size_t i = 0; i < l->nslots; i++) {
            int m = c->mirror && map[i] != SIZE_MAX && l->kinds[i] == l0->kinds[map[i]];
            c->skip[s][i] = (unsigned char)m;
            if (m)
                c->mlist[s][n++] = i;
        }
        c->mcount[s] = n;
    }
}

/* Slot i of variant s stops being mirrored: its accumulator becomes a copy
 * of the reference slot, and its paired difference gets what it would have
 * been given, 0 on every path so far where the outcome was defined (x - x)
 * and undefined elsewhere. */
static int mirror_end(const cm_run_t *run, thread_ctx_t *c, int s, size_t i)
{
    const size_t r = run->diff_ref[s][i];
    uint64_t n, n_undef;
    cm_stats_counts(&c->block[0], r, &n, &n_undef);
    int rc = cm_stats_copy_slot(&c->block[s], i, &c->block[0], r);
    return rc != CM_EOK ? rc : cm_stats_add_zeros(&c->bdiff[s], i, n, n_undef);
}

/* This path's values: a mirrored slot whose value differs (in its bits)
 * from the reference's ends its mirror (mirror_end; the reference has not
 * yet added this path) and is added to from then on. */
static int mirror_check(const cm_run_t *run, thread_ctx_t *c, int s, const double *o,
                        const double *ref)
{
    const size_t *map = run->diff_ref[s];
    size_t *list = c->mlist[s];
    size_t n = c->mcount[s];
    for (size_t k = 0; k < n;) {
        const size_t i = list[k];
        uint64_t a, b;
        memcpy(&a, &o[i], sizeof a);
        memcpy(&b, &ref[map[i]], sizeof b);
        if (a == b) {
            k++;
            continue;
        }
        int rc = mirror_end(run, c, s, i);
        if (rc != CM_EOK)
            return rc;
        c->skip[s][i] = 0;
        list[k] = list[--n];
    }
    c->mcount[s] = n;
    return CM_EOK;
}

/* Before the block accumulators are read (merged): every slot still
 * mirrored ends its mirror (mirror_end). */
static int mirror_settle(const cm_run_t *run, thread_ctx_t *c)
{
    for (int s = 1; s < run->nscen; s++)
        for (size_t k = 0; k < c->mcount[s]; k++) {
            int rc = mirror_end(run, c, s, c->mlist[s][k]);
            if (rc != CM_EOK)
                return rc;
        }
    return CM_EOK;
}

static void ctx_free(thread_ctx_t *c, int nscen)
{
    for (int s = 0; s < nscen; s++) {
        if (c->ws)
            cm_model_ws_free(&c->ws[s]);
        if (c->block)
            cm_stats_free(&c->block[s]);
        if (c->bdiff)
            cm_stats_free(&c->bdiff[s]);
        if (c->out)
            free(c->out[s]);
        if (c->skip)
            free(c->skip[s]);
        if (c->mlist)
            free(c->mlist[s]);
    }
    free(c->skip);
    free(c->mlist);
    free(c->mcount);
    free(c->ws);
    free(c->block);
    free(c->bdiff);
    free(c->out);
    free(c->dvals);
    memset(c, 0, sizeof *c);
}

static int ctx_init(thread_ctx_t *c, const cm_run_t *run, size_t rows, int mirror)
{
    memset(c, 0, sizeof *c);
    c->mirror = mirror;
    int n = run->nscen;
    c->ws = calloc((size_t)n, sizeof *c->ws);
    c->block = calloc((size_t)n, sizeof *c->block);
    c->bdiff = calloc((size_t)n, sizeof *c->bdiff);
    c->out = calloc((size_t)n, sizeof *c->out);
    c->skip = calloc((size_t)n, sizeof *c->skip);
    c->mlist = calloc((size_t)n, sizeof *c->mlist);
    c->mcount = calloc((size_t)n, sizeof *c->mcount);
    if (!c->ws || !c->block || !c->bdiff || !c->out || !c->skip || !c->mlist || !c->mcount)
        return CM_ENOMEM;
    size_t maxslots = 1;
    for (int s = 0; s < n; s++) {
        const cm_layout_t *l = &run->layouts[s];
        if (l->nslots > maxslots)
            maxslots = l->nslots;
        if (cm_model_ws_init(&c->ws[s], run->scen[s], l) != CM_EOK ||
            cm_stats_init(&c->block[s], l->nslots, l->kinds, run->exact) != CM_EOK)
            return CM_ENOMEM;
        c->out[s] = malloc((rows * l->nslots + 1) * sizeof(double));
        if (c->out[s] == NULL)
            return CM_ENOMEM;
        if (s > 0 && init_moments(&c->bdiff[s], l->nslots) != CM_EOK)
            return CM_ENOMEM;
        if (s > 0) {
            c->skip[s] = malloc(l->nslots + 1);
            c->mlist[s] = malloc((l->nslots + 1) * sizeof *c->mlist[s]);
            if (c->skip[s] == NULL || c->mlist[s] == NULL)
                return CM_ENOMEM;
        }
    }
    mirror_reset(run, c);
    c->dvals = malloc(maxslots * sizeof *c->dvals);
    if (c->dvals == NULL)
        return CM_ENOMEM;
    c->ok = 1;
    return CM_EOK;
}

/* Simulate one block into the thread's accumulators, reset first when
 * asked (ordered mode merges each block; free mode keeps adding).  Per
 * path: every scenario's model (a variant copies what it shares with the
 * reference, which runs first), then the mirrors' check, then the
 * statistics. */
static int run_block_into(const cm_run_t *run, thread_ctx_t *c, uint64_t first, uint64_t n,
                          int dumping, int reset)
{
    if (reset) {
        for (int s = 0; s < run->nscen; s++) {
            cm_stats_reset(&c->block[s]);
            if (s > 0)
                cm_stats_reset(&c->bdiff[s]);
        }
        mirror_reset(run, c);
    }
    const size_t ns0 = run->layouts[0].nslots;
    for (uint64_t k = 0; k < n; k++) {
        double *ref = c->out[0] + (dumping ? k * ns0 : 0);
        cm_model_path(&c->ws[0], first + k, ref);
        for (int s = 1; s < run->nscen; s++) {
            double *o = c->out[s] + (dumping ? k * run->layouts[s].nslots : 0);
            /* what the variant draws like the reference, it copies */
            cm_model_path_shared(&c->ws[s], first + k, o, &c->ws[0], &run->share[s]);
            int mrc = mirror_check(run, c, s, o, ref);
            if (mrc != CM_EOK)
                return mrc;
        }
        if (cm_stats_add(&c->block[0], ref) != CM_EOK)
            return CM_ENOMEM;
        for (int s = 1; s < run->nscen; s++) {
            size_t ns = run->layouts[s].nslots;
            const double *o = c->out[s] + (dumping ? k * ns : 0);
            if (cm_stats_add_skip(&c->block[s], o, c->skip[s]) != CM_EOK)
                return CM_ENOMEM;
            const size_t *map = run->diff_ref[s];
            for (size_t i = 0; i < ns; i++)
                c->dvals[i] = map[i] == SIZE_MAX ? NAN : o[i] - ref[map[i]];
            if (cm_stats_add_skip(&c->bdiff[s], c->dvals, c->skip[s]) != CM_EOK)
                return CM_ENOMEM;
        }
    }
    return CM_EOK;
}

/* Simulate one block into the thread's block accumulators, ready to be
 * merged. */
static int run_block(const cm_run_t *run, thread_ctx_t *c, uint64_t first, uint64_t n, int dumping)
{
    int rc = run_block_into(run, c, first, n, dumping, 1);
    return rc == CM_EOK ? mirror_settle(run, c) : rc;
}

/* Whether the caller asked the run to stop (cm_run_options_t.stop). */
static int stop_asked(atomic_int *stop)
{
    return stop != NULL && atomic_load_explicit(stop, memory_order_relaxed) != 0;
}

/* Whether the threads are to stop: *flag (stopped, or halted) set or *rc
 * an error; both shared, so read atomically. */
static int run_stopping(int *flag, int *rc)
{
    int f, r;
#pragma omp atomic read
    f = *flag;
#pragma omp atomic read
    r = *rc;
    return f || r != CM_EOK;
}

static void progress(const cm_run_options_t *opt, uint64_t done, uint64_t total,
                     double t0, double *last, int final)
{
    if (opt == NULL || opt->progress == 0 || opt->progress_stream == NULL)
        return;
    double t = now_seconds();
    double every = opt->progress == 1 ? 0.2 : 5.0;
    if (!final && t - *last < every)
        return;
    *last = t;
    double el = t - t0, rate = el > 0 ? (double)done / el : 0.0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0.0;
    double frac = total ? (double)done / (double)total : 1.0;
    if (opt->progress == 1) {
        char bar[31];
        int fill = (int)(frac * 30.0);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(opt->progress_stream, "\r[%s] %5.1f%% %llu/%llu paths  %.0f paths/s  ETA %.0fs ",
                bar, 100.0 * frac, (unsigned long long)done, (unsigned long long)total, rate, eta);
        if (final)
            fputc('\n', opt->progress_stream);
    } else {
        fprintf(opt->progress_stream, "progress: %llu/%llu paths (%.1f%%), %.0f paths/s, ETA %.0f s\n",
                (unsigned long long)done, (unsigned long long)total, 100.0 * frac, rate, eta);
    }
    fflush(opt->progress_stream);
}

int cm_run_execute(cm_run_t *run, const cm_run_options_t *opt, cm_diag_t *diag)
{
    const uint64_t B = CM_BLOCK_PATHS;
    const uint64_t b0 = run->next_block, b1 = run->block_end;
    const uint64_t todo = b1 > b0 ? b1 - b0 : 0;
    const int dumping = opt && opt->dump != NULL;
    const size_t rows = dumping ? B : 1;
    const int mirror = !(opt && opt->no_mirror);
    int threads = (opt && opt->threads > 0) ? opt->threads : omp_get_max_threads();
    if ((uint64_t)threads > todo && todo > 0)
        threads = (int)todo;
    if (threads < 1)
        threads = 1;
    run->threads_used = threads;
    atomic_int *stop = opt ? opt->stop : NULL;
    int rc = CM_EOK;
    double t0 = now_seconds(), last = t0, last_ckpt = t0;
    uint64_t done = 0, total_paths = 0;
    for (uint64_t b = b0; b < b1; b++)
        total_paths += (run->paths - b * B < B ? run->paths - b * B : B);

    if (dumping && cm_run_dump_header(run, opt->dump) != CM_EOK)
        return cm_diag_add(diag, CM_EIO, "", 0, "", "cannot write the per-path dump");

    if (opt && opt->reverse_blocks) {
        /* Test mode: compute blocks last to first, keep every block's
         * accumulators, then merge them in block order.  Memory grows with
         * the number of blocks: for tests of order independence only. */
        const uint64_t per = 2 * (uint64_t)run->nscen;
        thread_ctx_t c;
        cm_stats_t *saved = calloc(todo * per + 1, sizeof *saved);
        if (saved == NULL || ctx_init(&c, run, rows, mirror) != CM_EOK) {
            free(saved);
            ctx_free(&c, run->nscen);
            return cm_diag_add(diag, CM_ENOMEM, "", 0, "", "out of memory");
        }
        for (uint64_t i = 0; i < todo && rc == CM_EOK; i++) {
            uint64_t b = b1 - 1 - i, first = b * B, j = b - b0;
            uint64_t n = run->paths - first < B ? run->paths - first : B;
            rc = run_block(run, &c, first, n, 0);
            for (int s = 0; s < run->nscen && rc == CM_EOK; s++) {
                cm_stats_t *dst = &saved[j * per + 2 * (uint64_t)s];
                rc = cm_stats_init(dst, run->layouts[s].nslots, run->layouts[s].kinds, run->exact);
                if (rc == CM_EOK)
                    rc = cm_stats_merge(dst, &c.block[s]);
                if (rc == CM_EOK && s > 0) {
                    rc = init_moments(dst + 1, c.bdiff[s].nslots);
                    if (rc == CM_EOK)
                        rc = cm_stats_merge(dst + 1, &c.bdiff[s]);
                }
            }
        }
        for (uint64_t j = 0; j < todo && rc == CM_EOK; j++)
            for (int s = 0; s < run->nscen && rc == CM_EOK; s++) {
                rc = cm_stats_merge(&run->stats[s], &saved[j * per + 2 * (uint64_t)s]);
                if (rc == CM_EOK && s > 0)
                    rc = cm_stats_merge(&run->diff[s], &saved[j * per + 2 * (uint64_t)s + 1]);
            }
        for (uint64_t k = 0; k < todo * per; k++)
            cm_stats_free(&saved[k]);
        free(saved);
        ctx_free(&c, run->nscen);
        run->wall_seconds = now_seconds() - t0;
        if (rc != CM_EOK)
            return cm_diag_add(diag, rc, "", 0, "", "%s", cm_strerror(rc));
        run->next_block = b1;
        return CM_EOK;
    }

    if (!dumping && !(opt && opt->checkpoint)) {
        /* Free mode: without a dump or a checkpoint nothing needs the
         * blocks merged in order, so each thread adds all its blocks to its
         * own accumulators and merges them once at the end: no serial step
         * per block.  The statistics merge order-free, so the bytes are the
         * same as in ordered mode (tests/test_cli.sh, test_parts.sh). */
        int stopped = 0;
#pragma omp parallel num_threads(threads) shared(rc, done, last, stopped)
        {
            thread_ctx_t c;
            int my_rc = ctx_init(&c, run, rows, mirror);
            if (my_rc != CM_EOK) {
#pragma omp atomic write
                rc = my_rc;
            }
            const uint64_t round = 64 * (uint64_t)threads;
            for (uint64_t r0 = b0; r0 < b1; r0 += round) {
                const uint64_t r1 = b1 - r0 > round ? r0 + round : b1;
#pragma omp for schedule(dynamic, 1)
                for (uint64_t b = r0; b < r1; b++) {
                    if (!c.ok || run_stopping(&stopped, &rc))
                        continue;
                    if (stop_asked(stop)) {
#pragma omp atomic write
                        stopped = 1;
                        continue;
                    }
                    uint64_t first = b * B;
                    uint64_t n = run->paths - first < B ? run->paths - first : B;
                    int brc = run_block_into(run, &c, first, n, 0, 0);
                    if (brc != CM_EOK) {
#pragma omp atomic write
                        rc = brc;
                        continue;
                    }
#pragma omp critical(cm_run_progress)
                    {
                        done += n;
                        progress(opt, done, total_paths, t0, &last, 0);
                    }
                }
                int leave = run_stopping(&stopped, &rc);
#pragma omp barrier
                if (leave)
                    break;
            }
            /* the thread's accumulators, settled, are read from here on */
            if (c.ok && !run_stopping(&stopped, &rc)) {
                int src = mirror_settle(run, &c);
                if (src != CM_EOK) {
#pragma omp atomic write
                    rc = src;
                }
            }
#pragma omp critical(cm_run_merge)
            {
                int mrc = CM_EOK;
                if (c.ok && !run_stopping(&stopped, &rc))
                    for (int s = 0; s < run->nscen && mrc == CM_EOK; s++) {
                        mrc = cm_stats_merge(&run->stats[s], &c.block[s]);
                        if (mrc == CM_EOK && s > 0)
                            mrc = cm_stats_merge(&run->diff[s], &c.bdiff[s]);
                    }
                /* rc is also written outside this section (a failed
                 * settle, above), so atomically here too */
                if (mrc != CM_EOK && !run_stopping(&stopped, &rc)) {
#pragma omp atomic write
                    rc = mrc;
                }
            }
            ctx_free(&c, run->nscen);
        }
        run->wall_seconds = now_seconds() - t0;
        if (rc == CM_EOK && (stopped || stop_asked(stop)))
            rc = CM_EINTERRUPTED;
        if (rc == CM_EOK) {
            run->next_block = b1;
            progress(opt, done, total_paths, t0, &last, 1);
            return CM_EOK;
        }
        if (opt && opt->progress == 1 && opt->progress_stream)
            fputc('\n', opt->progress_stream);
        if (rc == CM_EINTERRUPTED)
            return CM_EINTERRUPTED;
        return cm_diag_add(diag, rc, "", 0, "", "%s", cm_strerror(rc));
    }

    /* halted: set (in block order) at the first block not merged; no later
     * block is merged after it, so the accumulators always hold exactly the
     * blocks [block_begin, next_block). */
    int halted = 0, dump_errno = 0;
#pragma omp parallel num_threads(threads) shared(rc, done, last, last_ckpt, halted, dump_errno)
    {
        thread_ctx_t c;
        int my_rc = ctx_init(&c, run, rows, mirror);
        if (my_rc != CM_EOK) {
#pragma omp atomic write
            rc = my_rc;
        }
        /* Rounds of blocks, so that after a stop (or an error) the threads
         * leave at the end of the round instead of stepping through every
         * remaining block of a huge run. */
        const uint64_t round = 64 * (uint64_t)threads;
        for (uint64_t r0 = b0; r0 < b1; r0 += round) {
        const uint64_t r1 = b1 - r0 > round ? r0 + round : b1;
#pragma omp for ordered schedule(dynamic, 1)
        for (uint64_t b = r0; b < r1; b++) {
            uint64_t first = b * B;
            uint64_t n = run->paths - first < B ? run->paths - first : B;
            int skip = !c.ok || run_stopping(&halted, &rc) || stop_asked(stop);
            int brc = skip ? CM_EOK : run_block(run, &c, first, n, dumping);
#pragma omp ordered
            {
                if (skip || brc != CM_EOK || rc != CM_EOK || halted) {
                    if (!halted) {
#pragma omp atomic write
                        halted = 1;
                    }
                } else {
                    for (int s = 0; s < run->nscen && brc == CM_EOK; s++) {
                        brc = cm_stats_merge(&run->stats[s], &c.block[s]);
                        if (brc == CM_EOK && s > 0)
                            brc = cm_stats_merge(&run->diff[s], &c.bdiff[s]);
                    }
                    if (brc == CM_EOK && dumping) {
                        errno = 0;
                        dump_rows(run, opt->dump, first, n, c.out);
                        if (ferror(opt->dump)) {
                            brc = CM_EIO;
                            dump_errno = errno;
                        }
                    }
                    if (brc == CM_EOK) {
                        run->next_block = b + 1;
                        done += n;
                        progress(opt, done, total_paths, t0, &last, 0);
                        if (opt && opt->checkpoint && opt->checkpoint_every > 0 &&
                            now_seconds() - last_ckpt >= opt->checkpoint_every && b + 1 < b1) {
                            brc = opt->checkpoint(run, opt->checkpoint_ctx);
                            last_ckpt = now_seconds();
                        }
                    }
                }
                if (brc != CM_EOK && rc == CM_EOK) {
#pragma omp atomic write
                    rc = brc;
                }
            }
        }
        /* Every thread reads the flags between the loop's barrier and this
         * one, so all take the same decision. */
        int leave = run_stopping(&halted, &rc);
#pragma omp barrier
        if (leave)
            break;
        }
        ctx_free(&c, run->nscen);
    }
    run->wall_seconds = now_seconds() - t0;
    if (rc == CM_EOK && run->next_block < b1)
        rc = CM_EINTERRUPTED;
    if (rc == CM_EINTERRUPTED && opt && opt->checkpoint) {
        int crc = opt->checkpoint(run, opt->checkpoint_ctx);
        if (crc != CM_EOK)
            rc = crc;
    }
    if (rc == CM_EOK)
        progress(opt, done, total_paths, t0, &last, 1);
    else if (opt && opt->progress == 1 && opt->progress_stream)
        fputc('\n', opt->progress_stream);
    if (rc == CM_EINTERRUPTED)
        return CM_EINTERRUPTED; /* the caller says what happens next */
    if (rc == CM_EIO && dump_errno != 0)
        return cm_diag_add(diag, rc, "", 0, "", "cannot write the per-path dump: %s",
                           strerror(dump_errno));
    if (rc == CM_EIO && cm_diag_errors(diag) > 0)
        return rc; /* the checkpoint writer said what failed */
    if (rc != CM_EOK)
        return cm_diag_add(diag, rc, "", 0, "", "%s",
                           rc == CM_EIO ? "cannot write the per-path dump" : cm_strerror(rc));
    return CM_EOK;
}
