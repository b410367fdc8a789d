/* tests/check.h - the small assertion and test-table header shared by every
 * test program.
 *
 * A test program defines a table of named tests and calls cm_test_main:
 *
 *   static const cm_test_t tests[] = { {"hhi_known", test_hhi_known}, ... };
 *   int main(int argc, char **argv) { return CM_TEST_MAIN(tests); }
 *
 * Run all:      ./test_market
 * Run one:      ./test_market hhi_known
 * A failing CHECK prints file:line and the expression and marks the test
 * failed; the program prints "N passed, M failed" and exits non-zero on any
 * failure.
 */
#ifndef CMSIM_TEST_CHECK_H
#define CMSIM_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} cm_test_t;

static int cm_test_failures_;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            cm_test_failures_++;                                           \
        }                                                                  \
    } while (0)

/* |a - b| <= tol (absolute). */
#define CHECK_NEAR(a, b, tol)                                              \
    do {                                                                   \
        double a_ = (a), b_ = (b), t_ = (tol);                             \
        if (!(fabs(a_ - b_) <= t_)) {                                      \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = "  \
                    "%.17g, tolerance %.3g\n", __FILE__, __LINE__, #a, a_, \
                    #b, b_, t_);                                           \
            cm_test_failures_++;                                           \
        }                                                                  \
    } while (0)

/* Relative: |a - b| <= tol * max(|b|, 1e-300); both NaN counts as equal. */
#define CHECK_REL(a, b, tol)                                               \
    do {                                                                   \
        double a_ = (a), b_ = (b), t_ = (tol);                             \
        int ok_ = (isnan(a_) && isnan(b_)) ||                              \
                  fabs(a_ - b_) <= t_ * fmax(fabs(b_), 1e-300);            \
        if (!ok_) {                                                        \
            fprintf(stderr, "%s:%d: CHECK_REL failed: %s = %.17g, %s = "   \
                    "%.17g, rel tolerance %.3g\n", __FILE__, __LINE__, #a, \
                    a_, #b, b_, t_);                                       \
            cm_test_failures_++;                                           \
        }                                                                  \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                    \
    do {                                                                   \
        const char *h_ = (hay), *n_ = (needle);                            \
        if (h_ == NULL || strstr(h_, n_) == NULL) {                        \
            fprintf(stderr, "%s:%d: expected \"%s\" in \"%s\"\n", __FILE__, \
                    __LINE__, n_, h_ ? h_ : "(null)");                     \
            cm_test_failures_++;                                           \
        }                                                                  \
    } while (0)

static inline int cm_test_main(const cm_test_t *tests, size_t n, int argc,
                               char **argv)
{
    int passed = 0, failed = 0, ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], tests[i].name) == 0)
                    wanted = 1;
            if (!wanted)
                continue;
        }
        int before = cm_test_failures_;
        tests[i].fn();
        ran++;
        if (cm_test_failures_ == before) {
            passed++;
            printf("ok   %s\n", tests[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    if (argc > 1 && ran == 0) {
        fprintf(stderr, "no test named %s\n", argv[1]);
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define CM_TEST_MAIN(table) \
    cm_test_main(table, sizeof(table) / sizeof((table)[0]), argc, argv)

#endif
