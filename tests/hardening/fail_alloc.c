/* tests/hardening/fail_alloc.c - allocation failure injection for a test build
 * of the program (cmsim_failalloc, tests/CMakeLists.txt), linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc so that every malloc,
 * calloc and realloc call made by the program and the engine library goes
 * through the wrappers below; the engine's code is unchanged.  Allocations
 * made inside shared libraries (libc's stdio, GSL, libconfig, OpenMP) are
 * not counted and never fail.
 *
 * Environment:
 *   CMSIM_FAIL_ALLOC_AFTER=N  the first N allocations succeed; every later
 *                             one fails (returns NULL with errno ENOMEM),
 *                             as when memory has run out for good.  Unset:
 *                             nothing fails.
 *   CMSIM_FAIL_ALLOC_ONCE=1   only allocation N+1 fails; later ones succeed
 *                             (a transient failure: tests recovery paths).
 *   CMSIM_FAIL_ALLOC_REPORT=F at exit, write the number of allocations the
 *                             wrappers saw to file F (to size a sweep).
 * realloc(p, 0) and free are not counted.  Thread-safe (one atomic counter).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static atomic_ulong count_;
static atomic_int state_; /* 0: not read yet, 1: read */
static unsigned long after_ = (unsigned long)-1;
static int once_;
static const char *report_;

static void report_count(void)
{
    FILE *f = fopen(report_, "w");
    if (f != NULL) {
        fprintf(f, "%lu\n", (unsigned long)atomic_load(&count_));
        fclose(f);
    }
}

/* Read the environment once (the first allocation comes before any thread). */
static void setup(void)
{
    if (atomic_load(&state_))
        return;
    const char *a = getenv("CMSIM_FAIL_ALLOC_AFTER");
    if (a != NULL && a[0] != '\0')
        after_ = strtoul(a, NULL, 10);
    const char *o = getenv("CMSIM_FAIL_ALLOC_ONCE");
    once_ = o != NULL && o[0] == '1';
    report_ = getenv("CMSIM_FAIL_ALLOC_REPORT");
    if (report_ != NULL && report_[0] != '\0')
        atexit(report_count);
    atomic_store(&state_, 1);
}

/* 1 when this allocation must fail. */
static int fail_now(void)
{
    setup();
    unsigned long k = atomic_fetch_add(&count_, 1); /* 0-based index */
    if (k < after_)
        return 0;
    return once_ ? k == after_ : 1;
}

void *__wrap_malloc(size_t size)
{
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (size != 0 && fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, size);
}
