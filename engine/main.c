/* main.c - the cmsim command-line program: parse arguments, call the
 * library, print errors, return documented exit codes (docs/cli.md).
 *
 * Holds no model logic: everything it does is reachable from the library's
 * tests.  Exit codes come from the error table (cmsim/error.h).
 *
 * With CMSIM_WITH_MPI, `mpirun -np R cmsim run ...` gives each rank an equal
 * contiguous share of the path blocks; rank 0 gathers the other ranks'
 * accumulators (as state buffers, state.h), merges them (order-free, so the
 * result is byte-identical to one process) and writes the results.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#ifdef CMSIM_WITH_MPI
#include <mpi.h>
#endif

#include "cmsim/config.h"
#include "cmsim/driver.h"
#include "cmsim/error.h"
#include "cmsim/report.h"
#include "cmsim/state.h"

#ifndef CMSIM_VERSION
#define CMSIM_VERSION "0.0.0"
#endif

/* Set by SIGTERM/SIGINT, read by the run's threads: a lock-free atomic, so
 * both the handler's store and the threads' loads are defined (C17 7.14.1.1,
 * 5.1.2.3). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int must be lock-free for the signal handler");
static atomic_int stop_requested;
static int mpi_rank = 0, mpi_size = 1;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store_explicit(&stop_requested, 1, memory_order_relaxed);
}

static void usage(FILE *f)
{
    fputs("usage: cmsim run FILE [options]     simulate a scenario (or batch) and write results\n"
          "       cmsim validate FILE [--set PATH=VALUE ...] [--scenario NAME]\n"
          "                                     check a scenario and summarise what it holds\n"
          "       cmsim merge --out DIR [--force] [--quiet] PART...\n"
          "                                     combine the state files of --part runs\n"
          "       cmsim --help | --version\n"
          "\n"
          "run options (command-line values override the file's):\n"
          "  --paths N             number of Monte Carlo paths (run.paths)\n"
          "  --seed S              random seed (run.seed)\n"
          "  --threads T           OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --out DIR             result folder (default results/<scenario name>)\n"
          "  --force               replace an existing result folder (or part file)\n"
          "  --quiet               no progress, no table\n"
          "  --dump-paths FILE     also write every path's scalar outcomes (CSV)\n"
          "  --exact-quantiles     keep every value: exact quantiles (memory grows with paths)\n"
          "  --set PATH=VALUE      override any setting, e.g. --set projects.kz_cu.royalty=0.05\n"
          "  --scenario NAME       run (or validate) only this scenario of a batch\n"
          "  --part K/N            simulate the K-th of N equal shares of the paths and write a\n"
          "                        state file (--out FILE, default results/<name>.parts/part-K-of-N.cmpart)\n"
          "  --checkpoint FILE     save the run's state to FILE every --checkpoint-every seconds\n"
          "                        (default 60) and when stopped by SIGINT or SIGTERM\n"
          "  --checkpoint-every S  seconds between checkpoints\n"
          "  --resume FILE         continue a run from its checkpoint\n"
          "\n"
          "exit status: 0 success, 1 internal error, 2 configuration error, 3 usage error,\n"
          "             4 input/output error, 5 output exists (use --force), 6 out of memory,\n"
          "             7 interrupted by a signal (after writing the checkpoint, if any)\n",
          f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cmsim: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see cmsim --help)\n");
    return cm_exit_status(CM_EUSAGE);
}

/* Strict unsigned parse: digits only, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

typedef enum { MODE_RUN, MODE_VALIDATE, MODE_MERGE } mode_t_;

typedef struct {
    const char *file;
    const char *only;
    const char *out;
    const char *dump;
    const char *checkpoint;
    const char *resume;
    double checkpoint_every;
    uint64_t paths, seed, part_k, part_n;
    int has_paths, has_seed;
    int threads, force, quiet, exact, reverse_blocks;
    cm_override_t *sets;
    const char **raw_sets; /* "PATH=VALUE" as given (for state files) */
    size_t nsets;
    const char **parts;    /* merge: the part files */
    size_t nparts;
} args_t;

static int parse_args(int argc, char **argv, int first, args_t *a, mode_t_ mode)
{
    for (int i = first; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (mode != MODE_MERGE && strcmp(o, "--scenario") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--scenario needs a scenario name");
            a->only = v;
            i++;
        } else if (mode != MODE_MERGE && strcmp(o, "--set") == 0) {
            if (v == NULL || strchr(v, '=') == NULL || v[0] == '=')
                return usage_error("--set needs PATH=VALUE, got '%s'", v ? v : "");
            a->raw_sets[a->nsets] = v;
            a->sets[a->nsets].path = v;
            a->nsets++;
            i++;
        } else if (mode == MODE_VALIDATE) {
            if (o[0] == '-')
                return usage_error("unknown option '%s' for validate", o);
            if (a->file != NULL)
                return usage_error("unexpected argument '%s'", o);
            a->file = o;
        } else if (strcmp(o, "--out") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--out needs a folder");
            a->out = v;
            i++;
        } else if (strcmp(o, "--force") == 0) {
            a->force = 1;
        } else if (strcmp(o, "--quiet") == 0) {
            a->quiet = 1;
        } else if (mode == MODE_MERGE) {
            if (o[0] == '-')
                return usage_error("unknown option '%s' for merge", o);
            a->parts[a->nparts++] = o;
        } else if (strcmp(o, "--paths") == 0) {
            if (parse_u64(v, &u) != 0 || u == 0)
                return usage_error("--paths needs a whole number >= 1, got '%s'", v ? v : "");
            a->paths = u;
            a->has_paths = 1;
            i++;
        } else if (strcmp(o, "--seed") == 0) {
            if (parse_u64(v, &u) != 0)
                return usage_error("--seed needs a whole number >= 0, got '%s'", v ? v : "");
            a->seed = u;
            a->has_seed = 1;
            i++;
        } else if (strcmp(o, "--threads") == 0) {
            if (parse_u64(v, &u) != 0 || u == 0 || u > 4096)
                return usage_error("--threads needs a whole number from 1 to 4096, got '%s'",
                                   v ? v : "");
            a->threads = (int)u;
            i++;
        } else if (strcmp(o, "--dump-paths") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--dump-paths needs a file name");
            a->dump = v;
            i++;
        } else if (strcmp(o, "--part") == 0) {
            char kbuf[32], nbuf[32];
            const char *slash = v ? strchr(v, '/') : NULL;
            if (slash == NULL || (size_t)(slash - v) >= sizeof kbuf || strlen(slash + 1) >= sizeof nbuf)
                return usage_error("--part needs K/N, got '%s'", v ? v : "");
            memcpy(kbuf, v, (size_t)(slash - v));
            kbuf[slash - v] = '\0';
            snprintf(nbuf, sizeof nbuf, "%s", slash + 1);
            if (parse_u64(kbuf, &a->part_k) != 0 || parse_u64(nbuf, &a->part_n) != 0 ||
                a->part_k < 1 || a->part_k > a->part_n || a->part_n > CM_MAX_SHARES)
                return usage_error("--part needs K/N with 1 <= K <= N <= %u, got '%s'",
                                   CM_MAX_SHARES, v);
            i++;
        } else if (strcmp(o, "--checkpoint") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--checkpoint needs a file name");
            a->checkpoint = v;
            i++;
        } else if (strcmp(o, "--checkpoint-every") == 0) {
            char *end = NULL;
            double x = v ? strtod(v, &end) : 0.0;
            if (v == NULL || end == v || *end != '\0' || !(x > 0.0) || x > 1e9)
                return usage_error("--checkpoint-every needs seconds > 0, got '%s'", v ? v : "");
            a->checkpoint_every = x;
            i++;
        } else if (strcmp(o, "--resume") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--resume needs a checkpoint file");
            a->resume = v;
            i++;
        } else if (strcmp(o, "--exact-quantiles") == 0) {
            a->exact = 1;
        } else if (strcmp(o, "--reverse-blocks") == 0) {
            /* for tests: compute blocks last to first (results must not change) */
            a->reverse_blocks = 1;
        } else if (o[0] == '-') {
            return usage_error("unknown option '%s'", o);
        } else if (a->file == NULL) {
            a->file = o;
        } else {
            return usage_error("unexpected argument '%s'", o);
        }
    }
    if (mode == MODE_MERGE) {
        if (a->out == NULL)
            return usage_error("merge needs --out DIR");
        if (a->nparts == 0)
            return usage_error("merge needs at least one part file");
        return 0;
    }
    if (a->file == NULL)
        return usage_error("no scenario file given");
    if (a->part_n > 0 && (a->dump != NULL || a->reverse_blocks))
        return usage_error("--part does not go with --dump-paths or --reverse-blocks");
    if ((a->checkpoint || a->resume) && a->reverse_blocks)
        return usage_error("--checkpoint/--resume do not go with --reverse-blocks");
    if (a->checkpoint_every > 0 && a->checkpoint == NULL)
        return usage_error("--checkpoint-every needs --checkpoint FILE");
    if (a->part_n > 0 && mpi_size > 1)
        return usage_error("--part and MPI ranks both split the paths: use one or the other");
    if (a->checkpoint && mpi_size > 1)
        return usage_error("--checkpoint is for single-process runs; use --part for restartable "
                           "cluster runs");
    return 0;
}

/* Split each --set PATH=VALUE: copies, so raw_sets keep the whole text. */
static int split_sets(args_t *a)
{
    for (size_t i = 0; i < a->nsets; i++) {
        char *copy = strdup(a->raw_sets[i]);
        if (copy == NULL)
            return CM_ENOMEM;
        char *eq = strchr(copy, '=');
        *eq = '\0';
        a->sets[i].path = copy;
        a->sets[i].value = eq + 1;
    }
    return CM_EOK;
}

static void free_sets(args_t *a)
{
    for (size_t i = 0; i < a->nsets; i++)
        free((void *)(uintptr_t)a->sets[i].path);
}

/* Print the diagnostics; a failure that left no message (memory ran out
 * before it could be recorded) still says what happened. */
static void print_diag(const cm_diag_t *diag, int rc)
{
    cm_diag_print(diag, stderr);
    if (rc != CM_EOK && rc != CM_EINTERRUPTED && cm_diag_errors(diag) == 0)
        fprintf(stderr, "cmsim: %s\n", cm_strerror(rc));
}

static int load(const char *file, const args_t *a, cm_batch_t *b, cm_diag_t *diag)
{
    int rc = cm_batch_load(file, a->sets, a->nsets, a->only, b, diag);
    if (rc != CM_EOK && mpi_rank == 0) {
        print_diag(diag, rc);
        size_t n = cm_diag_errors(diag);
        if (n > 0)
            fprintf(stderr, "cmsim: %s: %zu error%s\n", file, n, n == 1 ? "" : "s");
    }
    return rc;
}

static void print_scenario(const cm_scenario_t *s)
{
    printf("  run: %llu paths, seed %llu, horizon %d years from %d, discount rate %g\n",
           (unsigned long long)s->paths, (unsigned long long)s->seed, s->horizon,
           s->base_year, s->discount_rate);
    printf("  %d countries, %d routes, %d minerals, %d projects, %d tranche names\n",
           s->ncountries, s->nroutes, s->nminerals, s->nprojects, s->ntranche_names);
    for (int m = 0; m < s->nminerals; m++) {
        const cm_mineral_t *mi = &s->minerals[m];
        printf("  mineral %-12s %s price from %g USD/%s%s%s\n", mi->name,
               mi->model == CM_PRICE_GBM ? "gbm" : "ou ", mi->p0, mi->unit,
               mi->has_controls ? ", export controls" : "",
               mi->dominant >= 0 ? ", market" : "");
    }
    for (int p = 0; p < s->nprojects; p++) {
        const cm_project_t *pr = &s->projects[p];
        printf("  project %-12s %s, %s, start %d, %d tranche%s\n", pr->name,
               s->countries[pr->country].name, s->minerals[pr->mineral].name,
               s->base_year + pr->start, pr->ntranches, pr->ntranches == 1 ? "" : "s");
    }
}

static int cmd_validate(const args_t *a)
{
    cm_diag_t diag;
    cm_diag_init(&diag);
    cm_batch_t b;
    cm_batch_init(&b);
    int rc = load(a->file, a, &b, &diag);
    if (rc == CM_EOK) {
        cm_diag_print(&diag, stderr); /* warnings */
        const cm_scenario_t *s = &b.scen[0];
        printf("%s: valid %s '%s'\n", a->file, b.nscen > 1 ? "batch" : "scenario", b.name);
        if (s->description[0])
            printf("  %s\n", s->description);
        print_scenario(s);
        if (b.nscen > 1) {
            printf("  %d scenarios (reference first):\n", b.nscen);
            for (int i = 0; i < b.nscen; i++)
                printf("    %-24s %s\n", b.scen[i].name,
                       i ? b.scen[i].description : "(reference)");
        }
    }
    cm_batch_free(&b);
    cm_diag_free(&diag);
    return cm_exit_status(rc);
}

/* mkdir -p of the folder part of path. */
static int make_parent(const char *path, cm_diag_t *diag)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return CM_EOK;
    *slash = '\0';
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return cm_diag_add(diag, CM_EIO, buf, 0, "", "cannot create folder: %s",
                               strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return cm_diag_add(diag, CM_EIO, buf, 0, "", "cannot create folder: %s", strerror(errno));
    return CM_EOK;
}

typedef struct {
    const cm_state_id_t *id;
    const char *path;
    cm_diag_t *diag;
} ckpt_ctx_t;

static int write_checkpoint(const cm_run_t *run, void *ctx)
{
    const ckpt_ctx_t *c = ctx;
    return cm_state_write(run, c->id, c->path, c->diag);
}

static void command_line(int argc, char **argv, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%s", i ? " " : "", argv[i]);
        n += w > 0 ? (size_t)w : 0;
    }
}

#ifdef CMSIM_WITH_MPI
/* Gather every rank's accumulators on rank 0 and merge them there. */
static int mpi_reduce(cm_run_t *run, const cm_state_id_t *id, cm_diag_t *diag)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = cm_state_to_buffer(run, id, &buf, &len, diag);
    int ok = rc == CM_EOK && len < (size_t)INT32_MAX, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (!all_ok) {
        free(buf);
        return rc != CM_EOK ? rc : cm_diag_add(diag, CM_EINTERNAL, "", 0, "",
                                               "a rank could not serialise its results");
    }
    int mylen = (int)len;
    int *lens = NULL, *displs = NULL;
    char *all = NULL;
    if (mpi_rank == 0) {
        lens = calloc((size_t)mpi_size, sizeof *lens);
        displs = calloc((size_t)mpi_size, sizeof *displs);
    }
    MPI_Gather(&mylen, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
    long long total = 0;
    if (mpi_rank == 0) {
        for (int r = 0; r < mpi_size; r++) {
            displs[r] = (int)total;
            total += lens[r];
        }
        if (total < INT32_MAX)
            all = malloc((size_t)total + 1);
    }
    int can = mpi_rank != 0 || all != NULL, all_can = 0;
    MPI_Bcast(&can, 1, MPI_INT, 0, MPI_COMM_WORLD);
    all_can = can;
    if (all_can)
        MPI_Gatherv(buf, mylen, MPI_CHAR, all, lens, displs, MPI_CHAR, 0, MPI_COMM_WORLD);
    free(buf);
    if (!all_can) {
        rc = cm_diag_add(diag, CM_ENOMEM, "", 0, "", "rank 0 cannot hold every rank's results");
    } else if (mpi_rank == 0) {
        /* rank 0's own blocks are already in run; merge the others' */
        for (int r = 1; r < mpi_size && rc == CM_EOK; r++) {
            cm_state_header_t h;
            char what[32];
            snprintf(what, sizeof what, "rank %d", r);
            rc = cm_state_merge_buffer(run, id, what, (const unsigned char *)all + displs[r],
                                       (size_t)lens[r], &h, diag);
        }
    }
    free(all);
    free(lens);
    free(displs);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return rc;
}
#endif

static int cmd_run(const args_t *a, int argc, char **argv)
{
    cm_diag_t diag;
    cm_diag_init(&diag);
    cm_batch_t b;
    cm_batch_init(&b);
    cm_run_t run;
    memset(&run, 0, sizeof run);
    cm_state_id_t id;
    memset(&id, 0, sizeof id);
    char outdir[4096], dump_tmp[4200], cmdline[2048];
    FILE *dump = NULL;
    int dump_direct = 0;
    const cm_scenario_t **list = NULL;
    int rc = load(a->file, a, &b, &diag);
    if (rc != CM_EOK)
        goto out;
    list = calloc((size_t)b.nscen, sizeof *list);
    if (list == NULL) {
        rc = cm_diag_add(&diag, CM_ENOMEM, "", 0, "", "out of memory");
        goto print;
    }
    for (int i = 0; i < b.nscen; i++) {
        cm_scenario_t *s = &b.scen[i];
        if (a->has_seed) {
            s->seed = a->seed;
            cm_scenario_derive_keys(s);
        }
        if (a->has_paths)
            s->paths = a->paths;
        list[i] = s;
    }
    const cm_scenario_t *s0 = list[0];
    const int is_part = a->part_n > 0;
    if (is_part || a->checkpoint || a->resume || mpi_size > 1) {
        rc = cm_state_id(&id, a->file, a->raw_sets, a->nsets, a->only, &diag);
        if (rc != CM_EOK)
            goto print;
        id.part_k = a->part_k;
        id.part_n = a->part_n;
    }
    if (a->out != NULL)
        snprintf(outdir, sizeof outdir, "%s", a->out);
    else if (is_part)
        snprintf(outdir, sizeof outdir, "results/%s.parts/part-%llu-of-%llu.cmpart", b.name,
                 (unsigned long long)a->part_k, (unsigned long long)a->part_n);
    else
        snprintf(outdir, sizeof outdir, "results/%s%s%s", b.name, a->only ? "/" : "",
                 a->only ? a->only : "");
    if (mpi_rank == 0) {
        if (is_part) {
            struct stat st;
            if (stat(outdir, &st) == 0 && !a->force) {
                rc = cm_diag_add(&diag, CM_EEXISTS, outdir, 0, "",
                                 "part file exists; use --force to replace it");
                goto print;
            }
            rc = make_parent(outdir, &diag);
        } else {
            rc = cm_report_check_outdir(outdir, a->force, &diag);
        }
    }
#ifdef CMSIM_WITH_MPI
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
    if (rc != CM_EOK)
        goto print;
    if (a->dump != NULL && mpi_rank == 0) {
        /* A regular file is written under a temporary name and renamed into
         * place; anything else (a device, a pipe) is written to directly:
         * renaming over it would replace the device node itself. */
        struct stat dst;
        dump_direct = stat(a->dump, &dst) == 0 && !S_ISREG(dst.st_mode);
        if (dump_direct)
            snprintf(dump_tmp, sizeof dump_tmp, "%s", a->dump);
        else
            snprintf(dump_tmp, sizeof dump_tmp, "%s.partial-%ld", a->dump, (long)getpid());
        dump = fopen(dump_tmp, "w");
        if (dump == NULL) {
            rc = cm_diag_add(&diag, CM_EIO, a->dump, 0, "", "cannot write: %s", strerror(errno));
            goto print;
        }
    }
    rc = cm_run_init(&run, list, b.nscen, s0->paths, a->exact || s0->exact_quantiles, &diag);
    if (rc == CM_EOK && is_part)
        rc = cm_run_set_share(&run, a->part_k, a->part_n);
    if (rc == CM_EOK && mpi_size > 1) {
        if (a->dump != NULL)
            rc = cm_diag_add(&diag, CM_EUSAGE, "", 0, "", "--dump-paths needs a single process");
        else
            rc = cm_run_set_share(&run, (uint64_t)mpi_rank + 1, (uint64_t)mpi_size);
    }
    if (rc != CM_EOK)
        goto print;
    if (a->resume != NULL) {
        cm_state_header_t h;
        rc = cm_state_merge_into(&run, &id, a->resume, &h, &diag);
        if (rc == CM_EOK && (h.block_begin != run.block_begin || h.block_end != run.block_end))
            rc = cm_diag_add(&diag, CM_ECONFIG, a->resume, 0, "",
                             "covers blocks %llu-%llu, this run blocks %llu-%llu (another --part?)",
                             (unsigned long long)h.block_begin, (unsigned long long)h.block_end,
                             (unsigned long long)run.block_begin, (unsigned long long)run.block_end);
        if (rc != CM_EOK)
            goto print;
        run.next_block = h.next_block;
        if (!a->quiet)
            fprintf(stderr, "cmsim: resuming from %s: %llu of %llu blocks done\n", a->resume,
                    (unsigned long long)(h.next_block - h.block_begin),
                    (unsigned long long)(h.block_end - h.block_begin));
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    ckpt_ctx_t ck = {&id, a->checkpoint, &diag};
    cm_run_options_t opt = {0};
    opt.threads = a->threads;
    opt.progress = (a->quiet || mpi_rank != 0) ? 0 : (isatty(fileno(stderr)) ? 1 : 2);
    opt.progress_stream = stderr;
    opt.dump = dump;
    opt.stop = &stop_requested;
    opt.reverse_blocks = a->reverse_blocks;
    if (a->checkpoint != NULL) {
        opt.checkpoint = write_checkpoint;
        opt.checkpoint_ctx = &ck;
        opt.checkpoint_every = a->checkpoint_every > 0 ? a->checkpoint_every : 60.0;
    }
    if (!a->quiet && mpi_rank == 0) {
        fprintf(stderr, "cmsim: %s: %d scenario%s, %llu paths, seed %llu", b.name, b.nscen,
                b.nscen == 1 ? "" : "s", (unsigned long long)s0->paths,
                (unsigned long long)s0->seed);
        if (is_part)
            fprintf(stderr, ", part %llu/%llu", (unsigned long long)a->part_k,
                    (unsigned long long)a->part_n);
        if (mpi_size > 1)
            fprintf(stderr, ", %d MPI ranks", mpi_size);
        fputc('\n', stderr);
    }
    rc = cm_run_execute(&run, &opt, &diag);
    if (dump != NULL) {
        int bad = fflush(dump) != 0 || ferror(dump);
        int err = errno;
        bad |= fclose(dump) != 0;
        dump = NULL;
        if (rc == CM_EOK && bad)
            rc = cm_diag_add(&diag, CM_EIO, a->dump, 0, "", "write failed: %s",
                             strerror(err ? err : errno));
        if (rc == CM_EOK && !dump_direct && rename(dump_tmp, a->dump) != 0)
            rc = cm_diag_add(&diag, CM_EIO, a->dump, 0, "", "cannot rename into place: %s",
                             strerror(errno));
        if (rc != CM_EOK && !dump_direct)
            remove(dump_tmp);
    }
#ifdef CMSIM_WITH_MPI
    {
        int worst = rc;
        MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        rc = worst == CM_EOK ? CM_EOK : (rc != CM_EOK ? rc : worst);
        if (rc == CM_EOK && mpi_size > 1)
            rc = mpi_reduce(&run, &id, &diag);
        run.paths = s0->paths;
    }
#endif
    if (rc != CM_EOK)
        goto print;
    if (mpi_rank != 0)
        goto out;

    if (is_part) {
        rc = cm_state_write(&run, &id, outdir, &diag);
        if (rc == CM_EOK && !a->quiet)
            printf("part %llu of %llu (blocks %llu-%llu of %llu): %s\n",
                   (unsigned long long)a->part_k, (unsigned long long)a->part_n,
                   (unsigned long long)run.block_begin, (unsigned long long)run.block_end,
                   (unsigned long long)run.nblocks, outdir);
    } else {
        command_line(argc, argv, cmdline, sizeof cmdline);
        cm_report_info_t info = {a->file, cmdline, mpi_size, &diag};
        rc = cm_report_write(&run, outdir, a->force, &info, &diag);
        if (rc == CM_EOK && !a->quiet) {
            cm_report_print_table(&run, stdout);
            printf("results: %s/ (summary.csv, %srun.json)\n", outdir,
                   run.nscen > 1 ? "compare.csv, " : "");
        }
    }
    if (rc == CM_EOK && a->checkpoint != NULL)
        remove(a->checkpoint); /* the run finished: the checkpoint is spent */
print:
    if (rc == CM_EINTERRUPTED && mpi_rank == 0) {
        if (a->checkpoint != NULL && cm_diag_errors(&diag) == 0)
            fprintf(stderr, "cmsim: interrupted; state saved to %s (blocks %llu-%llu done); "
                            "continue with --resume %s\n",
                    a->checkpoint, (unsigned long long)run.block_begin,
                    (unsigned long long)run.next_block, a->checkpoint);
        else
            fprintf(stderr, "cmsim: interrupted; no results written\n");
    }
    if (mpi_rank == 0)
        print_diag(&diag, rc);
out:
    if (dump != NULL) {
        fclose(dump);
        if (!dump_direct)
            remove(dump_tmp);
    }
    cm_run_free(&run);
    free(list);
    cm_batch_free(&b);
    cm_diag_free(&diag);
    return cm_exit_status(rc);
}

static int cmp_range(const void *x, const void *y)
{
    const cm_state_header_t *a = x, *b = y;
    return (a->block_begin > b->block_begin) - (a->block_begin < b->block_begin);
}

static int cmd_merge(args_t *a, int argc, char **argv)
{
    cm_diag_t diag;
    cm_diag_init(&diag);
    cm_batch_t b;
    cm_batch_init(&b);
    cm_run_t run;
    memset(&run, 0, sizeof run);
    const cm_scenario_t **list = NULL;
    cm_state_header_t *hs = calloc(a->nparts, sizeof *hs);
    char **set_lines = NULL;
    int rc = hs ? CM_EOK : CM_ENOMEM;
    if (rc != CM_EOK)
        goto print;
    /* the first part names the scenario file and its settings */
    rc = cm_state_peek(a->parts[0], &hs[0], &diag);
    if (rc != CM_EOK)
        goto print;
    cm_state_id_t want = hs[0].id;
    size_t nsets = 0;
    for (const char *q = want.sets; *q; q++)
        nsets += *q == '\n';
    set_lines = calloc(nsets + 1, sizeof *set_lines);
    a->sets = calloc(nsets + 1, sizeof *a->sets);
    a->raw_sets = calloc(nsets + 1, sizeof *a->raw_sets);
    if (!set_lines || !a->sets || !a->raw_sets) {
        rc = cm_diag_add(&diag, CM_ENOMEM, "", 0, "", "out of memory");
        goto print;
    }
    for (const char *q = want.sets; *q && a->nsets < nsets;) {
        const char *nl = strchr(q, '\n');
        set_lines[a->nsets] = strndup(q, (size_t)(nl - q));
        a->raw_sets[a->nsets] = set_lines[a->nsets];
        a->nsets++;
        q = nl + 1;
    }
    a->only = want.only[0] ? want.only : NULL;
    a->file = want.scenario_file;
    if (split_sets(a) != CM_EOK) {
        rc = cm_diag_add(&diag, CM_ENOMEM, "", 0, "", "out of memory");
        goto print;
    }
    cm_state_id_t id;
    rc = cm_state_id(&id, a->file, a->raw_sets, a->nsets, a->only, &diag);
    if (rc == CM_EOK && strcmp(id.settings_sha256, want.settings_sha256) != 0)
        rc = cm_diag_add(&diag, CM_ECONFIG, a->file, 0, "",
                         "the scenario file changed since the parts were written "
                         "(sha256 %.12s..., parts have %.12s...)",
                         id.file_sha256, want.file_sha256);
    if (rc != CM_EOK)
        goto print;
    rc = load(a->file, a, &b, &diag);
    if (rc != CM_EOK)
        goto out;
    list = calloc((size_t)b.nscen, sizeof *list);
    if (list == NULL) {
        rc = cm_diag_add(&diag, CM_ENOMEM, "", 0, "", "out of memory");
        goto print;
    }
    for (int i = 0; i < b.nscen; i++) {
        b.scen[i].seed = hs[0].seed;
        cm_scenario_derive_keys(&b.scen[i]);
        b.scen[i].paths = hs[0].paths;
        list[i] = &b.scen[i];
    }
    rc = cm_run_init(&run, list, b.nscen, hs[0].paths, hs[0].exact, &diag);
    if (rc != CM_EOK)
        goto print;
    rc = cm_report_check_outdir(a->out, a->force, &diag);
    if (rc != CM_EOK)
        goto print;
    for (size_t i = 0; i < a->nparts; i++) {
        int prc = cm_state_merge_into(&run, &id, a->parts[i], &hs[i], &diag);
        if (prc == CM_EOK && hs[i].next_block != hs[i].block_end)
            prc = cm_diag_add(&diag, CM_ECONFIG, a->parts[i], 0, "",
                              "an unfinished run (a checkpoint?): blocks %llu-%llu of %llu-%llu done",
                              (unsigned long long)hs[i].block_begin,
                              (unsigned long long)hs[i].next_block,
                              (unsigned long long)hs[i].block_begin,
                              (unsigned long long)hs[i].block_end);
        if (prc != CM_EOK && rc == CM_EOK)
            rc = prc;
    }
    if (rc != CM_EOK)
        goto print;
    /* the parts must tile the blocks exactly: no overlap, no gap */
    qsort(hs, a->nparts, sizeof *hs, cmp_range);
    uint64_t at = 0;
    for (size_t i = 0; i < a->nparts; i++) {
        if (hs[i].block_begin < at)
            rc = cm_diag_add(&diag, CM_ECONFIG, "", 0, "",
                             "parts overlap: part %llu/%llu covers blocks %llu-%llu, already "
                             "covered up to %llu (a part given twice?)",
                             (unsigned long long)hs[i].id.part_k,
                             (unsigned long long)hs[i].id.part_n,
                             (unsigned long long)hs[i].block_begin,
                             (unsigned long long)hs[i].block_end, (unsigned long long)at);
        else if (hs[i].block_begin > at)
            rc = cm_diag_add(&diag, CM_ECONFIG, "", 0, "", "missing: blocks %llu-%llu%s",
                             (unsigned long long)at, (unsigned long long)hs[i].block_begin,
                             "");
        if (hs[i].block_end > at)
            at = hs[i].block_end;
    }
    if (at < run.nblocks)
        rc = cm_diag_add(&diag, CM_ECONFIG, "", 0, "", "missing: blocks %llu-%llu",
                         (unsigned long long)at, (unsigned long long)run.nblocks);
    if (rc != CM_EOK) {
        /* name the missing parts when the parts are of one N */
        uint64_t n = hs[0].id.part_n;
        for (uint64_t k = 1; n > 0 && k <= n && k < 1000; k++) {
            int found = 0;
            for (size_t i = 0; i < a->nparts; i++)
                found |= hs[i].id.part_n == n && hs[i].id.part_k == k;
            if (!found)
                cm_diag_add(&diag, CM_ECONFIG, "", 0, "", "part %llu of %llu is missing",
                            (unsigned long long)k, (unsigned long long)n);
        }
        goto print;
    }
    run.next_block = run.block_end;
    run.threads_used = 0;
    char cmdline[2048];
    command_line(argc, argv, cmdline, sizeof cmdline);
    cm_report_info_t info = {a->file, cmdline, (int)a->nparts, &diag};
    rc = cm_report_write(&run, a->out, a->force, &info, &diag);
    if (rc == CM_EOK && !a->quiet) {
        cm_report_print_table(&run, stdout);
        printf("results: %s/ (merged from %zu part%s)\n", a->out, a->nparts,
               a->nparts == 1 ? "" : "s");
    }
print:
    print_diag(&diag, rc);
out:
    cm_run_free(&run);
    free(list);
    cm_batch_free(&b);
    free(hs);
    if (set_lines != NULL)
        for (size_t i = 0; i < a->nsets; i++)
            free(set_lines[i]);
    free(set_lines);
    free_sets(a);
    free(a->sets);
    free(a->raw_sets);
    a->sets = NULL;
    a->raw_sets = NULL;
    a->nsets = 0;
    cm_diag_free(&diag);
    return cm_exit_status(rc);
}

int main(int argc, char **argv)
{
    /* GSL's default handler aborts; the library checks return codes. */
    gsl_set_error_handler_off();
#ifdef CMSIM_WITH_MPI
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
#endif
    int status;
    if (argc < 2) {
        usage(stderr);
        status = cm_exit_status(CM_EUSAGE);
        goto done;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        if (mpi_rank == 0)
            usage(stdout);
        status = 0;
        goto done;
    }
    if (strcmp(cmd, "--version") == 0) {
        if (mpi_rank == 0)
            printf("cmsim %s%s\n", CMSIM_VERSION,
#ifdef CMSIM_WITH_MPI
                   " (MPI)"
#else
                   ""
#endif
            );
        status = 0;
        goto done;
    }
    mode_t_ mode;
    if (strcmp(cmd, "run") == 0)
        mode = MODE_RUN;
    else if (strcmp(cmd, "validate") == 0)
        mode = MODE_VALIDATE;
    else if (strcmp(cmd, "merge") == 0)
        mode = MODE_MERGE;
    else {
        status = usage_error("unknown command '%s'", cmd);
        goto done;
    }
    args_t a;
    memset(&a, 0, sizeof a);
    a.sets = calloc((size_t)argc, sizeof *a.sets);
    a.raw_sets = calloc((size_t)argc, sizeof *a.raw_sets);
    a.parts = calloc((size_t)argc, sizeof *a.parts);
    if (a.sets == NULL || a.raw_sets == NULL || a.parts == NULL) {
        fprintf(stderr, "cmsim: out of memory\n");
        free(a.sets);
        free(a.raw_sets);
        free(a.parts);
        status = cm_exit_status(CM_ENOMEM);
        goto done;
    }
    status = parse_args(argc, argv, 2, &a, mode);
    if (status == 0) {
        if (mode == MODE_MERGE) {
            free(a.sets);
            free(a.raw_sets);
            a.sets = NULL;
            a.raw_sets = NULL;
            status = cmd_merge(&a, argc, argv);
        } else if (split_sets(&a) != CM_EOK) {
            fprintf(stderr, "cmsim: out of memory\n");
            status = cm_exit_status(CM_ENOMEM);
        } else {
            status = mode == MODE_RUN ? cmd_run(&a, argc, argv) : cmd_validate(&a);
            free_sets(&a);
        }
    }
    free(a.sets);
    free(a.raw_sets);
    free(a.parts);
done:
#ifdef CMSIM_WITH_MPI
    MPI_Finalize();
#endif
    return status;
}
