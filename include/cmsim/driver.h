/* cmsim/driver.h - the parallel Monte Carlo run of one or more scenarios.
 *
 * Paths are cut into fixed blocks of CM_BLOCK_PATHS (the last may be
 * shorter).  OpenMP threads take blocks dynamically; each thread simulates
 * every scenario of the run on the block's paths (common random numbers:
 * the same path number is the same draws in every scenario) and adds the
 * outcomes to its block accumulators, which are then merged into the run's
 * accumulators.  Every accumulator merges order-free (exact sums, integer
 * counts: stats.h), so the result is bit-identical for any number of
 * threads, MPI ranks or parts.  Merges still happen in block order (an
 * OpenMP ordered region) for two other reasons: --dump-paths rows come out
 * in path order, and an interrupted run holds exactly the blocks before
 * next_block, which is what a checkpoint records.  Memory does not grow
 * with the number of paths (except in exact-quantile mode).
 *
 * Scenario 0 is the reference.  For every other scenario v the run also
 * accumulates the paired difference v - reference, path by path, for every
 * slot whose (outcome, entity type, entity, year) exists in both.
 *
 * Thread-safety: one run at a time per cm_run_t.  SIGINT/SIGTERM handling
 * is the caller's: it sets the flag passed in the options, and the run
 * stops taking new blocks and returns CM_EINTERRUPTED.
 */
#ifndef CMSIM_DRIVER_H
#define CMSIM_DRIVER_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "cmsim/error.h"
#include "cmsim/model.h"
#include "cmsim/outcomes.h"
#include "cmsim/scenario.h"
#include "cmsim/stats.h"

/* Paths per block: the unit of work of a thread, of a part (--part K/N
 * splits whole blocks) and of a checkpoint.  No statistic depends on it. */
#define CM_BLOCK_PATHS 1024u

/* Most shares a run can be cut into (--part K/N, MPI ranks). */
#define CM_MAX_SHARES 1000000u

struct cm_run;

typedef struct {
    int threads;                 /* 0: OpenMP's default */
    int progress;                /* 0 none, 1 bar (terminal), 2 plain lines */
    FILE *progress_stream;       /* where progress goes (stderr) */
    FILE *dump;                  /* per-path scalar outcomes as CSV, or NULL */
    int reverse_blocks;          /* tests: compute blocks last to first */
    int no_mirror;               /* tests: add every variant slot (no mirrored
                                    slots, engine/driver.c): same results */
    atomic_int *stop;            /* set to non-zero to stop (may be NULL): from
                                    any thread, or a signal handler (atomic_int
                                    is lock-free where cmsim builds) */
    /* Checkpoints: called (serially, between merges) every checkpoint_every
     * seconds and once more when the run stops early; the run's
     * accumulators then hold blocks [block_begin, next_block).  A non-zero
     * return stops the run with that code. */
    int (*checkpoint)(const struct cm_run *run, void *ctx);
    void *checkpoint_ctx;
    double checkpoint_every;
} cm_run_options_t;

typedef struct cm_run {
    int nscen;
    const cm_scenario_t **scen;  /* borrowed; scen[0] is the reference */
    cm_layout_t *layouts;        /* one per scenario */
    cm_stats_t *stats;           /* one per scenario */
    cm_stats_t *diff;            /* one per scenario; diff[0] unused (0 slots) */
    size_t **diff_ref;           /* diff_ref[v][i] = reference slot of v's slot i, or SIZE_MAX */
    cm_model_share_t *share;     /* share[v]: draws v takes from the reference (v >= 1) */
    uint64_t paths;
    uint64_t seed;
    int exact;
    int threads_used;
    double wall_seconds;
    /* Blocks of this run: [block_begin, block_end) of nblocks in all (a
     * part, an MPI rank's share, or everything); next_block: the first not
     * yet merged (a resumed run starts there). */
    uint64_t nblocks, block_begin, block_end, next_block;
} cm_run_t;

/* Number of blocks for a path count. */
uint64_t cm_run_nblocks(uint64_t paths);

/* Restrict the run to the k-th (1-based) of n equal shares of the blocks:
 * [floor((k-1) nb / n), floor(k nb / n)).  Returns 0 or CM_EUSAGE. */
int cm_run_set_share(cm_run_t *run, uint64_t k, uint64_t n);

/* Prepare a run of nscen scenarios over `paths` paths (all scenarios must
 * share seed and horizon; checked: CM_ECONFIG with a diagnostic).  exact:
 * exact quantiles.  Returns 0, CM_ECONFIG or CM_ENOMEM; cm_run_free is safe
 * after a failed init. */
int cm_run_init(cm_run_t *run, const cm_scenario_t **scen, int nscen,
                uint64_t paths, int exact, cm_diag_t *diag);
void cm_run_free(cm_run_t *run);

/* Simulate blocks [next_block, block_end).  Returns 0, CM_ENOMEM, CM_EIO
 * (dump or checkpoint write failed) or CM_EINTERRUPTED (stopped early: the
 * accumulators hold exactly blocks [block_begin, next_block)). */
int cm_run_execute(cm_run_t *run, const cm_run_options_t *opt, cm_diag_t *diag);

/* The scalar slots written by --dump-paths, in CSV column order. */
int cm_run_dump_header(const cm_run_t *run, FILE *f);

#endif
