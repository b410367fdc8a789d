/* state.c - state files for partial runs and checkpoints (state.h).
 *
 * A state file is built in memory (open_memstream), hashed, and written to
 * "<path>.tmp-<pid>" then renamed, so readers see a whole file or none.
 * Reading loads the whole file, checks the trailing SHA-256 before trusting
 * any byte, then parses the header and hands the data to cm_stats_read.
 * Size: the serialised accumulators, a few KB per outcome slot at most.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "cmsim/state.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sha2.h>

#include "cmsim/stats.h"

static const char MAGIC[] = "cmsim-state";

static void hex_digest(const unsigned char *data, size_t len, char hex[65])
{
    SHA2_CTX ctx;
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256Init(&ctx);
    SHA256Update(&ctx, data, len);
    SHA256Final(d, &ctx);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* The whole file into a malloc'ed buffer (NUL-terminated). */
static int slurp(const char *path, unsigned char **buf, size_t *len, cm_diag_t *diag)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot read: %s", strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap + 1);
    while (b != NULL) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        unsigned char *nb = realloc(b, 2 * cap + 1);
        if (nb == NULL) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (b == NULL)
        return cm_diag_add(diag, CM_ENOMEM, path, 0, "", "out of memory reading the state file");
    if (err) {
        free(b);
        return cm_diag_add(diag, CM_EIO, path, 0, "", "read error");
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return CM_EOK;
}

int cm_state_id(cm_state_id_t *id, const char *file, const char *const *sets,
                size_t nsets, const char *only, cm_diag_t *diag)
{
    memset(id, 0, sizeof *id);
    char real[PATH_MAX];
    if (realpath(file, real) == NULL)
        return cm_diag_add(diag, CM_EIO, file, 0, "", "cannot resolve: %s", strerror(errno));
    snprintf(id->scenario_file, sizeof id->scenario_file, "%s", real);
    size_t used = 0;
    for (size_t i = 0; i < nsets; i++) {
        size_t n = strlen(sets[i]);
        if (strchr(sets[i], '\n') != NULL || used + n + 2 > sizeof id->sets)
            return cm_diag_add(diag, CM_EUSAGE, "", 0, "",
                               "overrides too long or with a line break for a state file");
        memcpy(id->sets + used, sets[i], n);
        used += n;
        id->sets[used++] = '\n';
        id->sets[used] = '\0';
    }
    if (only != NULL)
        snprintf(id->only, sizeof id->only, "%s", only);
    unsigned char *buf;
    size_t len;
    int rc = slurp(file, &buf, &len, diag);
    if (rc != CM_EOK)
        return rc;
    hex_digest(buf, len, id->file_sha256);
    /* settings: the file's bytes, then each override and the selection,
     * each behind a NUL-separated tag so no two settings collide */
    SHA2_CTX ctx;
    uint8_t d[SHA256_DIGEST_LENGTH];
    SHA256Init(&ctx);
    SHA256Update(&ctx, buf, len);
    for (size_t i = 0; i < nsets; i++) {
        SHA256Update(&ctx, (const uint8_t *)"\0set\0", 5);
        SHA256Update(&ctx, (const uint8_t *)sets[i], strlen(sets[i]));
    }
    if (only != NULL) {
        SHA256Update(&ctx, (const uint8_t *)"\0only\0", 6);
        SHA256Update(&ctx, (const uint8_t *)only, strlen(only));
    }
    SHA256Final(d, &ctx);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(id->settings_sha256 + 2 * i, 3, "%02x", d[i]);
    free(buf);
    return CM_EOK;
}

int cm_state_to_buffer(const cm_run_t *run, const cm_state_id_t *id, char **out,
                       size_t *out_len, cm_diag_t *diag)
{
    char *mem = NULL;
    size_t len = 0;
    *out = NULL;
    *out_len = 0;
    FILE *m = open_memstream(&mem, &len);
    if (m == NULL)
        return cm_diag_add(diag, CM_ENOMEM, "", 0, "", "out of memory");
    fprintf(m, "%s %d\n", MAGIC, CM_STATE_VERSION);
    fprintf(m, "scenario_file %s\n", id->scenario_file);
    fprintf(m, "file_sha256 %s\n", id->file_sha256);
    fprintf(m, "settings_sha256 %s\n", id->settings_sha256);
    fprintf(m, "part %llu %llu\n", (unsigned long long)id->part_k,
            (unsigned long long)id->part_n);
    for (const char *q = id->sets; *q != '\0';) {
        const char *nl = strchr(q, '\n');
        int n = nl ? (int)(nl - q) : (int)strlen(q);
        fprintf(m, "set %.*s\n", n, q);
        q += n + (nl != NULL);
    }
    if (id->only[0] != '\0')
        fprintf(m, "only %s\n", id->only);
    fprintf(m, "seed %llu\npaths %llu\nblock_paths %u\nnblocks %llu\n",
            (unsigned long long)run->seed, (unsigned long long)run->paths, CM_BLOCK_PATHS,
            (unsigned long long)run->nblocks);
    fprintf(m, "block_begin %llu\nblock_end %llu\nnext_block %llu\n",
            (unsigned long long)run->block_begin, (unsigned long long)run->block_end,
            (unsigned long long)run->next_block);
    fprintf(m, "exact %d\nnscen %d\n", run->exact, run->nscen);
    for (int s = 0; s < run->nscen; s++)
        fprintf(m, "scenario %s\n", run->scen[s]->name);
    fprintf(m, "data\n");
    int rc = CM_EOK;
    for (int s = 0; s < run->nscen && rc == CM_EOK; s++) {
        rc = cm_stats_write(&run->stats[s], m);
        if (rc == CM_EOK && s > 0)
            rc = cm_stats_write(&run->diff[s], m);
    }
    if (fclose(m) != 0 || rc != CM_EOK) {
        free(mem);
        return cm_diag_add(diag, CM_ENOMEM, "", 0, "", "cannot build the state in memory");
    }
    char hex[65];
    hex_digest((const unsigned char *)mem, len, hex);
    char *full = realloc(mem, len + 7 + 64 + 2);
    if (full == NULL) {
        free(mem);
        return cm_diag_add(diag, CM_ENOMEM, "", 0, "", "out of memory");
    }
    len += (size_t)snprintf(full + len, 7 + 64 + 2, "sha256 %s\n", hex);
    *out = full;
    *out_len = len;
    return CM_EOK;
}

int cm_state_write(const cm_run_t *run, const cm_state_id_t *id, const char *path,
                   cm_diag_t *diag)
{
    char *mem;
    size_t len;
    int rc = cm_state_to_buffer(run, id, &mem, &len, diag);
    if (rc != CM_EOK)
        return rc;

    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) {
        free(mem);
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot write: %s", strerror(errno));
    }
    int bad = fwrite(mem, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    int err = errno;
    bad |= fclose(f) != 0;
    free(mem);
    if (bad) {
        remove(tmp);
        return cm_diag_add(diag, CM_EIO, path, 0, "", "write failed: %s", strerror(err));
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        remove(tmp);
        return cm_diag_add(diag, CM_EIO, path, 0, "", "cannot rename into place: %s",
                           strerror(err));
    }
    return CM_EOK;
}

/* Check the checksum and parse the header; *data points at the
 * accumulators, *data_len their length. */
static int parse(const char *path, const unsigned char *buf, size_t len, cm_state_header_t *h,
                 const unsigned char **data, size_t *data_len, cm_diag_t *diag)
{
    memset(h, 0, sizeof *h);
    /* the last line: "sha256 <64 hex>\n" */
    const size_t tail = 7 + 64 + 1;
    if (len < tail || memcmp(buf + len - tail, "sha256 ", 7) != 0 || buf[len - 1] != '\n')
        return cm_diag_add(diag, CM_EIO, path, 0, "",
                           "not a complete cmsim state file (no checksum line: truncated?)");
    char want[65], got[65];
    memcpy(want, buf + len - tail + 7, 64);
    want[64] = '\0';
    hex_digest(buf, len - tail, got);
    if (strcmp(want, got) != 0)
        return cm_diag_add(diag, CM_EIO, path, 0, "",
                           "checksum mismatch: the state file is corrupt");
    size_t body = len - tail;
    const char *p = (const char *)buf;
    const char *end = p + body;
    int version = 0, seen_data = 0, ns = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        char line[1200];
        size_t n = (size_t)(nl - p);
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        char key[32];
        int off = 0;
        if (sscanf(line, "%31s %n", key, &off) < 1)
            continue;
        const char *val = line + off;
        unsigned long long a = 0, b = 0;
        if (strcmp(key, "data") == 0) {
            seen_data = 1;
            break;
        } else if (strcmp(key, MAGIC) == 0) {
            version = atoi(val);
        } else if (strcmp(key, "scenario_file") == 0) {
            snprintf(h->id.scenario_file, sizeof h->id.scenario_file, "%s", val);
        } else if (strcmp(key, "file_sha256") == 0) {
            snprintf(h->id.file_sha256, sizeof h->id.file_sha256, "%s", val);
        } else if (strcmp(key, "settings_sha256") == 0) {
            snprintf(h->id.settings_sha256, sizeof h->id.settings_sha256, "%s", val);
        } else if (strcmp(key, "part") == 0 && sscanf(val, "%llu %llu", &a, &b) == 2) {
            h->id.part_k = a;
            h->id.part_n = b;
        } else if (strcmp(key, "set") == 0) {
            size_t u = strlen(h->id.sets), n2 = strlen(val);
            if (u + n2 + 2 <= sizeof h->id.sets) {
                memcpy(h->id.sets + u, val, n2);
                h->id.sets[u + n2] = '\n';
                h->id.sets[u + n2 + 1] = '\0';
            }
        } else if (strcmp(key, "only") == 0) {
            snprintf(h->id.only, sizeof h->id.only, "%s", val);
        } else if (strcmp(key, "scenario") == 0) {
            if (ns < 64)
                snprintf(h->names[ns], sizeof h->names[ns], "%s", val);
            ns++;
        } else if (sscanf(val, "%llu", &a) == 1) {
            if (strcmp(key, "seed") == 0)
                h->seed = a;
            else if (strcmp(key, "paths") == 0)
                h->paths = a;
            else if (strcmp(key, "block_paths") == 0)
                h->block_paths = a;
            else if (strcmp(key, "nblocks") == 0)
                h->nblocks = a;
            else if (strcmp(key, "block_begin") == 0)
                h->block_begin = a;
            else if (strcmp(key, "block_end") == 0)
                h->block_end = a;
            else if (strcmp(key, "next_block") == 0)
                h->next_block = a;
            else if (strcmp(key, "exact") == 0)
                h->exact = (int)a;
            else if (strcmp(key, "nscen") == 0)
                h->nscen = (int)a;
        }
    }
    if (version != CM_STATE_VERSION || !seen_data)
        return cm_diag_add(diag, CM_EIO, path, 0, "",
                           "not a cmsim state file of version %d", CM_STATE_VERSION);
    if (ns != h->nscen || h->block_begin > h->next_block || h->next_block > h->block_end ||
        h->block_end > h->nblocks || h->block_paths != CM_BLOCK_PATHS)
        return cm_diag_add(diag, CM_EIO, path, 0, "", "inconsistent state file header");
    *data = (const unsigned char *)p;
    *data_len = (size_t)(end - p);
    return CM_EOK;
}

int cm_state_peek(const char *path, cm_state_header_t *h, cm_diag_t *diag)
{
    unsigned char *buf;
    size_t len;
    int rc = slurp(path, &buf, &len, diag);
    if (rc != CM_EOK)
        return rc;
    const unsigned char *data;
    size_t dlen;
    rc = parse(path, buf, len, h, &data, &dlen, diag);
    free(buf);
    return rc;
}

int cm_state_merge_into(cm_run_t *run, const cm_state_id_t *expect, const char *path,
                        cm_state_header_t *h, cm_diag_t *diag)
{
    unsigned char *buf;
    size_t len;
    int rc = slurp(path, &buf, &len, diag);
    if (rc != CM_EOK)
        return rc;
    rc = cm_state_merge_buffer(run, expect, path, buf, len, h, diag);
    free(buf);
    return rc;
}

int cm_state_merge_buffer(cm_run_t *run, const cm_state_id_t *expect, const char *what,
                          const unsigned char *buf, size_t len, cm_state_header_t *h,
                          cm_diag_t *diag)
{
    const char *path = what;
    const unsigned char *data;
    size_t dlen;
    int rc = parse(path, buf, len, h, &data, &dlen, diag);
    if (rc != CM_EOK)
        return rc;
    if (strcmp(h->id.settings_sha256, expect->settings_sha256) != 0) {
        rc = cm_diag_add(diag, CM_ECONFIG, path, 0, "",
                         "belongs to another scenario or other settings (%s, file sha256 %.12s..., "
                         "expected %.12s...)",
                         h->id.scenario_file, h->id.file_sha256, expect->file_sha256);
        return rc;
    }
    if (h->seed != run->seed || h->paths != run->paths || h->nscen != run->nscen ||
        h->exact != run->exact || h->nblocks != run->nblocks) {
        rc = cm_diag_add(diag, CM_ECONFIG, path, 0, "",
                         "another run: seed %llu, %llu paths, %d scenarios, %s quantiles "
                         "(expected seed %llu, %llu paths, %d scenarios, %s quantiles)",
                         (unsigned long long)h->seed, (unsigned long long)h->paths, h->nscen,
                         h->exact ? "exact" : "sketch", (unsigned long long)run->seed,
                         (unsigned long long)run->paths, run->nscen,
                         run->exact ? "exact" : "sketch");
        return rc;
    }
    for (int s = 0; s < run->nscen && s < 64; s++)
        if (strcmp(h->names[s], run->scen[s]->name) != 0) {
            rc = cm_diag_add(diag, CM_ECONFIG, path, 0, "",
                             "scenario %d is '%s', expected '%s'", s, h->names[s],
                             run->scen[s]->name);
            return rc;
        }
    FILE *m = fmemopen((void *)(uintptr_t)data, dlen, "rb");
    if (m == NULL)
        return cm_diag_add(diag, CM_ENOMEM, path, 0, "", "out of memory");
    for (int s = 0; s < run->nscen && rc == CM_EOK; s++) {
        for (int k = 0; k < (s > 0 ? 2 : 1) && rc == CM_EOK; k++) {
            cm_stats_t tmp;
            memset(&tmp, 0, sizeof tmp);
            rc = cm_stats_read(&tmp, m);
            cm_stats_t *dst = k == 0 ? &run->stats[s] : &run->diff[s];
            if (rc == CM_EOK)
                rc = cm_stats_merge(dst, &tmp);
            cm_stats_free(&tmp);
            if (rc != CM_EOK)
                rc = cm_diag_add(diag, rc == CM_ENOMEM ? CM_ENOMEM : CM_EIO, path, 0, "",
                                 "unreadable accumulators for scenario '%s'", run->scen[s]->name);
        }
    }
    fclose(m);
    return rc;
}
