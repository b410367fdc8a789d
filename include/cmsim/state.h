/* cmsim/state.h - the saved state of a run: partial runs (--part K/N),
 * checkpoints (--checkpoint / --resume) and their exact merge.
 *
 * A state file holds every accumulator of a run restricted to a range of
 * path blocks, plus what identifies the run: the scenario file's SHA-256
 * and the SHA-256 of the exact settings (file bytes, command-line
 * overrides, selected scenario), the seed, the path count, the block size,
 * the scenario names, the quantile mode.  Because every accumulator merges
 * order-free (stats.h), merging parts that cover all blocks gives results
 * byte-identical to one uninterrupted run.
 *
 * Format (version 1): a text header of "key value" lines, a line "data",
 * the accumulators (cm_stats_write, per scenario: the statistics, then for
 * variants the paired differences), and a last line "sha256 <hex>" over
 * everything before it.  Files are written to a temporary name and renamed,
 * so a state file is either complete or absent.
 */
#ifndef CMSIM_STATE_H
#define CMSIM_STATE_H

#include <stdint.h>

#include "cmsim/driver.h"
#include "cmsim/error.h"

#define CM_STATE_VERSION 1

/* What identifies a run, recorded in and checked against every state file. */
typedef struct {
    char scenario_file[4096]; /* absolute path of the scenario file */
    char file_sha256[65];     /* of the scenario file's bytes */
    char settings_sha256[65]; /* of the file's bytes + overrides + selection */
    uint64_t part_k, part_n;  /* 0/0 for a checkpoint of a whole run */
    char sets[4096];          /* the overrides, "PATH=VALUE" lines */
    char only[64];            /* the selected scenario, "" for all */
} cm_state_id_t;

/* Fill id for a run of `file` with the given overrides (--set PATH=VALUE,
 * joined) and selected scenario (NULL for all).  Returns 0 or CM_EIO. */
int cm_state_id(cm_state_id_t *id, const char *file, const char *const *sets,
                size_t nsets, const char *only, cm_diag_t *diag);

/* Write the run's accumulators (blocks [block_begin, next_block)) to path,
 * atomically.  Returns 0 or CM_EIO. */
int cm_state_write(const cm_run_t *run, const cm_state_id_t *id, const char *path,
                   cm_diag_t *diag);

/* The same content in a malloc'ed buffer (for MPI), caller frees. */
int cm_state_to_buffer(const cm_run_t *run, const cm_state_id_t *id, char **out,
                       size_t *out_len, cm_diag_t *diag);

/* The header of a state file, read and checked (checksum, version). */
typedef struct {
    cm_state_id_t id;
    uint64_t seed, paths, block_paths, nblocks, block_begin, block_end, next_block;
    int nscen, exact;
    char names[64][64];       /* scenario names, at most 64 recorded */
} cm_state_header_t;

/* Read path's header (checking its checksum) into h.  Returns 0, CM_EIO
 * (unreadable, truncated, corrupt: the message says which) . */
int cm_state_peek(const char *path, cm_state_header_t *h, cm_diag_t *diag);

/* Load path into run, which must be initialised for the same run (same
 * settings hash, seed, paths, scenarios): its blocks are merged into run's
 * accumulators.  Returns 0, CM_EIO or CM_ECONFIG (another run). */
int cm_state_merge_into(cm_run_t *run, const cm_state_id_t *expect, const char *path,
                        cm_state_header_t *h, cm_diag_t *diag);

/* As cm_state_merge_into, from a buffer; `what` names it in messages. */
int cm_state_merge_buffer(cm_run_t *run, const cm_state_id_t *expect, const char *what,
                          const unsigned char *buf, size_t len, cm_state_header_t *h,
                          cm_diag_t *diag);

#endif
