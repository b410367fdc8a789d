/* test_batch.c - batches: variant and sweep expansion, their errors, common
 * random numbers, and a scenario run alone against the same scenario in a
 * batch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cmsim/config.h"
#include "cmsim/driver.h"
#include "cmsim/model.h"

/* A small valid scenario: one mineral, one country, two projects with the
 * same tranche names.  The batch group is appended per test. */
static const char *const MINI =
    "name = \"mini\";\n"
    "run = { seed = 11; paths = 2000; horizon = 15; discount_rate = 0.08; };\n"
    "countries = ( { name = \"A\"; expropriation = 0.01; } );\n"
    "minerals = ( { name = \"cu\"; price = { model = \"gbm\"; p0 = 9000.0; mu = 0.0; sigma = 0.25; };\n"
    "  market = { dominant = \"Other\"; export_fraction = 0.2;\n"
    "    producers = ( { country = \"Other\"; output0 = 1000000.0; growth = 0.01; } ); }; } );\n"
    "projects = (\n"
    "  { name = \"p1\"; country = \"A\"; mineral = \"cu\"; start = 0;\n"
    "    capex = { dist = \"pert\"; min = 300.0; mode = 350.0; max = 600.0; };\n"
    "    build_years = 2; capacity = 60000.0; life = 12;\n"
    "    utilization = { dist = \"beta\"; a = 18.0; b = 2.0; }; opex = 5000.0;\n"
    "    royalty = 0.05; tax = 0.2; depreciation_years = 8;\n"
    "    financing = ( { name = \"equity\"; type = \"equity\"; share = 0.3; },\n"
    "                  { name = \"commercial\"; type = \"debt\"; share = 0.7; rate = 0.09; tenor = 7; grace = 1; },\n"
    "                  { name = \"dfc\"; type = \"debt\"; share = 0.0; rate = 0.035; tenor = 15; grace = 2; } ); },\n"
    "  { name = \"p2\"; country = \"A\"; mineral = \"cu\"; start = 1;\n"
    "    capex = 200.0; build_years = 2; capacity = 30000.0; life = 10;\n"
    "    utilization = 0.9; opex = 5500.0; royalty = 0.05; tax = 0.2; depreciation_years = 8;\n"
    "    financing = ( { name = \"equity\"; type = \"equity\"; share = 0.4; },\n"
    "                  { name = \"commercial\"; type = \"debt\"; share = 0.6; rate = 0.09; tenor = 7; },\n"
    "                  { name = \"dfc\"; type = \"debt\"; share = 0.0; rate = 0.035; tenor = 15; } ); }\n"
    ");\n";

static char tmpdir[256];

static const char *write_file(const char *name, const char *batch)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return path;
    fputs(MINI, f);
    fputs(batch, f);
    fclose(f);
    return path;
}

static int load(const char *batch, const char *only, cm_batch_t *b, cm_diag_t *d)
{
    cm_diag_init(d);
    return cm_batch_load(write_file("b.cfg", batch), NULL, 0, only, b, d);
}

/* Does any diagnostic contain all of the fragments? */
static int diag_has(const cm_diag_t *d, const char *a, const char *b)
{
    char buf[1200];
    for (size_t i = 0; i < d->count; i++) {
        cm_diag_format(&d->items[i], buf, sizeof buf);
        if (strstr(buf, a) && (b == NULL || strstr(buf, b)))
            return 1;
    }
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "  diag: %s\n", cm_diag_format(&d->items[i], buf, sizeof buf));
    return 0;
}

static void test_no_batch_is_one_scenario(void)
{
    cm_batch_t b;
    cm_diag_t d;
    CHECK(load("", NULL, &b, &d) == 0);
    CHECK(b.nscen == 1 && b.reference_included);
    CHECK(strcmp(b.name, "mini") == 0 && strcmp(b.scen[0].name, "mini") == 0);
    cm_batch_free(&b);
    cm_diag_free(&d);
}

static void test_variants_expand(void)
{
    cm_batch_t b;
    cm_diag_t d;
    int rc = load("batch = { reference = \"base\";\n"
                  "  variants = (\n"
                  "    { name = \"dfc\"; description = \"concessional\";\n"
                  "      set = ( { paths = [ \"projects.p1.financing.dfc.share\", \"projects.p2.financing.dfc.share\" ]; value = 0.5; },\n"
                  "              { path = \"projects.p1.financing.commercial.share\"; value = 0.2; },\n"
                  "              { path = \"projects.p2.financing.[1].share\"; value = 0.1; },\n"
                  "              { path = \"projects.p1.pri_cover\"; value = 0.9; } ); },\n"
                  "    { name = \"costly\";\n"
                  "      set = ( { path = \"projects.p2.capex\"; value = { dist = \"uniform\"; min = 250.0; max = 300.0; }; } ); },\n"
                  "    { name = \"same\"; }\n"
                  "  ); };\n",
                  NULL, &b, &d);
    CHECK(rc == 0);
    if (rc != 0) {
        diag_has(&d, "-", NULL);
        cm_diag_free(&d);
        return;
    }
    CHECK(b.nscen == 4);
    CHECK(strcmp(b.scen[0].name, "base") == 0);
    CHECK(strcmp(b.scen[1].name, "dfc") == 0);
    CHECK(strcmp(b.scen[1].description, "concessional") == 0);
    const cm_project_t *p1 = &b.scen[1].projects[0], *p2 = &b.scen[1].projects[1];
    CHECK(p1->tranches[2].share == 0.5 && p2->tranches[2].share == 0.5);
    CHECK(p1->tranches[1].share == 0.2 && p2->tranches[1].share == 0.1);
    CHECK(p1->pri_cover == 0.9);
    CHECK(b.scen[0].projects[0].pri_cover == 0.0);
    CHECK(b.scen[2].projects[1].capex.kind == CM_DIST_UNIFORM);
    CHECK(b.scen[2].projects[1].capex.p[0] == 250.0);
    CHECK(b.scen[0].projects[1].capex.kind == CM_DIST_FIXED);
    CHECK(b.scen[3].projects[0].tranches[1].share == 0.7);
    /* all share the seed: common random numbers */
    for (int i = 1; i < b.nscen; i++)
        CHECK(b.scen[i].seed == b.scen[0].seed &&
              b.scen[i].projects[0].capex_key == b.scen[0].projects[0].capex_key);
    cm_batch_free(&b);
    cm_diag_free(&d);
}

static void test_sweep_expand(void)
{
    cm_batch_t b;
    cm_diag_t d;
    int rc = load("batch = {\n"
                  "  variants = ( { name = \"pri\"; set = ( { path = \"projects.p1.pri_cover\"; value = 0.5; } ); } );\n"
                  "  sweeps = ( { name = \"s\"; base = \"pri\"; parameters = (\n"
                  "    { paths = [ \"projects.p1.financing.dfc.share\" ];\n"
                  "      balance = \"projects.p1.financing.commercial.share\"; total = 0.7;\n"
                  "      start = 0.0; stop = 0.7; step = 0.35; },\n"
                  "    { path = \"projects.p2.royalty\"; values = [ 0.03, 0.06 ]; } ); } ); };\n",
                  NULL, &b, &d);
    CHECK(rc == 0);
    if (rc != 0) {
        diag_has(&d, "-", NULL);
        cm_diag_free(&d);
        return;
    }
    /* reference, pri, then 3 x 2 sweep points, the last parameter fastest */
    CHECK(b.nscen == 8);
    CHECK(strcmp(b.scen[0].name, "reference") == 0);
    const double dfc[6] = {0.0, 0.0, 0.35, 0.35, 0.7, 0.7};
    const double roy[6] = {0.03, 0.06, 0.03, 0.06, 0.03, 0.06};
    for (int k = 0; k < 6; k++) {
        const cm_scenario_t *s = &b.scen[2 + k];
        char name[16];
        snprintf(name, sizeof name, "s_%d", k + 1);
        CHECK(strcmp(s->name, name) == 0);
        CHECK(s->projects[0].tranches[2].share == dfc[k]);
        CHECK(s->projects[0].tranches[1].share == (k < 2 ? 0.7 : k < 4 ? 0.35 : 0.0));
        CHECK(s->projects[1].royalty == roy[k]);
        CHECK(s->projects[0].pri_cover == 0.5); /* from the base variant */
        CHECK(strstr(s->description, "projects.p1.financing.dfc.share") != NULL);
    }
    cm_batch_free(&b);
    cm_diag_free(&d);
}

typedef struct {
    const char *name, *batch, *only, *frag1, *frag2;
} bad_batch_t;

static void test_bad_batches(void)
{
    static const bad_batch_t cases[] = {
        {"missing path", "batch = { variants = ( { name = \"v\"; set = ( { path = \"projects.p1.royalti\"; value = 0.1; } ); } ); };\n",
         NULL, "projects.p1.royalti", "royalty"},
        {"type mismatch", "batch = { variants = ( { name = \"v\"; set = ( { path = \"projects.p1.royalty\"; value = \"high\"; } ); } ); };\n",
         NULL, "projects.[0].royalty", "expected a number"},
        {"variant names the failure", "batch = { variants = ( { name = \"v\"; set = ( { path = \"projects.p1.royalty\"; value = 2.0; } ); } ); };\n",
         NULL, "scenario 'v' of the batch does not validate", NULL},
        {"shares no longer sum to 1", "batch = { variants = ( { name = \"v\"; set = ( { path = \"projects.p1.financing.dfc.share\"; value = 0.5; } ); } ); };\n",
         NULL, "projects.[0].financing", "sum"},
        {"unknown key", "batch = { variants = ( { name = \"v\"; sett = ( ); } ); };\n", NULL,
         "unknown key 'sett'", "did you mean 'set'"},
        {"duplicate names", "batch = { reference = \"v\"; variants = ( { name = \"v\"; } ); };\n", NULL,
         "'v' is used twice", NULL},
        {"no path", "batch = { variants = ( { name = \"v\"; set = ( { value = 1.0; } ); } ); };\n", NULL,
         "give `path` or `paths`", NULL},
        {"no value", "batch = { variants = ( { name = \"v\"; set = ( { path = \"projects.p1.royalty\"; } ); } ); };\n",
         NULL, "value: missing", NULL},
        {"step the wrong way", "batch = { sweeps = ( { name = \"s\"; parameters = ( { path = \"projects.p1.royalty\"; start = 0.1; stop = 0.0; step = 0.05; } ); } ); };\n",
         NULL, "does not lead from start", NULL},
        {"values and range", "batch = { sweeps = ( { name = \"s\"; parameters = ( { path = \"projects.p1.royalty\"; values = [ 0.1 ]; step = 0.05; } ); } ); };\n",
         NULL, "either `values` or `start`", NULL},
        {"unknown base", "batch = { sweeps = ( { name = \"s\"; base = \"nope\"; parameters = ( { path = \"projects.p1.royalty\"; values = [ 0.1 ]; } ); } ); };\n",
         NULL, "no variant named 'nope'", NULL},
        {"too many", "batch = { sweeps = ( { name = \"s\"; parameters = ( { path = \"projects.p1.royalty\"; start = 0.0; stop = 1.0; step = 0.00001; } ); } ); };\n",
         NULL, "at most 10000", NULL},
        {"balance without total", "batch = { sweeps = ( { name = \"s\"; parameters = ( { path = \"projects.p1.royalty\"; balance = \"projects.p2.royalty\"; values = [ 0.1 ]; } ); } ); };\n",
         NULL, "total", "missing"},
        {"scenario not in batch", "batch = { variants = ( { name = \"dfc\"; } ); };\n", "dfx",
         "no scenario named 'dfx'", "did you mean 'dfc'"},
        {"batch must be a group", "batch = 3;\n", NULL, "batch", "group"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cm_batch_t b;
        cm_diag_t d;
        int rc = load(cases[i].batch, cases[i].only, &b, &d);
        if (rc != CM_ECONFIG || !diag_has(&d, cases[i].frag1, cases[i].frag2)) {
            fprintf(stderr, "bad batch case '%s': rc %d\n", cases[i].name, rc);
            cm_test_failures_++;
        }
        CHECK(b.nscen == 0 && b.scen == NULL);
        cm_diag_free(&d);
    }
}

static int run_mode(const cm_scenario_t **list, int n, uint64_t paths, int exact, int mode,
                    int no_mirror, cm_run_t *run);

/* Run scenarios (free mode, 2 threads) and return the run (caller frees). */
static int run_batch(const cm_scenario_t **list, int n, uint64_t paths, cm_run_t *run)
{
    return run_mode(list, n, paths, 0, 0, 0, run);
}

/* Common random numbers: changing one project's financing, the paired
 * difference's standard error is far below the unpaired one; and a
 * scenario alone gives the same numbers as in the batch. */
static void test_crn_and_alone(void)
{
    cm_batch_t b;
    cm_diag_t d;
    int rc = load("batch = { variants = ( { name = \"dfc\";\n"
                  "  set = ( { path = \"projects.p1.financing.dfc.share\"; value = 0.5; },\n"
                  "          { path = \"projects.p1.financing.commercial.share\"; value = 0.2; } ); } ); };\n",
                  NULL, &b, &d);
    CHECK(rc == 0 && b.nscen == 2);
    if (rc != 0) {
        cm_diag_free(&d);
        return;
    }
    const cm_scenario_t *both[2] = {&b.scen[0], &b.scen[1]};
    cm_run_t run;
    CHECK(run_batch(both, 2, 4000, &run) == 0);
    size_t slot = cm_layout_project(&run.layouts[0], 0, CM_PO_NPV_EQUITY);
    cm_summary_t a, v, diff;
    cm_stats_summary(&run.stats[0], slot, &a);
    cm_stats_summary(&run.stats[1], slot, &v);
    cm_stats_summary(&run.diff[1], slot, &diff);
    double unpaired = sqrt(a.se * a.se + v.se * v.se);
    printf("  npv_equity p1: paired se %.4g, unpaired se %.4g, ratio %.3f\n", diff.se,
           unpaired, diff.se / unpaired);
    CHECK(diff.n == 4000);
    CHECK(diff.se < 0.3 * unpaired);
    CHECK(fabs(diff.mean - (v.mean - a.mean)) < 1e-9 * fmax(1.0, fabs(a.mean)));

    const cm_scenario_t *alone[1] = {&b.scen[1]};
    cm_run_t run1;
    CHECK(run_batch(alone, 1, 4000, &run1) == 0);
    for (size_t i = 0; i < run.layouts[1].nslots; i++) {
        cm_summary_t x, y;
        cm_stats_summary(&run.stats[1], i, &x);
        cm_stats_summary(&run1.stats[0], i, &y);
        if (memcmp(&x, &y, sizeof x) != 0) {
            fprintf(stderr, "slot %zu differs alone vs in the batch\n", i);
            cm_test_failures_++;
            break;
        }
    }
    cm_run_free(&run1);
    cm_run_free(&run);
    cm_batch_free(&b);
    cm_diag_free(&d);
}

/* Two variants of the test scenario: one changes financing only, one a
 * project's capex. */
#define VARIANTS_FIN_CAPEX                                                                 \
    "  { name = \"fin\"; set = ( { path = \"projects.p1.financing.dfc.share\"; value = 0.5; },\n" \
    "                          { path = \"projects.p1.financing.commercial.share\"; value = 0.2; } ); },\n" \
    "  { name = \"capex\"; set = ( { path = \"projects.p2.capex\"; value = 250.0; } ); },\n"

/* Variants draw what they share with the reference by copying it: the flags
 * say what is shared, and a path computed with the copy equals the path
 * computed from scratch, bit for bit. */
static void test_shared_draws(void)
{
    cm_batch_t b;
    cm_diag_t d;
    int rc = load("batch = { variants = (\n"
                  VARIANTS_FIN_CAPEX
                  "  { name = \"world\"; set = ( { path = \"minerals.cu.price.sigma\"; value = 0.3; } ); } ); };\n",
                  NULL, &b, &d);
    CHECK(rc == 0 && b.nscen == 4);
    if (rc != 0) {
        cm_diag_free(&d);
        return;
    }
    cm_model_share_t sh[4];
    for (int i = 1; i < 4; i++)
        CHECK(cm_model_share_init(&sh[i], &b.scen[i], &b.scen[0]) == 0);
    CHECK(sh[1].world == 1 && sh[1].project[0] == 0 && sh[1].project[1] == 1);
    CHECK(sh[2].world == 1 && sh[2].project[0] == 0 && sh[2].project[1] == -1);
    CHECK(sh[3].world == 0 && sh[3].project[0] == 0 && sh[3].project[1] == 1);
    cm_layout_t l[4];
    cm_model_ws_t ws[4], fresh;
    for (int i = 0; i < 4; i++) {
        CHECK(cm_layout_init(&l[i], &b.scen[i]) == 0);
        CHECK(cm_model_ws_init(&ws[i], &b.scen[i], &l[i]) == 0);
    }
    double *o1 = calloc(l[0].nslots, sizeof(double)), *o2 = calloc(l[0].nslots, sizeof(double));
    for (uint64_t path = 0; path < 50; path++) {
        cm_model_path(&ws[0], path, o1);
        for (int i = 1; i < 4; i++) {
            cm_model_path_shared(&ws[i], path, o1, &ws[0], &sh[i]);
            CHECK(cm_model_ws_init(&fresh, &b.scen[i], &l[i]) == 0);
            cm_model_path(&fresh, path, o2);
            CHECK(memcmp(o1, o2, l[i].nslots * sizeof(double)) == 0);
            cm_model_ws_free(&fresh);
            cm_model_path(&ws[0], path, o1); /* the donor again, for the next variant */
        }
    }
    free(o1);
    free(o2);
    for (int i = 0; i < 4; i++) {
        cm_model_ws_free(&ws[i]);
        cm_layout_free(&l[i]);
        if (i > 0)
            cm_model_share_free(&sh[i]);
    }
    cm_batch_free(&b);
    cm_diag_free(&d);
}

/* The serialised state of an accumulator (caller frees), or NULL. */
static unsigned char *state_bytes(const cm_stats_t *st, size_t *len)
{
    *len = 0;
    FILE *f = tmpfile();
    if (f == NULL || cm_stats_write(st, f) != CM_EOK) {
        if (f)
            fclose(f);
        return NULL;
    }
    long end = ftell(f);
    rewind(f);
    unsigned char *buf = end > 0 ? malloc((size_t)end) : NULL;
    if (buf != NULL && fread(buf, 1, (size_t)end, f) != (size_t)end) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = buf ? (size_t)end : 0;
    return buf;
}

/* mode 0: free mode, 2 threads; 1: ordered (a dump), 2 threads; 2: blocks
 * computed last to first, one thread. */
static int run_mode(const cm_scenario_t **list, int n, uint64_t paths, int exact, int mode,
                    int no_mirror, cm_run_t *run)
{
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_run_init(run, list, n, paths, exact, &d);
    cm_run_options_t opt = {0};
    opt.threads = mode == 2 ? 1 : 2;
    opt.reverse_blocks = mode == 2;
    opt.no_mirror = no_mirror;
    FILE *dump = mode == 1 ? tmpfile() : NULL;
    opt.dump = dump;
    if (rc == 0)
        rc = cm_run_execute(run, &opt, &d);
    if (dump)
        fclose(dump);
    cm_diag_free(&d);
    return rc;
}

/* Whether two accumulators write the same bytes. */
static int same_bytes(const cm_stats_t *x, const cm_stats_t *y)
{
    size_t lx, ly;
    unsigned char *a = state_bytes(x, &lx), *b = state_bytes(y, &ly);
    int same = a != NULL && b != NULL && lx == ly && memcmp(a, b, lx) == 0;
    free(a);
    free(b);
    return same;
}

/* A variant's slots that equal the reference's on every path so far are
 * not added to but copied from the reference, and their paired differences
 * filled with the zeros they would have been given (engine/driver.c,
 * mirrored slots).  Variants that change financing only (most slots
 * mirrored to the end), a capex (some slots stop mirroring on the first
 * path), the world (prices differ: few mirrored) and a royalty of one
 * project: in free, ordered and reversed-block runs, sketch and exact mode,
 * every accumulator of the batch, paired differences included, writes the
 * very bytes of the same run with nothing mirrored (no_mirror), and each
 * variant's those of the scenario run alone. */
static void test_mirrors_same_bytes(void)
{
    cm_batch_t b;
    cm_diag_t d;
    int rc = load("batch = { variants = (\n"
                  VARIANTS_FIN_CAPEX
                  "  { name = \"world\"; set = ( { path = \"minerals.cu.price.sigma\"; value = 0.3; } ); },\n"
                  "  { name = \"roy\"; set = ( { path = \"projects.p1.royalty\"; value = 0.09; } ); } ); };\n",
                  NULL, &b, &d);
    CHECK(rc == 0 && b.nscen == 5);
    if (rc != 0) {
        cm_diag_free(&d);
        return;
    }
    const uint64_t paths = 2500; /* three blocks, the last partial */
    const cm_scenario_t *all[5];
    for (int i = 0; i < 5; i++)
        all[i] = &b.scen[i];
    for (int exact = 0; exact < 2; exact++)
        for (int mode = 0; mode < 3; mode++) {
            cm_run_t run, plain;
            CHECK(run_mode(all, 5, paths, exact, mode, 0, &run) == 0);
            CHECK(run_mode(all, 5, paths, exact, mode, 1, &plain) == 0);
            for (int s = 0; s < 5; s++) {
                const cm_scenario_t *alone[1] = {&b.scen[s]};
                cm_run_t r1;
                CHECK(run_mode(alone, 1, paths, exact, 0, 0, &r1) == 0);
                int same = same_bytes(&run.stats[s], &plain.stats[s]) &&
                           same_bytes(&run.stats[s], &r1.stats[0]) &&
                           (s == 0 || same_bytes(&run.diff[s], &plain.diff[s]));
                if (!same) {
                    fprintf(stderr, "  scenario %s differs (exact %d, mode %d)\n",
                            b.scen[s].name, exact, mode);
                    cm_test_failures_++;
                }
                cm_run_free(&r1);
            }
            cm_run_free(&plain);
            cm_run_free(&run);
        }
    cm_batch_free(&b);
    cm_diag_free(&d);
}

/* The default batch validates and runs at a small path count. */
static void test_default_batch_runs(void)
{
    cm_batch_t b;
    cm_diag_t d;
    cm_diag_init(&d);
    int rc = cm_batch_load(CMSIM_SOURCE_DIR "/scenarios/central_asia.cfg", NULL, 0, NULL, &b, &d);
    CHECK(rc == 0);
    if (rc != 0) {
        diag_has(&d, "-", NULL);
        cm_diag_free(&d);
        return;
    }
    CHECK(b.nscen >= 7);
    const cm_scenario_t **list = calloc((size_t)b.nscen, sizeof *list);
    for (int i = 0; i < b.nscen; i++)
        list[i] = &b.scen[i];
    cm_run_t run;
    CHECK(run_batch(list, b.nscen, 300, &run) == 0);
    for (int s = 0; s < b.nscen; s++) {
        cm_summary_t sm;
        cm_stats_summary(&run.stats[s], run.layouts[s].portfolio_base + CM_PF_NPV_TOTAL, &sm);
        CHECK(sm.n == 300 && isfinite(sm.mean));
    }
    cm_run_free(&run);
    free(list);
    cm_batch_free(&b);
    cm_diag_free(&d);
}

int main(int argc, char **argv)
{
    static const cm_test_t tests[] = {
        {"no_batch_is_one_scenario", test_no_batch_is_one_scenario},
        {"variants_expand", test_variants_expand},
        {"sweep_expand", test_sweep_expand},
        {"bad_batches", test_bad_batches},
        {"crn_and_alone", test_crn_and_alone},
        {"shared_draws", test_shared_draws},
        {"mirrors_same_bytes", test_mirrors_same_bytes},
        {"default_batch_runs", test_default_batch_runs},
    };
    snprintf(tmpdir, sizeof tmpdir, "%s/cmsim-test-batch-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    int rc = CM_TEST_MAIN(tests);
    char path[512];
    snprintf(path, sizeof path, "%s/b.cfg", tmpdir);
    remove(path);
    rmdir(tmpdir);
    return rc;
}
