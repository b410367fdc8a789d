/* stats.c - streaming, mergeable, bit-reproducible statistics
 * (include/cmsim/stats.h, MODEL.md section 8).
 *
 * Workload: cm_stats_add runs once per path over every slot (thousands of
 * slots per path, millions of paths), so a slot update is a handful of
 * flops, one log() and one counter increment; summaries run once per slot
 * at the end and may walk the whole sketch.
 *
 * Per slot:
 *  - n, n_undef: defined and undefined values (NaN or +-Inf; see below);
 *  - mean, m2: Welford's update within a block, Chan et al.'s pairwise
 *    update in cm_stats_merge; both modes share this code, so exact and
 *    sketch mode report bit-identical mean and sd;
 *  - min, max (+Inf / -Inf while n == 0);
 *  - quantile slots (every kind but MOMENTS): a sketch (default) or, in
 *    exact mode, every value in a growing array.
 *
 * The sketch.  Index mapping, for |x| >= CM_STATS_ZERO:
 *
 *     i(x) = ceil(ln|x| * SK_MULT + SK_SHIFT),  SK_MULT = 1 / ln(gamma_m),
 *     SK_SHIFT = ln(1 - a_m) / ln(gamma_m) (about -0.5),
 *     gamma_m = (1 + a_m) / (1 - a_m),  a_m = CM_STATS_ALPHA (1 - 1e-6),
 *
 * so bucket i holds gamma_m^i / (1 + a_m) < |x| <= gamma_m^i / (1 - a_m),
 * and its representative gamma_m^i (with the sign of the store) is within
 * relative a_m of both ends, hence of every value in it.  This is the
 * DDSketch mapping (i = ceil(ln|x| / ln gamma), representative
 * 2 gamma^i / (gamma + 1)) shifted by half a bucket, so that the
 * representatives are the powers gamma^i, among them gamma^0 = 1 exactly:
 * 0/1 outcomes and shares or coverages of exactly 1 (common in the model)
 * then report quantiles of exactly 1, not 0.995.  Bucket widths, accuracy
 * and memory are those of the unshifted mapping.
 *
 * Why a_m and not CM_STATS_ALPHA itself: with gamma from CM_STATS_ALPHA the
 * bound is met with equality at both bucket ends, so the rounding of log(),
 * of the product and of exp() in the representative (together below 1e-12
 * relative over the whole double range) could push a value just past it.
 * The margin CM_STATS_ALPHA - a_m = 5e-9 absorbs that rounding with room to
 * spare, so the documented bound |v - x| <= CM_STATS_ALPHA |x| holds for
 * every finite double, as computed; tests/test_stats.c checks it on both
 * sides of bucket edges found by bisection.  The margin changes the bucket
 * count by one part in a million (230.26 buckets per decade).
 *
 * Index range: every finite |x| in [CM_STATS_ZERO, DBL_MAX] maps into
 * [SK_IDX_MIN, SK_IDX_MAX] = [ceil(ln(1e-12) SK_MULT + SK_SHIFT),
 * ceil(ln(DBL_MAX) SK_MULT + SK_SHIFT)] = [-2763, 70978] (fractional parts
 * .58 and .25, far from any rounding doubt).  So no value is ever clamped
 * (the clamp in sk_index is a guard), and a store never exceeds SK_NIDX =
 * 73742 counters (590 KB), two stores per slot.  In practice a store spans
 * the decades its values cover (230 counters = 1.8 KB per decade, at most
 * doubled by the growth policy).  The top bucket's representative
 * gamma_m^70978 = 1.80218e308 overflows; it is replaced by DBL_MAX, which
 * lies in that bucket and so is within a_m of all its values too.
 *
 * Stores are dense uint64_t arrays over [off, off + cap) that grow by
 * doubling (realloc, then the occupied part is moved into place), extra room
 * going to the side that grew.  Invariant: counts outside the occupied range
 * [imin, imax] are zero, so reset and merge touch only occupied ranges and
 * the serialised form (occupied range only) does not depend on how memory
 * grew.  Counts are integers, so sketches merge exactly in any order.
 *
 * Canonical values: NaN and +-Inf are undefined (n_undef++ and nothing
 * else); -0.0 becomes +0.0 on entry, so that min, max and the sorted exact
 * store cannot depend on which of two equal zeros came first.
 */
#include "cmsim/stats.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "cmsim/error.h"

/* Mapping constants (derived with 40-digit arithmetic from a_m above). */
#define SK_MULT 99.99926666204438845895608         /* 1 / ln(gamma_m) */
#define SK_SHIFT (-0.5012500039583784728692647)    /* ln(1 - a_m) SK_MULT */
#define SK_LN_GAMMA 0.0100000733343333496550521    /* ln(gamma_m) */
#define SK_IDX_MIN (-2763)
#define SK_IDX_MAX 70978
#define SK_NIDX (SK_IDX_MAX - SK_IDX_MIN + 1)
#define SK_INIT_CAP 128 /* counters in a store's first allocation */

/* Share of the tail in cvar05: k = ceil(n / 20). */
#define TAIL_DIV 20

/* One side of a sketch: counts of bucket indices off .. off + cap - 1. */
typedef struct {
    uint64_t *counts;
    int32_t off;
    int32_t cap;
    int32_t imin, imax; /* occupied range; imin > imax when empty */
} sk_store_t;

struct cm_stats_slot {
    cm_stat_kind_t kind;
    int sorted;       /* exact mode: values[] is sorted ascending */
    uint64_t n;       /* defined values */
    uint64_t n_undef; /* NaN or infinite values */
    double mean, m2;  /* running mean, sum of squared deviations */
    double min, max;
    uint64_t nzero;   /* sketch: values with |x| < CM_STATS_ZERO */
    sk_store_t neg;   /* sketch: buckets of -x for x <= -CM_STATS_ZERO */
    sk_store_t pos;   /* sketch: buckets of x for x >= CM_STATS_ZERO */
    double *values;   /* exact mode: the defined values */
    size_t nvalues, capvalues;
};

/* ------------------------------------------------------------------ */
/* Sketch stores */

static void store_clear(sk_store_t *b)
{
    if (b->counts != NULL && b->imin <= b->imax)
        memset(b->counts + (b->imin - b->off), 0,
               (size_t)(b->imax - b->imin + 1) * sizeof *b->counts);
    b->imin = SK_IDX_MAX + 1;
    b->imax = SK_IDX_MIN - 1;
}

/* Make [lo, hi] (inside [SK_IDX_MIN, SK_IDX_MAX]) addressable, keeping the
 * counts.  Returns 0 or CM_ENOMEM (the store is then unchanged). */
static int store_reserve(sk_store_t *b, int32_t lo, int32_t hi)
{
    if (b->cap > 0 && lo >= b->off && hi - b->off < b->cap)
        return 0;
    int empty = b->imin > b->imax;
    int32_t ulo = lo, uhi = hi;
    if (!empty) {
        if (b->imin < ulo)
            ulo = b->imin;
        if (b->imax > uhi)
            uhi = b->imax;
    }
    int64_t need = (int64_t)uhi - ulo + 1;
    int64_t cap = b->cap > 0 ? 2 * (int64_t)b->cap : SK_INIT_CAP;
    while (cap < need)
        cap *= 2;
    if (cap > SK_NIDX)
        cap = SK_NIDX;
    int64_t off;
    if (empty)
        off = ulo - (cap - need) / 2; /* first use: centre on the values */
    else if (lo < b->imin)
        off = uhi - cap + 1; /* grew downwards: room below */
    else
        off = ulo; /* grew upwards: room above */
    if (off > SK_IDX_MAX - cap + 1)
        off = SK_IDX_MAX - cap + 1;
    if (off < SK_IDX_MIN)
        off = SK_IDX_MIN;

    uint64_t *c = realloc(b->counts, (size_t)cap * sizeof *c);
    if (c == NULL)
        return CM_ENOMEM;
    if (!empty) {
        size_t used = (size_t)(b->imax - b->imin + 1);
        size_t from = (size_t)(b->imin - b->off);
        size_t to = (size_t)(b->imin - off);
        memmove(c + to, c + from, used * sizeof *c);
        memset(c, 0, to * sizeof *c);
        memset(c + to + used, 0, ((size_t)cap - to - used) * sizeof *c);
    } else {
        memset(c, 0, (size_t)cap * sizeof *c);
    }
    b->counts = c;
    b->off = (int32_t)off;
    b->cap = (int32_t)cap;
    return 0;
}

static inline int store_add(sk_store_t *b, int32_t i)
{
    if (i < b->off || i - b->off >= b->cap) {
        if (store_reserve(b, i, i) != 0)
            return CM_ENOMEM;
    }
    b->counts[i - b->off]++;
    if (i < b->imin)
        b->imin = i;
    if (i > b->imax)
        b->imax = i;
    return 0;
}

static uint64_t store_get(const sk_store_t *b, int32_t i)
{
    return b->counts[i - b->off];
}

static uint64_t store_total(const sk_store_t *b)
{
    uint64_t t = 0;
    for (int32_t i = b->imin; i <= b->imax; i++)
        t += store_get(b, i);
    return t;
}

/* Bucket index of ax >= CM_STATS_ZERO (finite). */
static inline int32_t sk_index(double ax)
{
    double t = ceil(log(ax) * SK_MULT + SK_SHIFT);
    if (t < SK_IDX_MIN) /* guards only: unreachable for finite ax */
        return SK_IDX_MIN;
    if (t > SK_IDX_MAX)
        return SK_IDX_MAX;
    return (int32_t)t;
}

/* Representative (> 0) of bucket i: gamma_m^i, DBL_MAX for the top bucket
 * (see the file comment). */
static double sk_rep(int32_t i)
{
    double v = exp((double)i * SK_LN_GAMMA);
    return v <= DBL_MAX ? v : DBL_MAX;
}

/* Integer slots: bucket i holds the whole number i (|x| rounded), within
 * the same index range as the log buckets; larger |x| share the top bucket
 * (quantiles there are clamped to [min, max]). */
#define SK_INT_MAX ((double)SK_IDX_MAX)

static inline int32_t int_index(double ax)
{
    double r = nearbyint(ax);
    return (int32_t)(r < SK_INT_MAX ? r : SK_INT_MAX);
}

/* Representative of bucket i of a slot (> 0). */
static inline double slot_rep(const cm_stats_slot_t *s, int32_t i)
{
    return s->kind == CM_STAT_INTEGER ? (double)i : sk_rep(i);
}

/* ------------------------------------------------------------------ */
/* Slots */

static void slot_clear(cm_stats_slot_t *s)
{
    s->n = 0;
    s->n_undef = 0;
    s->mean = 0.0;
    s->m2 = 0.0;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->nzero = 0;
    store_clear(&s->neg);
    store_clear(&s->pos);
    s->nvalues = 0;
    s->sorted = 1;
}

static int has_quantiles(const cm_stats_slot_t *s)
{
    return s->kind != CM_STAT_MOMENTS;
}

static int values_reserve(cm_stats_slot_t *s, size_t extra)
{
    if (extra <= s->capvalues - s->nvalues)
        return 0;
    if (extra > SIZE_MAX / sizeof(double) - s->nvalues)
        return CM_ENOMEM;
    size_t need = s->nvalues + extra;
    size_t cap = s->capvalues > 0 ? s->capvalues : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / sizeof(double) / 2 ? need : 2 * cap;
    double *v = realloc(s->values, cap * sizeof *v);
    if (v == NULL)
        return CM_ENOMEM;
    s->values = v;
    s->capvalues = cap;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Exact mode: sort the value store once after new values.  The slot array
 * is not const even when the accumulator is (see cm_stats_summary). */
static void values_sort(cm_stats_slot_t *s)
{
    if (!s->sorted) {
        qsort(s->values, s->nvalues, sizeof *s->values, cmp_double);
        s->sorted = 1;
    }
}

static double clamp(const cm_stats_slot_t *s, double v)
{
    if (v < s->min)
        return s->min;
    if (v > s->max)
        return s->max;
    return v;
}

/* Sketch: the value standing for the order statistic of 0-based rank r
 * (r < n), ascending order being the negative store from its largest index
 * down, the zeros, then the positive store upwards.  Not yet clamped. */
static double sketch_at_rank(const cm_stats_slot_t *s, uint64_t r)
{
    const sk_store_t *b = &s->neg;
    for (int32_t i = b->imax; i >= b->imin; i--) {
        uint64_t c = store_get(b, i);
        if (r < c)
            return -slot_rep(s, i);
        r -= c;
    }
    if (r < s->nzero)
        return 0.0;
    r -= s->nzero;
    b = &s->pos;
    for (int32_t i = b->imin; i <= b->imax; i++) {
        uint64_t c = store_get(b, i);
        if (r < c)
            return slot_rep(s, i);
        r -= c;
    }
    return s->max; /* unreachable while the counts add up to n */
}

/* Quantile q of a slot with n > 0 (see stats.h for the two definitions). */
static double slot_quantile(const cm_stats_slot_t *s, int exact, double q)
{
    if (exact)
        return gsl_stats_quantile_from_sorted_data(s->values, 1, s->nvalues,
                                                   q);
    if (q <= 0.0)
        return s->min;
    if (q >= 1.0)
        return s->max;
    uint64_t r = (uint64_t)floor(q * (double)(s->n - 1));
    return clamp(s, sketch_at_rank(s, r));
}

/* Adds take copies of v (clamped) to *sum and lowers *left. */
static void tail_take(const cm_stats_slot_t *s, uint64_t c, double v,
                      uint64_t *left, double *sum)
{
    uint64_t take = c < *left ? c : *left;
    if (take > 0) {
        *sum += (double)take * clamp(s, v);
        *left -= take;
    }
}

/* Sketch: sum of the representatives of the k smallest (high = 0) or
 * largest (high = 1) values, walking from that end inwards and taking the
 * last bucket partially.  Each representative is within relative
 * CM_STATS_ALPHA of the value it stands for (absolute CM_STATS_ZERO in the
 * zero bucket), so the tail mean is within CM_STATS_ALPHA times the mean of
 * |x| over the tail, plus CM_STATS_ZERO. */
static double sketch_tail_sum(const cm_stats_slot_t *s, uint64_t k, int high)
{
    double sum = 0.0;
    uint64_t left = k;
    const sk_store_t *lo = high ? &s->pos : &s->neg;
    const sk_store_t *hi = high ? &s->neg : &s->pos;
    double sign = high ? 1.0 : -1.0;
    for (int32_t i = lo->imax; i >= lo->imin && left > 0; i--)
        tail_take(s, store_get(lo, i), sign * slot_rep(s, i), &left, &sum);
    tail_take(s, s->nzero, 0.0, &left, &sum);
    for (int32_t i = hi->imin; i <= hi->imax && left > 0; i++)
        tail_take(s, store_get(hi, i), -sign * slot_rep(s, i), &left, &sum);
    return sum;
}

/* Exact mode: sum of the k smallest or largest values, in ascending order
 * of the sorted store (TAIL_LOW: values[0..k-1]; TAIL_HIGH:
 * values[n-k..n-1]). */
static double exact_tail_sum(const cm_stats_slot_t *s, uint64_t k, int high)
{
    size_t first = high ? s->nvalues - (size_t)k : 0;
    double sum = 0.0;
    for (size_t j = first; j < first + (size_t)k; j++)
        sum += s->values[j];
    return sum;
}

/* ------------------------------------------------------------------ */
/* Public interface */

int cm_stats_init(cm_stats_t *st, size_t nslots, const cm_stat_kind_t *kinds,
                  int exact)
{
    memset(st, 0, sizeof *st);
    if (nslots > 0 && kinds == NULL)
        return CM_EINTERNAL;
    for (size_t i = 0; i < nslots; i++)
        if ((int)kinds[i] < (int)CM_STAT_PLAIN ||
            (int)kinds[i] > (int)CM_STAT_INTEGER)
            return CM_EINTERNAL;
    if (nslots > 0) {
        st->slots = calloc(nslots, sizeof *st->slots);
        if (st->slots == NULL)
            return CM_ENOMEM;
    }
    st->nslots = nslots;
    st->exact = exact ? 1 : 0;
    for (size_t i = 0; i < nslots; i++) {
        st->slots[i].kind = kinds[i];
        slot_clear(&st->slots[i]);
    }
    return CM_EOK;
}

void cm_stats_free(cm_stats_t *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; st->slots != NULL && i < st->nslots; i++) {
        free(st->slots[i].neg.counts);
        free(st->slots[i].pos.counts);
        free(st->slots[i].values);
    }
    free(st->slots);
    memset(st, 0, sizeof *st);
}

void cm_stats_reset(cm_stats_t *st)
{
    for (size_t i = 0; st->slots != NULL && i < st->nslots; i++)
        slot_clear(&st->slots[i]);
}

int cm_stats_add(cm_stats_t *st, const double *values)
{
    int rc = CM_EOK;
    const int exact = st->exact;
    for (size_t i = 0; i < st->nslots; i++) {
        cm_stats_slot_t *s = &st->slots[i];
        double x = values[i];
        if (!isfinite(x)) {
            s->n_undef++;
            continue;
        }
        x += 0.0; /* -0.0 -> +0.0 (not folded away without -ffast-math) */

        /* The store first: if it cannot grow, the slot skips this value
         * altogether and stays consistent (n == values in its store). */
        if (has_quantiles(s)) {
            int e = 0;
            if (exact) {
                if (s->nvalues == s->capvalues)
                    e = values_reserve(s, 1);
                if (e == 0) {
                    s->values[s->nvalues++] = x;
                    s->sorted = 0;
                }
            } else if (s->kind == CM_STAT_INTEGER) {
                int32_t k = int_index(fabs(x));
                if (k == 0)
                    s->nzero++;
                else
                    e = store_add(x > 0 ? &s->pos : &s->neg, k);
            } else if (x >= CM_STATS_ZERO) {
                e = store_add(&s->pos, sk_index(x));
            } else if (x <= -CM_STATS_ZERO) {
                e = store_add(&s->neg, sk_index(-x));
            } else {
                s->nzero++;
            }
            if (e != 0) {
                rc = CM_ENOMEM;
                continue;
            }
        }

        /* Welford. */
        s->n++;
        double d = x - s->mean;
        s->mean += d / (double)s->n;
        s->m2 += d * (x - s->mean);
        if (x < s->min)
            s->min = x;
        if (x > s->max)
            s->max = x;
    }
    return rc;
}

int cm_stats_merge(cm_stats_t *into, const cm_stats_t *from)
{
    if (into->nslots != from->nslots || into->exact != from->exact)
        return CM_EINTERNAL;
    for (size_t i = 0; i < into->nslots; i++)
        if (into->slots[i].kind != from->slots[i].kind)
            return CM_EINTERNAL;

    /* Phase 1: all allocations, so that a failure leaves into's values
     * untouched (only its capacity may have grown). */
    for (size_t i = 0; i < into->nslots; i++) {
        cm_stats_slot_t *a = &into->slots[i];
        const cm_stats_slot_t *b = &from->slots[i];
        if (!has_quantiles(a))
            continue;
        if (into->exact) {
            if (values_reserve(a, b->nvalues) != 0)
                return CM_ENOMEM;
        } else {
            if (b->neg.imin <= b->neg.imax &&
                store_reserve(&a->neg, b->neg.imin, b->neg.imax) != 0)
                return CM_ENOMEM;
            if (b->pos.imin <= b->pos.imax &&
                store_reserve(&a->pos, b->pos.imin, b->pos.imax) != 0)
                return CM_ENOMEM;
        }
    }

    /* Phase 2: cannot fail.  b's fields are read before a's are written,
     * so merging an accumulator into itself works too. */
    for (size_t i = 0; i < into->nslots; i++) {
        cm_stats_slot_t *a = &into->slots[i];
        const cm_stats_slot_t *b = &from->slots[i];
        const uint64_t na = a->n, nb = b->n;
        const double mb = b->mean, m2b = b->m2;
        a->n_undef += b->n_undef;
        if (nb == 0)
            continue;
        if (na == 0) {
            a->mean = mb;
            a->m2 = m2b;
        } else {
            /* Chan, Golub and LeVeque (1979), pairwise update. */
            double n = (double)(na + nb);
            double d = mb - a->mean;
            a->mean += d * ((double)nb / n);
            a->m2 += m2b + d * d * ((double)na * (double)nb / n);
        }
        a->n = na + nb;
        if (b->min < a->min)
            a->min = b->min;
        if (b->max > a->max)
            a->max = b->max;
        if (!has_quantiles(a))
            continue;
        if (into->exact) {
            size_t nv = b->nvalues;
            memmove(a->values + a->nvalues, b->values, nv * sizeof *b->values);
            a->nvalues += nv;
            a->sorted = 0;
        } else {
            a->nzero += b->nzero;
            const sk_store_t *sb[2] = {&b->neg, &b->pos};
            sk_store_t *sa[2] = {&a->neg, &a->pos};
            for (int k = 0; k < 2; k++) {
                const int32_t lo = sb[k]->imin, hi = sb[k]->imax;
                for (int32_t j = lo; j <= hi; j++)
                    sa[k]->counts[j - sa[k]->off] += store_get(sb[k], j);
                if (lo <= hi) {
                    if (lo < sa[k]->imin)
                        sa[k]->imin = lo;
                    if (hi > sa[k]->imax)
                        sa[k]->imax = hi;
                }
            }
        }
    }
    return CM_EOK;
}

void cm_stats_summary(const cm_stats_t *st, size_t slot, cm_summary_t *out)
{
    out->n = 0;
    out->n_undef = 0;
    out->mean = out->sd = out->se = NAN;
    out->min = out->p05 = out->p25 = out->p50 = out->p75 = out->p95 = NAN;
    out->max = out->cvar05 = out->prob = out->prob_se = NAN;
    if (st->slots == NULL || slot >= st->nslots)
        return;
    /* st->slots is a non-const pointer inside a const struct: exact mode
     * sorts the value store here (see stats.h). */
    cm_stats_slot_t *s = &st->slots[slot];
    out->n = s->n;
    out->n_undef = s->n_undef;
    if (s->n == 0)
        return;
    const double n = (double)s->n;
    out->mean = s->mean;
    out->min = s->min;
    out->max = s->max;
    if (s->n >= 2) {
        out->sd = sqrt(s->m2 / (n - 1.0));
        out->se = out->sd / sqrt(n);
    }
    if (s->kind == CM_STAT_BINARY) {
        out->prob = s->mean;
        out->prob_se = sqrt(s->mean * (1.0 - s->mean) / n);
    }
    if (!has_quantiles(s))
        return;
    if (st->exact)
        values_sort(s);
    out->p05 = slot_quantile(s, st->exact, 0.05);
    out->p25 = slot_quantile(s, st->exact, 0.25);
    out->p50 = slot_quantile(s, st->exact, 0.50);
    out->p75 = slot_quantile(s, st->exact, 0.75);
    out->p95 = slot_quantile(s, st->exact, 0.95);
    if (s->kind == CM_STAT_TAIL_LOW || s->kind == CM_STAT_TAIL_HIGH) {
        const int high = s->kind == CM_STAT_TAIL_HIGH;
        const uint64_t k = (s->n + TAIL_DIV - 1) / TAIL_DIV;
        double sum = st->exact ? exact_tail_sum(s, k, high)
                               : sketch_tail_sum(s, k, high);
        out->cvar05 = sum / (double)k;
    }
}

/* ------------------------------------------------------------------ */
/* Serialisation.  Layout (all integers little-endian):
 *   "CMSTATS\0", u32 version (1), u64 nslots, u32 exact,
 *   per slot: u32 kind, u64 n, u64 n_undef, f64 mean, m2, min, max,
 *     quantile slots in sketch mode: u64 nzero, then for neg and pos:
 *       i32 imin, i32 imax (1, 0 when empty), u64 counts[imin..imax];
 *     quantile slots in exact mode: u64 nvalues, f64 values (sorted). */

static const char SER_MAGIC[8] = {'C', 'M', 'S', 'T', 'A', 'T', 'S', '\0'};
#define SER_VERSION 1u

static int put_u64(FILE *f, uint64_t v)
{
    unsigned char b[8];
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(v >> (8 * k));
    return fwrite(b, 1, 8, f) == 8 ? 0 : CM_EIO;
}

static int put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4];
    for (int k = 0; k < 4; k++)
        b[k] = (unsigned char)(v >> (8 * k));
    return fwrite(b, 1, 4, f) == 4 ? 0 : CM_EIO;
}

static int put_f64(FILE *f, double x)
{
    uint64_t v;
    memcpy(&v, &x, sizeof v);
    return put_u64(f, v);
}

static int get_u64(FILE *f, uint64_t *v)
{
    unsigned char b[8];
    if (fread(b, 1, 8, f) != 8)
        return CM_EIO;
    *v = 0;
    for (int k = 0; k < 8; k++)
        *v |= (uint64_t)b[k] << (8 * k);
    return 0;
}

static int get_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return CM_EIO;
    *v = 0;
    for (int k = 0; k < 4; k++)
        *v |= (uint32_t)b[k] << (8 * k);
    return 0;
}

static int get_f64(FILE *f, double *x)
{
    uint64_t v;
    if (get_u64(f, &v) != 0)
        return CM_EIO;
    memcpy(x, &v, sizeof v);
    return 0;
}

static int put_store(FILE *f, const sk_store_t *b)
{
    int empty = b->imin > b->imax;
    int rc = put_u32(f, (uint32_t)(empty ? 1 : b->imin));
    if (rc == 0)
        rc = put_u32(f, (uint32_t)(empty ? 0 : b->imax));
    for (int32_t i = b->imin; rc == 0 && i <= b->imax; i++)
        rc = put_u64(f, store_get(b, i));
    return rc;
}

int cm_stats_write(const cm_stats_t *st, FILE *f)
{
    int rc = fwrite(SER_MAGIC, 1, sizeof SER_MAGIC, f) == sizeof SER_MAGIC
                 ? 0
                 : CM_EIO;
    if (rc == 0)
        rc = put_u32(f, SER_VERSION);
    if (rc == 0)
        rc = put_u64(f, (uint64_t)st->nslots);
    if (rc == 0)
        rc = put_u32(f, (uint32_t)st->exact);
    for (size_t i = 0; rc == 0 && i < st->nslots; i++) {
        cm_stats_slot_t *s = &st->slots[i];
        rc = put_u32(f, (uint32_t)s->kind);
        if (rc == 0)
            rc = put_u64(f, s->n);
        if (rc == 0)
            rc = put_u64(f, s->n_undef);
        if (rc == 0)
            rc = put_f64(f, s->mean);
        if (rc == 0)
            rc = put_f64(f, s->m2);
        if (rc == 0)
            rc = put_f64(f, s->min);
        if (rc == 0)
            rc = put_f64(f, s->max);
        if (rc != 0 || !has_quantiles(s))
            continue;
        if (st->exact) {
            values_sort(s);
            rc = put_u64(f, (uint64_t)s->nvalues);
            for (size_t j = 0; rc == 0 && j < s->nvalues; j++)
                rc = put_f64(f, s->values[j]);
        } else {
            rc = put_u64(f, s->nzero);
            if (rc == 0)
                rc = put_store(f, &s->neg);
            if (rc == 0)
                rc = put_store(f, &s->pos);
        }
    }
    if (rc == 0 && fflush(f) != 0)
        rc = CM_EIO;
    return rc;
}

/* Two's complement u32 -> i32 without implementation-defined conversion. */
static int32_t i32_of(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)(UINT32_MAX - u) - 1;
}

static int get_store(FILE *f, sk_store_t *b)
{
    uint32_t ulo, uhi;
    if (get_u32(f, &ulo) != 0 || get_u32(f, &uhi) != 0)
        return CM_EIO;
    int32_t lo = i32_of(ulo), hi = i32_of(uhi);
    if (lo == 1 && hi == 0)
        return 0; /* empty */
    if (lo < SK_IDX_MIN || hi > SK_IDX_MAX || lo > hi)
        return CM_EIO;
    if (store_reserve(b, lo, hi) != 0)
        return CM_ENOMEM;
    for (int32_t i = lo; i <= hi; i++) {
        uint64_t c;
        if (get_u64(f, &c) != 0)
            return CM_EIO;
        b->counts[i - b->off] = c;
    }
    /* The occupied range is where the counts are non-zero; a writer always
     * writes non-zero ends. */
    if (b->counts[lo - b->off] == 0 || b->counts[hi - b->off] == 0)
        return CM_EIO;
    b->imin = lo;
    b->imax = hi;
    return 0;
}

static int read_slot(FILE *f, cm_stats_slot_t *s, int exact)
{
    if (get_u64(f, &s->n) != 0 || get_u64(f, &s->n_undef) != 0 ||
        get_f64(f, &s->mean) != 0 || get_f64(f, &s->m2) != 0 ||
        get_f64(f, &s->min) != 0 || get_f64(f, &s->max) != 0)
        return CM_EIO;
    if (s->n == 0) {
        if (s->mean != 0.0 || s->m2 != 0.0 || s->min != INFINITY ||
            s->max != -INFINITY)
            return CM_EIO;
    } else if (!isfinite(s->mean) || !(s->m2 >= 0.0) || !isfinite(s->min) ||
               !isfinite(s->max) || s->min > s->max) {
        return CM_EIO;
    }
    if (!has_quantiles(s))
        return 0;
    int rc;
    if (exact) {
        uint64_t nv;
        if (get_u64(f, &nv) != 0 || nv != s->n)
            return CM_EIO;
        if ((rc = values_reserve(s, (size_t)nv)) != 0)
            return rc;
        for (size_t j = 0; j < (size_t)nv; j++) {
            double x;
            if (get_f64(f, &x) != 0 || !isfinite(x) || x < s->min ||
                x > s->max || (j > 0 && x < s->values[j - 1]))
                return CM_EIO;
            s->values[j] = x;
        }
        s->nvalues = (size_t)nv;
        s->sorted = 1;
    } else {
        if (get_u64(f, &s->nzero) != 0)
            return CM_EIO;
        if ((rc = get_store(f, &s->neg)) != 0 ||
            (rc = get_store(f, &s->pos)) != 0)
            return rc;
        if (s->nzero + store_total(&s->neg) + store_total(&s->pos) != s->n)
            return CM_EIO;
    }
    return 0;
}

int cm_stats_read(cm_stats_t *st, FILE *f)
{
    memset(st, 0, sizeof *st);
    char magic[sizeof SER_MAGIC];
    uint32_t version, exact;
    uint64_t nslots;
    if (fread(magic, 1, sizeof magic, f) != sizeof magic ||
        memcmp(magic, SER_MAGIC, sizeof magic) != 0 ||
        get_u32(f, &version) != 0 || version != SER_VERSION ||
        get_u64(f, &nslots) != 0 || get_u32(f, &exact) != 0 || exact > 1 ||
        nslots > SIZE_MAX / sizeof(cm_stats_slot_t))
        return CM_EIO;
    int rc = CM_EOK;
    if (nslots > 0) {
        st->slots = calloc((size_t)nslots, sizeof *st->slots);
        if (st->slots == NULL)
            return CM_ENOMEM;
    }
    st->nslots = (size_t)nslots;
    st->exact = (int)exact;
    for (size_t i = 0; i < st->nslots; i++) {
        st->slots[i].kind = CM_STAT_PLAIN;
        slot_clear(&st->slots[i]);
    }
    for (size_t i = 0; rc == 0 && i < st->nslots; i++) {
        uint32_t kind;
        if (get_u32(f, &kind) != 0 || kind > (uint32_t)CM_STAT_INTEGER) {
            rc = CM_EIO;
            break;
        }
        st->slots[i].kind = (cm_stat_kind_t)kind;
        rc = read_slot(f, &st->slots[i], st->exact);
    }
    if (rc != 0)
        cm_stats_free(st);
    return rc;
}
