/* config.c - read a libconfig scenario file into a validated cm_scenario_t
 * (include/cmsim/config.h; the format is scenarios/example.cfg).
 *
 * The only module that reads libconfig.  cm_config_load runs four steps:
 *
 *   1. parse the file (@include resolved against the including file's
 *      folder) - a missing file is CM_EIO, a syntax error CM_ECONFIG;
 *   2. re-scan the source text for integer literals that libconfig 1.5
 *      silently wraps (no L suffix above 2^31) and mark those settings bad;
 *   3. apply the overrides to the parsed tree (path -> value in libconfig
 *      syntax), each replacing one setting in place (a replaced setting
 *      takes its marks with it, so an override can repair a file);
 *   4. walk the tree once, schema first: every group's keys against its
 *      allowed set, every value against its type and range, every name
 *      against its list, every cross reference against the entities.
 *
 * Invariants:
 *  - Errors never stop the walk: each is added to the caller's cm_diag_t
 *    with file, line, setting path ("projects.[1].capex.mode") and what was
 *    expected, and validation goes on with the next setting, so a user sees
 *    every problem of a file at once.  A setting already reported (a wrapped
 *    integer) is skipped silently later, so one mistake gives one message.
 *  - Nothing in the returned scenario points into libconfig's tree; the
 *    tree is destroyed before returning, on every path.
 *  - No global state except GSL's error handler, which is switched off (the
 *    library checks return codes instead of aborting).
 *
 * libconfig 1.5 behaviours this file works around (checked against 1.5):
 *  - config_read_file on a missing file leaves config_error_file() NULL;
 *    errno still holds the reason.
 *  - @include paths resolve against the working directory unless an
 *    include folder is set; with one set, *every* include (nested ones too)
 *    resolves against that folder, which here is the folder of the top-level
 *    file, and the included file is then known by the name as written.
 *  - "paths = 3000000000;" parses as the int -1294967296: literals above
 *    32 bits need the L suffix, and 1.5 wraps them silently.  A file must
 *    write the L (the error says so); an override value gets it added,
 *    since a command line should not need to know libconfig's syntax.
 *  - "nan" and "inf" are syntax errors, but 1e999 parses as +inf.
 *  - Unknown keys are accepted silently, hence the schema walk.
 *
 * Overrides address settings by path: keys, "[i]" list indices, or, inside
 * a list of named groups, the element's name.  A path that does not exist
 * is an error naming the closest valid paths, except that a last key the
 * schema allows there but the file leaves out (e.g. a project's pri_cover)
 * is added.
 */
#include "cmsim/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <libconfig.h>

#include "cmsim/dist.h"

/* Tolerance on the sum of a project's tranche shares. */
#define SHARE_TOL 1e-9

/* ======================================================================== */
/* Context and diagnostics                                                  */

/* An integer literal of the source text that libconfig 1.5 misread. */
typedef struct {
    const char *cfg_file; /* libconfig's name for the file (as in setting->file) */
    int line;
    int is64;             /* literal had the L suffix */
    long long misread;    /* the value libconfig stored instead */
    char text[72];        /* the literal as written (maybe shortened) */
    size_t end;           /* offset just past its digits in the scanned text */
    int fits64;           /* a plain literal that the L suffix would repair */
    int claimed;          /* matched to a setting */
} literal_t;

/* A setting whose value is unusable and whose message is pending. */
typedef struct {
    const config_setting_t *setting;
    char message[320];
} bad_t;

typedef struct {
    const char *file;          /* the scenario file as given */
    const char *main_cfg_name; /* libconfig's name of that file (NULL before parse) */
    char include_dir[512];     /* folder of file, "" when it has none */
    cm_diag_t *diag;
    int errors;                /* errors this load added */
    int nomem;
    bad_t *bad;
    size_t nbad, capbad;
    const config_setting_t **over; /* settings written by overrides */
    size_t nover, capover;
} ctx_t;

/* Record that an allocation failed (one message per load). */
static void nomem(ctx_t *c)
{
    if (!c->nomem)
        cm_diag_add(c->diag, CM_ENOMEM, c->file, 0, "", "out of memory");
    c->nomem = 1;
}

/* arr (elements of size elem, *cap of them) grown to hold at least need;
 * returns the array to use, or NULL (arr untouched) when memory ran out. */
static void *grow(ctx_t *c, void *arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    size_t ncap = *cap ? 2 * *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(arr, ncap * elem);
    if (p == NULL) {
        nomem(c);
        return NULL;
    }
    *cap = ncap;
    return p;
}

/* snprintf for fixed-size message fields, where cutting a long file name
 * or message short is the intended behaviour. */
static void format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    if (size == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* The file name a user can open: libconfig names an included file as
 * written in the @include, relative to the include folder. */
static void display_file(const ctx_t *c, const char *cfg_name, char *buf,
                         size_t size)
{
    if (cfg_name == NULL || c->main_cfg_name == NULL ||
        strcmp(cfg_name, c->main_cfg_name) == 0)
        format(buf, size, "%s", cfg_name ? cfg_name : c->file);
    else if (c->include_dir[0] != '\0')
        format(buf, size, "%s/%s", c->include_dir, cfg_name);
    else
        format(buf, size, "%s", cfg_name);
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

/* Setting path: names joined by dots, list elements as [index]. */
static void setting_path(const config_setting_t *s, char *buf, size_t size)
{
    if (s == NULL || config_setting_parent(s) == NULL) {
        buf[0] = '\0';
        return;
    }
    setting_path(config_setting_parent(s), buf, size);
    if (buf[0] != '\0')
        append(buf, size, ".");
    if (config_setting_name(s) != NULL)
        append(buf, size, "%s", config_setting_name(s));
    else
        append(buf, size, "[%d]", config_setting_index(s));
}

/* 1 when s or one of its parents was written by an override. */
static int is_overridden(const ctx_t *c, const config_setting_t *s)
{
    for (; s != NULL; s = config_setting_parent(s))
        for (size_t i = 0; i < c->nover; i++)
            if (c->over[i] == s)
                return 1;
    return 0;
}

static int is_bad(const ctx_t *c, const config_setting_t *s)
{
    for (size_t i = 0; i < c->nbad; i++)
        if (c->bad[i].setting == s)
            return 1;
    return 0;
}

/* Report an error at setting s, or, when key is not NULL, at its missing
 * member key (path s.key, line of s). */
static void report(ctx_t *c, const config_setting_t *s, const char *key,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(ctx_t *c, const config_setting_t *s, const char *key,
                   const char *fmt, ...)
{
    char file[256], path[256], msg[512];
    display_file(c, s ? config_setting_source_file(s) : NULL, file, sizeof file);
    setting_path(s, path, sizeof path);
    if (key != NULL)
        append(path, sizeof path, "%s%s", path[0] ? "." : "", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s != NULL && is_overridden(c, s))
        append(msg, sizeof msg, " (override)");
    cm_diag_add(c->diag, CM_ECONFIG, file, s ? (int)config_setting_source_line(s) : 0,
                path, "%s", msg);
    c->errors++;
}

/* An error about an override as a whole (no setting to point at). */
static void report_override(ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_override(ctx_t *c, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cm_diag_add(c->diag, CM_ECONFIG, c->file, 0, path, "override: %s", msg);
    c->errors++;
}

/* ======================================================================== */
/* "Did you mean"                                                           */

/* Optimal-string-alignment distance (insert, delete, substitute, swap two
 * neighbours), ignoring case; INT_MAX for strings over 127 bytes. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return INT_MAX;
    int d[128][128];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]);
            int cb = tolower((unsigned char)b[j - 1]);
            int cost = ca != cb;
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

/* The closest candidate seen so far, if close enough to suggest: at most a
 * third of the longer name's characters differ (at least 1, at most 3). */
typedef struct {
    const char *word;
    const char *best;
    int dist;
} near_t;

static void near_init(near_t *n, const char *word)
{
    n->word = word;
    n->best = NULL;
    n->dist = INT_MAX;
}

static void near_consider(near_t *n, const char *cand)
{
    if (cand == NULL || cand[0] == '\0' || strcmp(cand, n->word) == 0)
        return;
    size_t la = strlen(n->word), lb = strlen(cand);
    int limit = (int)((la > lb ? la : lb) / 3);
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    int d = edit_distance(n->word, cand);
    if (d <= limit && d < n->dist) {
        n->best = cand;
        n->dist = d;
    }
}

/* " (did you mean 'x'?)" or "" into buf. */
static const char *hint(const near_t *n, char *buf, size_t size)
{
    if (n->best == NULL)
        buf[0] = '\0';
    else
        format(buf, size, " (did you mean '%s'?)", n->best);
    return buf;
}

/* ======================================================================== */
/* Schema: the keys each kind of group accepts                              */

/* "batch" (variants and sweeps of a batch file, scenarios/central_asia.cfg)
 * belongs to the batch module: accepted here, checked to be a group, its
 * contents left to that module. */
static const char *const K_ROOT[] = {"name", "description", "run", "countries",
                                     "routes", "minerals", "correlations",
                                     "projects", "batch", NULL};
static const char *const K_RUN[] = {"seed", "paths", "horizon", "base_year",
                                    "discount_rate", "equity_discount_rate",
                                    "region", "exact_quantiles", NULL};
static const char *const K_COUNTRY[] = {"name", "region", "expropriation", NULL};
static const char *const K_ROUTE[] = {"name", "cost", "disruption", "cut",
                                      "fallback_cost", NULL};
static const char *const K_MINERAL[] = {"name", "unit", "price", "controls",
                                        "market", NULL};
static const char *const K_PRICE_GBM[] = {"model", "p0", "mu", "sigma", "jumps", NULL};
static const char *const K_PRICE_OU[] = {"model", "p0", "long_run", "kappa",
                                         "sigma", "jumps", NULL};
static const char *const K_PRICE_ANY[] = {"model", "p0", "mu", "long_run", "kappa",
                                          "sigma", "jumps", NULL};
static const char *const K_JUMPS[] = {"rate", "mean", "sd", NULL};
static const char *const K_CONTROLS[] = {"p_start", "p_end", "price_multiplier",
                                         "export_cut", NULL};
static const char *const K_MARKET[] = {"dominant", "export_fraction", "producers", NULL};
static const char *const K_PRODUCER[] = {"country", "output0", "growth", NULL};
static const char *const K_CORRELATION[] = {"between", "rho", NULL};
static const char *const K_PROJECT[] = {
    "name", "country", "mineral", "route", "start", "capex", "build_years",
    "capacity", "ramp_up", "life", "utilization", "opex", "royalty", "tax",
    "depreciation_years", "discount_rate", "equity_discount_rate", "pri_cover",
    "financing", NULL};
static const char *const K_TRANCHE[] = {"name", "type", "share", NULL};
static const char *const K_DEBT[] = {"name", "type", "share", "rate", "tenor",
                                     "grace", "amortisation", NULL};

/* Keys of each distribution kind, indexed by cm_dist_kind_t. */
static const char *const K_FIXED[] = {"dist", "value", NULL};
static const char *const K_UNIFORM[] = {"dist", "min", "max", NULL};
static const char *const K_NORMAL[] = {"dist", "mean", "sd", "min", "max", NULL};
static const char *const K_LOGNORMAL[] = {"dist", "mean", "sd", "mu", "sigma", NULL};
static const char *const K_TRIANGULAR[] = {"dist", "min", "mode", "max", NULL};
static const char *const K_PERT[] = {"dist", "min", "mode", "max", "lambda", NULL};
static const char *const K_BETA[] = {"dist", "a", "b", "min", "max", NULL};
static const char *const K_DISCRETE[] = {"dist", "values", "weights", NULL};
static const char *const K_BERNOULLI[] = {"dist", "p", NULL};

static const char *const *const K_DIST[CM_DIST_KINDS] = {
    [CM_DIST_FIXED] = K_FIXED,           [CM_DIST_UNIFORM] = K_UNIFORM,
    [CM_DIST_NORMAL] = K_NORMAL,         [CM_DIST_LOGNORMAL] = K_LOGNORMAL,
    [CM_DIST_TRIANGULAR] = K_TRIANGULAR, [CM_DIST_PERT] = K_PERT,
    [CM_DIST_BETA] = K_BETA,             [CM_DIST_DISCRETE] = K_DISCRETE,
    [CM_DIST_BERNOULLI] = K_BERNOULLI,
};

/* Where uncertain (U) parameters live, in the canonical path form of
 * canonical_path() below. */
static const char *const DIST_SITES[] = {
    "countries.[].expropriation", "minerals.[].market.producers.[].growth",
    "projects.[].capex",          "projects.[].build_years",
    "projects.[].capacity",       "projects.[].utilization",
    "projects.[].opex",           NULL};

static int in_keys(const char *const *keys, const char *name)
{
    for (; *keys != NULL; keys++)
        if (strcmp(*keys, name) == 0)
            return 1;
    return 0;
}

/* Path of s with every list index written "[]". */
static void canonical_path(const config_setting_t *s, char *buf, size_t size)
{
    char raw[256];
    setting_path(s, raw, sizeof raw);
    size_t n = 0;
    for (const char *p = raw; *p != '\0' && n + 3 < size; p++) {
        if (*p == '[') {
            buf[n++] = '[';
            buf[n++] = ']';
            while (*p != '\0' && *p != ']')
                p++;
            if (*p == '\0')
                break;
        } else {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
}

/* The keys group g accepts, judged from where it sits (and, for price,
 * financing and distribution groups, from its model/type/dist); NULL when
 * g is not a group of the format. */
static const char *const *group_keys(const config_setting_t *g)
{
    static const struct {
        const char *path;
        const char *const *keys;
    } table[] = {
        {"", K_ROOT},
        {"run", K_RUN},
        {"countries.[]", K_COUNTRY},
        {"routes.[]", K_ROUTE},
        {"minerals.[]", K_MINERAL},
        {"minerals.[].price.jumps", K_JUMPS},
        {"minerals.[].controls", K_CONTROLS},
        {"minerals.[].market", K_MARKET},
        {"minerals.[].market.producers.[]", K_PRODUCER},
        {"correlations.[]", K_CORRELATION},
        {"projects.[]", K_PROJECT},
    };
    char path[256];
    const char *v;
    if (!config_setting_is_group(g))
        return NULL;
    canonical_path(g, path, sizeof path);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(path, table[i].path) == 0)
            return table[i].keys;
    if (strcmp(path, "minerals.[].price") == 0) {
        if (config_setting_lookup_string(g, "model", &v) && strcmp(v, "gbm") == 0)
            return K_PRICE_GBM;
        if (config_setting_lookup_string(g, "model", &v) && strcmp(v, "ou") == 0)
            return K_PRICE_OU;
        return K_PRICE_ANY;
    }
    if (strcmp(path, "projects.[].financing.[]") == 0) {
        if (config_setting_lookup_string(g, "type", &v) &&
            (strcmp(v, "equity") == 0 || strcmp(v, "grant") == 0))
            return K_TRANCHE;
        return K_DEBT;
    }
    for (size_t i = 0; DIST_SITES[i] != NULL; i++) {
        if (strcmp(path, DIST_SITES[i]) == 0) {
            int kind = config_setting_lookup_string(g, "dist", &v)
                           ? cm_dist_kind_from_name(v)
                           : -1;
            return kind >= 0 && kind < CM_DIST_KINDS ? K_DIST[kind] : NULL;
        }
    }
    return NULL;
}

/* Reject every member of group g whose name is not in keys; what names the
 * group ("a project", "a \"pert\" distribution").  Returns 1 when all known. */
static int check_keys(ctx_t *c, const config_setting_t *g,
                      const char *const *keys, const char *what)
{
    int ok = 1;
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        if (name == NULL || in_keys(keys, name))
            continue;
        near_t nr;
        near_init(&nr, name);
        for (const char *const *k = keys; *k != NULL; k++)
            near_consider(&nr, *k);
        if (nr.best != NULL) {
            report(c, m, NULL, "unknown key '%s' in %s (did you mean '%s'?)", name,
                   what, nr.best);
        } else {
            char list[256] = "";
            for (const char *const *k = keys; *k != NULL; k++)
                append(list, sizeof list, "%s%s", k == keys ? "" : ", ", *k);
            report(c, m, NULL, "unknown key '%s' in %s (allowed: %s)", name, what,
                   list);
        }
        ok = 0;
    }
    return ok;
}

/* ======================================================================== */
/* Typed access                                                             */

static const char *type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        return "an integer";
    case CONFIG_TYPE_INT64:
        return "a 64-bit integer";
    case CONFIG_TYPE_FLOAT:
        return "a floating-point number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ... ]";
    case CONFIG_TYPE_LIST:
        return "a list ( ... )";
    case CONFIG_TYPE_GROUP:
        return "a group { ... }";
    default:
        return "nothing";
    }
}

/* An interval of admissible values; open ends exclude the bound. */
typedef struct {
    double lo, hi;
    int lo_open, hi_open;
} range_t;

static const range_t R_ANY = {-INFINITY, INFINITY, 0, 0};
static const range_t R_NONNEG = {0.0, INFINITY, 0, 0};
static const range_t R_POS = {0.0, INFINITY, 1, 0};
static const range_t R_PROB = {0.0, 1.0, 0, 0};
static const range_t R_RATE = {-1.0, INFINITY, 1, 0};  /* rates and growth */
static const range_t R_CORR = {-1.0, 1.0, 0, 0};

static int in_range(range_t r, double v)
{
    if (v < r.lo || (r.lo_open && v == r.lo))
        return 0;
    if (v > r.hi || (r.hi_open && v == r.hi))
        return 0;
    return 1;
}

/* "a number >= 0", "a number in [0, 1]", "values > -1" (noun first). */
static const char *range_text(range_t r, const char *noun, char *buf, size_t size)
{
    int has_lo = isfinite(r.lo), has_hi = isfinite(r.hi);
    if (has_lo && has_hi)
        format(buf, size, "%s in %c%g, %g%c", noun, r.lo_open ? '(' : '[', r.lo,
                 r.hi, r.hi_open ? ')' : ']');
    else if (has_lo)
        format(buf, size, "%s %s %g", noun, r.lo_open ? ">" : ">=", r.lo);
    else if (has_hi)
        format(buf, size, "%s %s %g", noun, r.hi_open ? "<" : "<=", r.hi);
    else
        format(buf, size, "%s", noun);
    return buf;
}

/* A finite number (int, int64 or float) into *v, or report and return 0. */
static int num_value(ctx_t *c, const config_setting_t *s, double *v)
{
    if (is_bad(c, s))
        return 0;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        *v = config_setting_get_int(s);
        return 1;
    case CONFIG_TYPE_INT64:
        *v = (double)config_setting_get_int64(s);
        return 1;
    case CONFIG_TYPE_FLOAT: {
        double d = config_setting_get_float(s);
        if (!isfinite(d)) {
            report(c, s, NULL, "expected a finite number, got %g", d);
            return 0;
        }
        *v = d;
        return 1;
    }
    default:
        report(c, s, NULL, "expected a number, got %s", type_name(s));
        return 0;
    }
}

static int int_value(ctx_t *c, const config_setting_t *s, long long *v)
{
    if (is_bad(c, s))
        return 0;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        *v = config_setting_get_int(s);
        return 1;
    case CONFIG_TYPE_INT64:
        *v = config_setting_get_int64(s);
        return 1;
    case CONFIG_TYPE_FLOAT:
        report(c, s, NULL, "expected an integer, got the floating-point number %g",
               config_setting_get_float(s));
        return 0;
    default:
        report(c, s, NULL, "expected an integer, got %s", type_name(s));
        return 0;
    }
}

static int str_value(ctx_t *c, const config_setting_t *s, const char **v)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        report(c, s, NULL, "expected a string, got %s", type_name(s));
        return 0;
    }
    *v = config_setting_get_string(s);
    return 1;
}

/* Member key of group g; reports a missing required one as "missing". */
static const config_setting_t *member(ctx_t *c, const config_setting_t *g,
                                      const char *key, int required,
                                      const char *expected)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (s == NULL && required)
        report(c, g, key, "missing required setting (expected %s)", expected);
    return s;
}

/* A number in range r at g.key into *out (dflt when absent and optional).
 * Returns 1 when *out holds a valid value. */
static int get_num(ctx_t *c, const config_setting_t *g, const char *key,
                   int required, double dflt, range_t r, double *out)
{
    char what[96];
    range_text(r, "a number", what, sizeof what);
    *out = dflt;
    const config_setting_t *s = member(c, g, key, required, what);
    if (s == NULL)
        return !required;
    double v;
    if (!num_value(c, s, &v))
        return 0;
    if (!in_range(r, v)) {
        report(c, s, NULL, "expected %s, got %.12g", what, v);
        return 0;
    }
    *out = v;
    return 1;
}

/* An integer in [lo, hi] at g.key into *out. */
static int get_int(ctx_t *c, const config_setting_t *g, const char *key,
                   int required, long long dflt, long long lo, long long hi,
                   long long *out)
{
    char what[96];
    if (hi == LLONG_MAX)
        format(what, sizeof what, "an integer >= %lld", lo);
    else
        format(what, sizeof what, "an integer in [%lld, %lld]", lo, hi);
    *out = dflt;
    const config_setting_t *s = member(c, g, key, required, what);
    if (s == NULL)
        return !required;
    long long v;
    if (!int_value(c, s, &v))
        return 0;
    if (v < lo || v > hi) {
        report(c, s, NULL, "expected %s, got %lld", what, v);
        return 0;
    }
    *out = v;
    return 1;
}

/* Upper bound on durations in years (life, tenor, grace, depreciation):
 * far beyond any horizon (at most 1000), and small enough that sums of
 * year indices in the model never overflow an int. */
#define CM_YEARS_MAX 10000

static int get_int32(ctx_t *c, const config_setting_t *g, const char *key,
                     int required, int dflt, int lo, int hi, int *out)
{
    long long v;
    int ok = get_int(c, g, key, required, dflt, lo, hi == INT_MAX ? LLONG_MAX : hi, &v);
    if (ok && v > INT_MAX) {
        report(c, config_setting_get_member(g, key), NULL,
               "expected an integer <= %d, got %lld", INT_MAX, v);
        ok = 0;
    }
    *out = ok ? (int)v : dflt;
    return ok;
}

static int get_bool(ctx_t *c, const config_setting_t *g, const char *key,
                    int dflt, int *out)
{
    *out = dflt;
    const config_setting_t *s = config_setting_get_member(g, key);
    if (s == NULL)
        return 1;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        report(c, s, NULL, "expected a boolean (true or false), got %s", type_name(s));
        return 0;
    }
    *out = config_setting_get_bool(s);
    return 1;
}

/* A string shorter than size at g.key copied into buf (dflt when absent). */
static int get_str(ctx_t *c, const config_setting_t *g, const char *key,
                   int required, const char *dflt, char *buf, size_t size)
{
    format(buf, size, "%s", dflt);
    const config_setting_t *s = member(c, g, key, required, "a string");
    const char *v;
    if (s == NULL)
        return !required;
    if (!str_value(c, s, &v))
        return 0;
    if (strlen(v) >= size) {
        report(c, s, NULL, "longer than %zu characters", size - 1);
        return 0;
    }
    format(buf, size, "%s", v);
    return 1;
}

/* An entity name: 1..CM_NAME_MAX-1 bytes, no control characters and none of
 * '/' (site names use it), '.', '[' and ']' (override paths use them). */
static int get_name(ctx_t *c, const config_setting_t *g, const char *key,
                    int required, char *buf)
{
    buf[0] = '\0';
    const config_setting_t *s = member(c, g, key, required, "a name (string)");
    const char *v;
    if (s == NULL || !str_value(c, s, &v))
        return 0;
    if (v[0] == '\0') {
        report(c, s, NULL, "expected a non-empty name");
        return 0;
    }
    if (strlen(v) >= CM_NAME_MAX) {
        report(c, s, NULL, "name '%s' is longer than %d characters", v,
               CM_NAME_MAX - 1);
        return 0;
    }
    for (const char *p = v; *p != '\0'; p++) {
        if (iscntrl((unsigned char)*p) || strchr("/.[]", *p) != NULL) {
            report(c, s, NULL,
                   "name '%s' contains '%c'; names may not contain '/', '.', "
                   "'[', ']' or control characters",
                   v, isprint((unsigned char)*p) ? *p : '?');
            return 0;
        }
    }
    format(buf, CM_NAME_MAX, "%s", v);
    return 1;
}

/* A group at g.key, or NULL (reported when present but not a group). */
static const config_setting_t *get_group(ctx_t *c, const config_setting_t *g,
                                         const char *key, int required)
{
    const config_setting_t *s = member(c, g, key, required, "a group { ... }");
    if (s != NULL && !config_setting_is_group(s)) {
        report(c, s, NULL, "expected a group { ... }, got %s", type_name(s));
        return NULL;
    }
    return s;
}

/* A list of groups at g.key: NULL when absent or of the wrong type (then
 * reported), else the list, each non-group element reported; *n its length.
 * An empty array [] counts as an empty list. */
static const config_setting_t *get_group_list(ctx_t *c, const config_setting_t *g,
                                              const char *key, int required, int *n)
{
    *n = 0;
    const config_setting_t *s = member(c, g, key, required, "a list ( { ... }, ... )");
    if (s == NULL)
        return NULL;
    if (!config_setting_is_list(s) &&
        !(config_setting_is_array(s) && config_setting_length(s) == 0)) {
        report(c, s, NULL, "expected a list ( { ... }, ... ), got %s", type_name(s));
        return NULL;
    }
    *n = config_setting_length(s);
    for (int i = 0; i < *n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        if (!config_setting_is_group(e))
            report(c, e, NULL, "expected a group { ... }, got %s", type_name(e));
    }
    return s;
}

/* The list of groups at g.key (get_group_list) and n zeroed elements of
 * size bytes (plus `spare` more) for it: NULL when the list is absent or
 * empty and spare is 0 (an empty list is reported when `least` says what it
 * needs), or when memory ran out (reported; *n is then 0). */
static void *group_list_alloc(ctx_t *c, const config_setting_t *g, const char *key,
                              int required, const char *least, size_t size, size_t spare,
                              const config_setting_t **list, int *n)
{
    *list = get_group_list(c, g, key, required, n);
    if (*list != NULL && *n == 0 && least != NULL)
        report(c, *list, NULL, "expected at least %s", least);
    if (*n == 0 && spare == 0)
        return NULL;
    void *a = calloc((size_t)*n + spare, size);
    if (a == NULL) {
        nomem(c);
        *n = 0;
    }
    return a;
}

/* An array or list of at most maxn numbers in range r at g.key into v.
 * Returns the count, or -1 after reporting. */
static int get_num_array(ctx_t *c, const config_setting_t *g, const char *key,
                         int required, int maxn, range_t r, double *v)
{
    char what[96];
    const config_setting_t *s = member(c, g, key, required, "an array [ ... ] of numbers");
    if (s == NULL)
        return required ? -1 : 0;
    if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
        report(c, s, NULL, "expected an array [ ... ] of numbers, got %s", type_name(s));
        return -1;
    }
    int n = config_setting_length(s);
    if (n > maxn) {
        report(c, s, NULL, "has %d elements; at most %d are allowed", n, maxn);
        return -1;
    }
    int ok = 1;
    range_text(r, "a number", what, sizeof what);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        double x;
        if (!num_value(c, e, &x)) {
            ok = 0;
        } else if (!in_range(r, x)) {
            report(c, e, NULL, "expected %s, got %.12g", what, x);
            ok = 0;
        } else {
            v[i] = x;
        }
    }
    return ok ? n : -1;
}

/* ======================================================================== */
/* Distributions                                                            */

/* The members of a distribution group g, checked key by key (so that each
 * message points at the key at fault), then cm_dist_check for the rest and
 * the derived fields. */
static int parse_dist_group(ctx_t *c, const config_setting_t *g, cm_dist_t *d)
{
    char buf[96];
    *d = cm_dist_fixed(0.0);
    const config_setting_t *ks =
        member(c, g, "dist", 1, "a string naming the distribution, e.g. \"pert\"");
    const char *kname;
    if (ks == NULL || !str_value(c, ks, &kname))
        return 0;
    int kind = cm_dist_kind_from_name(kname);
    if (kind < 0 || kind >= CM_DIST_KINDS) {
        near_t nr;
        char list[160] = "";
        near_init(&nr, kname);
        for (int k = 0; k < CM_DIST_KINDS; k++) {
            near_consider(&nr, cm_dist_name((cm_dist_kind_t)k));
            append(list, sizeof list, "%s%s", k ? ", " : "",
                   cm_dist_name((cm_dist_kind_t)k));
        }
        if (nr.best != NULL)
            report(c, ks, NULL, "unknown distribution \"%s\" (did you mean \"%s\"?)",
                   kname, nr.best);
        else
            report(c, ks, NULL, "unknown distribution \"%s\" (one of: %s)", kname, list);
        return 0;
    }
    d->kind = (cm_dist_kind_t)kind;
    format(buf, sizeof buf, "a \"%s\" distribution", kname);
    int ok = check_keys(c, g, K_DIST[kind], buf);
    double *p = d->p;

    switch (d->kind) {
    case CM_DIST_FIXED:
        ok &= get_num(c, g, "value", 1, 0, R_ANY, &p[0]);
        break;
    case CM_DIST_UNIFORM: {
        int lo = get_num(c, g, "min", 1, 0, R_ANY, &p[0]);
        int hi = get_num(c, g, "max", 1, 0, R_ANY, &p[1]);
        if (lo && hi && p[0] > p[1]) {
            report(c, config_setting_get_member(g, "max"), NULL, "%g is below min %g",
                   p[1], p[0]);
            ok = 0;
        }
        ok &= lo & hi;
        break;
    }
    case CM_DIST_NORMAL: {
        ok &= get_num(c, g, "mean", 1, 0, R_ANY, &p[0]);
        ok &= get_num(c, g, "sd", 1, 0, R_NONNEG, &p[1]);
        int lo = get_num(c, g, "min", 0, -INFINITY, R_ANY, &p[2]);
        int hi = get_num(c, g, "max", 0, INFINITY, R_ANY, &p[3]);
        if (lo && hi && !(p[2] < p[3])) {
            report(c, config_setting_get_member(g, "max"), NULL,
                   "%g is not above min %g", p[3], p[2]);
            ok = 0;
        }
        ok &= lo & hi;
        break;
    }
    case CM_DIST_LOGNORMAL: {
        int moments = config_setting_get_member(g, "mean") != NULL ||
                      config_setting_get_member(g, "sd") != NULL;
        int logs = config_setting_get_member(g, "mu") != NULL ||
                   config_setting_get_member(g, "sigma") != NULL;
        if (moments && logs) {
            report(c, g, NULL,
                   "give either mean and sd (of the variable) or mu and sigma (of "
                   "its logarithm), not both");
            return 0;
        }
        if (logs) {
            ok &= get_num(c, g, "mu", 1, 0, R_ANY, &p[0]);
            ok &= get_num(c, g, "sigma", 1, 0, R_NONNEG, &p[1]);
        } else {
            double mean, sd;
            int okm = get_num(c, g, "mean", 1, 1, R_POS, &mean);
            int oks = get_num(c, g, "sd", 1, 0, R_NONNEG, &sd);
            if (okm && oks) {
                /* Moments of X to those of ln X. */
                double s2 = log1p((sd / mean) * (sd / mean));
                p[1] = sqrt(s2);
                p[0] = log(mean) - 0.5 * s2;
            }
            ok &= okm & oks;
        }
        break;
    }
    case CM_DIST_TRIANGULAR:
    case CM_DIST_PERT: {
        int lo = get_num(c, g, "min", 1, 0, R_ANY, &p[0]);
        int mo = get_num(c, g, "mode", 1, 0, R_ANY, &p[1]);
        int hi = get_num(c, g, "max", 1, 0, R_ANY, &p[2]);
        const config_setting_t *ms = config_setting_get_member(g, "mode");
        if (lo && hi && p[0] > p[2]) {
            report(c, config_setting_get_member(g, "max"), NULL, "%g is below min %g",
                   p[2], p[0]);
            ok = 0;
        } else if (lo && mo && p[1] < p[0]) {
            report(c, ms, NULL, "%g is below min %g", p[1], p[0]);
            ok = 0;
        } else if (mo && hi && p[1] > p[2]) {
            report(c, ms, NULL, "%g is above max %g", p[1], p[2]);
            ok = 0;
        }
        ok &= lo & mo & hi;
        if (d->kind == CM_DIST_PERT)
            ok &= get_num(c, g, "lambda", 0, 4.0, R_POS, &p[3]);
        break;
    }
    case CM_DIST_BETA: {
        ok &= get_num(c, g, "a", 1, 1, R_POS, &p[0]);
        ok &= get_num(c, g, "b", 1, 1, R_POS, &p[1]);
        int lo = get_num(c, g, "min", 0, 0.0, R_ANY, &p[2]);
        int hi = get_num(c, g, "max", 0, 1.0, R_ANY, &p[3]);
        if (lo && hi && p[2] > p[3]) {
            const config_setting_t *at = config_setting_get_member(g, "max");
            report(c, at ? at : config_setting_get_member(g, "min"), NULL,
                   "max %g is below min %g", p[3], p[2]);
            ok = 0;
        }
        ok &= lo & hi;
        break;
    }
    case CM_DIST_DISCRETE: {
        int nv = get_num_array(c, g, "values", 1, CM_DISCRETE_MAX, R_ANY, d->values);
        int nw = get_num_array(c, g, "weights", 1, CM_DISCRETE_MAX, R_NONNEG, d->cum);
        const config_setting_t *ws = config_setting_get_member(g, "weights");
        if (nv == 0) {
            report(c, config_setting_get_member(g, "values"), NULL,
                   "expected at least one value");
            ok = 0;
        } else if (nv > 0 && nw >= 0 && nw != nv) {
            report(c, ws, NULL, "has %d elements but values has %d", nw, nv);
            ok = 0;
        } else if (nv > 0 && nw == nv) {
            double sum = 0;
            for (int i = 0; i < nw; i++)
                sum += d->cum[i];
            if (!(sum > 0)) {
                report(c, ws, NULL, "weights sum to %g; expected a positive sum", sum);
                ok = 0;
            } else if (!isfinite(sum)) {
                report(c, ws, NULL, "weights sum to %g; expected a finite sum", sum);
                ok = 0;
            }
        }
        ok &= nv > 0 && nw > 0;
        d->n = nv > 0 ? nv : 0;
        /* cum[] holds the raw weights; cm_dist_check normalises them. */
        break;
    }
    case CM_DIST_BERNOULLI:
        ok &= get_num(c, g, "p", 1, 0, R_PROB, &p[0]);
        break;
    default:
        ok = 0;
        break;
    }
    if (!ok)
        return 0;
    char msg[256];
    if (cm_dist_check(d, msg, sizeof msg) != CM_EOK) {
        report(c, g, NULL, "%s", msg);
        return 0;
    }
    return 1;
}

/* An uncertain (U) parameter at g.key: a plain number or a distribution
 * group, whose values must all lie in support.  Absent and optional: the
 * fixed value dflt.  Returns 1 when *d is valid and checked. */
static int get_dist(ctx_t *c, const config_setting_t *g, const char *key,
                    int required, double dflt, range_t support, cm_dist_t *d)
{
    char what[96];
    *d = cm_dist_fixed(dflt);
    const config_setting_t *s =
        member(c, g, key, required, "a number or a distribution { dist = ...; }");
    if (s == NULL)
        return !required;
    if (config_setting_is_group(s)) {
        if (!parse_dist_group(c, s, d))
            return 0;
        double lo = cm_dist_min(d), hi = cm_dist_max(d);
        if (!in_range(support, lo) || !in_range(support, hi)) {
            report(c, s, NULL,
                   "expected %s, but this %s distribution takes values in [%g, %g]",
                   range_text(support, "values", what, sizeof what),
                   cm_dist_name(d->kind), lo, hi);
            return 0;
        }
        return 1;
    }
    if (!config_setting_is_number(s)) {
        report(c, s, NULL, "expected a number or a distribution { dist = ...; }, got %s",
               type_name(s));
        return 0;
    }
    double v;
    if (!num_value(c, s, &v))
        return 0;
    if (!in_range(support, v)) {
        report(c, s, NULL, "expected %s, got %.12g",
               range_text(support, "a number", what, sizeof what), v);
        return 0;
    }
    *d = cm_dist_fixed(v);
    char msg[256];
    if (cm_dist_check(d, msg, sizeof msg) != CM_EOK) {
        report(c, s, NULL, "%s", msg);
        return 0;
    }
    return 1;
}

/* ======================================================================== */
/* Entities                                                                 */

/* The records searched by name start with their name. */
_Static_assert(offsetof(cm_country_t, name) == 0, "name first");
_Static_assert(offsetof(cm_route_t, name) == 0, "name first");
_Static_assert(offsetof(cm_mineral_t, name) == 0, "name first");
_Static_assert(offsetof(cm_project_t, name) == 0, "name first");
_Static_assert(offsetof(cm_tranche_t, name) == 0, "name first");

/* Index of name among n records of size stride whose first member is the
 * name (the structs above, or the rows of tranche_names); -1 when absent. */
static int find_name(const void *base, int n, size_t stride, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp((const char *)base + (size_t)i * stride, name) == 0)
            return i;
    return -1;
}

/* Report a duplicate of the name at records[0..i-1]. */
static int check_unique(ctx_t *c, const config_setting_t *el, const void *base, int i,
                        size_t stride, const char *kind)
{
    const char *name = (const char *)base + (size_t)i * stride;
    if (name[0] == '\0')
        return 1;
    int j = find_name(base, i, stride, name);
    if (j < 0)
        return 1;
    report(c, config_setting_get_member(el, "name"), NULL,
           "duplicate %s name '%s' (also element [%d])", kind, name, j);
    return 0;
}

/* A reference at g.key to one of n named records: its index, or -1 after
 * reporting (with the closest name).  extra: one more accepted name
 * ("Other" for market producers), resolved by the caller when matched
 * (returned as n). */
static int get_ref(ctx_t *c, const config_setting_t *g, const char *key, int required,
                   const void *base, int n, size_t stride, const char *kind,
                   const char *extra)
{
    char buf[96];
    const config_setting_t *s = member(c, g, key, required, "a name (string)");
    const char *v;
    if (s == NULL || !str_value(c, s, &v))
        return -1;
    if (v[0] == '\0') {
        report(c, s, NULL, "expected the name of a %s, got \"\"", kind);
        return -1;
    }
    int i = find_name(base, n, stride, v);
    if (i >= 0)
        return i;
    if (extra != NULL && strcmp(v, extra) == 0)
        return n;
    near_t nr;
    near_init(&nr, v);
    for (int j = 0; j < n; j++)
        near_consider(&nr, (const char *)base + (size_t)j * stride);
    if (extra != NULL)
        near_consider(&nr, extra);
    if (nr.best != NULL || n == 0) {
        report(c, s, NULL, "unknown %s '%s'%s", kind, v, hint(&nr, buf, sizeof buf));
        return -1;
    }
    char list[400] = "";
    for (int j = 0; j < n && j < 8; j++)
        append(list, sizeof list, "%s%s", j ? ", " : "",
               (const char *)base + (size_t)j * stride);
    report(c, s, NULL, "unknown %s '%s' (defined: %s%s)", kind, v, list,
           n > 8 ? ", ..." : "");
    return -1;
}

static void parse_run(ctx_t *c, const config_setting_t *root, cm_scenario_t *s,
                      int *horizon_ok)
{
    long long v;
    *horizon_ok = 0;
    s->seed = 1;
    s->base_year = 2026;
    const config_setting_t *g = get_group(c, root, "run", 1);
    if (g == NULL)
        return;
    check_keys(c, g, K_RUN, "run");
    if (get_int(c, g, "seed", 0, 1, 0, LLONG_MAX, &v))
        s->seed = (uint64_t)v;
    if (get_int(c, g, "paths", 1, 0, 1, LLONG_MAX, &v))
        s->paths = (uint64_t)v;
    *horizon_ok = get_int32(c, g, "horizon", 1, 0, 1, 1000, &s->horizon);
    get_int32(c, g, "base_year", 0, 2026, 1, 9999, &s->base_year);
    get_num(c, g, "discount_rate", 1, 0.0, R_RATE, &s->discount_rate);
    get_num(c, g, "equity_discount_rate", 0, s->discount_rate, R_RATE,
            &s->equity_discount_rate);
    if (config_setting_get_member(g, "region") != NULL)
        get_name(c, g, "region", 0, s->region);
    get_bool(c, g, "exact_quantiles", 0, &s->exact_quantiles);
}

static void parse_countries(ctx_t *c, const config_setting_t *root, cm_scenario_t *s)
{
    int n;
    const config_setting_t *list;
    /* One spare slot for the implicit "Other" a market may add. */
    s->countries = group_list_alloc(c, root, "countries", 1, NULL, sizeof *s->countries, 1,
                                    &list, &n);
    if (s->countries == NULL)
        return;
    s->ncountries = n;
    for (int i = 0; i < n; i++) {
        cm_country_t *ct = &s->countries[i];
        const config_setting_t *el = config_setting_get_elem(list, (unsigned)i);
        ct->expropriation = cm_dist_fixed(0.0);
        if (!config_setting_is_group(el))
            continue;
        check_keys(c, el, K_COUNTRY, "a country");
        if (get_name(c, el, "name", 1, ct->name))
            check_unique(c, el, s->countries, i, sizeof *ct, "country");
        if (config_setting_get_member(el, "region") != NULL)
            get_name(c, el, "region", 0, ct->region);
        get_dist(c, el, "expropriation", 0, 0.0, R_PROB, &ct->expropriation);
    }
}

static void parse_routes(ctx_t *c, const config_setting_t *root, cm_scenario_t *s)
{
    int n;
    const config_setting_t *list;
    s->routes = group_list_alloc(c, root, "routes", 0, NULL, sizeof *s->routes, 0, &list, &n);
    if (s->routes == NULL)
        return;
    s->nroutes = n;
    for (int i = 0; i < n; i++) {
        cm_route_t *r = &s->routes[i];
        const config_setting_t *el = config_setting_get_elem(list, (unsigned)i);
        if (!config_setting_is_group(el))
            continue;
        check_keys(c, el, K_ROUTE, "a route");
        if (get_name(c, el, "name", 1, r->name))
            check_unique(c, el, s->routes, i, sizeof *r, "route");
        get_num(c, el, "cost", 1, 0, R_NONNEG, &r->cost);
        get_num(c, el, "disruption", 1, 0, R_PROB, &r->disruption);
        get_num(c, el, "cut", 1, 0, R_PROB, &r->cut);
        r->has_fallback = config_setting_get_member(el, "fallback_cost") != NULL;
        get_num(c, el, "fallback_cost", 0, 0, R_NONNEG, &r->fallback_cost);
    }
}

static void parse_price(ctx_t *c, const config_setting_t *el, cm_mineral_t *m)
{
    const config_setting_t *g = get_group(c, el, "price", 1);
    const config_setting_t *ms;
    const char *model;
    if (g == NULL)
        return;
    ms = member(c, g, "model", 1, "\"gbm\" or \"ou\"");
    if (ms != NULL && str_value(c, ms, &model)) {
        if (strcmp(model, "gbm") == 0) {
            m->model = CM_PRICE_GBM;
            check_keys(c, g, K_PRICE_GBM, "a \"gbm\" price");
            get_num(c, g, "mu", 1, 0, R_ANY, &m->mu);
        } else if (strcmp(model, "ou") == 0) {
            m->model = CM_PRICE_OU;
            check_keys(c, g, K_PRICE_OU, "an \"ou\" price");
            get_num(c, g, "long_run", 1, 1, R_POS, &m->long_run);
            get_num(c, g, "kappa", 1, 1, R_POS, &m->kappa);
        } else {
            near_t nr;
            char buf[64];
            near_init(&nr, model);
            near_consider(&nr, "gbm");
            near_consider(&nr, "ou");
            report(c, ms, NULL, "expected \"gbm\" or \"ou\", got \"%s\"%s", model,
                   hint(&nr, buf, sizeof buf));
            check_keys(c, g, K_PRICE_ANY, "a price");
        }
    }
    get_num(c, g, "p0", 1, 1, R_POS, &m->p0);
    get_num(c, g, "sigma", 1, 0, R_NONNEG, &m->sigma);
    const config_setting_t *j = get_group(c, g, "jumps", 0);
    if (j != NULL) {
        check_keys(c, j, K_JUMPS, "jumps");
        get_num(c, j, "rate", 1, 0, R_NONNEG, &m->jump_rate);
        get_num(c, j, "mean", 1, 0, R_ANY, &m->jump_mean);
        get_num(c, j, "sd", 1, 0, R_NONNEG, &m->jump_sd);
    }
}

static void parse_market(ctx_t *c, const config_setting_t *el, cm_mineral_t *m,
                         cm_scenario_t *s)
{
    const config_setting_t *g = get_group(c, el, "market", 0);
    int n;
    m->dominant = -1;
    if (g == NULL)
        return;
    check_keys(c, g, K_MARKET, "a market");
    get_num(c, g, "export_fraction", 1, 0, R_PROB, &m->export_fraction);
    const config_setting_t *list;
    m->producers = group_list_alloc(c, g, "producers", 1, "one producer", sizeof *m->producers,
                                    0, &list, &n);
    if (m->producers == NULL && c->nomem)
        return;
    m->nproducers = n;
    for (int i = 0; i < n; i++) {
        cm_producer_t *p = &m->producers[i];
        const config_setting_t *pe = config_setting_get_elem(list, (unsigned)i);
        p->country = -1;
        p->growth = cm_dist_fixed(0.0);
        if (!config_setting_is_group(pe))
            continue;
        check_keys(c, pe, K_PRODUCER, "a producer");
        /* s->countries has a spare slot for "Other" (parse_countries). */
        int k = get_ref(c, pe, "country", 1, s->countries, s->ncountries,
                        sizeof *s->countries, "country",
                        s->countries != NULL ? "Other" : NULL);
        if (k == s->ncountries) {
            /* "Other", the rest of the world, implicit until defined. */
            cm_country_t *o = &s->countries[s->ncountries++];
            memset(o, 0, sizeof *o);
            format(o->name, sizeof o->name, "Other");
            o->implicit = 1;
            o->expropriation = cm_dist_fixed(0.0);
        }
        if (k >= 0) {
            for (int j = 0; j < i; j++) {
                if (m->producers[j].country == k) {
                    report(c, config_setting_get_member(pe, "country"), NULL,
                           "duplicate producer '%s' in this market (also producers.[%d])",
                           s->countries[k].name, j);
                    k = -1;
                    break;
                }
            }
        }
        p->country = k;
        get_num(c, pe, "output0", 1, 0, R_NONNEG, &p->output0);
        get_dist(c, pe, "growth", 0, 0.0, R_RATE, &p->growth);
    }
    int d = get_ref(c, g, "dominant", 1, s->countries, s->ncountries,
                    sizeof *s->countries, "country", NULL);
    if (d >= 0) {
        int found = 0;
        for (int i = 0; i < m->nproducers; i++)
            found |= m->producers[i].country == d;
        if (!found && list != NULL)
            report(c, config_setting_get_member(g, "dominant"), NULL,
                   "'%s' is not among this market's producers", s->countries[d].name);
        else
            m->dominant = d;
    }
}

static void parse_minerals(ctx_t *c, const config_setting_t *root, cm_scenario_t *s)
{
    int n;
    const config_setting_t *list;
    s->minerals = group_list_alloc(c, root, "minerals", 1, "one mineral", sizeof *s->minerals, 0,
                                   &list, &n);
    if (s->minerals == NULL)
        return;
    s->nminerals = n;
    for (int i = 0; i < n; i++) {
        cm_mineral_t *m = &s->minerals[i];
        const config_setting_t *el = config_setting_get_elem(list, (unsigned)i);
        m->dominant = -1;
        if (!config_setting_is_group(el))
            continue;
        check_keys(c, el, K_MINERAL, "a mineral");
        if (get_name(c, el, "name", 1, m->name))
            check_unique(c, el, s->minerals, i, sizeof *m, "mineral");
        get_str(c, el, "unit", 0, "t", m->unit, sizeof m->unit);
        parse_price(c, el, m);
        const config_setting_t *ctl = get_group(c, el, "controls", 0);
        if (ctl != NULL) {
            m->has_controls = 1;
            check_keys(c, ctl, K_CONTROLS, "controls");
            get_num(c, ctl, "p_start", 1, 0, R_PROB, &m->p_start);
            get_num(c, ctl, "p_end", 1, 0, R_PROB, &m->p_end);
            get_num(c, ctl, "price_multiplier", 1, 1, R_POS, &m->price_multiplier);
            get_num(c, ctl, "export_cut", 1, 0, R_PROB, &m->export_cut);
            if (config_setting_get_member(el, "market") == NULL)
                report(c, ctl, NULL,
                       "export controls need a market with a dominant supplier "
                       "(add market = { dominant = ...; ... })");
        }
        parse_market(c, el, m, s);
    }
}

/* The correlation matrix R from the pairs, and its Cholesky factor. */
static void parse_correlations(ctx_t *c, const config_setting_t *root, cm_scenario_t *s)
{
    int n, nm = s->nminerals, before = c->errors;
    const config_setting_t *list = get_group_list(c, root, "correlations", 0, &n);
    if (nm == 0)
        return;
    size_t nn = (size_t)nm * (size_t)nm;
    double *R = calloc(nn, sizeof *R);
    double *L = calloc(nn, sizeof *L);
    int *seen = calloc(nn, sizeof *seen); /* element index + 1 of each pair */
    if (R == NULL || L == NULL || seen == NULL) {
        free(R);
        free(L);
        free(seen);
        nomem(c);
        return;
    }
    s->correlation = R;
    s->chol = L;
    for (int i = 0; i < nm; i++)
        R[i * nm + i] = L[i * nm + i] = 1.0;
    for (int e = 0; e < n; e++) {
        const config_setting_t *el = config_setting_get_elem(list, (unsigned)e);
        if (!config_setting_is_group(el))
            continue;
        check_keys(c, el, K_CORRELATION, "a correlation");
        double rho;
        int ok = get_num(c, el, "rho", 1, 0, R_CORR, &rho);
        const config_setting_t *b = member(c, el, "between", 1, "[ \"mineral\", \"mineral\" ]");
        if (b == NULL)
            continue;
        if ((!config_setting_is_array(b) && !config_setting_is_list(b)) ||
            config_setting_length(b) != 2) {
            report(c, b, NULL, "expected [ \"mineral\", \"mineral\" ] (two names), got %s%s",
                   type_name(b),
                   config_setting_is_aggregate(b) ? " of another length" : "");
            continue;
        }
        int idx[2];
        for (int k = 0; k < 2; k++) {
            const config_setting_t *x = config_setting_get_elem(b, (unsigned)k);
            const char *name;
            idx[k] = -1;
            if (!str_value(c, x, &name))
                continue;
            idx[k] = find_name(s->minerals, nm, sizeof *s->minerals, name);
            if (idx[k] < 0) {
                near_t nr;
                char buf[96];
                near_init(&nr, name);
                for (int j = 0; j < nm; j++)
                    near_consider(&nr, s->minerals[j].name);
                report(c, x, NULL, "unknown mineral '%s'%s", name, hint(&nr, buf, sizeof buf));
            }
        }
        if (idx[0] < 0 || idx[1] < 0 || !ok)
            continue;
        if (idx[0] == idx[1]) {
            report(c, b, NULL, "a mineral cannot be correlated with itself ('%s')",
                   s->minerals[idx[0]].name);
            continue;
        }
        int *first = &seen[idx[0] * nm + idx[1]];
        if (*first) {
            report(c, b, NULL, "duplicate pair ('%s', '%s'), also correlations.[%d]",
                   s->minerals[idx[0]].name, s->minerals[idx[1]].name, *first - 1);
            continue;
        }
        *first = seen[idx[1] * nm + idx[0]] = e + 1;
        R[idx[0] * nm + idx[1]] = R[idx[1] * nm + idx[0]] = rho;
        if (rho != 0)
            s->correlated = 1;
    }
    free(seen);
    if (c->errors != before || !s->correlated)
        return;

    gsl_matrix *A = gsl_matrix_alloc((size_t)nm, (size_t)nm);
    if (A == NULL) {
        nomem(c);
        return;
    }
    for (int i = 0; i < nm; i++)
        for (int j = 0; j < nm; j++)
            gsl_matrix_set(A, (size_t)i, (size_t)j, R[i * nm + j]);
    if (gsl_linalg_cholesky_decomp1(A) == GSL_SUCCESS) {
        for (int i = 0; i < nm; i++)
            for (int j = 0; j < nm; j++)
                L[i * nm + j] = j <= i ? gsl_matrix_get(A, (size_t)i, (size_t)j) : 0.0;
        gsl_matrix_free(A);
        return;
    }
    /* Not positive definite: name the smallest eigenvalue. */
    double lmin = NAN;
    gsl_vector *ev = gsl_vector_alloc((size_t)nm);
    gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc((size_t)nm);
    if (ev != NULL && w != NULL) {
        for (int i = 0; i < nm; i++)
            for (int j = 0; j < nm; j++)
                gsl_matrix_set(A, (size_t)i, (size_t)j, R[i * nm + j]);
        if (gsl_eigen_symm(A, ev, w) == GSL_SUCCESS)
            lmin = gsl_vector_min(ev);
    }
    report(c, list, NULL,
           "the correlation matrix of the %d minerals is not positive definite "
           "(smallest eigenvalue %.6g); the correlations are inconsistent",
           nm, lmin);
    gsl_eigen_symm_free(w);
    gsl_vector_free(ev);
    gsl_matrix_free(A);
}

static void parse_financing(ctx_t *c, const config_setting_t *el, cm_project_t *p)
{
    int n;
    const config_setting_t *list;
    p->tranches = group_list_alloc(c, el, "financing", 1, "one tranche", sizeof *p->tranches, 0,
                                   &list, &n);
    if (p->tranches == NULL)
        return;
    p->ntranches = n;
    int shares_ok = 1;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        cm_tranche_t *t = &p->tranches[i];
        const config_setting_t *te = config_setting_get_elem(list, (unsigned)i);
        t->name_id = -1;
        if (!config_setting_is_group(te)) {
            shares_ok = 0;
            continue;
        }
        if (get_name(c, te, "name", 1, t->name))
            check_unique(c, te, p->tranches, i, sizeof *t, "tranche");
        const config_setting_t *ty = member(c, te, "type", 1,
                                            "\"equity\", \"grant\" or \"debt\"");
        const char *type = NULL;
        int known = 0;
        if (ty != NULL && str_value(c, ty, &type)) {
            known = 1;
            if (strcmp(type, "equity") == 0) {
                t->kind = CM_TRANCHE_EQUITY;
            } else if (strcmp(type, "grant") == 0) {
                t->kind = CM_TRANCHE_GRANT;
            } else if (strcmp(type, "debt") == 0) {
                t->kind = CM_TRANCHE_DEBT;
            } else {
                near_t nr;
                char buf[64];
                near_init(&nr, type);
                near_consider(&nr, "equity");
                near_consider(&nr, "grant");
                near_consider(&nr, "debt");
                report(c, ty, NULL, "expected \"equity\", \"grant\" or \"debt\", got \"%s\"%s",
                       type, hint(&nr, buf, sizeof buf));
                known = 0;
            }
        }
        if (known && t->kind != CM_TRANCHE_DEBT)
            check_keys(c, te, K_TRANCHE,
                       t->kind == CM_TRANCHE_EQUITY ? "an equity tranche" : "a grant tranche");
        else
            check_keys(c, te, K_DEBT, "a debt tranche");
        if (get_num(c, te, "share", 1, 0, R_PROB, &t->share))
            sum += t->share;
        else
            shares_ok = 0;
        if (known && t->kind == CM_TRANCHE_DEBT) {
            get_num(c, te, "rate", 1, 0, R_RATE, &t->rate);
            get_int32(c, te, "tenor", 1, 1, 1, CM_YEARS_MAX, &t->tenor);
            get_int32(c, te, "grace", 0, 0, 0, CM_YEARS_MAX, &t->grace);
            const config_setting_t *am = config_setting_get_member(te, "amortisation");
            const char *a;
            t->amort = CM_AMORT_ANNUITY;
            if (am != NULL && str_value(c, am, &a)) {
                if (strcmp(a, "linear") == 0) {
                    t->amort = CM_AMORT_LINEAR;
                } else if (strcmp(a, "annuity") != 0) {
                    near_t nr;
                    char buf[64];
                    near_init(&nr, a);
                    near_consider(&nr, "annuity");
                    near_consider(&nr, "linear");
                    report(c, am, NULL, "expected \"annuity\" or \"linear\", got \"%s\"%s",
                           a, hint(&nr, buf, sizeof buf));
                }
            }
        }
    }
    if (shares_ok && fabs(sum - 1.0) > SHARE_TOL)
        report(c, list, NULL, "tranche shares sum to %.12g; expected 1 (within %g)",
               sum, SHARE_TOL);
}

static void parse_projects(ctx_t *c, const config_setting_t *root, cm_scenario_t *s,
                           int horizon_ok)
{
    int n;
    const config_setting_t *list;
    s->projects = group_list_alloc(c, root, "projects", 1, NULL, sizeof *s->projects, 0, &list,
                                   &n);
    if (s->projects == NULL)
        return;
    s->nprojects = n;
    for (int i = 0; i < n; i++) {
        cm_project_t *p = &s->projects[i];
        const config_setting_t *el = config_setting_get_elem(list, (unsigned)i);
        p->country = p->mineral = p->route = -1;
        p->capex = p->build_years = p->capacity = p->opex = cm_dist_fixed(0.0);
        p->utilization = cm_dist_fixed(1.0);
        if (!config_setting_is_group(el))
            continue;
        check_keys(c, el, K_PROJECT, "a project");
        if (get_name(c, el, "name", 1, p->name))
            check_unique(c, el, s->projects, i, sizeof *p, "project");
        p->country = get_ref(c, el, "country", 1, s->countries, s->ncountries,
                             sizeof *s->countries, "country", NULL);
        p->mineral = get_ref(c, el, "mineral", 1, s->minerals, s->nminerals,
                             sizeof *s->minerals, "mineral", NULL);
        if (config_setting_get_member(el, "route") != NULL)
            p->route = get_ref(c, el, "route", 0, s->routes, s->nroutes,
                               sizeof *s->routes, "route", NULL);
        get_int32(c, el, "start", 1, 0, 0, horizon_ok ? s->horizon - 1 : INT_MAX,
                  &p->start);
        get_dist(c, el, "capex", 1, 0, R_NONNEG, &p->capex);
        get_dist(c, el, "build_years", 1, 1, R_NONNEG, &p->build_years);
        get_dist(c, el, "capacity", 1, 0, R_NONNEG, &p->capacity);
        int nr = get_num_array(c, el, "ramp_up", 0, CM_RAMP_MAX, R_PROB, p->ramp_up);
        p->nramp = nr > 0 ? nr : 0;
        get_int32(c, el, "life", 1, 1, 1, CM_YEARS_MAX, &p->life);
        get_dist(c, el, "utilization", 1, 1, R_ANY, &p->utilization);
        get_dist(c, el, "opex", 1, 0, R_ANY, &p->opex);
        get_num(c, el, "royalty", 1, 0, R_PROB, &p->royalty);
        get_num(c, el, "tax", 1, 0, R_PROB, &p->tax);
        get_int32(c, el, "depreciation_years", 1, 1, 1, CM_YEARS_MAX, &p->depreciation_years);
        get_num(c, el, "discount_rate", 0, s->discount_rate, R_RATE, &p->discount_rate);
        get_num(c, el, "equity_discount_rate", 0, s->equity_discount_rate, R_RATE,
                &p->equity_discount_rate);
        get_num(c, el, "pri_cover", 0, 0.0, R_PROB, &p->pri_cover);
        parse_financing(c, el, p);
    }
}

/* The distinct tranche names in first-appearance order, and each tranche's
 * index among them. */
static void collect_tranche_names(ctx_t *c, cm_scenario_t *s)
{
    size_t total = 0;
    for (int i = 0; i < s->nprojects; i++)
        total += (size_t)s->projects[i].ntranches;
    if (total == 0)
        return;
    s->tranche_names = calloc(total, sizeof *s->tranche_names);
    if (s->tranche_names == NULL) {
        nomem(c);
        return;
    }
    for (int i = 0; i < s->nprojects; i++) {
        for (int j = 0; j < s->projects[i].ntranches; j++) {
            cm_tranche_t *t = &s->projects[i].tranches[j];
            int k = find_name(s->tranche_names, s->ntranche_names,
                              sizeof *s->tranche_names, t->name);
            if (k < 0) {
                k = s->ntranche_names++;
                memcpy(s->tranche_names[k], t->name, CM_NAME_MAX);
            }
            t->name_id = k;
        }
    }
}

static void check_region(ctx_t *c, const config_setting_t *root, cm_scenario_t *s)
{
    if (s->region[0] == '\0')
        return;
    near_t nr;
    char buf[96];
    near_init(&nr, s->region);
    for (int i = 0; i < s->ncountries; i++) {
        if (strcmp(s->countries[i].region, s->region) == 0)
            return;
        near_consider(&nr, s->countries[i].region);
    }
    const config_setting_t *run = config_setting_get_member(root, "run");
    report(c, run ? config_setting_get_member(run, "region") : root, NULL,
           "no country has region '%s'%s", s->region, hint(&nr, buf, sizeof buf));
}

static void validate(ctx_t *c, const config_setting_t *root, cm_scenario_t *s)
{
    int horizon_ok;
    check_keys(c, root, K_ROOT, "the scenario");
    const config_setting_t *ns = member(c, root, "name", 1, "a string");
    const char *name;
    if (ns != NULL && str_value(c, ns, &name)) {
        size_t len = strlen(name);
        size_t ok = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789_-");
        if (len == 0 || ok != len || len >= sizeof s->name)
            report(c, ns, NULL,
                   "expected a name of 1 to %zu letters, digits, '_' or '-', got \"%s\"",
                   sizeof s->name - 1, name);
        else
            format(s->name, sizeof s->name, "%s", name);
    }
    get_str(c, root, "description", 0, "", s->description, sizeof s->description);
    get_group(c, root, "batch", 0);
    parse_run(c, root, s, &horizon_ok);
    parse_countries(c, root, s);
    parse_routes(c, root, s);
    parse_minerals(c, root, s);
    parse_correlations(c, root, s);
    parse_projects(c, root, s, horizon_ok);
    collect_tranche_names(c, s);
    check_region(c, root, s);
}

/* ======================================================================== */
/* Integer literals libconfig 1.5 wraps                                     */

/* The value libconfig 1.5 stores for an integer literal: it reads a plain
 * one with atoi (strtol, saturating, then cut to 32 bits), a hex one with
 * strtoul cut to 32 bits, and an L one with atoll (saturating). */
static long long cut32(unsigned long long u)
{
    u &= 0xffffffffULL;
    return u > 0x7fffffffULL ? (long long)u - 0x100000000LL : (long long)u;
}

/* Scan libconfig text for integer literals that do not fit their type,
 * appending them to *lits.  Comments and strings are skipped. */
static void scan_text(ctx_t *c, const char *text, const char *cfg_name,
                      literal_t **lits, size_t *n, size_t *cap)
{
    int line = 1;
    const char *p = text;
    while (*p != '\0') {
        if (*p == '\n') {
            line++;
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p != '\0' && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            while (*p != '\0' && !(p[0] == '*' && p[1] == '/')) {
                line += *p == '\n';
                p++;
            }
            if (*p != '\0')
                p += 2;
        } else if (*p == '"') {
            p++;
            while (*p != '\0' && *p != '"') {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                line += *p == '\n';
                p++;
            }
            if (*p != '\0')
                p++;
        } else if (isalpha((unsigned char)*p) || *p == '*' || *p == '_') {
            /* A name or true/false: digits inside are not numbers. */
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '*' || *p == '-')
                p++;
        } else if (isdigit((unsigned char)*p) ||
                   ((*p == '-' || *p == '+') &&
                    (isdigit((unsigned char)p[1]) || p[1] == '.')) ||
                   (*p == '.' && isdigit((unsigned char)p[1]))) {
            const char *start = p;
            int is_float = 0, hex = 0;
            if (*p == '-' || *p == '+')
                p++;
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                hex = 1;
                p += 2;
                while (isxdigit((unsigned char)*p))
                    p++;
            } else {
                while (isdigit((unsigned char)*p))
                    p++;
                if (*p == '.') {
                    is_float = 1;
                    p++;
                    while (isdigit((unsigned char)*p))
                        p++;
                }
                if (*p == 'e' || *p == 'E') {
                    is_float = 1;
                    p++;
                    if (*p == '+' || *p == '-')
                        p++;
                    while (isdigit((unsigned char)*p))
                        p++;
                }
            }
            const char *end = p;
            int is64 = 0;
            if (!is_float && *p == 'L') {
                is64 = 1;
                p++;
                if (*p == 'L')
                    p++;
            }
            if (is_float)
                continue;
            char lit[64];
            size_t len = (size_t)(end - start);
            if (len >= sizeof lit)
                len = sizeof lit - 1;
            memcpy(lit, start, len);
            lit[len] = '\0';
            errno = 0;
            long long misread = 0;
            int bad = 0, fits64 = 0;
            if (hex) {
                unsigned long long u = strtoull(lit, NULL, 16);
                int range = errno == ERANGE;
                if (!is64) {
                    bad = range || u > 0x7fffffffULL;
                    misread = cut32(u);
                    fits64 = !range && u <= (unsigned long long)LLONG_MAX;
                } else {
                    bad = range || u > (unsigned long long)LLONG_MAX;
                    misread = (long long)(u & (unsigned long long)LLONG_MAX);
                }
            } else {
                long long v = strtoll(lit, NULL, 10);
                int range = errno == ERANGE;
                if (!is64) {
                    bad = range || v > INT_MAX || v < INT_MIN;
                    misread = cut32((unsigned long long)v);
                    fits64 = !range;
                } else {
                    bad = range;
                    misread = v;
                }
            }
            if (!bad)
                continue;
            literal_t *more = grow(c, *lits, cap, *n + 1, sizeof **lits);
            if (more == NULL)
                return;
            *lits = more;
            literal_t *l = &(*lits)[(*n)++];
            memset(l, 0, sizeof *l);
            l->cfg_file = cfg_name;
            l->line = line;
            l->is64 = is64;
            l->misread = misread;
            l->end = (size_t)(end - text);
            l->fits64 = fits64;
            format(l->text, sizeof l->text, "%s%s", lit,
                     strlen(lit) < (size_t)(end - start) ? "..." : "");
        } else {
            p++;
        }
    }
}

/* Whole file into a NUL-terminated buffer (caller frees), NULL on error. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    else
        errno = ENOMEM; /* tells the caller why (an injected failure may not set it) */
    return buf;
}

static void literal_message(const literal_t *l, char *buf, size_t size)
{
    if (!l->is64 && !l->fits64)
        format(buf, size, "integer %s does not fit in 64 bits (libconfig would read %lld)",
               l->text, l->misread);
    else if (l->is64)
        format(buf, size, "integer %sL does not fit in 64 bits (libconfig would read %lld)",
                 l->text, l->misread);
    else
        format(buf, size,
                 "integer %s does not fit in 32 bits (libconfig 1.5 would silently "
                 "read %lld); write %sL",
                 l->text, l->misread, l->text);
}

/* Match each literal to the integer setting that holds its misread value on
 * its line, and mark that setting bad. */
static void match_literals(ctx_t *c, const config_setting_t *s, literal_t *lits,
                           size_t n)
{
    int type = config_setting_type(s);
    if (config_setting_is_aggregate(s)) {
        int len = config_setting_length(s);
        for (int i = 0; i < len; i++)
            match_literals(c, config_setting_get_elem(s, (unsigned)i), lits, n);
        return;
    }
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return;
    const char *file = config_setting_source_file(s);
    long long v = type == CONFIG_TYPE_INT ? config_setting_get_int(s)
                                          : config_setting_get_int64(s);
    for (size_t i = 0; i < n; i++) {
        literal_t *l = &lits[i];
        if (l->claimed || file == NULL || strcmp(file, l->cfg_file) != 0 ||
            (int)config_setting_source_line(s) != l->line || l->misread != v ||
            l->is64 != (type == CONFIG_TYPE_INT64))
            continue;
        bad_t *more = grow(c, c->bad, &c->capbad, c->nbad + 1, sizeof *c->bad);
        if (more == NULL)
            return;
        c->bad = more;
        l->claimed = 1;
        bad_t *b = &c->bad[c->nbad++];
        b->setting = s;
        literal_message(l, b->message, sizeof b->message);
        return;
    }
}

/* Find wrapped literals in every file libconfig read. */
static void scan_literals(ctx_t *c, const config_t *cfg)
{
    literal_t *lits = NULL;
    size_t n = 0, cap = 0;
    for (unsigned i = 0; i < cfg->num_filenames; i++) {
        char path[1024];
        display_file(c, cfg->filenames[i], path, sizeof path);
        errno = 0;
        char *text = read_text(path);
        if (text == NULL) {
            /* without the text the 32-bit overflow check cannot run: fail */
            if (errno == ENOMEM)
                nomem(c);
            else
                cm_diag_add(c->diag, CM_EIO, path, 0, "",
                            "cannot read again to check its integers: %s", strerror(errno));
            c->errors++;
            continue;
        }
        scan_text(c, text, cfg->filenames[i], &lits, &n, &cap);
        free(text);
    }
    match_literals(c, config_root_setting(cfg), lits, n);
    for (size_t i = 0; i < n; i++) {
        if (lits[i].claimed)
            continue;
        char msg[320], file[256];
        literal_message(&lits[i], msg, sizeof msg);
        display_file(c, lits[i].cfg_file, file, sizeof file);
        cm_diag_add(c->diag, CM_ECONFIG, file, lits[i].line, "", "%s", msg);
        c->errors++;
    }
    free(lits);
}

/* ======================================================================== */
/* Overrides                                                                */

/* Copy src (parsed from an override value) as a new child of parent, with
 * the given source line and file; NULL when libconfig refuses. */
static config_setting_t *copy_setting(config_setting_t *parent, const char *name,
                                      const config_setting_t *src, unsigned line,
                                      const char *file)
{
    int type = config_setting_type(src);
    if (config_setting_is_array(parent) && !config_setting_is_scalar(src))
        return NULL;
    config_setting_t *d =
        config_setting_add(parent, config_setting_is_group(parent) ? name : NULL, type);
    if (d == NULL)
        return NULL;
    /* The public struct's source fields: point messages at the setting the
     * override replaced. */
    d->line = line;
    d->file = file;
    switch (type) {
    case CONFIG_TYPE_INT:
        config_setting_set_int(d, config_setting_get_int(src));
        break;
    case CONFIG_TYPE_INT64:
        config_setting_set_int64(d, config_setting_get_int64(src));
        break;
    case CONFIG_TYPE_FLOAT:
        config_setting_set_float(d, config_setting_get_float(src));
        break;
    case CONFIG_TYPE_BOOL:
        config_setting_set_bool(d, config_setting_get_bool(src));
        break;
    case CONFIG_TYPE_STRING:
        if (!config_setting_set_string(d, config_setting_get_string(src)))
            return NULL;
        break;
    default:
        for (int i = 0; i < config_setting_length(src); i++) {
            const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
            if (copy_setting(d, config_setting_name(e), e, line, file) == NULL)
                return NULL;
        }
        break;
    }
    return d;
}

/* 1 when s is inside the subtree rooted at top. */
static int under(const config_setting_t *s, const config_setting_t *top)
{
    for (; s != NULL; s = config_setting_parent(s))
        if (s == top)
            return 1;
    return 0;
}

/* Forget the bad and overridden marks inside a subtree about to go. */
static void forget_subtree(ctx_t *c, const config_setting_t *top)
{
    size_t k = 0;
    for (size_t i = 0; i < c->nbad; i++)
        if (!under(c->bad[i].setting, top))
            c->bad[k++] = c->bad[i];
    c->nbad = k;
    k = 0;
    for (size_t i = 0; i < c->nover; i++)
        if (!under(c->over[i], top))
            c->over[k++] = c->over[i];
    c->nover = k;
}

/* Child of cur named comp: a member of a group, or the element of a list of
 * groups whose name is comp. */
static config_setting_t *child_named(const config_setting_t *cur, const char *comp)
{
    if (config_setting_is_group(cur))
        return config_setting_get_member(cur, comp);
    if (config_setting_is_list(cur)) {
        for (int i = 0; i < config_setting_length(cur); i++) {
            config_setting_t *e = config_setting_get_elem(cur, (unsigned)i);
            const char *nm;
            if (config_setting_is_group(e) && config_setting_lookup_string(e, "name", &nm) &&
                strcmp(nm, comp) == 0)
                return e;
        }
    }
    return NULL;
}

/* The valid paths under cur closest to the missing component comp. */
static void suggest_paths(const config_setting_t *cur, const char *prefix,
                          const char *comp, char *buf, size_t size)
{
    near_t nr;
    char names[8][CM_NAME_MAX + 16];
    int nn = 0, len = config_setting_is_aggregate(cur) ? config_setting_length(cur) : 0;
    near_init(&nr, comp);
    buf[0] = '\0';
    for (int i = 0; i < len; i++) {
        const config_setting_t *e = config_setting_get_elem(cur, (unsigned)i);
        const char *nm = config_setting_name(e);
        if (nm == NULL && config_setting_is_group(e))
            config_setting_lookup_string(e, "name", &nm);
        if (nm != NULL)
            near_consider(&nr, nm);
        if (nn < 8) {
            if (nm != NULL)
                format(names[nn++], sizeof names[0], "%s", nm);
            else
                format(names[nn++], sizeof names[0], "[%d]", i);
        }
    }
    const char *dot = prefix[0] ? "." : "";
    if (nr.best != NULL) {
        format(buf, size, " (did you mean '%s%s%s'?)", prefix, dot, nr.best);
        return;
    }
    if (nn == 0)
        return;
    append(buf, size, " (valid here: ");
    for (int i = 0; i < nn; i++)
        append(buf, size, "%s%s%s%s", i ? ", " : "", prefix, dot, names[i]);
    append(buf, size, "%s)", len > nn ? ", ..." : "");
}

/* Apply one override to the tree: find the setting by path, parse the
 * value, and put the value in the setting's place (a missing last
 * component that the group's schema accepts is added). */
static void apply_override(ctx_t *c, config_t *cfg, const cm_override_t *o)
{
    const char *opath = o->path ? o->path : "";
    const char *value = o->value ? o->value : "";
    char comps[1024], prefix[512] = "", buf[400];
    config_setting_t *cur = config_root_setting(cfg), *target = NULL;
    const char *missing = NULL;

    size_t plen = strlen(opath);
    if (plen == 0 || 2 * plen >= sizeof comps || opath[plen - 1] == '.') {
        report_override(c, opath, "expected a setting path such as run.paths or "
                                  "projects.kz_cu.capex");
        return;
    }
    /* "a[1].b" and "a.[1].b" are the same path: split at '.' and '['. */
    size_t k = 0;
    for (const char *p = opath; *p != '\0'; p++) {
        if (*p == '[' && k > 0 && comps[k - 1] != '\0')
            comps[k++] = '\0';
        comps[k++] = *p == '.' ? '\0' : *p;
    }
    comps[k] = '\0';
    for (size_t i = 0; i < k; i += strlen(comps + i) + 1) {
        const char *comp = comps + i;
        int last = i + strlen(comp) + 1 > k;
        config_setting_t *next = NULL;
        if (comp[0] == '\0') {
            report_override(c, opath, "empty component in the path");
            return;
        }
        if (comp[0] == '[') {
            char *end;
            long idx = strtol(comp + 1, &end, 10);
            if (end == comp + 1 || strcmp(end, "]") != 0 || idx < 0) {
                report_override(c, opath, "'%s' is not a list index like [0]", comp);
                return;
            }
            if ((config_setting_is_list(cur) || config_setting_is_array(cur)) &&
                idx < config_setting_length(cur))
                next = config_setting_get_elem(cur, (unsigned)idx);
        } else {
            next = child_named(cur, comp);
        }
        if (next == NULL) {
            const char *const *keys = group_keys(cur);
            if (last && comp[0] != '[' && keys != NULL && in_keys(keys, comp)) {
                missing = comp;
                break;
            }
            suggest_paths(cur, prefix, comp, buf, sizeof buf);
            report_override(c, opath, "no setting '%s'%s%s%s%s", comp,
                            prefix[0] ? " in '" : "", prefix, prefix[0] ? "'" : "", buf);
            return;
        }
        append(prefix, sizeof prefix, "%s%s", prefix[0] ? "." : "", comp);
        cur = next;
    }
    if (missing == NULL)
        target = cur;

    /* Parse the value as the right-hand side of a setting. */
    size_t vlen = strlen(value) + 16;
    char *text = malloc(vlen);
    if (text == NULL) {
        nomem(c);
        return;
    }
    format(text, vlen, "v = %s;", value);
    /* A value typed on a command line cannot be expected to know libconfig's
     * L suffix: integers that need 64 bits get it here (files must say it). */
    literal_t *lits = NULL;
    size_t nl = 0, cl = 0;
    scan_text(c, text, "", &lits, &nl, &cl);
    for (size_t i = 0; i < nl; i++) {
        if (!lits[i].fits64) {
            char msg[320];
            literal_message(&lits[i], msg, sizeof msg);
            report_override(c, opath, "%s", msg);
            free(lits);
            free(text);
            return;
        }
    }
    if (nl > 0) {
        size_t tlen = strlen(text);
        char *wide = malloc(tlen + nl + 1);
        if (wide == NULL) {
            nomem(c);
            free(lits);
            free(text);
            return;
        }
        size_t from = 0, to = 0;
        for (size_t i = 0; i < nl; i++) {
            memcpy(wide + to, text + from, lits[i].end - from);
            to += lits[i].end - from;
            from = lits[i].end;
            wide[to++] = 'L';
        }
        memcpy(wide + to, text + from, tlen - from + 1);
        free(text);
        text = wide;
    }
    free(lits);
    config_t vc;
    config_init(&vc);
    if (!config_read_string(&vc, text)) {
        report_override(c, opath, "cannot parse the value '%s': %s", value,
                        config_error_text(&vc) ? config_error_text(&vc) : "syntax error");
        config_destroy(&vc);
        free(text);
        return;
    }
    free(text);
    const config_setting_t *v = config_lookup(&vc, "v");
    config_setting_t *parent = target ? config_setting_parent(target) : cur;
    unsigned line = config_setting_source_line(target ? target : cur);
    const char *file = config_setting_source_file(target ? target : cur);
    if (v == NULL || (config_setting_is_array(parent) && !config_setting_is_scalar(v))) {
        report_override(c, opath, "an array element must be a number, string or boolean");
        config_destroy(&vc);
        return;
    }
    char name[256];
    int idx = -1;
    format(name, sizeof name, "%s",
             target ? (config_setting_name(target) ? config_setting_name(target) : "")
                    : missing);
    if (target != NULL) {
        idx = config_setting_index(target);
        forget_subtree(c, target);
        config_setting_remove_elem(parent, (unsigned)idx);
    }
    config_setting_t *d = copy_setting(parent, name, v, line, file);
    config_destroy(&vc);
    if (d == NULL) {
        report_override(c, opath, "libconfig refused the value '%s' here", value);
        return;
    }
    if (idx >= 0) {
        /* Back to the replaced setting's place (config_setting_add appends);
         * config_list_t is part of libconfig's public header. */
        config_list_t *l = parent->value.list;
        unsigned at = (unsigned)idx;
        memmove(&l->elements[at + 1], &l->elements[at],
                (l->length - 1 - at) * sizeof l->elements[0]);
        l->elements[at] = d;
    }
    const config_setting_t **more = grow(c, c->over, &c->capover, c->nover + 1,
                                         sizeof *c->over);
    if (more != NULL) {
        c->over = more;
        c->over[c->nover++] = d;
    }
}

/* ======================================================================== */
/* Entry point                                                              */

/* Why a file cannot be read: errno of opening it or of its first read. */
static int read_errno(const char *path)
{
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno;
    int err = 0;
    if (fgetc(f) == EOF && ferror(f))
        err = errno;
    fclose(f);
    return err;
}

/* The first "quoted" string on a line of a file into buf; 0 when none. */
static int quoted_on_line(const char *path, int line, char *buf, size_t size)
{
    char *text = read_text(path);
    const char *p = text;
    int found = 0;
    buf[0] = '\0';
    for (int l = 1; p != NULL && *p != '\0' && l < line; p++)
        l += *p == '\n';
    if (p != NULL) {
        const char *q = strchr(p, '"');
        const char *eol = strchr(p, '\n');
        if (q != NULL && (eol == NULL || q < eol)) {
            const char *e = strchr(q + 1, '"');
            if (e != NULL && (eol == NULL || e < eol) && (size_t)(e - q - 1) < size) {
                memcpy(buf, q + 1, (size_t)(e - q - 1));
                buf[e - q - 1] = '\0';
                found = 1;
            }
        }
    }
    free(text);
    return found;
}

/* Limits checked before libconfig sees a file: libconfig 1.5 checks every
 * new setting against all its siblings (quadratic time: 40 000 keys in one
 * group take a minute) and exits the process on an @include of a folder.
 * The largest real scenario (the default batch) is about 60 KB with 1 500
 * assignments; the 100-project benchmark portfolio about 7 000. */
#define CM_CONFIG_MAX_BYTES (16u << 20)
#define CM_CONFIG_MAX_ASSIGNMENTS 20000u
#define CM_CONFIG_MAX_DEPTH 10

/* Check file (and, recursively, the files it includes) before parsing:
 * sizes, the number of assignments, and that every @include names a
 * regular file.  Missing includes are left to libconfig, which reports
 * them.  Returns 0 or an error code (diagnostic added). */
static int prescan(ctx_t *c, const char *file, int depth, size_t *bytes, size_t *assigns)
{
    struct stat st;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return CM_EOK; /* libconfig reports unreadable files itself */
    if ((uint64_t)st.st_size + *bytes > CM_CONFIG_MAX_BYTES)
        return cm_diag_add(c->diag, CM_ECONFIG, file, 0, "",
                           "%.1f MB of scenario text; scenario files (with their includes) "
                           "are limited to %u MB",
                           (double)((uint64_t)st.st_size + *bytes) / (1 << 20),
                           CM_CONFIG_MAX_BYTES >> 20);
    FILE *f = fopen(file, "rb");
    if (f == NULL)
        return CM_EOK;
    char *text = malloc((size_t)st.st_size + 1);
    if (text == NULL) {
        fclose(f);
        return cm_diag_add(c->diag, CM_ENOMEM, file, 0, "", "out of memory");
    }
    size_t n = fread(text, 1, (size_t)st.st_size, f);
    fclose(f);
    text[n] = '\0';
    *bytes += n;
    const char *nul = memchr(text, '\0', n);
    if (nul != NULL) {
        /* libconfig's scanner reads past a NUL in odd ways (an @include
         * name cut at one made it exit the process): scenario files are
         * text, so refuse binary data outright */
        int at = 1;
        for (const char *p = text; p < nul; p++)
            at += *p == '\n';
        free(text);
        return cm_diag_add(c->diag, CM_ECONFIG, file, at, "",
                           "holds a NUL byte: scenario files are text, not binary data");
    }
    int rc = CM_EOK, line = 1;
    for (size_t i = 0; i < n && rc == CM_EOK; i++) {
        if (text[i] == '=' || text[i] == ':')
            (*assigns)++;
        if (text[i] == '\n')
            line++;
        /* an @include at the start of a line (after blanks) */
        if (text[i] != '@' || strncmp(text + i, "@include", 8) != 0)
            continue;
        size_t k = i;
        while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t'))
            k--;
        if (k > 0 && text[k - 1] != '\n')
            continue;
        const char *q = text + i + 8;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '"')
            continue;
        const char *e = q + 1;
        while (*e != '\0' && *e != '"' && *e != '\n')
            e += (*e == '\\' && e[1] != '\0') ? 2 : 1;
        if (*e != '"')
            continue;
        /* the name with libconfig's string escapes decoded */
        char inc[1024], full[2048];
        size_t m = 0;
        for (const char *r = q + 1; r < e && m + 1 < sizeof inc; r++) {
            char ch = *r;
            if (ch == '\\' && r + 1 < e) {
                char x = *++r;
                ch = x == 'n' ? '\n' : x == 't' ? '\t' : x == 'r' ? '\r' : x == 'f' ? '\f' : x;
                if (x == 'x' && r + 2 < e + 1 && isxdigit((unsigned char)r[1]) &&
                    isxdigit((unsigned char)r[2])) {
                    char hex[3] = {r[1], r[2], '\0'};
                    ch = (char)strtoul(hex, NULL, 16);
                    r += 2;
                }
            }
            inc[m++] = ch;
        }
        inc[m] = '\0';
        if (inc[0] != '/' && c->include_dir[0] != '\0')
            format(full, sizeof full, "%s/%s", c->include_dir, inc);
        else
            format(full, sizeof full, "%s", inc);
        struct stat ist;
        if (stat(full, &ist) != 0)
            continue; /* libconfig says it is missing */
        if (!S_ISREG(ist.st_mode)) {
            rc = cm_diag_add(c->diag, CM_ECONFIG, file, line, "",
                             "@include \"%s\": %s is not a regular file", inc, full);
            break;
        }
        if (depth + 1 >= CM_CONFIG_MAX_DEPTH) {
            rc = cm_diag_add(c->diag, CM_ECONFIG, file, line, "",
                             "@include \"%s\": includes nested more than %d deep (a loop?)",
                             inc, CM_CONFIG_MAX_DEPTH);
            break;
        }
        rc = prescan(c, full, depth + 1, bytes, assigns);
    }
    free(text);
    if (rc == CM_EOK && depth == 0 && *assigns > CM_CONFIG_MAX_ASSIGNMENTS)
        rc = cm_diag_add(c->diag, CM_ECONFIG, file, 0, "",
                         "%zu settings; scenario files (with their includes) are limited "
                         "to %u",
                         *assigns, CM_CONFIG_MAX_ASSIGNMENTS);
    return rc;
}

/* Set up c for file and read it into cfg, with includes resolved against
 * the file's folder.  Returns 0, CM_EIO or CM_ECONFIG (diagnostic added;
 * cfg is then destroyed). */
static int read_config(ctx_t *c, config_t *cfg, const char *file, cm_diag_t *diag)
{
    memset(c, 0, sizeof *c);
    c->file = file ? file : "";
    c->diag = diag;
    config_init(cfg);

    /* Includes resolve against the including file's folder. */
    const char *slash = strrchr(c->file, '/');
    if (slash != NULL) {
        size_t len = (size_t)(slash - c->file);
        if (len == 0)
            len = 1; /* the file sits in "/" */
        if (len < sizeof c->include_dir) {
            memcpy(c->include_dir, c->file, len);
            c->include_dir[len] = '\0';
            config_set_include_dir(cfg, c->include_dir);
        }
    }

    size_t bytes = 0, assigns = 0;
    int prc = prescan(c, c->file, 0, &bytes, &assigns);
    if (prc != CM_EOK) {
        config_destroy(cfg);
        return prc;
    }

    errno = 0;
    if (!config_read_file(cfg, c->file)) {
        int rc, err = errno;
        if (config_error_file(cfg) == NULL && config_error_type(cfg) == CONFIG_ERR_FILE_IO) {
            if (err == 0)
                err = read_errno(c->file); /* e.g. a folder opens, then fails */
            cm_diag_add(diag, CM_EIO, c->file, 0, "", "cannot read the scenario file: %s",
                        err ? strerror(err) : "unknown error");
            rc = CM_EIO;
        } else {
            char where[256], msg[512], inc[256];
            c->main_cfg_name = cfg->num_filenames > 0 ? cfg->filenames[0] : c->file;
            display_file(c, config_error_file(cfg), where, sizeof where);
            format(msg, sizeof msg, "%s",
                     config_error_text(cfg) ? config_error_text(cfg) : "syntax error");
            if (strstr(msg, "include") != NULL &&
                quoted_on_line(where, config_error_line(cfg), inc, sizeof inc))
                append(msg, sizeof msg, " \"%s\" (looked for %s%s%s%s%s)", inc,
                       c->include_dir, c->include_dir[0] ? "/" : "", inc,
                       err ? ": " : "", err ? strerror(err) : "");
            cm_diag_add(diag, CM_ECONFIG, where, config_error_line(cfg), "", "%s", msg);
            rc = CM_ECONFIG;
        }
        config_destroy(cfg);
        return rc;
    }
    c->main_cfg_name = cfg->num_filenames > 0 ? cfg->filenames[0] : c->file;
    return CM_EOK;
}

int cm_config_load(const char *file, const cm_override_t *overrides,
                   size_t noverrides, cm_scenario_t *out, cm_diag_t *diag)
{
    ctx_t c;
    config_t cfg;
    int rc = CM_EOK;

    gsl_set_error_handler_off();
    cm_scenario_init(out);
    const size_t dropped_before = diag != NULL ? diag->dropped : 0;
    rc = read_config(&c, &cfg, file, diag);
    if (rc != CM_EOK)
        return rc;

    scan_literals(&c, &cfg);
    for (size_t i = 0; i < noverrides; i++)
        apply_override(&c, &cfg, &overrides[i]);
    for (size_t i = 0; i < c.nbad; i++)
        report(&c, c.bad[i].setting, NULL, "%s", c.bad[i].message);

    validate(&c, config_root_setting(&cfg), out);

    if (c.nomem || (diag != NULL && diag->dropped > dropped_before))
        rc = CM_ENOMEM; /* memory ran out, even if only for a message */
    else if (c.errors > 0)
        rc = CM_ECONFIG;
    if (rc == CM_EOK) {
        format(out->file, sizeof out->file, "%s", c.file);
        cm_scenario_derive_keys(out);
    } else {
        cm_scenario_free(out);
    }
    free(c.bad);
    free(c.over);
    config_destroy(&cfg);
    return rc;
}

/* ======================================================================== */
/* Batches: a reference scenario, variants and sweeps                      */

static const char *const K_BATCH[] = {"reference", "variants", "sweeps", NULL};
static const char *const K_VARIANT[] = {"name", "description", "set", NULL};
static const char *const K_SET[] = {"path", "paths", "value", NULL};
static const char *const K_SWEEP[] = {"name", "description", "base", "parameters", NULL};
static const char *const K_PARAM[] = {"path", "paths", "balance", "total", "values",
                                      "start", "stop", "step", NULL};

/* Most scenarios one sweep may expand into. */
#define CM_SWEEP_MAX 10000

/* A growing string. */
typedef struct {
    char *s;
    size_t len, cap;
    int nomem;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf_t *b, const char *fmt, ...)
{
    if (b->nomem)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int w = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->nomem = 1;
            return;
        }
        if ((size_t)w < room) {
            b->len += (size_t)w;
            return;
        }
        size_t ncap = b->cap ? 2 * b->cap : 128;
        while (ncap < b->len + (size_t)w + 1)
            ncap *= 2;
        char *p = realloc(b->s, ncap);
        if (p == NULL) {
            b->nomem = 1;
            return;
        }
        b->s = p;
        b->cap = ncap;
    }
}

/* A double written so that libconfig reads it back as the same float. */
static void sb_float(sbuf_t *b, double v)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.17g", v);
    for (char *p = tmp; *p; p++)
        if (*p == ',')
            *p = '.'; /* a locale with decimal commas */
    sb_add(b, "%s%s", tmp, strpbrk(tmp, ".eEn") ? "" : ".0");
}

/* A setting's value in libconfig syntax (what an override takes). */
static void value_text(sbuf_t *b, const config_setting_t *s)
{
    int n = config_setting_length(s);
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        sb_add(b, "%d", config_setting_get_int(s));
        break;
    case CONFIG_TYPE_INT64:
        sb_add(b, "%lldL", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        sb_float(b, config_setting_get_float(s));
        break;
    case CONFIG_TYPE_BOOL:
        sb_add(b, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        sb_add(b, "\"");
        for (const char *p = config_setting_get_string(s); *p; p++) {
            if (*p == '"' || *p == '\\')
                sb_add(b, "\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                sb_add(b, "\\x%02x", (unsigned char)*p);
            else
                sb_add(b, "%c", *p);
        }
        sb_add(b, "\"");
        break;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        sb_add(b, "%s", config_setting_type(s) == CONFIG_TYPE_ARRAY ? "[" : "(");
        for (int i = 0; i < n; i++) {
            if (i > 0)
                sb_add(b, ", ");
            value_text(b, config_setting_get_elem(s, (unsigned)i));
        }
        sb_add(b, "%s", config_setting_type(s) == CONFIG_TYPE_ARRAY ? "]" : ")");
        break;
    case CONFIG_TYPE_GROUP:
        sb_add(b, "{ ");
        for (int i = 0; i < n; i++) {
            const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
            sb_add(b, "%s = ", config_setting_name(m));
            value_text(b, m);
            sb_add(b, "; ");
        }
        sb_add(b, "}");
        break;
    default:
        break;
    }
}

/* One scenario of the batch before loading: a name and its overrides. */
typedef struct {
    char name[CM_NAME_MAX];
    char description[512];
    const config_setting_t *where; /* the setting that defines it */
    size_t n, cap;
    char **paths, **values;        /* owned */
} variant_t;

static void variant_free(variant_t *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->paths[i]);
        free(v->values[i]);
    }
    free(v->paths);
    free(v->values);
    memset(v, 0, sizeof *v);
}

static int variant_add(ctx_t *c, variant_t *v, const char *path, const char *value)
{
    size_t cap = v->cap;
    char **p = grow(c, v->paths, &cap, v->n + 1, sizeof *p);
    if (p == NULL)
        return 0;
    v->paths = p;
    cap = v->cap;
    char **q = grow(c, v->values, &cap, v->n + 1, sizeof *q);
    if (q == NULL)
        return 0;
    v->values = q;
    v->cap = cap;
    char *a = strdup(path), *b = strdup(value);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        nomem(c);
        return 0;
    }
    v->paths[v->n] = a;
    v->values[v->n] = b;
    v->n++;
    return 1;
}

static int variant_copy(ctx_t *c, variant_t *dst, const variant_t *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (!variant_add(c, dst, src->paths[i], src->values[i]))
            return 0;
    return 1;
}

/* The setting paths named by g.path (a string) and/or g.paths (strings),
 * or g.<key> alone when key is given.  Calls fn for each; returns the count,
 * 0 after an error. */
static int each_path(ctx_t *c, const config_setting_t *g, const char *key,
                     const char **out, int max)
{
    int n = 0;
    const char *keys[2] = {key ? key : "path", key ? NULL : "paths"};
    for (int k = 0; k < 2; k++) {
        if (keys[k] == NULL)
            continue;
        const config_setting_t *s = config_setting_get_member(g, keys[k]);
        if (s == NULL)
            continue;
        if (config_setting_type(s) == CONFIG_TYPE_STRING) {
            if (n < max)
                out[n++] = config_setting_get_string(s);
            continue;
        }
        if (config_setting_type(s) != CONFIG_TYPE_ARRAY || config_setting_length(s) == 0) {
            report(c, s, NULL, "expected a setting path or a non-empty array of them, got %s",
                   type_name(s));
            return 0;
        }
        for (int i = 0; i < config_setting_length(s); i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                report(c, e, NULL, "expected a setting path (string), got %s", type_name(e));
                return 0;
            }
            if (n < max)
                out[n++] = config_setting_get_string(e);
        }
    }
    if (n == 0 && key == NULL)
        report(c, g, "path", "missing: give `path` or `paths`");
    if (n >= max) {
        report(c, g, NULL, "too many paths (at most %d)", max - 1);
        return 0;
    }
    return n;
}

#define CM_PATHS_MAX 256

static void parse_variant(ctx_t *c, const config_setting_t *g, variant_t *v)
{
    check_keys(c, g, K_VARIANT, "a batch variant");
    v->where = g;
    get_name(c, g, "name", 1, v->name);
    get_str(c, g, "description", 0, "", v->description, sizeof v->description);
    const config_setting_t *set = config_setting_get_member(g, "set");
    if (set == NULL)
        return; /* a variant with no change: the reference under another name */
    if (config_setting_type(set) != CONFIG_TYPE_LIST) {
        report(c, set, NULL, "expected a list ( { path = ...; value = ...; }, ... ), got %s",
               type_name(set));
        return;
    }
    for (int i = 0; i < config_setting_length(set); i++) {
        const config_setting_t *e = config_setting_get_elem(set, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            report(c, e, NULL, "expected a group { path = ...; value = ...; }, got %s",
                   type_name(e));
            continue;
        }
        check_keys(c, e, K_SET, "a batch setting");
        const char *paths[CM_PATHS_MAX];
        int np = each_path(c, e, NULL, paths, CM_PATHS_MAX);
        const config_setting_t *val = config_setting_get_member(e, "value");
        if (val == NULL) {
            report(c, e, "value", "missing required setting (the new value)");
            continue;
        }
        sbuf_t b = {0};
        value_text(&b, val);
        if (b.nomem)
            nomem(c);
        for (int k = 0; k < np && !b.nomem; k++)
            variant_add(c, v, paths[k], b.s ? b.s : "");
        free(b.s);
    }
}

/* A number rounded to 12 significant digits (sweep values). */
static double round12(double v)
{
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.12g", v);
    return strtod(tmp, NULL);
}

typedef struct {
    const char *paths[CM_PATHS_MAX];
    int np;
    const char *balance[CM_PATHS_MAX];
    int nb;
    double total;
    double *values;
    int nvalues;
} param_t;

static int parse_param(ctx_t *c, const config_setting_t *g, param_t *p)
{
    memset(p, 0, sizeof *p);
    check_keys(c, g, K_PARAM, "a sweep parameter");
    p->np = each_path(c, g, NULL, p->paths, CM_PATHS_MAX);
    if (p->np == 0)
        return 0;
    if (config_setting_get_member(g, "balance") != NULL) {
        p->nb = each_path(c, g, "balance", p->balance, CM_PATHS_MAX);
        if (p->nb == 0 || !get_num(c, g, "total", 1, 0.0, R_ANY, &p->total))
            return 0;
    } else if (config_setting_get_member(g, "total") != NULL) {
        report(c, config_setting_get_member(g, "total"), NULL,
               "`total` only goes with `balance`");
        return 0;
    }
    const config_setting_t *vals = config_setting_get_member(g, "values");
    int has_range = config_setting_get_member(g, "start") != NULL ||
                    config_setting_get_member(g, "stop") != NULL ||
                    config_setting_get_member(g, "step") != NULL;
    if ((vals != NULL) == has_range) {
        report(c, g, NULL, "give either `values` or `start`, `stop` and `step`");
        return 0;
    }
    if (vals != NULL) {
        int n = config_setting_length(vals);
        if (config_setting_type(vals) != CONFIG_TYPE_ARRAY || n == 0) {
            report(c, vals, NULL, "expected a non-empty array of numbers, got %s",
                   type_name(vals));
            return 0;
        }
        p->values = calloc((size_t)n, sizeof *p->values);
        if (p->values == NULL) {
            nomem(c);
            return 0;
        }
        for (int i = 0; i < n; i++)
            if (!num_value(c, config_setting_get_elem(vals, (unsigned)i), &p->values[i]))
                return 0;
        p->nvalues = n;
        return 1;
    }
    double start, stop, step;
    /* all three read (each reports its own problem) before giving up */
    int ok_start = get_num(c, g, "start", 1, 0.0, R_ANY, &start);
    int ok_stop = get_num(c, g, "stop", 1, 0.0, R_ANY, &stop);
    int ok_step = get_num(c, g, "step", 1, 0.0, R_ANY, &step);
    if (!ok_start || !ok_stop || !ok_step)
        return 0;
    const config_setting_t *st = config_setting_get_member(g, "step");
    if (step == 0.0 || (stop - start) / step < 0.0) {
        report(c, st, NULL, "step %g does not lead from start %g to stop %g", step, start, stop);
        return 0;
    }
    double count = floor((stop - start) / step + 1e-9) + 1.0;
    if (count > CM_SWEEP_MAX) {
        report(c, st, NULL, "the range gives %.0f values; at most %d", count, CM_SWEEP_MAX);
        return 0;
    }
    p->nvalues = (int)count;
    p->values = calloc((size_t)p->nvalues, sizeof *p->values);
    if (p->values == NULL) {
        nomem(c);
        return 0;
    }
    for (int i = 0; i < p->nvalues; i++)
        p->values[i] = start + i * step;
    return 1;
}

/* Expand sweep g into variants appended to *vars. */
static void parse_sweep(ctx_t *c, const config_setting_t *g, variant_t **vars, size_t *nvars,
                        size_t *capvars, size_t nplain)
{
    check_keys(c, g, K_SWEEP, "a batch sweep");
    char name[CM_NAME_MAX], base[CM_NAME_MAX], desc[512];
    if (!get_name(c, g, "name", 1, name))
        return;
    get_str(c, g, "description", 0, "", desc, sizeof desc);
    /* an index, not a pointer: *vars moves as it grows */
    size_t from = SIZE_MAX;
    if (config_setting_get_member(g, "base") != NULL) {
        if (!get_name(c, g, "base", 1, base))
            return;
        for (size_t i = 1; i < nplain; i++)
            if (strcmp((*vars)[i].name, base) == 0)
                from = i;
        if (from == SIZE_MAX) {
            report(c, config_setting_get_member(g, "base"), NULL,
                   "no variant named '%s' (a sweep's base must be a variant defined above)",
                   base);
            return;
        }
    }
    const config_setting_t *params = config_setting_get_member(g, "parameters");
    if (params == NULL || config_setting_type(params) != CONFIG_TYPE_LIST ||
        config_setting_length(params) == 0) {
        if (params == NULL)
            report(c, g, "parameters", "missing required setting (a list of parameters)");
        else
            report(c, params, NULL, "expected a non-empty list of parameter groups, got %s",
                   type_name(params));
        return;
    }
    int np = config_setting_length(params);
    param_t *ps = calloc((size_t)np, sizeof *ps);
    if (ps == NULL) {
        nomem(c);
        return;
    }
    int ok = 1;
    double total = 1.0;
    for (int i = 0; i < np; i++) {
        const config_setting_t *e = config_setting_get_elem(params, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            report(c, e, NULL, "expected a parameter group, got %s", type_name(e));
            ok = 0;
            continue;
        }
        ok &= parse_param(c, e, &ps[i]);
        total *= ps[i].nvalues;
    }
    if (ok && total > CM_SWEEP_MAX) {
        report(c, params, NULL, "the sweep expands into %.0f scenarios; at most %d", total,
               CM_SWEEP_MAX);
        ok = 0;
    }
    int ncomb = ok ? (int)total : 0;
    int width = snprintf(NULL, 0, "%d", ncomb);
    for (int k = 0; k < ncomb && !c->nomem; k++) {
        variant_t *nv = grow(c, *vars, capvars, *nvars + 1, sizeof **vars);
        if (nv == NULL)
            break;
        *vars = nv;
        variant_t *v = &nv[(*nvars)++];
        memset(v, 0, sizeof *v);
        v->where = g;
        format(v->name, sizeof v->name, "%s_%0*d", name, width, k + 1);
        format(v->description, sizeof v->description, "%s%s", desc, desc[0] ? ": " : "");
        if (from != SIZE_MAX) {
            variant_copy(c, v, &nv[from]);
            append(v->description, sizeof v->description, "%s + ", nv[from].name);
        }
        int rest = k; /* the last parameter varies fastest */
        for (int i = 0; i < np; i++) {
            int stride = 1;
            for (int j = i + 1; j < np; j++)
                stride *= ps[j].nvalues;
            int idx = (rest / stride) % ps[i].nvalues;
            double val = round12(ps[i].values[idx]);
            sbuf_t b = {0};
            sb_float(&b, val);
            for (int q = 0; q < ps[i].np && !b.nomem; q++)
                variant_add(c, v, ps[i].paths[q], b.s);
            append(v->description, sizeof v->description, "%s%s = %.12g", i ? ", " : "",
                   ps[i].paths[0], val);
            if (ps[i].np > 1)
                append(v->description, sizeof v->description, " (and %d more)", ps[i].np - 1);
            if (ps[i].nb > 0) {
                b.len = 0;
                sb_float(&b, round12(ps[i].total - val));
                for (int q = 0; q < ps[i].nb && !b.nomem; q++)
                    variant_add(c, v, ps[i].balance[q], b.s);
            }
            if (b.nomem)
                nomem(c);
            free(b.s);
        }
    }
    for (int i = 0; i < np; i++)
        free(ps[i].values);
    free(ps);
}

void cm_batch_init(cm_batch_t *b)
{
    memset(b, 0, sizeof *b);
}

void cm_batch_free(cm_batch_t *b)
{
    if (b == NULL)
        return;
    for (int i = 0; i < b->nscen; i++)
        cm_scenario_free(&b->scen[i]);
    free(b->scen);
    memset(b, 0, sizeof *b);
}

int cm_batch_load(const char *file, const cm_override_t *cli, size_t ncli,
                  const char *only, cm_batch_t *out, cm_diag_t *diag)
{
    ctx_t c;
    config_t cfg;
    cm_batch_init(out);
    int rc = read_config(&c, &cfg, file, diag);
    if (rc != CM_EOK)
        return rc;
    const config_setting_t *root = config_root_setting(&cfg);
    const config_setting_t *batch = config_setting_get_member(root, "batch");
    const config_setting_t *nm = config_setting_get_member(root, "name");
    if (nm != NULL && config_setting_type(nm) == CONFIG_TYPE_STRING)
        format(out->name, sizeof out->name, "%s", config_setting_get_string(nm));

    variant_t *vars = NULL; /* vars[0] is the reference */
    size_t nvars = 0, capvars = 0;
    vars = grow(&c, NULL, &capvars, 8, sizeof *vars);
    if (vars != NULL) {
        memset(&vars[0], 0, sizeof vars[0]);
        nvars = 1;
        format(vars[0].name, sizeof vars[0].name, "%s", out->name);
    }
    if (batch != NULL && vars != NULL && config_setting_type(batch) == CONFIG_TYPE_GROUP) {
        check_keys(&c, batch, K_BATCH, "the batch group");
        if (config_setting_get_member(batch, "reference") != NULL)
            get_name(&c, batch, "reference", 1, vars[0].name);
        else
            format(vars[0].name, sizeof vars[0].name, "reference");
        vars[0].where = batch;
        const config_setting_t *vl = config_setting_get_member(batch, "variants");
        if (vl != NULL && config_setting_type(vl) != CONFIG_TYPE_LIST) {
            report(&c, vl, NULL, "expected a list of variant groups, got %s", type_name(vl));
            vl = NULL;
        }
        for (int i = 0; vl != NULL && i < config_setting_length(vl) && !c.nomem; i++) {
            const config_setting_t *e = config_setting_get_elem(vl, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                report(&c, e, NULL, "expected a variant group, got %s", type_name(e));
                continue;
            }
            variant_t *nv = grow(&c, vars, &capvars, nvars + 1, sizeof *vars);
            if (nv == NULL)
                break;
            vars = nv;
            memset(&vars[nvars], 0, sizeof vars[nvars]);
            parse_variant(&c, e, &vars[nvars++]);
        }
        size_t nplain = nvars;
        const config_setting_t *sl = config_setting_get_member(batch, "sweeps");
        if (sl != NULL && config_setting_type(sl) != CONFIG_TYPE_LIST) {
            report(&c, sl, NULL, "expected a list of sweep groups, got %s", type_name(sl));
            sl = NULL;
        }
        for (int i = 0; sl != NULL && i < config_setting_length(sl) && !c.nomem; i++) {
            const config_setting_t *e = config_setting_get_elem(sl, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                report(&c, e, NULL, "expected a sweep group, got %s", type_name(e));
                continue;
            }
            parse_sweep(&c, e, &vars, &nvars, &capvars, nplain);
        }
        /* names must be unique: they label every row of the results */
        for (size_t i = 0; i < nvars; i++)
            for (size_t j = 0; j < i; j++)
                if (vars[i].name[0] && strcmp(vars[i].name, vars[j].name) == 0) {
                    report(&c, vars[i].where, NULL,
                           "scenario name '%s' is used twice in the batch", vars[i].name);
                    break;
                }
    }

    /* which scenarios to load */
    size_t first = 0, last = nvars;
    if (only != NULL && c.errors == 0 && !c.nomem) {
        near_t nr;
        near_init(&nr, only);
        first = nvars;
        for (size_t i = 0; i < nvars; i++) {
            near_consider(&nr, vars[i].name);
            if (strcmp(vars[i].name, only) == 0)
                first = i;
        }
        if (first == nvars) {
            char h[160];
            cm_diag_add(diag, CM_ECONFIG, c.file, 0, "", "no scenario named '%s' in the batch%s",
                        only, hint(&nr, h, sizeof h));
            c.errors++;
        }
        last = first + 1;
    }

    if (c.errors == 0 && !c.nomem && nvars > 0) {
        out->scen = calloc(last - first, sizeof *out->scen);
        if (out->scen == NULL)
            nomem(&c);
        for (size_t i = first; out->scen != NULL && i < last; i++) {
            const variant_t *v = &vars[i];
            size_t n = ncli + v->n;
            cm_override_t *ov = calloc(n + 1, sizeof *ov);
            if (ov == NULL) {
                nomem(&c);
                break;
            }
            for (size_t k = 0; k < ncli; k++)
                ov[k] = cli[k];
            for (size_t k = 0; k < v->n; k++)
                ov[ncli + k] = (cm_override_t){v->paths[k], v->values[k]};
            cm_scenario_t *sc = &out->scen[out->nscen];
            size_t before = cm_diag_errors(diag);
            int lrc = cm_config_load(c.file, ov, n, sc, diag);
            free(ov);
            if (lrc != CM_EOK) {
                if (lrc == CM_ENOMEM)
                    c.nomem = 1;
                if (i > 0 && cm_diag_errors(diag) > before)
                    report(&c, v->where, NULL,
                           "scenario '%s' of the batch does not validate (errors above)",
                           v->name);
                else
                    c.errors++;
                continue;
            }
            format(sc->name, sizeof sc->name, "%s", v->name);
            if (i > 0)
                format(sc->description, sizeof sc->description, "%s", v->description);
            out->nscen++;
        }
        out->reference_included = first == 0;
    }

    for (size_t i = 0; i < nvars; i++)
        variant_free(&vars[i]);
    free(vars);
    rc = (c.nomem || (diag != NULL && diag->dropped > 0)) ? CM_ENOMEM
         : c.errors > 0                                     ? CM_ECONFIG
                                                            : CM_EOK;
    if (rc != CM_EOK)
        cm_batch_free(out);
    free(c.bad);
    free(c.over);
    config_destroy(&cfg);
    return rc;
}
