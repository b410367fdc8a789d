/* report.c - a finished run's result files and its end-of-run table.
 *
 * Files written into the output folder (all or none of them, see "Atomic
 * replacement" below):
 *
 *   summary.csv  every statistic of every outcome, tidy long format: one row
 *                per (scenario, outcome, entity, year), scenarios in run
 *                order, slots in layout order (outcomes.h).  The yearly
 *                outcomes (fan charts: price, dominant_share, hhi, ...) live
 *                in this same file, one row per calendar year with the year
 *                in the "year" column; there is no separate yearly.csv.
 *                Scalars have an empty "year".  Columns:
 *                  scenario,outcome,entity_type,entity,year,unit,
 *                  n,n_undefined,mean,sd,se,min,p05,p25,p50,p75,p95,max,
 *                  cvar05,prob,prob_se
 *                with the meanings of cm_summary_t (stats.h).
 *   compare.csv  only when the run has more than one scenario: the paired
 *                difference (scenario - reference), computed path by path
 *                under common random numbers, for every slot of every
 *                variant that also exists in the reference (scenario 0).
 *                Columns:
 *                  scenario,reference      the variant and the reference
 *                  outcome .. unit         the slot, as in summary.csv
 *                  n_paired                paths where both are defined
 *                  mean_diff, se_diff      mean of the differences and its
 *                                          standard error (sd / sqrt(n))
 *                  ci95_low, ci95_high     mean_diff -/+ 1.959963984540054
 *                                          se_diff (normal 95 % interval)
 *                  var_reference           sd^2 of the outcome in the
 *                                          reference (all its defined paths)
 *                  var_scenario            sd^2 of the outcome in the variant
 *                  var_diff                sd^2 of the paired differences
 *                  variance_reduction      1 - var_diff / (var_reference +
 *                      var_scenario): the share of the variance of the
 *                      difference that common random numbers remove compared
 *                      with two independent runs (0: none; near 1: almost
 *                      all; negative: CRN hurt).  Empty when the denominator
 *                      is 0 or any variance is undefined.
 *   run.json     the record of the run: version, git revision, scenario file
 *                and its SHA-256, seed, paths, threads, processes, block
 *                size, quantile mode, timing, command line, warnings, and
 *                the same statistics as the two CSV files (null where they
 *                are empty).  Only wall_seconds, paths_per_second and
 *                threads differ between two runs of the same scenario with
 *                different thread counts; the CSV files are a pure function
 *                of the statistics (no time, no thread count).
 *
 * Number format: "%.17g", which round-trips every double.  The program never
 * calls setlocale, so printf runs in the C locale; should a caller change
 * LC_NUMERIC anyway, a ',' decimal separator is turned back into '.'.
 * Undefined values (NaN, +-inf) are an empty CSV field and a JSON null.
 * Text fields are quoted only when they hold a comma, a quote, CR or LF,
 * with quotes doubled (RFC 4180); lines end with LF alone (every CSV reader
 * accepts it, and line tools such as awk and cut see no stray CR).
 *
 * Atomic replacement: the files are written into "<outdir>.partial-<pid>"
 * beside the output folder, each flushed and fsync'ed with every write
 * checked (a full disk is an error, never a short file), and the folder is
 * renamed to outdir only when the set is complete.  An existing non-empty
 * outdir is replaced only with force, and only when it holds nothing but
 * cmsim's own result files (anything else is the user's: CM_EEXISTS names
 * it and nothing is touched): it is renamed to "<outdir>.old-<pid>", the new
 * folder takes its name, then the old files are removed.  Any failure
 * removes the temporary folder, so a summary.csv in outdir always comes with
 * the complete set of files written with it.
 */
#define _POSIX_C_SOURCE 200809L

#include "cmsim/report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sha2.h>

#ifndef CMSIM_VERSION
#define CMSIM_VERSION "unknown"
#endif
#ifndef CMSIM_GIT_REVISION
#define CMSIM_GIT_REVISION ""
#endif

/* 97.5 % quantile of the standard normal. */
#define CM_Z975 1.959963984540054

/* Paths built here (the output folder plus a suffix) are at most this long. */
#define CM_REPORT_PATH_MAX 4096

/* The files cmsim writes into an output folder: the only ones a forced
 * replacement removes.  paths.csv is the command line's --dump-paths file. */
static const char *const known_files[] = {"summary.csv", "compare.csv",
                                          "run.json", "paths.csv"};
#define CM_NKNOWN (sizeof known_files / sizeof known_files[0])

/* ------------------------------------------------------------------------
 * Checked output: every write goes through out_*; the first failure's errno
 * is kept so the caller can say why. */

typedef struct {
    FILE *f;
    int failed; /* 1 after the first failed write */
    int err;    /* errno of the first failure (EIO when unknown) */
} out_t;

static void out_fail(out_t *o)
{
    if (!o->failed) {
        o->failed = 1;
        o->err = errno != 0 ? errno : EIO;
    }
}

static void out_printf(out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(out_t *o, const char *fmt, ...)
{
    if (o->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int w = vfprintf(o->f, fmt, ap);
    va_end(ap);
    if (w < 0)
        out_fail(o);
}

static void out_str(out_t *o, const char *s)
{
    if (o->failed)
        return;
    errno = 0;
    if (fputs(s, o->f) == EOF)
        out_fail(o);
}

static void out_char(out_t *o, char c)
{
    if (o->failed)
        return;
    errno = 0;
    if (fputc((unsigned char)c, o->f) == EOF)
        out_fail(o);
}

/* Flush and return 0, or CM_EIO with errno set to the first failure's. */
static int out_finish(out_t *o)
{
    if (!o->failed) {
        errno = 0;
        if (fflush(o->f) != 0 || ferror(o->f))
            out_fail(o);
    }
    if (o->failed) {
        errno = o->err;
        return CM_EIO;
    }
    return CM_EOK;
}

/* ------------------------------------------------------------------------
 * Numbers and text */

/* x as "%.17g" in buf (at least 32 bytes), or "" when x is not finite. */
static const char *fmt_num(char *buf, size_t size, double x)
{
    if (!isfinite(x)) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, size, "%.17g", x);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == ',')
            *p = '.';
    return buf;
}

static void csv_num(out_t *o, double x)
{
    char buf[40];
    out_str(o, fmt_num(buf, sizeof buf, x));
}

static void json_num(out_t *o, double x)
{
    char buf[40];
    out_str(o, isfinite(x) ? fmt_num(buf, sizeof buf, x) : "null");
}

/* A text field, quoted when it holds a separator, a quote or a line end. */
static void csv_text(out_t *o, const char *s)
{
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") == NULL) {
        out_str(o, s);
        return;
    }
    out_char(o, '"');
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '"')
            out_char(o, '"');
        out_char(o, *p);
    }
    out_char(o, '"');
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not
 * start one (stray continuation byte, overlong form, surrogate, > U+10FFFF,
 * truncated sequence). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0u) != 0x80u) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped, valid
 * UTF-8 passed through, invalid bytes replaced by U+FFFD so the file stays
 * valid JSON whatever bytes a name holds.  NULL is written as null. */
static void json_str(out_t *o, const char *s)
{
    if (s == NULL) {
        out_str(o, "null");
        return;
    }
    out_char(o, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            out_char(o, '\\');
            out_char(o, (char)c);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\b': out_str(o, "\\b"); break;
            case '\f': out_str(o, "\\f"); break;
            case '\n': out_str(o, "\\n"); break;
            case '\r': out_str(o, "\\r"); break;
            case '\t': out_str(o, "\\t"); break;
            default: out_printf(o, "\\u%04x", (unsigned)c); break;
            }
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n == 0) {
                out_str(o, "\\ufffd");
                p++;
            } else {
                for (size_t i = 0; i < n; i++)
                    out_char(o, (char)p[i]);
                p += n;
            }
        }
    }
    out_char(o, '"');
}

/* ------------------------------------------------------------------------
 * The rows */

/* The statistics columns of summary.csv after n and n_undefined, in order;
 * each is the cm_summary_t field of the same name. */
#define CM_SUMMARY_STATS(X) \
    X(mean) X(sd) X(se) X(min) X(p05) X(p25) X(p50) X(p75) X(p95) X(max) \
    X(cvar05) X(prob) X(prob_se)

/* The computed columns of compare.csv after n_paired, in order. */
#define CM_COMPARE_STATS(X)                                                  \
    X(mean_diff) X(se_diff) X(ci95_low) X(ci95_high) X(var_reference)        \
    X(var_scenario) X(var_diff) X(variance_reduction)

typedef struct {
    uint64_t n_paired;
#define CM_X(name) double name;
    CM_COMPARE_STATS(CM_X)
#undef CM_X
} compare_row_t;

static double sq_or_nan(double sd)
{
    return isfinite(sd) ? sd * sd : NAN;
}

/* The comparison of variant v's slot i with reference slot r. */
static void compare_row(const cm_run_t *run, int v, size_t i, size_t r,
                        compare_row_t *row)
{
    cm_summary_t d, a, b;
    cm_stats_summary(&run->diff[v], i, &d);
    cm_stats_summary(&run->stats[0], r, &a);
    cm_stats_summary(&run->stats[v], i, &b);
    row->n_paired = d.n;
    row->mean_diff = d.mean;
    row->se_diff = d.se;
    if (isfinite(d.mean) && isfinite(d.se)) {
        row->ci95_low = d.mean - CM_Z975 * d.se;
        row->ci95_high = d.mean + CM_Z975 * d.se;
    } else {
        row->ci95_low = row->ci95_high = NAN;
    }
    row->var_reference = sq_or_nan(a.sd);
    row->var_scenario = sq_or_nan(b.sd);
    row->var_diff = sq_or_nan(d.sd);
    double den = row->var_reference + row->var_scenario;
    if (isfinite(row->var_diff) && isfinite(den) && den > 0)
        row->variance_reduction = 1.0 - row->var_diff / den;
    else
        row->variance_reduction = NAN;
}

/* Does variant v have a reference slot for its slot i? */
static int has_ref(const cm_run_t *run, int v, size_t i, size_t *r)
{
    if (run->diff_ref == NULL || run->diff_ref[v] == NULL ||
        run->diff == NULL || run->diff_ref[v][i] == SIZE_MAX)
        return 0;
    *r = run->diff_ref[v][i];
    return 1;
}

static void csv_slot(out_t *o, const cm_slot_t *sl)
{
    csv_text(o, sl->outcome);
    out_char(o, ',');
    csv_text(o, sl->entity_type);
    out_char(o, ',');
    csv_text(o, sl->entity);
    out_char(o, ',');
    if (sl->year >= 0)
        out_printf(o, "%d", sl->year);
    out_char(o, ',');
    csv_text(o, sl->unit);
}

int cm_report_write_summary(const cm_run_t *run, FILE *f)
{
    out_t o = {f, 0, 0};
    out_str(&o, "scenario,outcome,entity_type,entity,year,unit,n,n_undefined");
#define CM_X(name) out_str(&o, "," #name);
    CM_SUMMARY_STATS(CM_X)
#undef CM_X
    out_str(&o, "\n");
    for (int s = 0; s < run->nscen && !o.failed; s++) {
        const cm_layout_t *l = &run->layouts[s];
        for (size_t i = 0; i < l->nslots && !o.failed; i++) {
            cm_summary_t sum;
            cm_stats_summary(&run->stats[s], i, &sum);
            csv_text(&o, run->scen[s]->name);
            out_char(&o, ',');
            csv_slot(&o, &l->slots[i]);
            out_printf(&o, ",%" PRIu64 ",%" PRIu64, sum.n, sum.n_undef);
#define CM_X(name) out_char(&o, ','); csv_num(&o, sum.name);
            CM_SUMMARY_STATS(CM_X)
#undef CM_X
            out_str(&o, "\n");
        }
    }
    return out_finish(&o);
}

int cm_report_write_compare(const cm_run_t *run, FILE *f)
{
    out_t o = {f, 0, 0};
    out_str(&o, "scenario,reference,outcome,entity_type,entity,year,unit,"
                "n_paired");
#define CM_X(name) out_str(&o, "," #name);
    CM_COMPARE_STATS(CM_X)
#undef CM_X
    out_str(&o, "\n");
    for (int v = 1; v < run->nscen && !o.failed; v++) {
        const cm_layout_t *l = &run->layouts[v];
        for (size_t i = 0; i < l->nslots && !o.failed; i++) {
            size_t r;
            if (!has_ref(run, v, i, &r))
                continue;
            compare_row_t row;
            compare_row(run, v, i, r, &row);
            csv_text(&o, run->scen[v]->name);
            out_char(&o, ',');
            csv_text(&o, run->scen[0]->name);
            out_char(&o, ',');
            csv_slot(&o, &l->slots[i]);
            out_printf(&o, ",%" PRIu64, row.n_paired);
#define CM_X(name) out_char(&o, ','); csv_num(&o, row.name);
            CM_COMPARE_STATS(CM_X)
#undef CM_X
            out_str(&o, "\n");
        }
    }
    return out_finish(&o);
}

static void json_slot(out_t *o, const cm_slot_t *sl)
{
    out_str(o, "\"outcome\": ");
    json_str(o, sl->outcome);
    out_str(o, ", \"entity_type\": ");
    json_str(o, sl->entity_type);
    out_str(o, ", \"entity\": ");
    json_str(o, sl->entity);
    if (sl->year >= 0)
        out_printf(o, ", \"year\": %d", sl->year);
    else
        out_str(o, ", \"year\": null");
    out_str(o, ", \"unit\": ");
    json_str(o, sl->unit);
}

int cm_report_write_json(const cm_run_t *run, const cm_report_info_t *info,
                         FILE *f)
{
    out_t o = {f, 0, 0};
    const char *file = info != NULL ? info->scenario_file : NULL;
    if (file == NULL && run->nscen > 0 && run->scen[0]->file[0] != '\0')
        file = run->scen[0]->file;
    char sha[65];
    int sha_ok = file != NULL && cm_sha256_file(file, sha) == CM_EOK;
    int sha_err = errno;

    out_str(&o, "{\n  \"cmsim_version\": ");
    json_str(&o, CMSIM_VERSION);
    out_str(&o, ",\n  \"git_revision\": ");
    json_str(&o, CMSIM_GIT_REVISION);
    out_str(&o, ",\n  \"scenario_file\": ");
    json_str(&o, file);
    out_str(&o, ",\n  \"scenario_sha256\": ");
    json_str(&o, sha_ok ? sha : NULL);
    out_printf(&o, ",\n  \"seed\": %" PRIu64, run->seed);
    out_printf(&o, ",\n  \"paths\": %" PRIu64, run->paths);
    out_printf(&o, ",\n  \"threads\": %d", run->threads_used);
    out_printf(&o, ",\n  \"processes\": %d", info != NULL ? info->processes : 1);
    out_printf(&o, ",\n  \"block_paths\": %u", (unsigned)CM_BLOCK_PATHS);
    out_printf(&o, ",\n  \"exact_quantiles\": %s", run->exact ? "true" : "false");
    out_str(&o, ",\n  \"wall_seconds\": ");
    json_num(&o, run->wall_seconds);
    out_str(&o, ",\n  \"paths_per_second\": ");
    json_num(&o, run->wall_seconds > 0 ? (double)run->paths / run->wall_seconds
                                       : NAN);
    out_str(&o, ",\n  \"command_line\": ");
    json_str(&o, info != NULL ? info->command_line : NULL);

    /* Every item the caller passed, formatted as cm_diag_print does, then
     * our own note when the scenario file could not be hashed. */
    out_str(&o, ",\n  \"warnings\": [");
    const cm_diag_t *w = info != NULL ? info->warnings : NULL;
    int nw = 0;
    for (size_t k = 0; w != NULL && k < w->count; k++) {
        char buf[1200];
        out_str(&o, nw++ ? ",\n    " : "\n    ");
        json_str(&o, cm_diag_format(&w->items[k], buf, sizeof buf));
    }
    if (file != NULL && !sha_ok) {
        char buf[1200];
        snprintf(buf, sizeof buf, "%s: could not compute the SHA-256 (%s)",
                 file, strerror(sha_err));
        out_str(&o, nw++ ? ",\n    " : "\n    ");
        json_str(&o, buf);
    }
    out_str(&o, nw ? "\n  ]" : "]");

    out_str(&o, ",\n  \"scenarios\": [");
    for (int s = 0; s < run->nscen && !o.failed; s++) {
        const cm_layout_t *l = &run->layouts[s];
        out_str(&o, s ? ",\n    {\"name\": " : "\n    {\"name\": ");
        json_str(&o, run->scen[s]->name);
        out_str(&o, ", \"description\": ");
        json_str(&o, run->scen[s]->description);
        out_str(&o, ", \"outcomes\": [");
        for (size_t i = 0; i < l->nslots && !o.failed; i++) {
            cm_summary_t sum;
            cm_stats_summary(&run->stats[s], i, &sum);
            out_str(&o, i ? ",\n      {" : "\n      {");
            json_slot(&o, &l->slots[i]);
            out_printf(&o, ", \"n\": %" PRIu64 ", \"n_undefined\": %" PRIu64,
                       sum.n, sum.n_undef);
#define CM_X(name) out_str(&o, ", \"" #name "\": "); json_num(&o, sum.name);
            CM_SUMMARY_STATS(CM_X)
#undef CM_X
            out_char(&o, '}');
        }
        out_str(&o, l->nslots ? "\n    ]}" : "]}");
    }
    out_str(&o, run->nscen ? "\n  ]" : "]");

    out_str(&o, ",\n  \"comparisons\": [");
    int nc = 0;
    for (int v = 1; v < run->nscen && !o.failed; v++) {
        const cm_layout_t *l = &run->layouts[v];
        for (size_t i = 0; i < l->nslots && !o.failed; i++) {
            size_t r;
            if (!has_ref(run, v, i, &r))
                continue;
            compare_row_t row;
            compare_row(run, v, i, r, &row);
            out_str(&o, nc++ ? ",\n    {\"scenario\": " : "\n    {\"scenario\": ");
            json_str(&o, run->scen[v]->name);
            out_str(&o, ", \"reference\": ");
            json_str(&o, run->scen[0]->name);
            out_str(&o, ", ");
            json_slot(&o, &l->slots[i]);
            out_printf(&o, ", \"n_paired\": %" PRIu64, row.n_paired);
#define CM_X(name) out_str(&o, ", \"" #name "\": "); json_num(&o, row.name);
            CM_COMPARE_STATS(CM_X)
#undef CM_X
            out_char(&o, '}');
        }
    }
    out_str(&o, nc ? "\n  ]\n}\n" : "]\n}\n");
    return out_finish(&o);
}

/* ------------------------------------------------------------------------
 * SHA-256 */

int cm_sha256_file(const char *path, char hex[65])
{
    char buf[SHA256_DIGEST_STRING_LENGTH];
    errno = 0;
    if (path == NULL || SHA256File(path, buf) == NULL) {
        hex[0] = '\0';
        if (errno == 0)
            errno = EIO;
        return CM_EIO;
    }
    /* libmd writes lowercase hex already; lowercase again so the contract
     * does not rest on that. */
    for (int i = 0; i < 64; i++) {
        char c = buf[i];
        hex[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    hex[64] = '\0';
    return CM_EOK;
}

/* ------------------------------------------------------------------------
 * Folders */

static int is_known_file(const char *name)
{
    for (size_t k = 0; k < CM_NKNOWN; k++)
        if (strcmp(name, known_files[k]) == 0)
            return 1;
    return 0;
}

/* dst = a + b, or CM_EIO (ENAMETOOLONG) when it does not fit. */
static int path_cat(char *dst, size_t size, const char *a, const char *b,
                    cm_diag_t *diag)
{
    int w = snprintf(dst, size, "%s%s", a, b);
    if (w < 0 || (size_t)w >= size)
        return cm_diag_add(diag, CM_EIO, a, 0, "", "path too long (%s)",
                           strerror(ENAMETOOLONG));
    return CM_EOK;
}

/* What the folder at path holds.  Returns 0 with *state set to 0 (missing),
 * 1 (empty folder), 2 (folder holding only cmsim result files) or 3 (folder
 * holding something else, whose name goes into other), or CM_EIO with a
 * diagnostic (not a folder, unreadable). */
static int folder_state(const char *path, int *state, char *other,
                        size_t other_size, cm_diag_t *diag)
{
    struct stat st;
    other[0] = '\0';
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            *state = 0;
            return CM_EOK;
        }
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot inspect: %s",
                           strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return cm_diag_add(diag, CM_EIO, path, 0, "",
                           "is a symbolic link; give the folder it points to");
    if (!S_ISDIR(st.st_mode))
        return cm_diag_add(diag, CM_EIO, path, 0, "",
                           "exists and is not a folder");
    DIR *d = opendir(path);
    if (d == NULL)
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot read folder: %s",
                           strerror(errno));
    *state = 1;
    char full[CM_REPORT_PATH_MAX];
    struct dirent *e;
    int err;
    for (;;) {
        errno = 0;
        e = readdir(d);
        err = errno;
        if (e == NULL)
            break;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int ours = is_known_file(e->d_name);
        if (ours) {
            /* A folder or link named summary.csv is not ours. */
            int w = snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            ours = w > 0 && (size_t)w < sizeof full &&
                   lstat(full, &st) == 0 && S_ISREG(st.st_mode);
        }
        if (!ours) {
            *state = 3;
            snprintf(other, other_size, "%s", e->d_name);
            break;
        }
        *state = 2;
    }
    closedir(d);
    if (e == NULL && err != 0)
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot read folder: %s",
                           strerror(err));
    return CM_EOK;
}

/* Remove cmsim's result files from folder path (missing ones are fine),
 * summary.csv first so that no moment shows it without its companions,
 * then the folder itself.  Returns 0 or CM_EIO (errno set). */
static int remove_result_folder(const char *path)
{
    char full[CM_REPORT_PATH_MAX];
    for (size_t k = 0; k < CM_NKNOWN; k++) {
        int w = snprintf(full, sizeof full, "%s/%s", path, known_files[k]);
        if (w < 0 || (size_t)w >= sizeof full) {
            errno = ENAMETOOLONG;
            return CM_EIO;
        }
        if (unlink(full) != 0 && errno != ENOENT)
            return CM_EIO;
    }
    if (rmdir(path) != 0 && errno != ENOENT)
        return CM_EIO;
    return CM_EOK;
}

/* mkdir -p of the folder holding path (nothing to do for a bare name). */
static int make_parent(const char *path, cm_diag_t *diag)
{
    char buf[CM_REPORT_PATH_MAX];
    if (path_cat(buf, sizeof buf, path, "", diag) != CM_EOK)
        return CM_EIO;
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return CM_EOK;
    *slash = '\0';
    /* Create each component in turn; existing ones are fine. */
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        int err = mkdir(buf, 0777) == 0 ? 0 : errno;
        /* EEXIST, or another error for a folder that exists (some file
         * systems answer EACCES or EROFS before looking): fine. */
        if (err != 0 && err != EEXIST &&
            !(stat(buf, &st) == 0 && S_ISDIR(st.st_mode))) {
            return cm_diag_add(diag, CM_EIO, buf, 0, "",
                               "cannot create folder: %s", strerror(err));
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return cm_diag_add(diag, CM_EIO, buf, 0, "", "not a folder");
    return CM_EOK;
}

/* outdir without trailing slashes, so that suffixes name a sibling. */
static int clean_outdir(const char *outdir, char *buf, size_t size,
                        cm_diag_t *diag)
{
    if (outdir == NULL || outdir[0] == '\0')
        return cm_diag_add(diag, CM_EIO, "", 0, "", "no output folder given");
    if (path_cat(buf, size, outdir, "", diag) != CM_EOK)
        return CM_EIO;
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    if (strcmp(buf, "/") == 0 || strcmp(buf, ".") == 0 ||
        strcmp(buf, "..") == 0)
        return cm_diag_add(diag, CM_EIO, outdir, 0, "",
                           "cannot be used as the output folder (give a "
                           "folder of its own)");
    return CM_EOK;
}

int cm_report_check_outdir(const char *outdir, int force, cm_diag_t *diag)
{
    char dir[CM_REPORT_PATH_MAX];
    if (clean_outdir(outdir, dir, sizeof dir, diag) != CM_EOK)
        return CM_EIO;
    int state;
    char other[256];
    if (folder_state(dir, &state, other, sizeof other, diag) != CM_EOK)
        return CM_EIO;
    if (state >= 2 && !force)
        return cm_diag_add(diag, CM_EEXISTS, "", 0, "",
                           "%s already holds results; use --force to replace "
                           "them", outdir);
    if (state == 3)
        return cm_diag_add(diag, CM_EEXISTS, "", 0, "",
                           "%s holds \"%s\", which cmsim did not write; not "
                           "replacing the folder (move it away first)",
                           outdir, other);
    /* Can the folder be written at all?  Find out now, before a long run,
     * by creating and removing a probe folder where the temporary one will
     * go. */
    char probe[CM_REPORT_PATH_MAX], suffix[64];
    snprintf(suffix, sizeof suffix, ".probe-%ld", (long)getpid());
    if (path_cat(probe, sizeof probe, dir, suffix, diag) != CM_EOK)
        return CM_EIO;
    int rc = make_parent(dir, diag);
    if (rc != CM_EOK)
        return rc;
    if (mkdir(probe, 0777) != 0)
        return cm_diag_add(diag, CM_EIO, outdir, 0, "",
                           "cannot write results here: %s", strerror(errno));
    rmdir(probe);
    return CM_EOK;
}

typedef int (*file_writer_fn)(const cm_run_t *, const cm_report_info_t *,
                              FILE *);

static int summary_writer(const cm_run_t *run, const cm_report_info_t *info,
                          FILE *f)
{
    (void)info;
    return cm_report_write_summary(run, f);
}

static int compare_writer(const cm_run_t *run, const cm_report_info_t *info,
                          FILE *f)
{
    (void)info;
    return cm_report_write_compare(run, f);
}

/* Write one file of the set into folder dir: create, write, flush, fsync,
 * close, every step checked. */
static int write_file(const char *dir, const char *name, file_writer_fn fn,
                      const cm_run_t *run, const cm_report_info_t *info,
                      cm_diag_t *diag)
{
    char path[CM_REPORT_PATH_MAX];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path)
        return cm_diag_add(diag, CM_EIO, dir, 0, "", "path too long");
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot create: %s",
                           strerror(errno));
    int rc = fn(run, info, f);
    int err = errno;
    if (rc == CM_EOK && fsync(fileno(f)) != 0) {
        rc = CM_EIO;
        err = errno;
    }
    if (fclose(f) != 0 && rc == CM_EOK) {
        rc = CM_EIO;
        err = errno;
    }
    if (rc != CM_EOK)
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot write: %s",
                           strerror(err));
    return CM_EOK;
}

/* fsync a folder so the names in it are durable.  Best effort: some file
 * systems refuse fsync on folders (EINVAL), which loses nothing the files'
 * own fsync did not already secure. */
static void sync_folder(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The folder holding path, for sync_folder. */
static void sync_parent(const char *path)
{
    char buf[CM_REPORT_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == NULL)
        sync_folder(".");
    else if (slash == buf)
        sync_folder("/");
    else {
        *slash = '\0';
        sync_folder(buf);
    }
}

int cm_report_write(const cm_run_t *run, const char *outdir, int force,
                    const cm_report_info_t *info, cm_diag_t *diag)
{
    char dir[CM_REPORT_PATH_MAX], tmp[CM_REPORT_PATH_MAX],
        old[CM_REPORT_PATH_MAX], suffix[64];
    int rc = clean_outdir(outdir, dir, sizeof dir, diag);
    if (rc != CM_EOK)
        return rc;
    /* Fail before writing anything when the folder cannot be used. */
    rc = cm_report_check_outdir(outdir, force, diag);
    if (rc != CM_EOK)
        return rc;
    long pid = (long)getpid();
    snprintf(suffix, sizeof suffix, ".partial-%ld", pid);
    if (path_cat(tmp, sizeof tmp, dir, suffix, diag) != CM_EOK)
        return CM_EIO;
    snprintf(suffix, sizeof suffix, ".old-%ld", pid);
    if (path_cat(old, sizeof old, dir, suffix, diag) != CM_EOK)
        return CM_EIO;
    rc = make_parent(dir, diag);
    if (rc != CM_EOK)
        return rc;

    /* A leftover of an earlier process with our pid (containers reuse
     * pids) holds only our own files: clear it. */
    struct stat tst;
    if (lstat(tmp, &tst) == 0 && remove_result_folder(tmp) != CM_EOK)
        return cm_diag_add(diag, CM_EIO, tmp, 0, "",
                           "a stale temporary folder is in the way and cannot "
                           "be removed: %s", strerror(errno));
    if (mkdir(tmp, 0777) != 0)
        return cm_diag_add(diag, CM_EIO, tmp, 0, "",
                           "cannot create the temporary output folder: %s",
                           strerror(errno));

    rc = write_file(tmp, "summary.csv", summary_writer, run, info, diag);
    if (rc == CM_EOK && run->nscen > 1)
        rc = write_file(tmp, "compare.csv", compare_writer, run, info, diag);
    if (rc == CM_EOK)
        rc = write_file(tmp, "run.json", cm_report_write_json, run, info, diag);
    if (rc != CM_EOK)
        goto fail;
    sync_folder(tmp);

    /* Move into place.  rename() onto a missing or empty folder is atomic;
     * a non-empty one (checked above: only our files) is moved aside first
     * and its files removed once the new set has its name. */
    int state;
    char other[256];
    rc = folder_state(dir, &state, other, sizeof other, diag);
    if (rc != CM_EOK)
        goto fail;
    if (state >= 2) {
        if (!force || state == 3) {
            /* Someone wrote into outdir while we ran. */
            rc = cm_report_check_outdir(outdir, force, diag);
            if (rc == CM_EOK)
                rc = cm_diag_add(diag, CM_EEXISTS, outdir, 0, "",
                                 "changed while the results were written");
            goto fail;
        }
        if (remove_result_folder(old) != CM_EOK) {
            rc = cm_diag_add(diag, CM_EIO, old, 0, "",
                             "a stale folder is in the way: %s",
                             strerror(errno));
            goto fail;
        }
        if (rename(dir, old) != 0) {
            rc = cm_diag_add(diag, CM_EIO, dir, 0, "",
                             "cannot move the old results aside: %s",
                             strerror(errno));
            goto fail;
        }
        if (rename(tmp, dir) != 0) {
            int err = errno;
            (void)rename(old, dir); /* put the old results back */
            rc = cm_diag_add(diag, CM_EIO, dir, 0, "",
                             "cannot move the results into place: %s",
                             strerror(err));
            goto fail;
        }
        if (remove_result_folder(old) != CM_EOK)
            cm_diag_add(diag, CM_EOK, old, 0, "",
                        "the replaced results could not be removed: %s",
                        strerror(errno));
    } else if (rename(tmp, dir) != 0) {
        int err = errno;
        rc = (err == ENOTEMPTY || err == EEXIST)
                 ? cm_diag_add(diag, CM_EEXISTS, "", 0, "",
                               "%s already holds results; use --force to "
                               "replace them", outdir)
                 : cm_diag_add(diag, CM_EIO, dir, 0, "",
                               "cannot move the results into place: %s",
                               strerror(err));
        goto fail;
    }
    sync_parent(dir);
    return CM_EOK;

fail:
    (void)remove_result_folder(tmp);
    return rc;
}

/* ------------------------------------------------------------------------
 * The end-of-run table */

/* A number right-aligned in width, or "n/a". */
static void table_num(FILE *f, int width, int prec, double x)
{
    if (isfinite(x))
        fprintf(f, "%*.*f", width, prec, x);
    else
        fprintf(f, "%*s", width, "n/a");
}

/* A quantity in its own unit: whole units from 1000 up, else 3 digits. */
/* Layout of the end-of-run table (names as wide as the longest, at least
 * 10): key portfolio outcomes per scenario; the mean dominant-supplier share
 * per mineral in the year of its largest new output, without the projects
 * on the first line; paired differences of equity value and of the default
 * probability against the reference. */
/* The year shown for a mineral's market in the table: the year of the
 * largest mean new output in the reference scenario (the last year when no
 * project produces it). */
static int table_year(const cm_run_t *run, int m)
{
    const cm_layout_t *l = &run->layouts[0];
    size_t no = l->mineral_slot[(size_t)m * CM_MY_COUNT + CM_MY_NEW_OUTPUT];
    int best = l->horizon - 1;
    double top = 0.0;
    for (int t = 0; no != (size_t)-1 && t < l->horizon; t++) {
        cm_summary_t sm;
        cm_stats_summary(&run->stats[0], no + (size_t)t, &sm);
        if (isfinite(sm.mean) && sm.mean > top) {
            top = sm.mean;
            best = t;
        }
    }
    return best;
}

/* Slot of (outcome o, mineral named like reference mineral m, year index t)
 * in scenario s, or SIZE_MAX. */
static size_t mineral_slot_in(const cm_run_t *run, int s, int m, int o, int t)
{
    const cm_scenario_t *sc = run->scen[s];
    int ms = cm_scenario_mineral(sc, run->scen[0]->minerals[m].name);
    if (ms < 0 || t >= run->layouts[s].horizon)
        return SIZE_MAX;
    size_t b = run->layouts[s].mineral_slot[(size_t)ms * CM_MY_COUNT + (size_t)o];
    return b == (size_t)-1 ? SIZE_MAX : b + (size_t)t;
}

void cm_report_print_table(const cm_run_t *run, FILE *f)
{
    if (run == NULL || f == NULL || run->nscen <= 0)
        return;
    int nw = 10;
    for (int s = 0; s < run->nscen; s++) {
        int len = (int)strlen(run->scen[s]->name);
        if (len > nw)
            nw = len;
    }
    fprintf(f, "%" PRIu64 " paths, %d scenario%s, %s quantiles; money in USD million "
            "(present values)\n\n", run->paths, run->nscen, run->nscen == 1 ? "" : "s",
            run->exact ? "exact" : "sketch");
    fprintf(f, "%-*s  %9s %9s %9s  %11s  %11s  %s\n", nw, "", "npv_total", "", "",
            "npv_equity", "exposure", "P(any");
    fprintf(f, "%-*s  %9s %9s %9s  %11s  %11s  %s\n", nw, "scenario", "p05", "p50", "p95",
            "_total p50", "_total mean", "default)");
    for (int s = 0; s < run->nscen; s++) {
        const cm_layout_t *l = &run->layouts[s];
        cm_summary_t npv, eq, ex, def;
        cm_stats_summary(&run->stats[s], l->portfolio_base + CM_PF_NPV_TOTAL, &npv);
        cm_stats_summary(&run->stats[s], l->portfolio_base + CM_PF_NPV_EQUITY_TOTAL, &eq);
        cm_stats_summary(&run->stats[s], l->portfolio_base + CM_PF_EXPOSURE_TOTAL, &ex);
        cm_stats_summary(&run->stats[s], l->portfolio_base + CM_PF_ANY_DEFAULT, &def);
        fprintf(f, "%-*s  ", nw, run->scen[s]->name);
        table_num(f, 9, 1, npv.p05);
        fputc(' ', f);
        table_num(f, 9, 1, npv.p50);
        fputc(' ', f);
        table_num(f, 9, 1, npv.p95);
        fputs("  ", f);
        table_num(f, 11, 1, eq.p50);
        fputs("  ", f);
        table_num(f, 11, 1, ex.mean);
        fputs("  ", f);
        table_num(f, 0, 3, def.prob);
        fputc('\n', f);
    }

    /* Markets: mean dominant-supplier share, with the projects, per mineral
     * with a market, in the year of its largest new output. */
    const cm_scenario_t *ref = run->scen[0];
    int nmk = 0, year[64], mk[64];
    for (int m = 0; m < ref->nminerals && nmk < 64; m++) {
        if (run->layouts[0].mineral_slot[(size_t)m * CM_MY_COUNT + CM_MY_DOMINANT_SHARE] ==
            (size_t)-1)
            continue;
        mk[nmk] = m;
        year[nmk++] = table_year(run, m);
    }
    for (int c0 = 0; c0 < nmk; c0 += 6) { /* at most six minerals a block */
        int c1 = c0 + 6 < nmk ? c0 + 6 : nmk;
        fprintf(f, "\nmean dominant-supplier share with the projects (without them: first line)\n");
        fprintf(f, "%-*s", nw, "scenario");
        for (int k = c0; k < c1; k++) {
            char h[32];
            snprintf(h, sizeof h, "%.11s %d", ref->minerals[mk[k]].name,
                     ref->base_year + year[k]);
            fprintf(f, "  %16s", h);
        }
        fputc('\n', f);
        for (int s = -1; s < run->nscen; s++) {
            fprintf(f, "%-*s", nw, s < 0 ? "(none)" : run->scen[s]->name);
            for (int k = c0; k < c1; k++) {
                int ss = s < 0 ? 0 : s;
                size_t ds = mineral_slot_in(run, ss, mk[k], CM_MY_DOMINANT_SHARE, year[k]);
                size_t dv = mineral_slot_in(run, ss, mk[k], CM_MY_DIVERSIFICATION, year[k]);
                double v = NAN;
                if (ds != SIZE_MAX) {
                    cm_summary_t a, b;
                    cm_stats_summary(&run->stats[ss], ds, &a);
                    v = a.mean;
                    if (s < 0 && dv != SIZE_MAX) {
                        cm_stats_summary(&run->stats[ss], dv, &b);
                        v = a.mean + b.mean; /* share without the projects */
                    }
                }
                fputs("  ", f);
                table_num(f, 16, 3, v);
            }
            fputc('\n', f);
        }
    }

    if (run->nscen < 2 || run->diff == NULL || run->diff_ref == NULL)
        return;
    fprintf(f, "\npaired differences against %s (common random numbers; 95 %% intervals)\n",
            run->scen[0]->name);
    fprintf(f, "%-*s  %-30s  %s\n", nw, "scenario", "npv_equity_total (USD million)",
            "P(any default)");
    for (int v = 1; v < run->nscen; v++) {
        const cm_layout_t *l = &run->layouts[v];
        fprintf(f, "%-*s", nw, run->scen[v]->name);
        const size_t slots[2] = {l->portfolio_base + CM_PF_NPV_EQUITY_TOTAL,
                                 l->portfolio_base + CM_PF_ANY_DEFAULT};
        for (int k = 0; k < 2; k++) {
            size_t i = slots[k], r;
            char cell[64];
            if (i >= l->nslots || !has_ref(run, v, i, &r)) {
                snprintf(cell, sizeof cell, "n/a");
            } else {
                compare_row_t row;
                compare_row(run, v, i, r, &row);
                if (k == 0)
                    snprintf(cell, sizeof cell, "%+9.1f [%+.1f, %+.1f]", row.mean_diff,
                             row.ci95_low, row.ci95_high);
                else
                    snprintf(cell, sizeof cell, "%+7.3f [%+.3f, %+.3f]", row.mean_diff,
                             row.ci95_low, row.ci95_high);
            }
            fprintf(f, k == 0 ? "  %-30s" : "  %s", cell);
        }
        fputc('\n', f);
    }
}
