/* main.c - the cmsim command-line program: parse arguments, call the
 * library, print errors, return documented exit codes (docs/cli.md).
 *
 * Holds no model logic: everything it does is reachable from the library's
 * tests.  Exit codes come from the error table (cmsim/error.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "cmsim/config.h"
#include "cmsim/driver.h"
#include "cmsim/error.h"
#include "cmsim/report.h"

#ifndef CMSIM_VERSION
#define CMSIM_VERSION "0.0.0"
#endif

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fputs("usage: cmsim run FILE [options]     simulate a scenario (or batch) and write results\n"
          "       cmsim validate FILE [--set PATH=VALUE ...] [--scenario NAME]\n"
          "                                     check a scenario and summarise what it holds\n"
          "       cmsim --help | --version\n"
          "\n"
          "run options (command-line values override the file's):\n"
          "  --paths N           number of Monte Carlo paths (run.paths)\n"
          "  --seed S            random seed (run.seed)\n"
          "  --threads T         OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --out DIR           result folder (default results/<scenario name>)\n"
          "  --force             replace an existing result folder\n"
          "  --quiet             no progress, no table\n"
          "  --dump-paths FILE   also write every path's scalar outcomes (CSV)\n"
          "  --exact-quantiles   keep every value: exact quantiles (memory grows with paths)\n"
          "  --set PATH=VALUE    override any setting, e.g. --set projects.kz_cu.royalty=0.05\n"
          "  --scenario NAME     run (or validate) only this scenario of a batch\n"
          "\n"
          "exit status: 0 success, 1 internal error, 2 configuration error, 3 usage error,\n"
          "             4 input/output error, 5 output exists (use --force), 6 out of memory,\n"
          "             7 interrupted by a signal\n",
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

typedef struct {
    const char *file;
    const char *only;
    const char *out;
    const char *dump;
    uint64_t paths, seed;
    int has_paths, has_seed;
    int threads, force, quiet, exact, reverse_blocks;
    cm_override_t *sets;
    size_t nsets;
} args_t;

static int parse_args(int argc, char **argv, int first, args_t *a, int run)
{
    for (int i = first; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (strcmp(o, "--scenario") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--scenario needs a scenario name");
            a->only = v;
            i++;
            continue;
        }
        if (strcmp(o, "--set") == 0) {
            if (v == NULL || strchr(v, '=') == NULL)
                return usage_error("--set needs PATH=VALUE, got '%s'", v ? v : "");
            a->sets[a->nsets].path = v;
            a->nsets++;
            i++;
            continue;
        }
        if (!run) {
            if (o[0] == '-')
                return usage_error("unknown option '%s' for validate", o);
            if (a->file != NULL)
                return usage_error("unexpected argument '%s'", o);
            a->file = o;
            continue;
        }
        if (strcmp(o, "--paths") == 0) {
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
                return usage_error("--threads needs a whole number from 1 to 4096, got '%s'", v ? v : "");
            a->threads = (int)u;
            i++;
        } else if (strcmp(o, "--out") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--out needs a folder");
            a->out = v;
            i++;
        } else if (strcmp(o, "--dump-paths") == 0) {
            if (v == NULL || v[0] == '\0')
                return usage_error("--dump-paths needs a file name");
            a->dump = v;
            i++;
        } else if (strcmp(o, "--force") == 0) {
            a->force = 1;
        } else if (strcmp(o, "--quiet") == 0) {
            a->quiet = 1;
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
    if (a->file == NULL)
        return usage_error("no scenario file given");
    return 0;
}

/* Split each --set PATH=VALUE in place (argv strings are writable). */
static void split_sets(args_t *a)
{
    for (size_t i = 0; i < a->nsets; i++) {
        char *eq = strchr((char *)(uintptr_t)a->sets[i].path, '=');
        *eq = '\0';
        a->sets[i].value = eq + 1;
    }
}

static int load(const args_t *a, cm_batch_t *b, cm_diag_t *diag)
{
    int rc = cm_batch_load(a->file, a->sets, a->nsets, a->only, b, diag);
    if (rc != CM_EOK) {
        cm_diag_print(diag, stderr);
        fprintf(stderr, "cmsim: %s: %zu error%s\n", a->file, cm_diag_errors(diag),
                cm_diag_errors(diag) == 1 ? "" : "s");
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
    int rc = load(a, &b, &diag);
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
                printf("    %-24s %s\n", b.scen[i].name, i ? b.scen[i].description : "(reference)");
        }
    }
    cm_batch_free(&b);
    cm_diag_free(&diag);
    return cm_exit_status(rc);
}

static int cmd_run(const args_t *a, int argc, char **argv)
{
    cm_diag_t diag;
    cm_diag_init(&diag);
    cm_batch_t b;
    cm_batch_init(&b);
    cm_run_t run;
    memset(&run, 0, sizeof run);
    char outdir[1024], dump_tmp[1100], cmdline[2048];
    FILE *dump = NULL;
    const cm_scenario_t **list = NULL;
    int rc = load(a, &b, &diag);
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
    snprintf(outdir, sizeof outdir, "%s", a->out ? a->out : "");
    if (a->out == NULL)
        snprintf(outdir, sizeof outdir, "results/%s%s%s", b.name, a->only ? "/" : "",
                 a->only ? a->only : "");
    rc = cm_report_check_outdir(outdir, a->force, &diag);
    if (rc != CM_EOK)
        goto print;
    if (a->dump != NULL) {
        snprintf(dump_tmp, sizeof dump_tmp, "%s.partial-%ld", a->dump, (long)getpid());
        dump = fopen(dump_tmp, "w");
        if (dump == NULL) {
            rc = cm_diag_add(&diag, CM_EIO, a->dump, 0, "", "cannot write: %s", strerror(errno));
            goto print;
        }
    }
    rc = cm_run_init(&run, list, b.nscen, s0->paths, a->exact || s0->exact_quantiles, &diag);
    if (rc != CM_EOK)
        goto print;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    cm_run_options_t opt = {0};
    opt.threads = a->threads;
    opt.progress = a->quiet ? 0 : (isatty(fileno(stderr)) ? 1 : 2);
    opt.progress_stream = stderr;
    opt.dump = dump;
    opt.stop = &stop_requested;
    opt.reverse_blocks = a->reverse_blocks;
    if (!a->quiet)
        fprintf(stderr, "cmsim: %s: %d scenario%s, %llu paths, seed %llu\n", b.name, b.nscen,
                b.nscen == 1 ? "" : "s", (unsigned long long)s0->paths,
                (unsigned long long)s0->seed);
    rc = cm_run_execute(&run, &opt, &diag);
    if (dump != NULL) {
        int bad = fflush(dump) != 0 || ferror(dump);
        bad |= fclose(dump) != 0;
        dump = NULL;
        if (rc == CM_EOK && bad)
            rc = cm_diag_add(&diag, CM_EIO, a->dump, 0, "", "write failed: %s", strerror(errno));
        if (rc == CM_EOK && rename(dump_tmp, a->dump) != 0)
            rc = cm_diag_add(&diag, CM_EIO, a->dump, 0, "", "cannot rename into place: %s",
                             strerror(errno));
        if (rc != CM_EOK)
            remove(dump_tmp);
    }
    if (rc != CM_EOK)
        goto print;

    size_t n = 0;
    cmdline[0] = '\0';
    for (int i = 0; i < argc && n < sizeof cmdline; i++) {
        int w = snprintf(cmdline + n, sizeof cmdline - n, "%s%s", i ? " " : "", argv[i]);
        n += w > 0 ? (size_t)w : 0;
    }
    cm_report_info_t info = {a->file, cmdline, 1, &diag};
    rc = cm_report_write(&run, outdir, a->force, &info, &diag);
    if (rc != CM_EOK)
        goto print;
    if (!a->quiet) {
        cm_report_print_table(&run, stdout);
        printf("results: %s/ (summary.csv, run.json)\n", outdir);
    }
print:
    if (rc == CM_EINTERRUPTED)
        fprintf(stderr, "cmsim: interrupted; no results written\n");
    cm_diag_print(&diag, stderr);
out:
    if (dump != NULL) {
        fclose(dump);
        remove(dump_tmp);
    }
    cm_run_free(&run);
    free(list);
    cm_batch_free(&b);
    cm_diag_free(&diag);
    return cm_exit_status(rc);
}

int main(int argc, char **argv)
{
    /* GSL's default handler aborts; the library checks return codes. */
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return cm_exit_status(CM_EUSAGE);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("cmsim %s\n", CMSIM_VERSION);
        return 0;
    }
    int run = strcmp(cmd, "run") == 0;
    if (!run && strcmp(cmd, "validate") != 0)
        return usage_error("unknown command '%s'", cmd);
    args_t a;
    memset(&a, 0, sizeof a);
    a.sets = calloc((size_t)argc, sizeof *a.sets);
    if (a.sets == NULL) {
        fprintf(stderr, "cmsim: out of memory\n");
        return cm_exit_status(CM_ENOMEM);
    }
    int rc = parse_args(argc, argv, 2, &a, run);
    if (rc == 0) {
        split_sets(&a);
        rc = run ? cmd_run(&a, argc, argv) : cmd_validate(&a);
    }
    free(a.sets);
    return rc;
}
