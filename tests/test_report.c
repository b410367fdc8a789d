/* tests/test_report.c - the report module: result files, atomic
 * replacement of the output folder, the end-of-run table, SHA-256.
 *
 * The run reported here is built by hand (no driver): two small scenarios
 * made in code, their layouts from cm_layout_init, and accumulators filled
 * with cm_stats_add from a deterministic formula, some slots with known
 * values whose statistics are computed by hand below.  The CSV files are
 * read back by an independent reader (python3's csv and json modules when
 * python3 is installed, and a small reader in this file), never compared
 * with earlier output of the module itself.
 */
#define _XOPEN_SOURCE 700

#include "cmsim/report.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include "check.h"
#include "cmsim/error.h"
#include "cmsim/outcomes.h"
#include "cmsim/stats.h"

/* ------------------------------------------------------------------------
 * A hand-built run of two scenarios */

#define NPATHS 200
#define HORIZON 3
#define BASE_YEAR 2030
/* A project name that needs CSV quoting and a description that needs JSON
 * escaping (quote, backslash, LF, tab, a control character, UTF-8, an
 * invalid byte). */
#define TRICKY_NAME "kz \"big\", one"
#define TRICKY_DESC "line1\nline2 \\ \"q\"\t\x01 caf\xc3\xa9 \xff end"

typedef struct {
    cm_producer_t producers[1];
    cm_mineral_t minerals[2];
    cm_project_t projects[2];
    char tranche_names[2][CM_NAME_MAX];
    cm_scenario_t scen[2];
    const cm_scenario_t *sp[2];
    cm_layout_t layouts[2];
    cm_stats_t stats[2];
    cm_stats_t diff[2];
    size_t *diff_ref[2];
    cm_run_t run;
    size_t skipped_slot; /* the slot of scenario 1 with no reference slot */
    size_t ncompare;     /* rows of compare.csv */
} fixture_t;

/* The value of slot i of scenario s on path p (NaN = undefined).  Slots of
 * the portfolio get known values (see the tests); others a formula with
 * undefined paths here and there, one slot never defined and one defined
 * on a single path. */
static double value_of(const cm_layout_t *l, int s, size_t i, int p)
{
    size_t npv = l->portfolio_base + CM_PF_NPV_TOTAL;
    size_t capex = l->portfolio_base + CM_PF_CAPEX_TOTAL;
    if (i == npv)                      /* reference: p - 99.5; variant: +10 */
        return (double)p - 99.5 + (s == 1 ? 10.0 : 0.0);
    if (i == capex)                    /* constants 5 and 7 */
        return s == 1 ? 7.0 : 5.0;
    if (i == cm_layout_project(l, 0, CM_PO_IRR))
        return NAN;                    /* never defined */
    if (i == cm_layout_project(l, 0, CM_PO_LLCR))
        return p == 17 ? 1.25 : NAN;   /* defined once: no sd */
    if (l->kinds[i] == CM_STAT_BINARY) {
        int bit = (p * 7 + (int)i) % 3 == 0;
        if (s == 1 && p % 5 == 0)
            bit = !bit;
        return bit;
    }
    if (i % 5 == 1 && p % 4 == 0)
        return NAN;
    double x = ((double)i + 1.0) * sin(0.37 * p + (double)i) * 100.0 + (double)i;
    if (s == 1)
        x = 1.1 * x + 0.5 * cos(1.3 * p);
    return x;
}

static void fixture_free(fixture_t *fx)
{
    for (int s = 0; s < 2; s++) {
        cm_layout_free(&fx->layouts[s]);
        cm_stats_free(&fx->stats[s]);
        cm_stats_free(&fx->diff[s]);
        free(fx->diff_ref[s]);
    }
    free(fx);
}

/* nscen 1 or 2; exact: exact quantiles. */
static fixture_t *fixture_new(int nscen, int exact)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return NULL;
    fx->producers[0].country = 0;
    fx->producers[0].output0 = 1000.0;
    cm_mineral_t *m = &fx->minerals[0];
    snprintf(m->name, sizeof m->name, "REO");
    snprintf(m->unit, sizeof m->unit, "t");
    m->has_controls = 1;
    m->nproducers = 1;
    m->producers = fx->producers;
    m->dominant = 0;
    m = &fx->minerals[1];
    snprintf(m->name, sizeof m->name, "antimony");
    snprintf(m->unit, sizeof m->unit, "kg");
    m->dominant = -1;
    snprintf(fx->projects[0].name, CM_NAME_MAX, "%s", TRICKY_NAME);
    snprintf(fx->projects[1].name, CM_NAME_MAX, "uz_sb");
    snprintf(fx->tranche_names[0], CM_NAME_MAX, "equity");
    snprintf(fx->tranche_names[1], CM_NAME_MAX, "dfc_loan");
    for (int s = 0; s < 2; s++) {
        cm_scenario_t *sc = &fx->scen[s];
        snprintf(sc->name, sizeof sc->name, "%s", s ? "with_dfc" : "base");
        snprintf(sc->description, sizeof sc->description, "%s",
                 s ? "variant" : TRICKY_DESC);
        sc->seed = 42;
        sc->paths = NPATHS;
        sc->horizon = HORIZON;
        sc->base_year = BASE_YEAR;
        sc->nminerals = 2;
        sc->minerals = fx->minerals;
        sc->nprojects = 2;
        sc->projects = fx->projects;
        sc->ntranche_names = 2;
        sc->tranche_names = fx->tranche_names;
        fx->sp[s] = sc;
    }
    int rc = 0;
    for (int s = 0; s < nscen && rc == 0; s++) {
        rc = cm_layout_init(&fx->layouts[s], &fx->scen[s]);
        if (rc == 0)
            rc = cm_stats_init(&fx->stats[s], fx->layouts[s].nslots,
                               fx->layouts[s].kinds, exact);
    }
    if (rc == 0)
        rc = cm_stats_init(&fx->diff[0], 0, NULL, 0);
    if (rc == 0 && nscen == 2) {
        size_t n = fx->layouts[1].nslots;
        cm_stat_kind_t *k = malloc(n * sizeof *k);
        fx->diff_ref[1] = malloc(n * sizeof *fx->diff_ref[1]);
        if (k == NULL || fx->diff_ref[1] == NULL) {
            free(k);
            fixture_free(fx);
            return NULL;
        }
        fx->skipped_slot = cm_layout_project(&fx->layouts[1], 1, CM_PO_NPV);
        for (size_t i = 0; i < n; i++) {
            k[i] = CM_STAT_MOMENTS;
            fx->diff_ref[1][i] = i == fx->skipped_slot ? SIZE_MAX : i;
        }
        fx->ncompare = n - 1;
        rc = cm_stats_init(&fx->diff[1], n, k, 0);
        free(k);
    }
    double *v[2] = {NULL, NULL}, *d = NULL;
    size_t n = fx->layouts[0].nslots;
    if (rc == 0) {
        v[0] = malloc(n * sizeof(double));
        v[1] = malloc(n * sizeof(double));
        d = malloc(n * sizeof(double));
        if (v[0] == NULL || v[1] == NULL || d == NULL)
            rc = CM_ENOMEM;
    }
    for (int p = 0; p < NPATHS && rc == 0; p++) {
        for (int s = 0; s < nscen; s++)
            for (size_t i = 0; i < n; i++)
                v[s][i] = value_of(&fx->layouts[s], s, i, p);
        for (int s = 0; s < nscen && rc == 0; s++)
            rc = cm_stats_add(&fx->stats[s], v[s]);
        if (nscen == 2 && rc == 0) {
            for (size_t i = 0; i < n; i++)
                d[i] = v[1][i] - v[0][i]; /* NaN when either is */
            rc = cm_stats_add(&fx->diff[1], d);
        }
    }
    free(v[0]);
    free(v[1]);
    free(d);
    if (rc != 0) {
        fixture_free(fx);
        return NULL;
    }
    cm_run_t *run = &fx->run;
    run->nscen = nscen;
    run->scen = fx->sp;
    run->layouts = fx->layouts;
    run->stats = fx->stats;
    run->diff = fx->diff;
    run->diff_ref = fx->diff_ref;
    run->paths = NPATHS;
    run->seed = UINT64_MAX; /* checks the full 64-bit range in run.json */
    run->exact = exact;
    run->threads_used = 3;
    run->wall_seconds = 2.0;
    return fx;
}

/* ------------------------------------------------------------------------
 * Files and folders */

/* A fresh folder under $TMPDIR (or /tmp), into path. */
static int make_tmpdir(char *path, size_t size)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(path, size, "%s/cmsim-test-report-XXXXXX", base);
    return mkdtemp(path) != NULL ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (len + 1 < cap)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
        }
        buf = nb;
    }
    fclose(f);
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    int ok = fputs(text, f) != EOF;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Entries of dir whose name contains ".partial-" or ".old-". */
static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".partial-") != NULL ||
            strstr(e->d_name, ".old-") != NULL) {
            fprintf(stderr, "left over: %s/%s\n", dir, e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

static void join(char *dst, size_t size, const char *a, const char *b)
{
    snprintf(dst, size, "%s/%s", a, b);
}

/* ------------------------------------------------------------------------
 * A small CSV reader (RFC 4180 quoting, LF or CRLF line ends), independent
 * of the writer. */

typedef struct {
    size_t nrows;
    size_t *nfields;  /* per row */
    char ***fields;   /* fields[row][k], NUL-terminated */
} csv_t;

static void csv_free(csv_t *c)
{
    for (size_t r = 0; r < c->nrows; r++) {
        for (size_t k = 0; k < c->nfields[r]; k++)
            free(c->fields[r][k]);
        free(c->fields[r]);
    }
    free(c->fields);
    free(c->nfields);
    memset(c, 0, sizeof *c);
}

/* Parse text; returns 0 or -1 (malformed or out of memory). */
static int csv_parse(const char *text, csv_t *c)
{
    memset(c, 0, sizeof *c);
    const char *p = text;
    size_t len = strlen(text);
    char *field = malloc(len + 1);
    if (field == NULL)
        return -1;
    size_t rowcap = 0;
    while (*p != '\0') {
        /* one row */
        if (c->nrows == rowcap) {
            rowcap = rowcap ? 2 * rowcap : 64;
            char ***nf = realloc(c->fields, rowcap * sizeof *nf);
            size_t *nn = realloc(c->nfields, rowcap * sizeof *nn);
            if (nf != NULL)
                c->fields = nf;
            if (nn != NULL)
                c->nfields = nn;
            if (nf == NULL || nn == NULL)
                goto bad;
        }
        size_t r = c->nrows++;
        c->fields[r] = NULL;
        c->nfields[r] = 0;
        size_t fcap = 0;
        for (;;) {
            size_t flen = 0;
            if (*p == '"') {
                p++;
                for (;;) {
                    if (*p == '\0')
                        goto bad;
                    if (*p == '"') {
                        if (p[1] == '"') {
                            field[flen++] = '"';
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    field[flen++] = *p++;
                }
            } else {
                while (*p != ',' && *p != '\n' && *p != '\r' && *p != '\0') {
                    if (*p == '"')
                        goto bad;
                    field[flen++] = *p++;
                }
            }
            field[flen] = '\0';
            if (c->nfields[r] == fcap) {
                fcap = fcap ? 2 * fcap : 32;
                char **nf = realloc(c->fields[r], fcap * sizeof *nf);
                if (nf == NULL)
                    goto bad;
                c->fields[r] = nf;
            }
            char *copy = malloc(flen + 1);
            if (copy == NULL)
                goto bad;
            memcpy(copy, field, flen + 1);
            c->fields[r][c->nfields[r]++] = copy;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == '\r')
                p++;
            if (*p == '\n')
                p++;
            else if (*p != '\0')
                goto bad;
            break;
        }
    }
    free(field);
    return 0;
bad:
    free(field);
    csv_free(c);
    return -1;
}

static int csv_read_file(const char *path, csv_t *c)
{
    char *text = read_all(path);
    if (text == NULL)
        return -1;
    int rc = csv_parse(text, c);
    free(text);
    return rc;
}

/* Index of column name in the header row, or -1. */
static int csv_col(const csv_t *c, const char *name)
{
    for (size_t k = 0; c->nrows > 0 && k < c->nfields[0]; k++)
        if (strcmp(c->fields[0][k], name) == 0)
            return (int)k;
    return -1;
}

/* Is field the exact "%.17g" text of x (empty when x is not finite), and
 * does it read back to the same bits? */
static int field_is(const char *field, double x)
{
    if (!isfinite(x))
        return field[0] == '\0';
    if (field[0] == '\0')
        return 0;
    char *end;
    double y = strtod(field, &end);
    return *end == '\0' && memcmp(&x, &y, sizeof x) == 0;
}

/* ------------------------------------------------------------------------
 * Tests */

static void test_sha256_known(void)
{
    char dir[512], path[600], hex[65];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(path, sizeof path, dir, "abc.txt");
    CHECK(write_text(path, "abc") == 0);
    CHECK(cm_sha256_file(path, hex) == CM_EOK);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    join(path, sizeof path, dir, "empty.txt");
    CHECK(write_text(path, "") == 0);
    CHECK(cm_sha256_file(path, hex) == CM_EOK);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    /* FIPS 180-2 two-block message */
    join(path, sizeof path, dir, "two.txt");
    CHECK(write_text(path, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == 0);
    CHECK(cm_sha256_file(path, hex) == CM_EOK);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    join(path, sizeof path, dir, "missing.txt");
    CHECK(cm_sha256_file(path, hex) == CM_EIO);
    rm_tree(dir);
}

/* The summary.csv written by cm_report_write reads back (with the reader
 * above) to the accumulators' statistics bit for bit, one row per slot in
 * layout order, and the hand-computed slots have their hand values. */
static void check_summary_roundtrip(int exact)
{
    fixture_t *fx = fixture_new(2, exact);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], out[600], path[700];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(out, sizeof out, dir, "out");
    cm_diag_t diag;
    cm_diag_init(&diag);
    CHECK(cm_report_write(&fx->run, out, 0, NULL, &diag) == CM_EOK);
    join(path, sizeof path, out, "summary.csv");
    csv_t c;
    CHECK(csv_read_file(path, &c) == 0);
    size_t nslots = fx->layouts[0].nslots + fx->layouts[1].nslots;
    CHECK(c.nrows == nslots + 1);
    static const char *const stat_cols[] = {
        "mean", "sd", "se", "min", "p05", "p25", "p50", "p75", "p95", "max",
        "cvar05", "prob", "prob_se"};
    int col[13];
    for (int k = 0; k < 13; k++) {
        col[k] = csv_col(&c, stat_cols[k]);
        CHECK(col[k] >= 8);
    }
    size_t row = 1;
    for (int s = 0; s < 2 && c.nrows == nslots + 1; s++) {
        const cm_layout_t *l = &fx->layouts[s];
        for (size_t i = 0; i < l->nslots; i++, row++) {
            char **f = c.fields[row];
            CHECK(c.nfields[row] == 21);
            if (c.nfields[row] != 21)
                continue;
            cm_summary_t sum;
            cm_stats_summary(&fx->stats[s], i, &sum);
            const cm_slot_t *sl = &l->slots[i];
            CHECK(strcmp(f[0], fx->scen[s].name) == 0);
            CHECK(strcmp(f[1], sl->outcome) == 0);
            CHECK(strcmp(f[2], sl->entity_type) == 0);
            CHECK(strcmp(f[3], sl->entity) == 0);
            if (sl->year >= 0)
                CHECK(atoi(f[4]) == sl->year && f[4][0] != '\0');
            else
                CHECK(f[4][0] == '\0');
            CHECK(strcmp(f[5], sl->unit) == 0);
            CHECK(strtoull(f[6], NULL, 10) == sum.n);
            CHECK(strtoull(f[7], NULL, 10) == sum.n_undef);
            double vals[13] = {sum.mean, sum.sd, sum.se, sum.min, sum.p05,
                               sum.p25, sum.p50, sum.p75, sum.p95, sum.max,
                               sum.cvar05, sum.prob, sum.prob_se};
            for (int k = 0; k < 13; k++)
                if (col[k] >= 0 && !field_is(f[col[k]], vals[k])) {
                    fprintf(stderr, "row %zu column %s: \"%s\" vs %.17g\n",
                            row, stat_cols[k], f[col[k]], vals[k]);
                    CHECK(0);
                }
        }
    }
    /* Hand values.  Reference npv_total = p - 99.5, p = 0..199: mean 0,
     * sd^2 = sum (p - 99.5)^2 / 199 = N (N + 1) / 12 = 3350, min -99.5,
     * max 99.5, cvar05 = mean of the lowest 10 = -95. */
    size_t r = 1 + fx->layouts[0].portfolio_base + CM_PF_NPV_TOTAL;
    if (r < c.nrows && c.nfields[r] == 21) {
        char **f = c.fields[r];
        CHECK(strcmp(f[1], "npv_total") == 0 && f[4][0] == '\0');
        CHECK(strcmp(f[6], "200") == 0 && strcmp(f[7], "0") == 0);
        CHECK_NEAR(strtod(f[col[0]], NULL), 0.0, 1e-12);
        CHECK_REL(strtod(f[col[1]], NULL), sqrt(3350.0), 1e-14);
        CHECK_REL(strtod(f[col[2]], NULL), sqrt(3350.0 / 200.0), 1e-14);
        CHECK(strcmp(f[col[3]], "-99.5") == 0 && strcmp(f[col[9]], "99.5") == 0);
        CHECK_REL(strtod(f[col[10]], NULL), -95.0, exact ? 1e-14 : 0.006);
        CHECK(f[col[11]][0] == '\0' && f[col[12]][0] == '\0');
    }
    /* Never defined: n = 0, every statistic empty. */
    r = 1 + cm_layout_project(&fx->layouts[0], 0, CM_PO_IRR);
    if (r < c.nrows && c.nfields[r] == 21) {
        CHECK(strcmp(c.fields[r][6], "0") == 0 && strcmp(c.fields[r][7], "200") == 0);
        for (int k = 0; k < 13; k++)
            CHECK(c.fields[r][col[k]][0] == '\0');
    }
    /* Defined once: mean = min = max = 1.25, sd and se empty. */
    r = 1 + cm_layout_project(&fx->layouts[0], 0, CM_PO_LLCR);
    if (r < c.nrows && c.nfields[r] == 21) {
        CHECK(strcmp(c.fields[r][6], "1") == 0);
        CHECK(strcmp(c.fields[r][col[0]], "1.25") == 0);
        CHECK(c.fields[r][col[1]][0] == '\0' && c.fields[r][col[2]][0] == '\0');
    }
    csv_free(&c);
    cm_diag_free(&diag);
    rm_tree(dir);
    fixture_free(fx);
}

static void test_summary_roundtrip(void)
{
    check_summary_roundtrip(0);
}

static void test_summary_roundtrip_exact(void)
{
    check_summary_roundtrip(1);
}

/* compare.csv: one row per paired slot (the slot without a reference is
 * left out), values from hand formulas over the accumulators, and the
 * hand-computed slots with their hand values. */
static void test_compare_values(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], out[600], path[700];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(out, sizeof out, dir, "out");
    cm_diag_t diag;
    cm_diag_init(&diag);
    CHECK(cm_report_write(&fx->run, out, 0, NULL, &diag) == CM_EOK);
    join(path, sizeof path, out, "compare.csv");
    csv_t c;
    CHECK(csv_read_file(path, &c) == 0);
    CHECK(c.nrows == fx->ncompare + 1);
    static const char *const header[] = {
        "scenario", "reference", "outcome", "entity_type", "entity", "year",
        "unit", "n_paired", "mean_diff", "se_diff", "ci95_low", "ci95_high",
        "var_reference", "var_scenario", "var_diff", "variance_reduction"};
    CHECK(c.nrows > 0 && c.nfields[0] == 16);
    for (size_t k = 0; c.nrows > 0 && k < 16 && k < c.nfields[0]; k++)
        CHECK(strcmp(c.fields[0][k], header[k]) == 0);
    const cm_layout_t *l = &fx->layouts[1];
    size_t row = 1;
    int seen_npv = 0, seen_capex = 0;
    for (size_t i = 0; i < l->nslots && c.nrows == fx->ncompare + 1; i++) {
        if (i == fx->skipped_slot)
            continue;
        char **f = c.fields[row];
        CHECK(c.nfields[row] == 16);
        if (c.nfields[row++] != 16)
            continue;
        CHECK(strcmp(f[0], "with_dfc") == 0 && strcmp(f[1], "base") == 0);
        CHECK(strcmp(f[2], l->slots[i].outcome) == 0);
        CHECK(strcmp(f[4], l->slots[i].entity) == 0);
        cm_summary_t d, a, b;
        cm_stats_summary(&fx->diff[1], i, &d);
        cm_stats_summary(&fx->stats[0], i, &a);
        cm_stats_summary(&fx->stats[1], i, &b);
        CHECK(strtoull(f[7], NULL, 10) == d.n);
        CHECK(field_is(f[8], d.mean));
        CHECK(field_is(f[9], d.se));
        CHECK(field_is(f[10], d.mean - 1.959963984540054 * d.se));
        CHECK(field_is(f[11], d.mean + 1.959963984540054 * d.se));
        CHECK(field_is(f[12], a.sd * a.sd));
        CHECK(field_is(f[13], b.sd * b.sd));
        CHECK(field_is(f[14], d.sd * d.sd));
        double den = a.sd * a.sd + b.sd * b.sd;
        CHECK(field_is(f[15], den > 0 ? 1.0 - d.sd * d.sd / den : NAN));
        if (i == l->portfolio_base + CM_PF_NPV_TOTAL) {
            /* variant = reference + 10 on every path */
            seen_npv = 1;
            CHECK(strcmp(f[7], "200") == 0);
            CHECK_NEAR(strtod(f[8], NULL), 10.0, 1e-12);
            CHECK_NEAR(strtod(f[9], NULL), 0.0, 1e-12);
            CHECK_NEAR(strtod(f[10], NULL), 10.0, 1e-10);
            CHECK_NEAR(strtod(f[11], NULL), 10.0, 1e-10);
            CHECK_REL(strtod(f[12], NULL), 3350.0, 1e-13);
            CHECK_REL(strtod(f[13], NULL), 3350.0, 1e-13);
            CHECK_NEAR(strtod(f[15], NULL), 1.0, 1e-12);
        }
        if (i == l->portfolio_base + CM_PF_CAPEX_TOTAL) {
            /* constants 7 - 5: no variance anywhere, no reduction defined */
            seen_capex = 1;
            CHECK(strcmp(f[8], "2") == 0 && strcmp(f[12], "0") == 0 &&
                  strcmp(f[13], "0") == 0 && strcmp(f[14], "0") == 0);
            CHECK(f[15][0] == '\0');
        }
        if (i == cm_layout_project(l, 0, CM_PO_IRR)) {
            /* never defined: no pairs */
            CHECK(strcmp(f[7], "0") == 0);
            for (int k = 8; k < 16; k++)
                CHECK(f[k][0] == '\0');
        }
    }
    CHECK(seen_npv && seen_capex);
    /* A slot whose paired differences are computed here by hand (two
     * passes), independent of the accumulators. */
    size_t hs = l->mineral_slot[0 * CM_MY_COUNT + CM_MY_PRICE] + 1;
    double sum = 0, dv[NPATHS];
    int n = 0;
    for (int p = 0; p < NPATHS; p++) {
        double x = value_of(l, 1, hs, p) - value_of(&fx->layouts[0], 0, hs, p);
        if (!isnan(x))
            dv[n++] = x;
    }
    for (int k = 0; k < n; k++)
        sum += dv[k];
    double mean = sum / n, m2 = 0;
    for (int k = 0; k < n; k++)
        m2 += (dv[k] - mean) * (dv[k] - mean);
    double se = sqrt(m2 / (n - 1) / n);
    size_t hrow = 1 + hs - (hs > fx->skipped_slot ? 1 : 0);
    if (hrow < c.nrows && c.nfields[hrow] == 16) {
        char **f = c.fields[hrow];
        CHECK(strcmp(f[2], "price") == 0 && strcmp(f[5], "2031") == 0);
        CHECK(strtoull(f[7], NULL, 10) == (unsigned long long)n);
        CHECK_REL(strtod(f[8], NULL), mean, 1e-12);
        CHECK_REL(strtod(f[9], NULL), se, 1e-10);
        CHECK_REL(strtod(f[10], NULL), mean - 1.959963984540054 * se, 1e-10);
        CHECK_REL(strtod(f[14], NULL), m2 / (n - 1), 1e-10);
    }
    csv_free(&c);
    cm_diag_free(&diag);
    rm_tree(dir);
    fixture_free(fx);
}

/* The checker run by python3 over the files: a real CSV reader, header
 * names, field counts, no nan/inf text, numbers that parse, run.json valid
 * strict JSON (no NaN) whose statistics equal the CSV's. */
static const char *const py_check[] = {
    "import csv, json, math, re, sys",
    "summ, comp, js = sys.argv[1], sys.argv[2], sys.argv[3]",
    "nsum, ncomp, nscen = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])",
    "SUM = ('scenario,outcome,entity_type,entity,year,unit,n,n_undefined,mean,sd,se,'",
    "       'min,p05,p25,p50,p75,p95,max,cvar05,prob,prob_se').split(',')",
    "CMP = ('scenario,reference,outcome,entity_type,entity,year,unit,n_paired,mean_diff,'",
    "       'se_diff,ci95_low,ci95_high,var_reference,var_scenario,var_diff,'",
    "       'variance_reduction').split(',')",
    "BAD = {'nan', '-nan', '+nan', 'inf', '-inf', '+inf', 'infinity', '-infinity'}",
    "def load(path, header, first_num, nints, nrows):",
    "    with open(path, newline='', encoding='utf-8') as f:",
    "        rows = list(csv.reader(f, strict=True))",
    "    assert rows[0] == header, rows[0]",
    "    for h in rows[0]:",
    "        assert re.fullmatch(r'[A-Za-z0-9_]{1,32}', h), h",
    "    assert len(rows) - 1 == nrows, (len(rows) - 1, nrows)",
    "    yi = header.index('year')",
    "    for r in rows[1:]:",
    "        assert len(r) == len(header), r",
    "        for x in r:",
    "            assert x.strip().lower() not in BAD, r",
    "        assert r[yi] == '' or re.fullmatch(r'[0-9]{4}', r[yi]), r",
    "        for k, x in enumerate(r[first_num:]):",
    "            if k < nints:",
    "                assert re.fullmatch(r'[0-9]+', x), r",
    "            elif x != '':",
    "                assert math.isfinite(float(x)), r",
    "    return [dict(zip(header, r)) for r in rows[1:]]",
    "s = load(summ, SUM, 6, 2, nsum)",
    "assert any(r['entity'] == 'kz \"big\", one' for r in s)",
    "c = load(comp, CMP, 7, 1, ncomp) if ncomp >= 0 else []",
    "def reject(name):",
    "    raise ValueError('non-finite JSON constant ' + name)",
    "with open(js, encoding='utf-8') as f:",
    "    j = json.load(f, parse_constant=reject)",
    "for k in ('cmsim_version', 'git_revision', 'scenario_file', 'scenario_sha256',",
    "          'seed', 'paths', 'threads', 'processes', 'block_paths', 'exact_quantiles',",
    "          'wall_seconds', 'paths_per_second', 'command_line', 'warnings',",
    "          'scenarios', 'comparisons'):",
    "    assert k in j, k",
    "assert j['seed'] == 2**64 - 1 and j['block_paths'] == 1024",
    "assert len(j['scenarios']) == nscen",
    "assert j['scenarios'][0]['description'] == 'line1\\nline2 \\\\ \"q\"\\t\\x01 caf\\u00e9 \\ufffd end'",
    "def same(csvrow, obj, header, first_num):",
    "    for k in header[:first_num]:",
    "        if k == 'year':",
    "            assert (csvrow[k] == '' and obj[k] is None) or int(csvrow[k]) == obj[k], (k, csvrow, obj)",
    "        else:",
    "            assert csvrow[k] == obj[k], (k, csvrow, obj)",
    "    for k in header[first_num:]:",
    "        if csvrow[k] == '':",
    "            assert obj[k] is None, (k, csvrow, obj)",
    "        else:",
    "            assert float(csvrow[k]) == obj[k], (k, csvrow, obj)",
    "outs = [dict(o, scenario=sc['name']) for sc in j['scenarios'] for o in sc['outcomes']]",
    "assert len(outs) == len(s)",
    "for a, b in zip(s, outs):",
    "    same(a, b, SUM, 6)",
    "assert len(j['comparisons']) == len(c)",
    "for a, b in zip(c, j['comparisons']):",
    "    same(a, b, CMP, 7)",
    "print('python3 check: %d summary rows, %d compare rows' % (len(s), len(c)))",
};

static int have_python(void)
{
    return system("command -v python3 >/dev/null 2>&1") == 0;
}

/* Run the checker; returns its exit status (0 = all good). */
static int run_py_check(const char *dir, const char *out, size_t nsum,
                        long ncomp, int nscen)
{
    char script[700], cmd[4096];
    join(script, sizeof script, dir, "check.py");
    FILE *f = fopen(script, "w");
    if (f == NULL)
        return -1;
    for (size_t k = 0; k < sizeof py_check / sizeof py_check[0]; k++)
        fprintf(f, "%s\n", py_check[k]);
    if (fclose(f) != 0)
        return -1;
    snprintf(cmd, sizeof cmd,
             "python3 '%s' '%s/summary.csv' '%s/compare.csv' '%s/run.json' "
             "%zu %ld %d", script, out, out, out, nsum, ncomp, nscen);
    fflush(stdout);
    int st = system(cmd);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static void test_python_reader(void)
{
    if (!have_python()) {
        printf("SKIP python_reader: python3 not found; the CSV and JSON files "
               "were NOT checked with a real CSV/JSON reader\n");
        fprintf(stderr, "SKIP python_reader: python3 not found\n");
        return;
    }
    for (int nscen = 1; nscen <= 2; nscen++) {
        fixture_t *fx = fixture_new(nscen, nscen == 1);
        CHECK(fx != NULL);
        if (fx == NULL)
            return;
        char dir[512], out[600], path[700];
        CHECK(make_tmpdir(dir, sizeof dir) == 0);
        join(out, sizeof out, dir, "out");
        cm_diag_t diag;
        cm_diag_init(&diag);
        CHECK(cm_report_write(&fx->run, out, 0, NULL, &diag) == CM_EOK);
        join(path, sizeof path, out, "compare.csv");
        CHECK(exists(path) == (nscen > 1));
        size_t nsum = fx->layouts[0].nslots + fx->layouts[1].nslots;
        long ncomp = nscen > 1 ? (long)fx->ncompare : -1;
        CHECK(run_py_check(dir, out, nsum, ncomp, nscen) == 0);
        cm_diag_free(&diag);
        rm_tree(dir);
        fixture_free(fx);
    }
}

/* Text fields with a comma or a quote are quoted with quotes doubled. */
static void test_csv_quoting(void)
{
    fixture_t *fx = fixture_new(1, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f == NULL) {
        fixture_free(fx);
        return;
    }
    CHECK(cm_report_write_summary(&fx->run, f) == CM_EOK);
    fclose(f);
    CHECK_STR_CONTAINS(buf, "\nbase,npv,project,\"kz \"\"big\"\", one\",,USD million,");
    CHECK_STR_CONTAINS(buf, "\nbase,price,mineral,REO,2032,USD per unit,200,0,");
    CHECK(strstr(buf, "\r") == NULL);
    CHECK(strstr(buf, ",nan") == NULL && strstr(buf, ",-nan") == NULL);
    CHECK(strstr(buf, ",inf") == NULL && strstr(buf, ",-inf") == NULL);
    /* The first line is the header, exactly. */
    static const char header[] =
        "scenario,outcome,entity_type,entity,year,unit,n,n_undefined,mean,sd,"
        "se,min,p05,p25,p50,p75,p95,max,cvar05,prob,prob_se\n";
    CHECK(strncmp(buf, header, strlen(header)) == 0);
    free(buf);
    fixture_free(fx);
}

/* run.json: escaping, the recorded fields, sha256 of the scenario file and
 * the warnings, with a strict look at the text. */
static void test_run_json(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], scen[600];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(scen, sizeof scen, dir, "scen.cfg");
    CHECK(write_text(scen, "abc") == 0);
    cm_diag_t warn;
    cm_diag_init(&warn);
    cm_diag_add(&warn, CM_EOK, "x.cfg", 3, "run.paths", "few \"paths\"");
    cm_report_info_t info = {scen, "cmsim --threads 3 x.cfg", 1, &warn};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(cm_report_write_json(&fx->run, &info, f) == CM_EOK);
        fclose(f);
        CHECK_STR_CONTAINS(buf, "\"scenario_sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
        CHECK_STR_CONTAINS(buf, "\"seed\": 18446744073709551615,");
        CHECK_STR_CONTAINS(buf, "\"paths\": 200,");
        CHECK_STR_CONTAINS(buf, "\"threads\": 3,");
        CHECK_STR_CONTAINS(buf, "\"processes\": 1,");
        CHECK_STR_CONTAINS(buf, "\"block_paths\": 1024,");
        CHECK_STR_CONTAINS(buf, "\"exact_quantiles\": false,");
        CHECK_STR_CONTAINS(buf, "\"wall_seconds\": 2,");
        CHECK_STR_CONTAINS(buf, "\"paths_per_second\": 100,");
        CHECK_STR_CONTAINS(buf, "\"command_line\": \"cmsim --threads 3 x.cfg\"");
        CHECK_STR_CONTAINS(buf, "\"x.cfg:3: run.paths: few \\\"paths\\\"\"");
        CHECK_STR_CONTAINS(buf, "\"description\": \"line1\\nline2 \\\\ \\\"q\\\"\\t\\u0001 caf\xc3\xa9 \\ufffd end\"");
        CHECK_STR_CONTAINS(buf, "\"entity\": \"kz \\\"big\\\", one\"");
        CHECK_STR_CONTAINS(buf, "\"outcome\": \"npv\", \"entity_type\": \"project\", \"entity\": \"kz \\\"big\\\", one\", \"year\": null,");
        CHECK_STR_CONTAINS(buf, "\"outcome\": \"price\", \"entity_type\": \"mineral\", \"entity\": \"REO\", \"year\": 2030,");
        CHECK(strstr(buf, ": nan") == NULL && strstr(buf, ": -nan") == NULL);
        CHECK(strstr(buf, ": inf") == NULL && strstr(buf, ": -inf") == NULL);
        CHECK(strstr(buf, "\xff") == NULL);
        free(buf);
    }
    /* A scenario file that cannot be read: null hash and a warning. */
    char missing[700];
    join(missing, sizeof missing, dir, "missing.cfg");
    cm_report_info_t info2 = {missing, NULL, 4, NULL};
    buf = NULL;
    f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(cm_report_write_json(&fx->run, &info2, f) == CM_EOK);
        fclose(f);
        CHECK_STR_CONTAINS(buf, "\"scenario_sha256\": null,");
        CHECK_STR_CONTAINS(buf, "\"command_line\": null,");
        CHECK_STR_CONTAINS(buf, "\"processes\": 4,");
        CHECK_STR_CONTAINS(buf, "could not compute the SHA-256");
        free(buf);
    }
    /* No timing: null speed. */
    fx->run.wall_seconds = 0;
    buf = NULL;
    f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(cm_report_write_json(&fx->run, NULL, f) == CM_EOK);
        fclose(f);
        CHECK_STR_CONTAINS(buf, "\"paths_per_second\": null,");
        CHECK_STR_CONTAINS(buf, "\"scenario_file\": null,");
        CHECK_STR_CONTAINS(buf, "\"warnings\": [],");
        free(buf);
    }
    cm_diag_free(&warn);
    rm_tree(dir);
    fixture_free(fx);
}

/* The CSV files do not depend on threads or timing. */
static void test_csv_pure(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], out1[600], out2[600], p1[700], p2[700];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(out1, sizeof out1, dir, "one");
    join(out2, sizeof out2, dir, "two");
    cm_diag_t diag;
    cm_diag_init(&diag);
    CHECK(cm_report_write(&fx->run, out1, 0, NULL, &diag) == CM_EOK);
    fx->run.threads_used = 7;
    fx->run.wall_seconds = 0.123;
    CHECK(cm_report_write(&fx->run, out2, 0, NULL, &diag) == CM_EOK);
    static const char *const names[] = {"summary.csv", "compare.csv"};
    for (int k = 0; k < 2; k++) {
        join(p1, sizeof p1, out1, names[k]);
        join(p2, sizeof p2, out2, names[k]);
        char *a = read_all(p1), *b = read_all(p2);
        CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    join(p1, sizeof p1, out1, "run.json");
    join(p2, sizeof p2, out2, "run.json");
    char *a = read_all(p1), *b = read_all(p2);
    CHECK(a != NULL && b != NULL);
    if (a != NULL && b != NULL) {
        CHECK(strcmp(a, b) != 0);
        CHECK_STR_CONTAINS(b, "\"threads\": 7,");
        CHECK_STR_CONTAINS(b, "\"wall_seconds\": 0.123,");
    }
    free(a);
    free(b);
    cm_diag_free(&diag);
    rm_tree(dir);
    fixture_free(fx);
}

/* Existing output folders: refused without force and left untouched;
 * replaced with force when they hold only cmsim's files; never replaced
 * when they hold anything else. */
static void test_atomic_existing(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], out[600], p[700];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(out, sizeof out, dir, "res");
    CHECK(mkdir(out, 0755) == 0);
    static const char *const old[] = {"summary.csv", "run.json", "paths.csv"};
    for (int k = 0; k < 3; k++) {
        join(p, sizeof p, out, old[k]);
        CHECK(write_text(p, "old") == 0);
    }
    cm_diag_t diag;
    cm_diag_init(&diag);
    /* Without force: refused before and at writing, untouched. */
    CHECK(cm_report_check_outdir(out, 0, &diag) == CM_EEXISTS);
    char expect[800];
    snprintf(expect, sizeof expect,
             "%s already holds results; use --force to replace them", out);
    CHECK(diag.count == 1 && strcmp(diag.items[0].message, expect) == 0);
    CHECK(cm_report_write(&fx->run, out, 0, NULL, &diag) == CM_EEXISTS);
    join(p, sizeof p, out, "summary.csv");
    char *txt = read_all(p);
    CHECK(txt != NULL && strcmp(txt, "old") == 0);
    free(txt);
    CHECK(leftovers(dir) == 0);
    /* With force: replaced, the old dump gone, nothing left beside. */
    CHECK(cm_report_check_outdir(out, 1, &diag) == CM_EOK);
    size_t before = cm_diag_errors(&diag);
    CHECK(cm_report_write(&fx->run, out, 1, NULL, &diag) == CM_EOK);
    CHECK(cm_diag_errors(&diag) == before);
    txt = read_all(p);
    CHECK(txt != NULL && strncmp(txt, "scenario,outcome,", 17) == 0);
    free(txt);
    join(p, sizeof p, out, "paths.csv");
    CHECK(!exists(p));
    join(p, sizeof p, out, "compare.csv");
    CHECK(exists(p));
    CHECK(leftovers(dir) == 0);
    /* A file cmsim did not write: refused even with force, untouched. */
    join(p, sizeof p, out, "notes.txt");
    CHECK(write_text(p, "mine") == 0);
    cm_diag_free(&diag);
    cm_diag_init(&diag);
    CHECK(cm_report_check_outdir(out, 1, &diag) == CM_EEXISTS);
    CHECK(diag.count == 1);
    if (diag.count == 1)
        CHECK_STR_CONTAINS(diag.items[0].message, "notes.txt");
    fx->run.threads_used = 99;
    CHECK(cm_report_write(&fx->run, out, 1, NULL, &diag) == CM_EEXISTS);
    txt = read_all(p);
    CHECK(txt != NULL && strcmp(txt, "mine") == 0);
    free(txt);
    join(p, sizeof p, out, "run.json");
    txt = read_all(p);
    CHECK(txt != NULL && strstr(txt, "\"threads\": 99") == NULL);
    free(txt);
    CHECK(leftovers(dir) == 0);
    /* A subfolder named like a result file is not ours either. */
    join(p, sizeof p, out, "notes.txt");
    CHECK(unlink(p) == 0);
    join(p, sizeof p, out, "paths.csv");
    CHECK(mkdir(p, 0755) == 0);
    CHECK(cm_report_check_outdir(out, 1, &diag) == CM_EEXISTS);
    CHECK(cm_report_write(&fx->run, out, 1, NULL, &diag) == CM_EEXISTS);
    CHECK(exists(p));
    CHECK(leftovers(dir) == 0);
    cm_diag_free(&diag);
    rm_tree(dir);
    fixture_free(fx);
}

/* Missing, empty, nested, trailing-slash and not-a-folder outdirs. */
static void test_outdir_kinds(void)
{
    fixture_t *fx = fixture_new(1, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], out[600], p[800];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    cm_diag_t diag;
    cm_diag_init(&diag);
    /* Missing, with missing parents, given with a trailing slash. */
    snprintf(out, sizeof out, "%s/a/b/c/", dir);
    CHECK(cm_report_check_outdir(out, 0, &diag) == CM_EOK);
    CHECK(cm_report_write(&fx->run, out, 0, NULL, &diag) == CM_EOK);
    snprintf(p, sizeof p, "%s/a/b/c/summary.csv", dir);
    CHECK(exists(p));
    snprintf(p, sizeof p, "%s/a/b/c/run.json", dir);
    CHECK(exists(p));
    snprintf(p, sizeof p, "%s/a/b/c/compare.csv", dir); /* one scenario */
    CHECK(!exists(p));
    snprintf(p, sizeof p, "%s/a/b", dir);
    CHECK(leftovers(p) == 0);
    /* An empty folder is used as it is. */
    join(out, sizeof out, dir, "empty");
    CHECK(mkdir(out, 0755) == 0);
    CHECK(cm_report_check_outdir(out, 0, &diag) == CM_EOK);
    CHECK(cm_report_write(&fx->run, out, 0, NULL, &diag) == CM_EOK);
    join(p, sizeof p, out, "summary.csv");
    CHECK(exists(p));
    /* A regular file: CM_EIO, with or without force, and left alone. */
    join(out, sizeof out, dir, "file");
    CHECK(write_text(out, "x") == 0);
    CHECK(cm_report_check_outdir(out, 0, &diag) == CM_EIO);
    CHECK(cm_report_check_outdir(out, 1, &diag) == CM_EIO);
    CHECK(cm_report_write(&fx->run, out, 1, NULL, &diag) == CM_EIO);
    char *txt = read_all(out);
    CHECK(txt != NULL && strcmp(txt, "x") == 0);
    free(txt);
    /* A parent that is a regular file: CM_EIO, nothing created. */
    snprintf(p, sizeof p, "%s/sub/out", out);
    CHECK(cm_report_write(&fx->run, p, 0, NULL, &diag) == CM_EIO);
    CHECK(leftovers(dir) == 0);
    cm_diag_free(&diag);
    rm_tree(dir);
    fixture_free(fx);
}

/* cm_report_write into a folder whose parent is not writable: CM_EIO, no
 * outdir, nothing left.  Run in a child so that, as root, the child can
 * drop to an unprivileged user (root ignores permissions). */
static int unwritable_child(const fixture_t *fx, const char *out)
{
    cm_diag_t diag;
    cm_diag_init(&diag);
    int rc = cm_report_write(&fx->run, out, 0, NULL, &diag);
    int ok = rc == CM_EIO && !exists(out) && diag.count > 0 &&
             strstr(diag.items[0].message, "Permission denied") != NULL;
    if (!ok)
        fprintf(stderr, "unwritable parent: rc %d, outdir %s, message %s\n",
                rc, exists(out) ? "exists" : "missing",
                diag.count ? diag.items[0].message : "(none)");
    cm_diag_free(&diag);
    return ok ? 0 : 1;
}

static void test_unwritable_parent(void)
{
    fixture_t *fx = fixture_new(1, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], ro[600], out[700];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    CHECK(chmod(dir, 0755) == 0);
    join(ro, sizeof ro, dir, "ro");
    CHECK(mkdir(ro, 0555) == 0);
    CHECK(chmod(ro, 0555) == 0); /* whatever the umask */
    join(out, sizeof out, ro, "out");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        _exit(unwritable_child(fx, out));
    }
    int st = 0;
    if (pid > 0)
        CHECK(waitpid(pid, &st, 0) == pid);
    if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        printf("SKIP unwritable_parent: running as root and cannot drop to an "
               "unprivileged user (root ignores folder permissions); the "
               "permission check was NOT run\n");
    } else if (pid > 0) {
        if (geteuid() == 0)
            printf("note: unwritable_parent ran as uid 65534 in a child, "
                   "since root ignores folder permissions\n");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(!exists(out));
    CHECK(leftovers(ro) == 0);
    chmod(ro, 0755);
    rm_tree(dir);
    fixture_free(fx);
}

/* A full disk is an error, never a short file. */
static void test_dev_full(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    if (!exists("/dev/full")) {
        printf("SKIP dev_full: /dev/full does not exist on this system\n");
    } else {
        for (int k = 0; k < 3; k++) {
            FILE *f = fopen("/dev/full", "w");
            CHECK(f != NULL);
            if (f == NULL)
                break;
            errno = 0;
            int rc = k == 0   ? cm_report_write_summary(&fx->run, f)
                     : k == 1 ? cm_report_write_compare(&fx->run, f)
                              : cm_report_write_json(&fx->run, NULL, f);
            CHECK(rc == CM_EIO);
            CHECK(errno == ENOSPC);
            fclose(f);
        }
        /* Output smaller than the stream's buffer (compare.csv of a run of
         * one scenario is its header alone): only the final flush sees the
         * full disk, and that is an error too. */
        fixture_t *one = fixture_new(1, 0);
        CHECK(one != NULL);
        FILE *f = fopen("/dev/full", "w");
        CHECK(f != NULL);
        if (one != NULL && f != NULL) {
            errno = 0;
            CHECK(cm_report_write_compare(&one->run, f) == CM_EIO);
            CHECK(errno == ENOSPC);
        }
        if (f != NULL)
            fclose(f);
        if (one != NULL)
            fixture_free(one);
    }
    fixture_free(fx);
}

/* The whole cm_report_write on a "disk" that fills up mid-file (a file
 * size limit, in a child): CM_EIO, no outdir, no temporary folder. */
static void test_disk_full_write(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char dir[512], out[600];
    CHECK(make_tmpdir(dir, sizeof dir) == 0);
    join(out, sizeof out, dir, "out");
    /* limits: in summary.csv (small), and in run.json (after the two CSV
     * files, which are smaller than run.json) */
    static const rlim_t limits[] = {1000, 60000};
    for (int k = 0; k < 2; k++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl;
            if (getrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(2);
            rl.rlim_cur = limits[k];
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(2);
            cm_diag_t diag;
            cm_diag_init(&diag);
            int rc = cm_report_write(&fx->run, out, 0, NULL, &diag);
            int ok = rc == CM_EIO && diag.count > 0;
            if (diag.count > 0)
                fprintf(stderr, "(expected) %s: %s\n", diag.items[0].file,
                        diag.items[0].message);
            if (k == 1 && diag.count > 0)
                ok = ok && strstr(diag.items[0].file, "run.json") != NULL;
            cm_diag_free(&diag);
            _exit(ok ? 0 : 1);
        }
        int st = 0;
        if (pid > 0)
            CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(!exists(out));
        CHECK(leftovers(dir) == 0);
    }
    rm_tree(dir);
    fixture_free(fx);
}

/* The end-of-run table: the numbers it shows, and its width. */
static void test_print_table(void)
{
    fixture_t *fx = fixture_new(2, 0);
    CHECK(fx != NULL);
    if (fx == NULL)
        return;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (f == NULL) {
        fixture_free(fx);
        return;
    }
    cm_report_print_table(&fx->run, f);
    fclose(f);
    fputs(buf, stdout);
    /* Every line under 120 characters. */
    size_t longest = 0, cur = 0;
    for (const char *p = buf; *p != '\0'; p++) {
        if (*p == '\n') {
            longest = cur > longest ? cur : longest;
            cur = 0;
        } else {
            cur++;
        }
    }
    CHECK(longest < 120);
    char want[200];
    /* the market column shows the year of the reference's largest mean new
     * output (the last year when nothing is produced) */
    const cm_layout_t *l0 = &fx->layouts[0];
    int best = HORIZON - 1;
    double top = 0.0;
    for (int t = 0; t < HORIZON; t++) {
        cm_summary_t sm;
        cm_stats_summary(&fx->stats[0], l0->mineral_slot[CM_MY_NEW_OUTPUT] + (size_t)t, &sm);
        if (isfinite(sm.mean) && sm.mean > top) {
            top = sm.mean;
            best = t;
        }
    }
    snprintf(want, sizeof want, "REO %d\n", BASE_YEAR + best);
    CHECK_STR_CONTAINS(buf, want);
    for (int s = 0; s < 2; s++) {
        const cm_layout_t *l = &fx->layouts[s];
        cm_summary_t npv, eq, ex, def, dom;
        cm_stats_summary(&fx->stats[s], l->portfolio_base + CM_PF_NPV_TOTAL, &npv);
        cm_stats_summary(&fx->stats[s], l->portfolio_base + CM_PF_NPV_EQUITY_TOTAL, &eq);
        cm_stats_summary(&fx->stats[s], l->portfolio_base + CM_PF_EXPOSURE_TOTAL, &ex);
        cm_stats_summary(&fx->stats[s], l->portfolio_base + CM_PF_ANY_DEFAULT, &def);
        snprintf(want, sizeof want, "\n%-10s  %9.1f %9.1f %9.1f  %11.1f  %11.1f  %.3f\n",
                 fx->scen[s].name, npv.p05, npv.p50, npv.p95, eq.p50, ex.mean, def.prob);
        CHECK_STR_CONTAINS(buf, want);
        cm_stats_summary(&fx->stats[s], l->mineral_slot[CM_MY_DOMINANT_SHARE] + (size_t)best,
                         &dom);
        snprintf(want, sizeof want, "\n%-10s  %16.3f\n", fx->scen[s].name, dom.mean);
        CHECK_STR_CONTAINS(buf, want);
    }
    /* antimony has no market: no market column. */
    CHECK(strstr(buf, "antimony") == NULL);
    /* Paired differences against the reference. */
    CHECK_STR_CONTAINS(buf, "paired differences against base");
    CHECK_STR_CONTAINS(buf, "\nwith_dfc  ");
    free(buf);
    /* One scenario: no paired difference. */
    fixture_t *one = fixture_new(1, 0);
    CHECK(one != NULL);
    if (one != NULL) {
        buf = NULL;
        f = open_memstream(&buf, &len);
        CHECK(f != NULL);
        if (f != NULL) {
            cm_report_print_table(&one->run, f);
            fclose(f);
            CHECK(strstr(buf, "paired") == NULL);
            CHECK_STR_CONTAINS(buf, "base");
            free(buf);
        }
        fixture_free(one);
    }
    fixture_free(fx);
}

static const cm_test_t tests[] = {
    {"sha256_known", test_sha256_known},
    {"summary_roundtrip", test_summary_roundtrip},
    {"summary_roundtrip_exact", test_summary_roundtrip_exact},
    {"compare_values", test_compare_values},
    {"python_reader", test_python_reader},
    {"csv_quoting", test_csv_quoting},
    {"run_json", test_run_json},
    {"csv_pure", test_csv_pure},
    {"atomic_existing", test_atomic_existing},
    {"outdir_kinds", test_outdir_kinds},
    {"unwritable_parent", test_unwritable_parent},
    {"dev_full", test_dev_full},
    {"disk_full_write", test_disk_full_write},
    {"print_table", test_print_table},
};

int main(int argc, char **argv)
{
    return CM_TEST_MAIN(tests);
}
