/* cmsim/error.h - error codes, exit codes and collected diagnostics.
 *
 * Every function of the library that can fail returns int: 0 on success or a
 * negative CM_E* code from the table below.  Details (file, line, setting
 * path, what was expected) go into a caller-owned cm_diag_t, never into
 * globals, so that a configuration can report every error it finds at once.
 *
 * The table also fixes the process exit status the command-line program uses
 * for each code; docs/cli.md lists them for users and job scripts.
 */
#ifndef CMSIM_ERROR_H
#define CMSIM_ERROR_H

#include <stddef.h>

/* X(name, value, exit status, description) */
#define CM_ERROR_TABLE(X)                                                     \
    X(OK, 0, 0, "success")                                                    \
    X(INTERNAL, -1, 1, "internal error")                                      \
    X(CONFIG, -2, 2, "configuration error")                                   \
    X(USAGE, -3, 3, "command-line usage error")                               \
    X(IO, -4, 4, "input/output error")                                        \
    X(EXISTS, -5, 5, "output exists (use --force to overwrite)")              \
    X(NOMEM, -6, 6, "out of memory")                                          \
    X(INTERRUPTED, -7, 7, "interrupted by a signal")

enum cm_error_code {
#define CM_X_ENUM(name, value, status, desc) CM_E##name = value,
    CM_ERROR_TABLE(CM_X_ENUM)
#undef CM_X_ENUM
};

/* Human-readable description of a code ("configuration error"). */
const char *cm_strerror(int code);

/* Process exit status for a code (0 for CM_EOK, 1 for unknown codes). */
int cm_exit_status(int code);

/* One diagnostic: where and what.  file may be "" (command line) and line 0
 * (no line known); path is the setting path ("projects.[1].capex.mode") or "". */
typedef struct {
    int code;          /* CM_E* */
    int line;          /* 1-based line in file, 0 when unknown */
    char file[256];
    char path[256];
    char message[512];
} cm_diag_item_t;

/* A growing list of diagnostics, owned by the caller.  Initialise with
 * cm_diag_init(); cm_diag_free() is safe on a zeroed or freed list. */
typedef struct {
    cm_diag_item_t *items;
    size_t count;
    size_t capacity;
    size_t warnings; /* how many items are warnings (code CM_EOK) */
    size_t dropped;  /* errors that could not be stored (out of memory) */
} cm_diag_t;

void cm_diag_init(cm_diag_t *d);
void cm_diag_free(cm_diag_t *d);

/* Append an error (code < 0) or a warning (code == CM_EOK).  Never fails: when
 * memory runs out the item is dropped but counted (cm_diag_errors includes
 * it, cm_diag_print says so).  Control characters in the texts are replaced
 * by '?', so a file cannot send escape sequences to a terminal.  Returns
 * code. */
int cm_diag_add(cm_diag_t *d, int code, const char *file, int line,
                const char *path, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Number of errors (items whose code is negative, and dropped errors). */
size_t cm_diag_errors(const cm_diag_t *d);

/* First error code in the list, or CM_EOK. */
int cm_diag_first_code(const cm_diag_t *d);

/* Format one item as "file:line: path: message" (parts that are empty are
 * left out) into buf; returns buf. */
const char *cm_diag_format(const cm_diag_item_t *it, char *buf, size_t size);

/* Print every item, one per line, on stream (a FILE *), errors prefixed
 * "error: " and warnings "warning: ". */
void cm_diag_print(const cm_diag_t *d, void *stream);

#endif
