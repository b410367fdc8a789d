/* error.c - the error table and the caller-owned diagnostic list.
 *
 * The list grows geometrically; an allocation failure drops the item rather
 * than losing the fact that an error happened (the caller still gets the
 * code back). */
#include "cmsim/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cm_strerror(int code)
{
    switch (code) {
#define CM_X_STR(name, value, status, desc) \
    case value:                             \
        return desc;
        CM_ERROR_TABLE(CM_X_STR)
#undef CM_X_STR
    default:
        return "unknown error";
    }
}

int cm_exit_status(int code)
{
    switch (code) {
#define CM_X_STATUS(name, value, status, desc) \
    case value:                                \
        return status;
        CM_ERROR_TABLE(CM_X_STATUS)
#undef CM_X_STATUS
    default:
        return 1;
    }
}

void cm_diag_init(cm_diag_t *d)
{
    memset(d, 0, sizeof *d);
}

void cm_diag_free(cm_diag_t *d)
{
    if (d == NULL)
        return;
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* Control characters (and DEL) become '?': messages quote file contents. */
static void scrub(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            *s = '?';
}

static void copy_str(char *dst, size_t size, const char *src)
{
    if (src == NULL)
        src = "";
    snprintf(dst, size, "%s", src);
    scrub(dst);
}

int cm_diag_add(cm_diag_t *d, int code, const char *file, int line,
                const char *path, const char *fmt, ...)
{
    if (d == NULL)
        return code;
    if (d->count == d->capacity) {
        size_t cap = d->capacity ? 2 * d->capacity : 16;
        cm_diag_item_t *items = realloc(d->items, cap * sizeof *items);
        if (items == NULL) {
            if (code < 0)
                d->dropped++;
            return code;
        }
        d->items = items;
        d->capacity = cap;
    }
    cm_diag_item_t *it = &d->items[d->count++];
    it->code = code;
    it->line = line;
    copy_str(it->file, sizeof it->file, file);
    copy_str(it->path, sizeof it->path, path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof it->message, fmt, ap);
    va_end(ap);
    scrub(it->message);
    if (code == CM_EOK)
        d->warnings++;
    return code;
}

size_t cm_diag_errors(const cm_diag_t *d)
{
    return d ? d->count - d->warnings + d->dropped : 0;
}

int cm_diag_first_code(const cm_diag_t *d)
{
    for (size_t i = 0; d && i < d->count; i++)
        if (d->items[i].code < 0)
            return d->items[i].code;
    return CM_EOK;
}

const char *cm_diag_format(const cm_diag_item_t *it, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
#define CM_APPEND(...)                                                \
    do {                                                              \
        if (n < size) {                                               \
            int w = snprintf(buf + n, size - n, __VA_ARGS__);         \
            n += w > 0 ? (size_t)w : 0;                               \
        }                                                             \
    } while (0)
    if (it->file[0] != '\0') {
        if (it->line > 0)
            CM_APPEND("%s:%d: ", it->file, it->line);
        else
            CM_APPEND("%s: ", it->file);
    }
    if (it->path[0] != '\0')
        CM_APPEND("%s: ", it->path);
    CM_APPEND("%s", it->message);
#undef CM_APPEND
    return buf;
}

void cm_diag_print(const cm_diag_t *d, void *stream)
{
    FILE *f = stream;
    char buf[1200];
    for (size_t i = 0; d && i < d->count; i++)
        fprintf(f, "%s: %s\n", d->items[i].code < 0 ? "error" : "warning",
                cm_diag_format(&d->items[i], buf, sizeof buf));
    if (d && d->dropped > 0)
        fprintf(f, "error: %zu more error%s could not be recorded (out of memory)\n",
                d->dropped, d->dropped == 1 ? "" : "s");
}
