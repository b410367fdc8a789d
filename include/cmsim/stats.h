/* cmsim/stats.h - streaming, mergeable, exactly reproducible statistics.
 *
 * An accumulator holds the statistics of nslots named outcomes over the paths
 * added to it.  It knows nothing of the model: a path is an array of nslots
 * doubles, NaN meaning "undefined on this path" (counted apart, never mixed
 * into the statistics).
 *
 * Reproducibility contract: every part of an accumulator is order-free
 * (commutative and associative bit for bit): counts are integers, min and
 * max are exact, and the first two moments come from exact sums S1 = sum x
 * and S2 = sum x^2 held as fixed-point integers (a superaccumulator).  So
 * the state, its serialised bytes and every summary are pure functions of
 * the multiset of values added: the same for any order of the values, any
 * split of them into accumulators (blocks, threads, MPI ranks, parts of a
 * run) and any order or grouping of the merges.  (The driver still merges
 * block accumulators in block order; it no longer needs to.)
 *
 * Moments: mean = fl(S1) / n, where fl(S1) is the exact sum rounded once
 * to the nearest double, so the mean is within one rounding of the exact
 * sum over n; variance = fl(n S2 - S1^2) / n / (n - 1), the numerator
 * computed exactly in integer arithmetic and rounded once, so there is no
 * cancellation however large the mean is against the spread (relative
 * error of var a few 1e-16); sd = sqrt(var), se = sd / sqrt(n).  The sums
 * are exact for every value with 2^-44 <= |x| < 2^78 (S1 in units of
 * 2^-96, S2 in units of 2^-192, room for 2^64 values).  A non-zero value
 * below 2^-44 is added as x rounded to a multiple of 2^-96 and x^2 rounded
 * to a multiple of 2^-192 (to nearest, ties away from zero; subnormals
 * give 0): still a function of the value alone, so still order-free, with
 * an error below 2^-97 per value.  A value with |x| >= 2^78 (about
 * 3.0e23) overflows the slot: its mean, sd, se, prob and prob_se are NaN
 * from then on (merges pass that on); n, min, max, quantiles and cvar05
 * are unaffected.
 *
 * Quantiles:
 *  - sketch mode (default): a DDSketch-style log-bucket histogram with
 *    relative accuracy CM_STATS_ALPHA: for a non-zero value x the bucket's
 *    representative v satisfies |v - x| <= CM_STATS_ALPHA |x|.  A reported
 *    quantile is the representative of the bucket holding the order
 *    statistic of rank floor(q (n-1)) (0-based), clamped to [min, max], so it
 *    lies within relative CM_STATS_ALPHA of that order statistic.  Values
 *    with |x| < CM_STATS_ZERO are counted as 0.  Memory per slot is bounded
 *    by the spread of the values (about 230 buckets per decade of |x|), not
 *    by the number of paths directly; the spread itself widens slowly with
 *    the paths (rarer extremes, values nearer 0: bench/README.md).  The representatives include 0 and +-1
 *    exactly, so 0/1 outcomes get exact quantiles.  cvar05 sums the
 *    representatives of the ceil(0.05 n) extreme values (the last bucket
 *    taken partially): it lies within CM_STATS_ALPHA times the tail's mean
 *    |x| (plus CM_STATS_ZERO) of the exact tail mean.
 *  - exact mode: every defined value is kept (memory grows with paths; for
 *    small runs); quantiles are type 7 (gsl_stats_quantile_from_sorted_data),
 *    except for INTEGER slots, whose quantiles are whole numbers as in
 *    sketch mode (the order statistic of rank floor(q (n - 1)), rounded to
 *    the nearest integer, within [min, max]: both modes agree), and the tail
 *    means exact (the sorted tail summed in ascending order).
 *  Mean and sd come from the same exact sums in both modes (identical
 *  bits).
 *
 * Thread-safety: an accumulator belongs to one thread at a time.
 */
#ifndef CMSIM_STATS_H
#define CMSIM_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CM_STATS_ALPHA 0.005
#define CM_STATS_ZERO 1e-12

/* What a slot's values are, which decides the extra statistics. */
typedef enum {
    CM_STAT_PLAIN = 0,  /* quantiles only */
    CM_STAT_BINARY,     /* 0/1: probability and its standard error */
    CM_STAT_TAIL_LOW,   /* money where low is bad: cvar05 = mean of lowest 5 % */
    CM_STAT_TAIL_HIGH,  /* money where high is bad: cvar05 = mean of highest 5 % */
    CM_STAT_MOMENTS,    /* mean/sd/min/max only, no quantiles (paired differences) */
    CM_STAT_INTEGER     /* whole numbers (calendar years): the sketch keeps one
                           bucket per integer, so its quantiles are exact;
                           values are rounded to the nearest integer for the
                           quantiles; exact for |x| up to 70978 */
} cm_stat_kind_t;

typedef struct cm_stats_slot cm_stats_slot_t; /* private */

typedef struct {
    size_t nslots;
    int exact;
    cm_stats_slot_t *slots;
} cm_stats_t;

/* The statistics of one slot.  Fields that do not apply or are undefined
 * (n == 0; sd with n < 2; prob for non-binary slots; cvar05 for non-money
 * slots; the moments of an overflowed slot, see above) are NaN. */
typedef struct {
    uint64_t n;          /* paths where the outcome is defined */
    uint64_t n_undef;    /* paths where it is not */
    double mean, sd, se; /* from exact sums (above); sd with n - 1;
                            se = sd / sqrt(n) */
    double min, p05, p25, p50, p75, p95, max;
    double cvar05;       /* TAIL_*: mean of the worst ceil(0.05 n) values */
    double prob, prob_se;/* BINARY: share of 1s, sqrt(p (1-p) / n) */
} cm_summary_t;

/* kinds[i] gives slot i's kind (copied).  exact: keep every value.
 * Returns 0, CM_ENOMEM, or CM_EINTERNAL (kinds == NULL with nslots > 0, or
 * a kind outside the enum); cm_stats_free is safe after a failed init. */
int cm_stats_init(cm_stats_t *st, size_t nslots, const cm_stat_kind_t *kinds,
                  int exact);
void cm_stats_free(cm_stats_t *st);

/* Forget all values, keep the slots and their memory. */
void cm_stats_reset(cm_stats_t *st);

/* Add one path: values[nslots], NaN where undefined.  Infinite values are
 * counted as undefined too (the model never produces them; they would
 * poison the mean).  -0.0 is recorded as +0.0.  Returns 0 or CM_ENOMEM (a
 * sketch or exact store that could not grow: that slot did not record this
 * path, the others did; the accumulator stays consistent and can be reset
 * or freed). */
int cm_stats_add(cm_stats_t *st, const double *values);

/* cm_stats_add for the slots i with skip[i] == 0; the others are left
 * untouched (the driver fills them later with cm_stats_copy_slot). */
int cm_stats_add_skip(cm_stats_t *st, const double *values, const unsigned char *skip);

/* Slot i of dst becomes a copy of slot j of src: the same state, as
 * serialised, as if dst's slot had been given the values src's slot was
 * given.  Same kind and exact flag, else CM_EINTERNAL; CM_ENOMEM leaves
 * dst's values unchanged.  A batch's variant copies the reference's slot
 * for every outcome that was the same on every path (engine/driver.c). */
int cm_stats_copy_slot(cm_stats_t *dst, size_t i, const cm_stats_t *src, size_t j);

/* Slot i's defined and undefined value counts so far (cheap: no summary). */
void cm_stats_counts(const cm_stats_t *st, size_t i, uint64_t *n, uint64_t *n_undef);

/* Add nzero values 0.0 and nundef undefined values to slot i, as that many
 * cm_stats_add calls would: 0 or CM_ENOMEM (exact mode's store; the slot is
 * then unchanged).  The paired difference of a mirrored slot is 0 on every
 * path where the outcome is defined (engine/driver.c). */
int cm_stats_add_zeros(cm_stats_t *st, size_t i, uint64_t nzero, uint64_t nundef);

/* Merge from into into (same nslots, kinds and exact flag, else
 * CM_EINTERNAL); from may be into itself.  Order-free: merging the same
 * accumulators in any order or grouping gives the same state, bit for bit.
 * On CM_ENOMEM into's values are unchanged. */
int cm_stats_merge(cm_stats_t *into, const cm_stats_t *from);

/* Summary of one slot.  In exact mode the first summary after new values
 * sorts the slot's value store in place (invisible to callers, but it is a
 * write: the one-thread-at-a-time rule applies to summaries as well); in
 * sketch mode a summary only reads. */
void cm_stats_summary(const cm_stats_t *st, size_t slot, cm_summary_t *out);

/* Serialise an accumulator (checkpoints, partial runs merged across
 * processes) in a portable binary form (format version 2): fixed-width
 * little-endian fields, doubles as IEEE-754 bit patterns, the exact sums in
 * their unique normalised form, sketch stores over their occupied index
 * range only, exact values sorted.  Accumulators that saw the same values,
 * in whatever order and grouping, write the same bytes, however their
 * memory grew.  Like a summary, it sorts exact stores in place.  Returns 0
 * or CM_EIO. */
int cm_stats_write(const cm_stats_t *st, FILE *f);

/* Read what cm_stats_write wrote into st, which is initialised here (as by
 * cm_stats_init; free it with cm_stats_free, which is also safe after a
 * failure).  Returns 0, CM_EIO (short read, bad magic or version, including
 * version 1, whose order-dependent moments cannot become exact sums, or
 * inconsistent content) or CM_ENOMEM. */
int cm_stats_read(cm_stats_t *st, FILE *f);

#endif
