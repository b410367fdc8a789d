/* stats.c - streaming, mergeable, order-free statistics
 * (include/cmsim/stats.h, MODEL.md section 8).
 *
 * Workload: cm_stats_add runs once per path over every slot of every
 * scenario (thousands of slots per path, millions of paths; it was half of
 * a real run's time before this file was tuned), so a slot update is a few
 * dozen instructions with no libm call, no division and no test that the
 * data decide, on a state kept small; summaries run once per slot at the
 * end and may walk the whole sketch.
 *
 * Per slot:
 *  - n, n_undef: defined and undefined values (NaN or +-Inf; see below);
 *  - the exact sums S1 = sum x and S2 = sum x^2 as fixed-point integers
 *    (below); both modes share this code, so exact and sketch mode report
 *    bit-identical mean and sd;
 *  - min, max (+Inf / -Inf while n == 0);
 *  - quantile slots (every kind but MOMENTS): a sketch (default) or, in
 *    exact mode, every value in a growing array.
 * Every part is order-free: integer counts and sums, min and max.  So adding
 * the same values in any order, split into any accumulators merged in any
 * order and grouping, gives the same state (as serialised) and the same
 * summaries, bit for bit.
 *
 * Memory layout: one allocation holds three arrays of nslots entries, so
 * that cm_stats_add streams through little memory: the hot part (n, min,
 * max, n_undef and the sums' window, below: 104 bytes, the `slots` array
 * of cm_stats_t), the sketch part (zero count and the two stores' headers,
 * 56 bytes, untouched by MOMENTS slots) and the cold part (the full sums,
 * kind, exact store), touched once per SUM_FLUSH_EVERY values.
 *
 * Exact sums (a small Kulisch-style superaccumulator).  S1 is an integer
 * number of units of 2^-96 (SUM1_SCALE), S2 of units of 2^-192 (SUM2_SCALE
 * = 2 SUM1_SCALE, so that S1^2 and S2 share a unit), held in 64-bit limbs
 * of 32-bit digits: limb k weighs 2^(32 k) units and the top limb is
 * signed.  A value x = m 2^(e-1075) (m the 53-bit significand, e the biased
 * exponent) is m shifted to bit p = e - 979 of S1, split into a low digit
 * (32 bits) and a high part (at most 52 bits) for two adjacent limbs; x^2
 * is m^2 (an exact 106-bit integer product, no floating-point square)
 * shifted to bit 2p of S2 and split over four limbs.  Nothing carries at
 * add time: a 64-bit limb has room for 2^10 such parts.
 *
 * The window.  The hot part holds only what values with p in [16 wc,
 * 16 wc + 48) reach (48 binades, wc chosen per slot): S1 as one 128-bit
 * integer of units of 2^(16 wc) (one addition with carry per value; 512
 * values stay below 2^110) and WIN2_LIMBS = 6 limbs of S2 from limb wc.
 * Values there, that is nearly all of a slot's values, are added to the
 * window.  Every SUM_FLUSH_EVERY values (when the count of values seen
 * reaches a multiple of it) and whenever the window moves, it is added
 * into the full sums in the cold part, which are then normalised (carries
 * propagated, low limbs back in [0, 2^32)).  Values outside the window
 * move it (centred on them) if a window can hold them, else go straight
 * to the full sums.  Where the window sits depends on the order of the
 * values; the sums' values do not, and everything read from them
 * (summaries, merges, serialised bytes) uses full sums plus window,
 * normalised: a unique form.
 *
 * Range.  For 2^-44 <= |x| < 2^78 (biased exponents SUM_E_LO ..
 * SUM_E_HI - 1) every bit of x and of x^2 lies in the sums.  A smaller
 * normal |x| has bits below the unit: x is rounded to the nearest multiple
 * of 2^-96 and x^2 to the nearest multiple of 2^-192 (ties away from zero),
 * by the value alone, so still order-free; subnormal x round to 0 in both.
 * |x| >= 2^78 marks the slot overflowed (mean, sd, se, prob NaN) instead of
 * wrapping; its other statistics are unaffected.  The limb counts leave
 * room for 2^64 values of either extreme: |S1| < 2^(64+78) needs 7 limbs,
 * S2 < 2^(64+156) 12, and their top limbs stay below 2^46 and 2^60.
 * No Debian package provides an exact, mergeable accumulator of doubles
 * (Kulisch accumulators, Radford Neal's xsum and ReproBLAS exist but are
 * not packaged; GMP and MPFR are general multi-precision libraries, far
 * too slow per value for this), hence this small one; tests/test_stats.c
 * checks it against an independent big-integer reference, hand-computed
 * sums, GSL and long double two-pass moments.
 *
 * Summaries from the exact sums: mean = fl(S1) / n, where fl(S1) is the
 * exact sum correctly rounded to a double (ties to even), so mean is
 * within one rounding of S1 / n; variance = fl(D) / n / (n - 1) with the
 * numerator D = n S2 - S1^2 computed exactly in integer arithmetic and
 * rounded once (a negative D, possible only through the rounding of tiny
 * values, counts as 0).  Data with a large mean and a small spread lose
 * nothing to cancellation: var is within 2 ulp of D / (n (n - 1)).
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
 * The mapping is defined by that formula evaluated in double precision
 * with libm's log() (sk_index_ref).  sk_index computes the same index
 * without log(): a table of ln(c) over 128 cells of the significand and a
 * degree-4 series give ln|x| SK_MULT + SK_SHIFT to within 1e-10; only
 * when that lies within SK_EDGE (6e-8) of an integer, where the two
 * computations could round to different sides of a bucket edge, does it
 * call sk_index_ref.  Elsewhere both are more than 5e-8 from the edge, so
 * they agree: the buckets are exactly those of the formula
 * (tests/test_stats.c checks both sides of bucket edges and random values
 * against it).
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
 * (the clamp in sk_index_ref is a guard), and a store never exceeds SK_NIDX
 * = 73742 counters (590 KB), two stores per slot.  In practice a store spans
 * the decades its values cover (230 counters = 1.8 KB per decade, plus the
 * growth policy's quarter).  The top bucket's representative
 * gamma_m^70978 = 1.80218e308 overflows; it is replaced by DBL_MAX, which
 * lies in that bucket and so is within a_m of all its values too.
 *
 * Stores are dense uint64_t arrays over [off, off + cap) that grow to 1.25
 * times the range they must hold (realloc, then the occupied part is moved
 * into place), extra room going to the side that grew.  Doubling, used
 * before, left most stores half empty: the default batch's peak RSS was
 * 379 MB at one thread and 662 MB at two, against 120 and 174 MB now
 * (8192 paths, bench/README.md), and the runs got 6 to 10 % faster, having
 * less memory to clear and walk.  Invariant: counts outside the occupied range
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

/* The per-value path must be inlined whole and the rare paths kept out of
 * it (GCC and Clang; elsewhere the compiler decides). */
/* GCC's basic-block vectoriser (on at -O2 since GCC 12) packs the pairs of
 * limb additions below into SSE registers, which costs more moves than it
 * saves (measured: 8 % of cm_stats_add). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-slp-vectorize")
#endif

#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#define COLD static __attribute__((noinline))
#define RARELY(c) __builtin_expect(!!(c), 0)
#define PREFETCH_RW(p) __builtin_prefetch((p), 1, 3)
#else
#define HOT static inline
#define COLD static
#define RARELY(c) (c)
#define PREFETCH_RW(p) ((void)(p))
#endif

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

/* Exact sums (see the file comment). */
#define SUM1_LIMBS 7
#define SUM2_LIMBS 12
#define SUM1_SCALE (-96)  /* S1 counts units of 2^-96 */
#define SUM2_SCALE (-192) /* S2 counts units of 2^-192 */
#define SUM_E_LO 979      /* biased exponent of 2^-44 = 2^(SUM1_SCALE + 52) */
#define SUM_E_HI 1101     /* biased exponent of 2^78: overflow from here on */
#define SUM_FLUSH_EVERY 512u /* values between flushes: a power of 2 below
                                2^10, as limbs take 2^10 parts of 2^52 */
#define WIN2_LIMBS 6
#define WIN_SPAN 48u      /* binades (values of p) a window covers */
#define WIN_C_MAX 4       /* last window start: p in [64, 112) */
#define WIN_C_DEFAULT 2   /* first window: p in [32, 80), 2^-12 <= |x| < 2^36 */
#define DIGIT_MASK UINT64_C(0xffffffff)

/* IEEE-754 binary64 fields. */
#define F64_FRAC UINT64_C(0x000fffffffffffff)
#define F64_HIDDEN UINT64_C(0x0010000000000000)
#define F64_ABS UINT64_C(0x7fffffffffffffff)
#define BITS_INF UINT64_C(0x7ff0000000000000)
#define BITS_ONE UINT64_C(0x3ff0000000000000)
/* CM_STATS_ZERO's bits: for non-negative doubles, comparing bit patterns
 * as integers compares the values. */
#define BITS_ZERO UINT64_C(0x3d719799812dea11)
_Static_assert(sizeof(double) == sizeof(uint64_t), "binary64 doubles");

/* One side of a sketch: counts of bucket indices off .. off + cap - 1. */
typedef struct {
    uint64_t *counts;
    int32_t off;
    int32_t cap;
    int32_t imin, imax; /* occupied range; imin > imax when empty */
} sk_store_t;

/* The sketch's two stores, indexed by the sign bit. */
enum { SIDE_POS = 0, SIDE_NEG = 1 };

/* How a slot records a value besides its sums. */
enum { REC_LOG = 0, REC_INT, REC_NONE };

/* Hot part: what every cm_stats_add touches (104 bytes). */
struct cm_stats_slot {
    uint64_t seen;    /* values, defined or not: n = seen - n_undef */
    double min, max;
    uint64_t n_undef; /* NaN or infinite values */
    uint64_t w1[2];   /* S1 pending: a 128-bit two's complement integer of
                         units of 2^(16 wc) (S1's unit being 1) */
    uint64_t w2[WIN2_LIMBS]; /* S2 limbs wc .. wc + 5, pending */
    uint16_t we;      /* SUM_E_LO + 16 wc: the window's first exponent */
    uint8_t wc;       /* window: p in [16 wc, 16 wc + WIN_SPAN) */
    uint8_t rec;      /* REC_*, from the kind */
    uint8_t round_sketch; /* at i a multiple of ADD_CHUNK: some slot of
                             i .. i + ADD_CHUNK - 1 has a sketch */
};

/* Sketch part (56 bytes). */
typedef struct {
    uint64_t nzero;     /* values with |x| < CM_STATS_ZERO */
    sk_store_t side[2]; /* buckets of x >= CM_STATS_ZERO (SIDE_POS) and of
                           -x for x <= -CM_STATS_ZERO (SIDE_NEG) */
} slot_sketch_t;

/* Cold part. */
typedef struct {
    uint64_t s1[SUM1_LIMBS]; /* S1 less the window, units of 2^-96 */
    uint64_t s2[SUM2_LIMBS]; /* S2 less the window, units of 2^-192 */
    cm_stat_kind_t kind;
    uint8_t overflow; /* some |x| >= 2^78: sums incomplete */
    uint8_t sorted;   /* exact mode: values[] is sorted ascending */
    double *values;   /* exact mode: the defined values */
    size_t nvalues, capvalues;
} slot_cold_t;

/* The three parts of slot i. */
typedef struct {
    cm_stats_slot_t *h;
    slot_sketch_t *k;
    slot_cold_t *c;
} slot_ref_t;

static slot_sketch_t *sketch_parts(const cm_stats_t *st)
{
    return (slot_sketch_t *)(void *)(st->slots + st->nslots);
}

static slot_cold_t *cold_parts(const cm_stats_t *st)
{
    return (slot_cold_t *)(void *)(sketch_parts(st) + st->nslots);
}

static slot_ref_t slot_at(const cm_stats_t *st, size_t i)
{
    return (slot_ref_t){&st->slots[i], &sketch_parts(st)[i],
                        &cold_parts(st)[i]};
}

/* Defined values of a slot. */
static inline uint64_t slot_n(const cm_stats_slot_t *h)
{
    return h->seen - h->n_undef;
}

/* Put the window at 16 wc (see the file comment). */
static void window_place(cm_stats_slot_t *h, unsigned wc)
{
    h->wc = (uint8_t)wc;
    h->we = (uint16_t)(SUM_E_LO + 16 * wc);
}

static inline uint64_t bits_of(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double double_of(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Two's complement u32 -> i32 and u64 -> i64 without
 * implementation-defined conversion. */
static inline int32_t i32_of(uint32_t u)
{
    return u <= INT32_MAX ? (int32_t)u : -(int32_t)(UINT32_MAX - u) - 1;
}

static inline int64_t i64_of(uint64_t u)
{
    return u <= INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

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
COLD int store_reserve(sk_store_t *b, int32_t lo, int32_t hi)
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
    /* A quarter more than needed, in whole cache lines (8 counters), at
     * least SK_INIT_CAP: stores widen a few times early, then rarely (the
     * tails move out slowly as paths accumulate), so a tight margin keeps
     * memory close to the occupied range at little copying cost. */
    int64_t cap = (need + need / 4 + 7) / 8 * 8;
    if (cap < SK_INIT_CAP)
        cap = SK_INIT_CAP;
    /* Never shrink: the occupied part may lie beyond a smaller size until it
     * is moved, and a store that was wider once (before a reset) may be
     * again. */
    if (cap < b->cap)
        cap = b->cap;
    if (cap > SK_NIDX)
        cap = SK_NIDX;
    int64_t off;
    if (empty || cap == b->cap)
        off = ulo - (cap - need) / 2; /* first use, or a move without
                                         growth: centre on the values, so
                                         that widening on alternate sides
                                         does not move the store each time */
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

/* Bucket i, outside the occupied range, gets a value: make room (0 or
 * CM_ENOMEM, the store then unchanged) and widen the range. */
COLD int store_widen(sk_store_t *b, int32_t i)
{
    if (store_reserve(b, i, i) != 0)
        return CM_ENOMEM;
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

/* ------------------------------------------------------------------ */
/* Sketch index */

/* The defining formula (see the file comment); ax >= CM_STATS_ZERO, finite. */
COLD int32_t sk_index_ref(double ax)
{
    double t = ceil(log(ax) * SK_MULT + SK_SHIFT);
    if (t < SK_IDX_MIN) /* guards only: unreachable for finite ax */
        return SK_IDX_MIN;
    if (t > SK_IDX_MAX)
        return SK_IDX_MAX;
    return (int32_t)t;
}

/* ln(2) SK_MULT; SK_TOFF - 1023 ln(2) SK_MULT; SK_MULT (-1)^(k+1) / k for
 * k = 1..4: the series of ln(1 + r) in index units (truncation error at
 * |r| <= 1/256: 2e-11).  Rounded from 200-bit values (mpmath). */
#define SK_LN2M 0x1.1541c03309008p+6
#define SK_K0 (-0x1.04fc6fc2fc3e4p+16)
#define SK_P1 0x1.8fff3fc285daep+6
#define SK_P2 (-0x1.8fff3fc285daep+5)
#define SK_P3 0x1.0aaa2a81ae91fp+5
#define SK_P4 (-0x1.8fff3fc285daep+4)
/* The result is offset by SK_TOFF so that truncation is a floor. */
#define SK_TOFF 4096
/* Distance from an integer below which sk_index defers to sk_index_ref. */
#define SK_EDGE 0x1p-24

/* Cell j of the significand [1, 2) is [1 + j/128, 1 + (j+1)/128), centre
 * c_j = 1 + (2j+1)/256; invc = 1/c_j and tl = ln(c_j) SK_MULT + SK_SHIFT,
 * rounded from 200-bit values (mpmath). */
static const struct {
    double invc, tl;
} sk_cell[128] = {
    {0x1.fe01fe01fe020p-1, -0x1.c83fa511c8f40p-4},
    {0x1.fa11caa01fa12p-1, 0x1.53de02785592dp-1},
    {0x1.f6310aca0dbb5p-1, 0x1.6edb30fff8f87p+0},
    {0x1.f25f644230ab5p-1, 0x1.1923463170360p+1},
    {0x1.ee9c7f8458e02p-1, 0x1.7a1b740b45048p+1},
    {0x1.eae807aba01ebp-1, 0x1.da58fb907eac7p+1},
    {0x1.e741aa59750e4p-1, 0x1.1cef52f77be02p+2},
    {0x1.e3a9179dc1a73p-1, 0x1.4c57963da29f1p+2},
    {0x1.e01e01e01e01ep-1, 0x1.7b669c9406109p+2},
    {0x1.dca01dca01dcap-1, 0x1.aa1db37c7dfc4p+2},
    {0x1.d92f2231e7f8ap-1, 0x1.d87e2138cf7fbp+2},
    {0x1.d5cac807572b2p-1, 0x1.034492800b6f6p+3},
    {0x1.d272ca3fc5b1ap-1, 0x1.1a1ffb99247bbp+3},
    {0x1.cf26e5c44bfc6p-1, 0x1.30d1e4c4f0901p+3},
    {0x1.cbe6d9601cbe7p-1, 0x1.475ae3a5e79a3p+3},
    {0x1.c8b265afb8a42p-1, 0x1.5dbb8abadc4bfp+3},
    {0x1.c5894d10d4986p-1, 0x1.73f469754f08dp+3},
    {0x1.c26b5392ea01cp-1, 0x1.8a060c4efbc1cp+3},
    {0x1.bf583ee868d8bp-1, 0x1.9ff0fcdeaad77p+3},
    {0x1.bc4fd65883e7bp-1, 0x1.b5b5c1ec4cba9p+3},
    {0x1.b951e2b18ff23p-1, 0x1.cb54df8467a35p+3},
    {0x1.b65e2e3beee05p-1, 0x1.e0ced70ade605p+3},
    {0x1.b37484ad806cep-1, 0x1.f624274d16ea9p+3},
    {0x1.b094b31d922a4p-1, 0x1.05aaa649c38e4p+4},
    {0x1.adbe87f94905ep-1, 0x1.1031605956cf4p+4},
    {0x1.aaf1d2f87ebfdp-1, 0x1.1aa67d8dbe6acp+4},
    {0x1.a82e65130e159p-1, 0x1.250a38759ead4p+4},
    {0x1.a574107688a4ap-1, 0x1.2f5cca7d76a2bp+4},
    {0x1.a2c2a87c51ca0p-1, 0x1.399e6bf710aa0p+4},
    {0x1.a01a01a01a01ap-1, 0x1.43cf5420b6617p+4},
    {0x1.9d79f176b682dp-1, 0x1.4defb92c2a37ap+4},
    {0x1.9ae24ea5510dap-1, 0x1.57ffd04568d6ap+4},
    {0x1.9852f0d8ec0ffp-1, 0x1.61ffcd9934832p+4},
    {0x1.95cbb0be377aep-1, 0x1.6befe45b6c735p+4},
    {0x1.934c67f9b2ce6p-1, 0x1.75d046cd320c0p+4},
    {0x1.90d4f120190d5p-1, 0x1.7fa12642ddda2p+4},
    {0x1.8e6527af1373fp-1, 0x1.8962b329c60eap+4},
    {0x1.8bfce8062ff3ap-1, 0x1.93151d0dd82c6p+4},
    {0x1.899c0f601899cp-1, 0x1.9cb8929f07871p+4},
    {0x1.87427bcc092b9p-1, 0x1.a64d41b6921fdp+4},
    {0x1.84f00c2780614p-1, 0x1.afd3575c1d5d7p+4},
    {0x1.82a4a0182a4a0p-1, 0x1.b94affcaac0b6p+4},
    {0x1.8060180601806p-1, 0x1.c2b466756efedp+4},
    {0x1.7e225515a4f1dp-1, 0x1.cc0fb60c71b08p+4},
    {0x1.7beb3922e017cp-1, 0x1.d55d1881240d8p+4},
    {0x1.79baa6bb6398bp-1, 0x1.de9cb70ac2b3dp+4},
    {0x1.77908119ac60dp-1, 0x1.e7ceba2a9ec33p+4},
    {0x1.756cac201756dp-1, 0x1.f0f349b0465e9p+4},
    {0x1.734f0c541fe8dp-1, 0x1.fa0a8cbd8eefap+4},
    {0x1.713786d9c7c09p-1, 0x1.018a54e541196p+5},
    {0x1.6f26016f26017p-1, 0x1.0608e3549783dp+5},
    {0x1.6d1a62681c861p-1, 0x1.0a810444af7c6p+5},
    {0x1.6b1490aa31a3dp-1, 0x1.0ef2c9fe18b12p+5},
    {0x1.691473a88d0c0p-1, 0x1.135e467bce8c6p+5},
    {0x1.6719f3601671ap-1, 0x1.17c38b6cecb37p+5},
    {0x1.6524f853b4aa3p-1, 0x1.1c22aa3657980p+5},
    {0x1.63356b88ac0dep-1, 0x1.207bb3f459803p+5},
    {0x1.614b36831ae94p-1, 0x1.24ceb97c34651p+5},
    {0x1.5f66434292dfcp-1, 0x1.291bcb5da902bp+5},
    {0x1.5d867c3ece2a5p-1, 0x1.2d62f9e47374ap+5},
    {0x1.5babcc647fa91p-1, 0x1.31a45519bdb1dp+5},
    {0x1.59d61f123ccaap-1, 0x1.35dfecc5883bdp+5},
    {0x1.5805601580560p-1, 0x1.3a15d07009509p+5},
    {0x1.56397ba7c52e2p-1, 0x1.3e460f6302e9ap+5},
    {0x1.54725e6bb82fep-1, 0x1.4270b8ab0fd45p+5},
    {0x1.52aff56a8054bp-1, 0x1.4695db18e827ep+5},
    {0x1.50f22e111c4c5p-1, 0x1.4ab585429d5fbp+5},
    {0x1.4f38f62dd4c9bp-1, 0x1.4ecfc584ce59ep+5},
    {0x1.4d843bedc2c4cp-1, 0x1.52e4aa03d37a8p+5},
    {0x1.4bd3edda68fe1p-1, 0x1.56f440ace3314p+5},
    {0x1.4a27fad76014ap-1, 0x1.5afe97372f1b4p+5},
    {0x1.4880522014880p-1, 0x1.5f03bb24f9fb5p+5},
    {0x1.46dce34596066p-1, 0x1.6303b9c4a6bf0p+5},
    {0x1.453d9e2c776cap-1, 0x1.66fea031c0c5ep+5},
    {0x1.43a2730abee4dp-1, 0x1.6af47b55fd9dfp+5},
    {0x1.420b5265e5951p-1, 0x1.6ee557ea38671p+5},
    {0x1.40782d10e6566p-1, 0x1.72d14277670cfp+5},
    {0x1.3ee8f42a5af07p-1, 0x1.76b8475789860p+5},
    {0x1.3d5d991aa75c6p-1, 0x1.7a9a72b693436p+5},
    {0x1.3bd60d9232955p-1, 0x1.7e77d0934efe2p+5},
    {0x1.3a524387ac822p-1, 0x1.82506cc03d099p+5},
    {0x1.38d22d366088ep-1, 0x1.862452e46c54dp+5},
    {0x1.3755bd1c945eep-1, 0x1.89f38e7c4e417p+5},
    {0x1.35dce5f9f2af8p-1, 0x1.8dbe2ada85749p+5},
    {0x1.34679ace01346p-1, 0x1.91843328afc7cp+5},
    {0x1.32f5ced6a1dfap-1, 0x1.9545b2682b7c6p+5},
    {0x1.3187758e9ebb6p-1, 0x1.9902b372d7d2ep+5},
    {0x1.301c82ac40260p-1, 0x1.9cbb40fbd1280p+5},
    {0x1.2eb4ea1fed14bp-1, 0x1.a06f659028b72p+5},
    {0x1.2d50a012d50a0p-1, 0x1.a41f2b9798207p+5},
    {0x1.2bef98e5a3711p-1, 0x1.a7ca9d5530d15p+5},
    {0x1.2a91c92f3c105p-1, 0x1.ab71c4e8076b3p+5},
    {0x1.293725bb804a5p-1, 0x1.af14ac4bdb458p+5},
    {0x1.27dfa38a1ce4dp-1, 0x1.b2b35d59ba24fp+5},
    {0x1.268b37cd60127p-1, 0x1.b64de1c8a0437p+5},
    {0x1.2539d7e9177b2p-1, 0x1.b9e4432e14c10p+5},
    {0x1.23eb79717605bp-1, 0x1.bd768afec296bp+5},
    {0x1.22a0122a0122ap-1, 0x1.c104c28f0e23cp+5},
    {0x1.21579804855e6p-1, 0x1.c48ef313a76b9p+5},
    {0x1.2012012012012p-1, 0x1.c81525a2191acp+5},
    {0x1.1ecf43c7fb84cp-1, 0x1.cb9763315469bp+5},
    {0x1.1d8f5672e4abdp-1, 0x1.cf15b49a39f11p+5},
    {0x1.1c522fc1ce059p-1, 0x1.d29022981f84ap+5},
    {0x1.1b17c67f2bae3p-1, 0x1.d606b5c95328ap+5},
    {0x1.19e0119e0119ep-1, 0x1.d97976af9b348p+5},
    {0x1.18ab083902bdbp-1, 0x1.dce86db0b3b5cp+5},
    {0x1.1778a191bd684p-1, 0x1.e053a316c924bp+5},
    {0x1.1648d50fc3201p-1, 0x1.e3bb1f10f07d1p+5},
    {0x1.151b9a3fdd5c9p-1, 0x1.e71ee9b39ccb7p+5},
    {0x1.13f0e8d344724p-1, 0x1.ea7f0af9123f4p+5},
    {0x1.12c8b89edc0acp-1, 0x1.eddb8ac1d6d24p+5},
    {0x1.11a3019a74826p-1, 0x1.f13470d52094dp+5},
    {0x1.107fbbe011080p-1, 0x1.f489c4e141ad9p+5},
    {0x1.0f5edfab325a2p-1, 0x1.f7db8e7c121b8p+5},
    {0x1.0e40655826011p-1, 0x1.fb29d52357492p+5},
    {0x1.0d24456359e3ap-1, 0x1.fe74a03d297d7p+5},
    {0x1.0c0a7868b4171p-1, 0x1.00ddfb8c2b9cap+6},
    {0x1.0af2f722eecb5p-1, 0x1.027ff07663466p+6},
    {0x1.09ddba6af8360p-1, 0x1.0420326dea39cp+6},
    {0x1.08cabb37565e2p-1, 0x1.05bec4f85920cp+6},
    {0x1.07b9f29b8eae2p-1, 0x1.075bab9060971p+6},
    {0x1.06ab59c7912fbp-1, 0x1.08f6e9a5f6048p+6},
    {0x1.059eea0727586p-1, 0x1.0a90829e7f91ap+6},
    {0x1.04949cc1664c5p-1, 0x1.0c2879d4ff3bfp+6},
    {0x1.038c6b78247fcp-1, 0x1.0dbed29a3d0fep+6},
    {0x1.02864fc7729e9p-1, 0x1.0f539034f08cbp+6},
    {0x1.0182436517a37p-1, 0x1.10e6b5e1e937ap+6},
    {0x1.0080402010080p-1, 0x1.127846d436642p+6},
};

/* Bucket index of ax >= CM_STATS_ZERO (finite, so normal), equal to
 * sk_index_ref(ax), without log(): ln ax = (e - 1023) ln 2 + ln c_j +
 * ln(1 + r) with r = mant / c_j - 1, |r| <= 1/256 (computed with an error
 * near 1e-16).  The largest errors are the series' truncation (2e-11) and
 * the roundings of the product and sums near |t| <= 142000 (ulp 2.9e-11):
 * t is within 1e-10 of ln ax SK_MULT + SK_SHIFT + SK_TOFF, and so is
 * sk_index_ref's value before its ceil (log() within 1 ulp of
 * |ln ax| <= 710, then two roundings below 75000).  Hence where t is more
 * than SK_EDGE from an integer both ceilings agree. */
HOT int32_t sk_index(double ax)
{
    const uint64_t u = bits_of(ax);
    const unsigned j = (unsigned)(u >> 45) & 127u;
    const double mant = double_of((u & F64_FRAC) | BITS_ONE);
    const double r = mant * sk_cell[j].invc - 1.0;
    const double p = r * (SK_P1 + r * (SK_P2 + r * (SK_P3 + r * SK_P4)));
    const double e = (double)(int)(u >> 52);
    const double t = (e * SK_LN2M + SK_K0) + (sk_cell[j].tl + p);
    const int32_t k = (int32_t)t; /* t > 1000: truncation is floor */
    const double f = t - (double)k;
    if (RARELY(!(fabs(f - 0.5) < 0.5 - SK_EDGE)))
        return sk_index_ref(ax);
    return k + 1 - SK_TOFF;
}

/* Representative (> 0) of bucket i: gamma_m^i, DBL_MAX for the top bucket
 * (see the file comment). */
static double sk_rep(int32_t i)
{
    double v = exp((double)i * SK_LN_GAMMA);
    return v <= DBL_MAX ? v : DBL_MAX;
}

/* Integer slots: bucket i holds the whole number i (|x| rounded to nearest,
 * ties to even, like nearbyint() in the default rounding mode), within the
 * same index range as the log buckets; larger |x| share the top bucket
 * (quantiles there are clamped to [min, max]).  Below 2^52, adding and
 * subtracting 2^52 rounds to an integer exactly, with no libm call. */
#define SK_INT_MAX ((double)SK_IDX_MAX)

HOT int32_t int_index(double ax)
{
    if (!(ax < 0x1p52))
        return SK_IDX_MAX;
    double t = ax + 0x1p52; /* assignments round away any excess precision */
    double r = t - 0x1p52;
    return (int32_t)(r < SK_INT_MAX ? r : SK_INT_MAX);
}

/* Representative of bucket i of a slot of the given kind (> 0). */
static inline double slot_rep(cm_stat_kind_t kind, int32_t i)
{
    return kind == CM_STAT_INTEGER ? (double)i : sk_rep(i);
}

/* ------------------------------------------------------------------ */
/* Exact sums (see the file comment) */

/* GCC and Clang have a 128-bit integer type, which makes the square one
 * multiplication.  The portable code is equivalent (tested by building with
 * -DCMSIM_STATS_NO_INT128).  (128-bit shifts are slower than the 64-bit
 * ones below: GCC spills them.) */
#if defined(__SIZEOF_INT128__) && !defined(CMSIM_STATS_NO_INT128)
#define HAVE_U128 1
__extension__ typedef unsigned __int128 u128_t;
#else
#define HAVE_U128 0
#endif

/* 53 x 53 -> 106-bit product m^2 = *hi 2^64 + *lo. */
HOT void square53(uint64_t m, uint64_t *hi, uint64_t *lo)
{
#if HAVE_U128
    const u128_t p = (u128_t)m * m;
    *hi = (uint64_t)(p >> 64);
    *lo = (uint64_t)p;
#else
    /* m = a 2^32 + b: m^2 = a^2 2^64 + 2ab 2^32 + b^2, 2ab < 2^54. */
    const uint64_t a = m >> 32, b = m & DIGIT_MASK;
    const uint64_t ab2 = 2 * a * b, bb = b * b;
    const uint64_t l = bb + (ab2 << 32);
    *lo = l;
    *hi = a * a + (ab2 >> 32) + (l < bb);
#endif
}

/* Right shifts of negative integers are arithmetic (implementation-defined
 * in C, so checked here; GCC and Clang document it). */
_Static_assert((INT64_C(-5) >> 1) == -3, "arithmetic right shift");

/* l[0..1] += (-1)^neg m 2^s, m <= 2^53, s < 32, neg 0 or all ones: with
 * v = (-1)^neg m 2^s in two's complement, the low digit of v (in
 * [0, 2^32)) goes to l[0] and floor(v / 2^32) (|.| <= 2^52) to l[1];
 * limbs are two's complement, so a negative part is added modulo 2^64. */
HOT void s1_add(uint64_t *l, uint64_t m, uint64_t neg, unsigned s)
{
    const uint64_t ms = (m ^ neg) - neg; /* (-1)^neg m, two's complement */
    l[0] += (uint32_t)(ms << s);
    l[1] += (uint64_t)(i64_of(ms) >> (32 - s));
}

/* a[0] + a[1] 2^64 (two's complement) += (-1)^neg m 2^q, q < 64: the
 * window's S1, one 128-bit addition. */
HOT void w1_add(uint64_t *a, uint64_t m, uint64_t neg, unsigned q)
{
    const uint64_t ms = (m ^ neg) - neg; /* (-1)^neg m, two's complement */
    const uint64_t lo = ms << q;
    const uint64_t hi = (uint64_t)(i64_of(ms) >> (63 - q) >> 1);
#if HAVE_U128
    u128_t acc;
    memcpy(&acc, a, sizeof acc); /* compiles to add, adc on memory */
    acc += ((u128_t)hi << 64) | lo;
    memcpy(a, &acc, sizeof acc);
#else
    a[0] += lo;
    a[1] += hi + (a[0] < lo);
#endif
}

/* l[0..3] += (hi 2^64 + lo) 2^s, hi 2^64 + lo < 2^106, s < 32 even: with
 * v = (hi 2^64 + lo) 2^s, the low digit of v goes to l[0], the next two
 * digits to l[1] and l[2], bits 96 and up (< 2^41) to l[3]. */
HOT void s2_add(uint64_t *l, uint64_t hi, uint64_t lo, unsigned s)
{
    const unsigned r = 32 - s; /* in [2, 32] */
    const uint64_t wlo = (lo >> r) | (hi << 32 << s); /* (v / 2^32) mod 2^64 */
    l[0] += (uint32_t)(lo << s);
    l[1] += wlo & DIGIT_MASK;
    l[2] += wlo >> 32;
    l[3] += hi >> r;
}

/* x = (-1)^neg m at bit p of S1 and x^2 at bit 2p of S2 into the full
 * sums (the top limbs are not reached for p < 122). */
static void sums_put(uint64_t *s1, uint64_t *s2, uint64_t m, uint64_t neg,
                     unsigned p)
{
    uint64_t hi, lo;
    s1_add(s1 + (p >> 5), m, neg, p & 31u);
    square53(m, &hi, &lo);
    s2_add(s2 + (p >> 4), hi, lo, (2 * p) & 31u);
}

/* The same into a window: q = p - 16 wc < WIN_SPAN. */
HOT void window_put(cm_stats_slot_t *h, uint64_t m, uint64_t neg, unsigned q)
{
    uint64_t hi, lo;
    w1_add(h->w1, m, neg, q);
    square53(m, &hi, &lo);
    s2_add(h->w2 + (q >> 4), hi, lo, (2 * q) & 31u);
}

/* Propagate carries: limbs 0 .. k-2 into [0, 2^32), the rest into the
 * signed top limb.  Limbs are read as two's complement (|limb| < 2^63 by
 * the bounds in the file comment). */
static void limbs_normalise(uint64_t *l, int k)
{
    uint64_t carry = 0;
    for (int i = 0; i < k - 1; i++) {
        const uint64_t v = l[i] + carry;
        l[i] = v & DIGIT_MASK;
        carry = (uint64_t)(i64_of(v) >> 32); /* floor(v / 2^32) */
    }
    l[k - 1] += carry;
}

/* l += d 2^off for a 32-bit digit d, signed if top (else unsigned), off =
 * 32 k + s, s < 32: two limbs. */
static void limbs_add_digit(uint64_t *l, uint32_t d, int top, unsigned off)
{
    const int64_t v = top ? (int64_t)i32_of(d) : (int64_t)d;
    const unsigned k = off >> 5, s = off & 31u;
    l[k] += (uint32_t)((uint64_t)v << s);
    l[k + 1] += (uint64_t)(v >> (32 - s));
}

/* Add a window into full sums s1, s2 (not normalised): S1's 128-bit
 * integer digit by digit at bit 16 wc, S2's limbs from limb wc. */
static void window_into(const cm_stats_slot_t *h, uint64_t *s1, uint64_t *s2)
{
    for (unsigned j = 0; j < 4; j++)
        limbs_add_digit(s1, (uint32_t)(h->w1[j / 2] >> (32 * (j % 2))),
                        j == 3, 16u * h->wc + 32 * j);
    for (int j = 0; j < WIN2_LIMBS; j++)
        s2[h->wc + j] += h->w2[j];
}

/* Move the window's content into the full sums and normalise them. */
static void window_flush(cm_stats_slot_t *h, slot_cold_t *c)
{
    window_into(h, c->s1, c->s2);
    memset(h->w1, 0, sizeof h->w1);
    memset(h->w2, 0, sizeof h->w2);
    limbs_normalise(c->s1, SUM1_LIMBS);
    limbs_normalise(c->s2, SUM2_LIMBS);
}

/* The normalised sums of a slot, window included (the slot is left alone,
 * so that summaries and serialisation only read it). */
static void sums_get(slot_ref_t r, uint64_t *s1, uint64_t *s2)
{
    memcpy(s1, r.c->s1, sizeof r.c->s1);
    memcpy(s2, r.c->s2, sizeof r.c->s2);
    window_into(r.h, s1, s2);
    limbs_normalise(s1, SUM1_LIMBS);
    limbs_normalise(s2, SUM2_LIMBS);
}

/* Add x (bit pattern u, finite, normal) outside its slot's window: move
 * the window to it or add it to the full sums (2^68 <= |x| < 2^78), or
 * overflow (|x| >= 2^78), or round x to units of 2^-96 and x^2 to units
 * of 2^-192, to nearest, ties away from zero on the magnitude
 * (|x| < 2^-44). */
COLD void sums_outside(cm_stats_slot_t *h, slot_cold_t *c, uint64_t u)
{
    const unsigned e = (unsigned)(u >> 52) & 0x7ffu;
    const uint64_t neg = 0 - (u >> 63);
    uint64_t m = (u & F64_FRAC) | F64_HIDDEN;
    if (e >= SUM_E_HI) {
        c->overflow = 1;
        return;
    }
    if (e >= SUM_E_LO) {
        const unsigned p = e - SUM_E_LO; /* 0 .. 121 */
        unsigned wc = p < 16 ? 0 : (p - 16) / 16; /* p in the middle */
        if (wc > WIN_C_MAX)
            wc = WIN_C_MAX;
        if (p - 16 * wc >= WIN_SPAN) { /* no window holds it */
            sums_put(c->s1, c->s2, m, neg, p);
            return;
        }
        window_flush(h, c);
        window_place(h, wc);
        window_put(h, m, neg, p - 16 * wc);
        return;
    }
    const unsigned sh = SUM_E_LO - e; /* 1 .. 978 */
    uint64_t hi, lo;
    square53(m, &hi, &lo);
    m = sh >= 54 ? 0 : (m + (UINT64_C(1) << (sh - 1))) >> sh;
    s1_add(c->s1, m, neg, 0);
    const unsigned sh2 = 2 * sh; /* m^2 < 2^106: 0 from sh2 = 107 */
    if (sh2 >= 107)
        return;
    if (sh2 <= 64) {
        const uint64_t half = UINT64_C(1) << (sh2 - 1);
        lo += half;
        hi += lo < half;
    } else {
        hi += UINT64_C(1) << (sh2 - 65);
    }
    if (sh2 < 64) {
        lo = (lo >> sh2) | (hi << (64 - sh2));
        hi >>= sh2;
    } else {
        lo = hi >> (sh2 - 64);
        hi = 0;
    }
    s2_add(c->s2, hi, lo, 0);
}

/* Magnitude of a normalised sum of k limbs as k + 1 base-2^32 digits;
 * returns 1 if the sum is negative. */
static int limbs_magnitude(const uint64_t *l, int k, uint32_t *d)
{
    const uint64_t top = l[k - 1];
    const int negative = (int)(top >> 63);
    for (int i = 0; i < k - 1; i++)
        d[i] = (uint32_t)l[i];
    d[k - 1] = (uint32_t)(top & DIGIT_MASK);
    d[k] = (uint32_t)(top >> 32);
    if (negative) { /* two's complement over k + 1 digits */
        uint64_t c = 1;
        for (int i = 0; i <= k; i++) {
            c += (uint32_t)~d[i];
            d[i] = (uint32_t)c;
            c >>= 32;
        }
    }
    return negative;
}

static unsigned bit_length32(uint32_t v)
{
    unsigned b = 0;
    while (v != 0) {
        b++;
        v >>= 1;
    }
    return b;
}

/* Digit i of d[0 .. nd-1], 0 outside. */
static uint64_t digit_at(const uint32_t *d, int nd, long i)
{
    return i >= 0 && i < nd ? d[i] : 0;
}

/* d[0 .. nd-1] 2^scale rounded to the nearest double, ties to even (the
 * results here stay far inside the normal range). */
static double digits_to_double(const uint32_t *d, int nd, int scale)
{
    int t = nd - 1;
    while (t >= 0 && d[t] == 0)
        t--;
    if (t < 0)
        return 0.0;
    const long len = 32L * t + (long)bit_length32(d[t]); /* bits */
    const long pos = len - 64; /* the top 64 bits start here */
    const long q = pos >= 0 ? pos / 32 : -((31 - pos) / 32);
    const unsigned r = (unsigned)(pos - 32 * q); /* 0 .. 31 */
    const uint64_t w = (digit_at(d, nd, q + 2) << 32 << (32 - r)) |
                       (digit_at(d, nd, q + 1) << (32 - r)) |
                       (digit_at(d, nd, q) >> r);
    int sticky = r > 0 && (digit_at(d, nd, q) & ((UINT64_C(1) << r) - 1)) != 0;
    for (long i = q - 1; i >= 0 && !sticky; i--)
        sticky = digit_at(d, nd, i) != 0;
    uint64_t keep = w >> 11; /* 53 bits */
    const uint64_t rem = w & 0x7ffu;
    if (rem > 0x400u || (rem == 0x400u && (sticky || (keep & 1u))))
        keep++;
    return ldexp((double)keep, (int)(len - 53) + scale);
}

/* A normalised S1 rounded to a double. */
static double sum1_value(const uint64_t *s1)
{
    uint32_t d[SUM1_LIMBS + 1];
    const int negative = limbs_magnitude(s1, SUM1_LIMBS, d);
    const double v = digits_to_double(d, SUM1_LIMBS + 1, SUM1_SCALE);
    return negative ? -v : v;
}

/* c[0 .. na+nb-1] = a b (base 2^32 digits). */
static void digits_mul(const uint32_t *a, int na, const uint32_t *b, int nb,
                       uint32_t *c)
{
    memset(c, 0, (size_t)(na + nb) * sizeof *c);
    for (int i = 0; i < na; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < nb; j++) {
            /* at most (2^32-1) + (2^32-1)^2 + (2^32-1) = 2^64 - 1 */
            const uint64_t t = (uint64_t)c[i + j] + (uint64_t)a[i] * b[j] + carry;
            c[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        c[i + nb] = (uint32_t)carry;
    }
}

#define VAR_DIGITS (2 * (SUM1_LIMBS + 1)) /* S1^2; n S2 needs 2 fewer */

/* D = n S2 - S1^2 exactly (units of 2^-192) from normalised sums, rounded
 * to a double in real units; 0 if negative. */
static double sums_var_numerator(const uint64_t *s1, const uint64_t *s2,
                                 uint64_t n)
{
    uint32_t a[SUM1_LIMBS + 1], b[SUM2_LIMBS + 1], nn[2];
    uint32_t sq[VAR_DIGITS], ns2[SUM2_LIMBS + 3], dd[VAR_DIGITS];
    (void)limbs_magnitude(s1, SUM1_LIMBS, a);
    (void)limbs_magnitude(s2, SUM2_LIMBS, b); /* S2 >= 0 */
    nn[0] = (uint32_t)(n & DIGIT_MASK);
    nn[1] = (uint32_t)(n >> 32);
    digits_mul(a, SUM1_LIMBS + 1, a, SUM1_LIMBS + 1, sq);
    digits_mul(b, SUM2_LIMBS + 1, nn, 2, ns2);
    int64_t borrow = 0;
    for (int i = 0; i < VAR_DIGITS; i++) {
        const int64_t t = (int64_t)digit_at(ns2, SUM2_LIMBS + 3, i) -
                          (int64_t)sq[i] + borrow;
        dd[i] = (uint32_t)((uint64_t)t & DIGIT_MASK);
        borrow = t < 0 ? -1 : 0;
    }
    if (borrow != 0)
        return 0.0;
    return digits_to_double(dd, VAR_DIGITS, SUM2_SCALE);
}

/* ------------------------------------------------------------------ */
/* Slots */

/* Forget the values; keep the memory and the window's place. */
static void slot_clear(slot_ref_t r)
{
    cm_stats_slot_t *h = r.h;
    h->seen = 0;
    h->n_undef = 0;
    h->min = INFINITY;
    h->max = -INFINITY;
    memset(h->w1, 0, sizeof h->w1);
    memset(h->w2, 0, sizeof h->w2);
    r.k->nzero = 0;
    store_clear(&r.k->side[SIDE_NEG]);
    store_clear(&r.k->side[SIDE_POS]);
    memset(r.c->s1, 0, sizeof r.c->s1);
    memset(r.c->s2, 0, sizeof r.c->s2);
    r.c->overflow = 0;
    r.c->nvalues = 0;
    r.c->sorted = 1;
}

/* A fresh slot of the given kind in zeroed memory. */
static void slot_setup(slot_ref_t r, cm_stat_kind_t kind)
{
    r.c->kind = kind;
    r.h->rec = kind == CM_STAT_MOMENTS   ? REC_NONE
               : kind == CM_STAT_INTEGER ? REC_INT
                                         : REC_LOG;
    window_place(r.h, WIN_C_DEFAULT);
    slot_clear(r);
}

/* Slots per round of cm_stats_add (see there). */
#define ADD_CHUNK 64

/* The round_sketch flags, once the kinds are set. */
static void rounds_set(cm_stats_t *st)
{
    for (size_t c0 = 0; c0 < st->nslots; c0 += ADD_CHUNK) {
        int any = 0;
        for (size_t i = c0; i < st->nslots && i < c0 + ADD_CHUNK; i++)
            any |= st->slots[i].rec != REC_NONE;
        st->slots[c0].round_sketch = (uint8_t)any;
    }
}

/* Zeroed memory for nslots slots (all three parts), or NULL. */
static cm_stats_slot_t *slots_alloc(size_t nslots)
{
    const size_t per = sizeof(cm_stats_slot_t) + sizeof(slot_sketch_t) +
                       sizeof(slot_cold_t);
    if (nslots > SIZE_MAX / per)
        return NULL;
    return calloc(nslots, per);
}

static int values_reserve(slot_cold_t *c, size_t extra)
{
    if (extra <= c->capvalues - c->nvalues)
        return 0;
    if (extra > SIZE_MAX / sizeof(double) - c->nvalues)
        return CM_ENOMEM;
    size_t need = c->nvalues + extra;
    size_t cap = c->capvalues > 0 ? c->capvalues : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / sizeof(double) / 2 ? need : 2 * cap;
    double *v = realloc(c->values, cap * sizeof *v);
    if (v == NULL)
        return CM_ENOMEM;
    c->values = v;
    c->capvalues = cap;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Exact mode: sort the value store once after new values.  The slot array
 * is not const even when the accumulator is (see cm_stats_summary). */
static void values_sort(slot_cold_t *c)
{
    if (!c->sorted) {
        qsort(c->values, c->nvalues, sizeof *c->values, cmp_double);
        c->sorted = 1;
    }
}

static double clamp(const cm_stats_slot_t *h, double v)
{
    if (v < h->min)
        return h->min;
    if (v > h->max)
        return h->max;
    return v;
}

/* Sketch: the value standing for the order statistic of 0-based rank q
 * (q < n), ascending order being the negative store from its largest index
 * down, the zeros, then the positive store upwards.  Not yet clamped. */
static double sketch_at_rank(slot_ref_t r, uint64_t q)
{
    const cm_stat_kind_t kind = r.c->kind;
    const sk_store_t *b = &r.k->side[SIDE_NEG];
    for (int32_t i = b->imax; i >= b->imin; i--) {
        uint64_t c = store_get(b, i);
        if (q < c)
            return -slot_rep(kind, i);
        q -= c;
    }
    if (q < r.k->nzero)
        return 0.0;
    q -= r.k->nzero;
    b = &r.k->side[SIDE_POS];
    for (int32_t i = b->imin; i <= b->imax; i++) {
        uint64_t c = store_get(b, i);
        if (q < c)
            return slot_rep(kind, i);
        q -= c;
    }
    return r.h->max; /* unreachable while the counts add up to n */
}

/* Quantile q of a slot with n > 0 (see stats.h for the two definitions). */
static double slot_quantile(slot_ref_t r, int exact, double q)
{
    if (exact && r.c->kind == CM_STAT_INTEGER) {
        /* Whole numbers, as in sketch mode: the order statistic of rank
         * floor(q (n - 1)), rounded to the nearest integer (ties to even,
         * the sketch's buckets), within [min, max]; so both modes agree. */
        if (q <= 0.0)
            return r.h->min;
        if (q >= 1.0)
            return r.h->max;
        size_t rank = (size_t)floor(q * (double)(r.c->nvalues - 1));
        return clamp(r.h, nearbyint(r.c->values[rank]));
    }
    if (exact)
        return gsl_stats_quantile_from_sorted_data(r.c->values, 1,
                                                   r.c->nvalues, q);
    if (q <= 0.0)
        return r.h->min;
    if (q >= 1.0)
        return r.h->max;
    uint64_t rank = (uint64_t)floor(q * (double)(slot_n(r.h) - 1));
    return clamp(r.h, sketch_at_rank(r, rank));
}

/* Adds take copies of v (clamped) to *sum and lowers *left. */
static void tail_take(const cm_stats_slot_t *h, uint64_t c, double v,
                      uint64_t *left, double *sum)
{
    uint64_t take = c < *left ? c : *left;
    if (take > 0) {
        *sum += (double)take * clamp(h, v);
        *left -= take;
    }
}

/* Sketch: sum of the representatives of the k smallest (high = 0) or
 * largest (high = 1) values, walking from that end inwards and taking the
 * last bucket partially.  Each representative is within relative
 * CM_STATS_ALPHA of the value it stands for (absolute CM_STATS_ZERO in the
 * zero bucket), so the tail mean is within CM_STATS_ALPHA times the mean of
 * |x| over the tail, plus CM_STATS_ZERO.  A function of the counts, so
 * order-free. */
static double sketch_tail_sum(slot_ref_t r, uint64_t k, int high)
{
    double sum = 0.0;
    uint64_t left = k;
    const sk_store_t *lo = &r.k->side[high ? SIDE_POS : SIDE_NEG];
    const sk_store_t *hi = &r.k->side[high ? SIDE_NEG : SIDE_POS];
    const double sign = high ? 1.0 : -1.0;
    const cm_stat_kind_t kind = r.c->kind;
    for (int32_t i = lo->imax; i >= lo->imin && left > 0; i--)
        tail_take(r.h, store_get(lo, i), sign * slot_rep(kind, i), &left,
                  &sum);
    tail_take(r.h, r.k->nzero, 0.0, &left, &sum);
    for (int32_t i = hi->imin; i <= hi->imax && left > 0; i++)
        tail_take(r.h, store_get(hi, i), -sign * slot_rep(kind, i), &left,
                  &sum);
    return sum;
}

/* Exact mode: sum of the k smallest or largest values, in ascending order
 * of the sorted store (TAIL_LOW: values[0..k-1]; TAIL_HIGH:
 * values[n-k..n-1]). */
static double exact_tail_sum(const slot_cold_t *c, uint64_t k, int high)
{
    size_t first = high ? c->nvalues - (size_t)k : 0;
    double sum = 0.0;
    for (size_t j = first; j < first + (size_t)k; j++)
        sum += c->values[j];
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
        st->slots = slots_alloc(nslots);
        if (st->slots == NULL)
            return CM_ENOMEM;
    }
    st->nslots = nslots;
    st->exact = exact ? 1 : 0;
    for (size_t i = 0; i < nslots; i++)
        slot_setup(slot_at(st, i), kinds[i]);
    rounds_set(st);
    return CM_EOK;
}

void cm_stats_free(cm_stats_t *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; st->slots != NULL && i < st->nslots; i++) {
        slot_ref_t r = slot_at(st, i);
        free(r.k->side[SIDE_NEG].counts);
        free(r.k->side[SIDE_POS].counts);
        free(r.c->values);
    }
    free(st->slots);
    memset(st, 0, sizeof *st);
}

void cm_stats_reset(cm_stats_t *st)
{
    for (size_t i = 0; st->slots != NULL && i < st->nslots; i++)
        slot_clear(slot_at(st, i));
}

/* v if finite (-0.0 made +0.0), else NaN: one subtraction and one
 * addition instead of tests (Inf - Inf and NaN - NaN are NaN; x - x = +0
 * for finite x; -0 + +0 = +0). */
HOT double canonical(double v)
{
    return v + (v - v);
}

/* Sketch mode: the counter that x (any sign of zero) increments in a slot
 * with a sketch, the store's occupied range updated (the increment itself
 * waits, see cm_stats_add): a bucket, the zero count, or spare for an
 * undefined value; NULL if the store could not grow.  Only the bucket's
 * leaving the occupied range is a rare branch; zero, sign and undefined
 * are left to the compiler (which, with GCC, branches on zero-or-not, the
 * cheaper choice for data with many zeros). */
HOT uint64_t *sketch_counter(uint8_t rec, slot_sketch_t *k, double x,
                             uint64_t *spare)
{
    const uint64_t u = bits_of(x);
    const uint64_t au = u & F64_ABS;
    const int undef = au >= BITS_INF;
    int32_t i;
    int real;
    if (rec == REC_INT) {
        i = int_index(double_of(undef ? BITS_ONE : au));
        real = !undef & (i != 0);
    } else {
        real = !undef & (au >= BITS_ZERO);
        i = sk_index(double_of(real ? au : BITS_ONE));
    }
    sk_store_t *b = &k->side[u >> 63];
    /* [imin, imax] lies inside [off, off + cap); an empty store's
     * imax - imin is -73743, which no i - imin reaches as unsigned, so it
     * widens too. */
    if (RARELY(real &
               ((uint32_t)(i - b->imin) > (uint32_t)(b->imax - b->imin))) &&
        store_widen(b, i) != 0)
        return NULL;
    uint64_t *const counts = b->counts;
    uint64_t *const other = undef ? spare : &k->nzero;
    return real ? counts + (i - b->off) : other;
}

/* Count v in a slot's n, min, max and sums, or in n_undef if it is NaN or
 * infinite.  Branch-free on the usual path: values in the window go
 * through masks, and the one test, for the others, combines zero-or-not,
 * defined-or-not and in-the-window-or-not in a mask.  The sums work on v's
 * bits directly (zero, -0.0, Inf and NaN fall outside the window and add
 * nothing), only min and max on canonical(v): two short dependency chains
 * instead of one long one. */
HOT void slot_take(cm_stats_slot_t *h, slot_cold_t *c, double v)
{
    const uint64_t u = bits_of(v);
    const double x = canonical(v);
    const uint64_t e = (u >> 52) & 0x7ffu;
    h->seen++;
    h->n_undef += e == 0x7ffu;
    h->min = x < h->min ? x : h->min; /* a NaN x leaves both alone */
    h->max = x > h->max ? x : h->max;
    /* q = p - 16 wc, p = e - SUM_E_LO: the value's bit in the window */
    const uint64_t q = e - h->we; /* huge if e < we */
    const uint64_t in = 0 - (uint64_t)(q < WIN_SPAN);
    const uint64_t normal = 0 - (uint64_t)(e - 1 < 0x7feu);
    const uint64_t m = ((u & F64_FRAC) | F64_HIDDEN) & in;
    window_put(h, m, 0 - (u >> 63), (unsigned)(q & in));
    if (RARELY((normal & ~in) != 0))
        sums_outside(h, c, u);
    if (RARELY((h->seen & (SUM_FLUSH_EVERY - 1)) == 0))
        window_flush(h, c);
}

/* slot_take for a slot without a sketch, with a short path for +-0: the
 * paired differences of a batch are exactly 0 wherever a variant does not
 * change an outcome (shared prices, regimes, unaffected projects), often on
 * every path of a slot, so the branch is well predicted.  A zero adds
 * nothing to the sums; it counts, moves min and max, and keeps the flush
 * cadence (slot_take flushes at every SUM_FLUSH_EVERY-th value). */
HOT void slot_take_moments(cm_stats_slot_t *h, slot_cold_t *c, double v)
{
    if ((bits_of(v) << 1) == 0) {
        h->seen++;
        h->min = h->min < 0.0 ? h->min : 0.0;
        h->max = h->max > 0.0 ? h->max : 0.0;
        if (RARELY((h->seen & (SUM_FLUSH_EVERY - 1)) == 0))
            window_flush(h, c);
        return;
    }
    slot_take(h, c, v);
}

/* Exact mode: append defined x to the value store: 0 or CM_ENOMEM. */
static int values_push(slot_cold_t *c, double x)
{
    if (c->nvalues == c->capvalues && values_reserve(c, 1) != 0)
        return CM_ENOMEM;
    c->values[c->nvalues++] = x;
    c->sorted = 0;
    return 0;
}

/* Speed.  The sketch's counters are scattered (one cache line per slot
 * and path, in arrays of kilobytes per slot), so in sketch mode the slots
 * go in rounds of ADD_CHUNK: first every slot's counter is located and
 * prefetched, then the counters are incremented and the rest of the slots
 * updated, by which time most counters are in cache.  Rounds without a
 * sketch (MOMENTS slots) skip the first pass. */
HOT int stats_add(cm_stats_t *st, const double *values, const unsigned char *skip)
{
    int rc = CM_EOK;
    const size_t ns = st->nslots;
    if (ns == 0)
        return rc;
    cm_stats_slot_t *hot = st->slots;
    slot_sketch_t *sk = sketch_parts(st);
    slot_cold_t *cold = cold_parts(st);
    if (st->exact) {
        for (size_t i = 0; i < ns; i++) {
            if (skip != NULL && skip[i])
                continue;
            const double x = canonical(values[i]);
            /* The store first: if it cannot grow, the slot skips this
             * value altogether and stays consistent (n == values in its
             * store). */
            if (hot[i].rec != REC_NONE && x == x &&
                values_push(&cold[i], x) != 0) {
                rc = CM_ENOMEM;
                continue;
            }
            slot_take(&hot[i], &cold[i], values[i]);
        }
        return rc;
    }
    uint64_t *counter[ADD_CHUNK];
    uint64_t spare[ADD_CHUNK] = {0}; /* counts nothing */
    for (size_t c0 = 0; c0 < ns; c0 += ADD_CHUNK) {
        const size_t nc = ns - c0 < ADD_CHUNK ? ns - c0 : ADD_CHUNK;
        cm_stats_slot_t *hc = hot + c0;
        slot_cold_t *cc = cold + c0;
        const double *vc = values + c0;
        if (!hc[0].round_sketch) {
            for (size_t j = 0; j < nc; j++)
                if (skip == NULL || !skip[c0 + j])
                    slot_take_moments(&hc[j], &cc[j], vc[j]);
            continue;
        }
        for (size_t j = 0; j < nc; j++) {
            uint64_t *c = &spare[j];
            if (hc[j].rec != REC_NONE && (skip == NULL || !skip[c0 + j])) {
                c = sketch_counter(hc[j].rec, &sk[c0 + j], vc[j], c);
                PREFETCH_RW(c); /* never faults, not even on NULL */
            }
            counter[j] = c;
        }
        for (size_t j = 0; j < nc; j++) {
            /* A store that could not grow: the slot skips this value
             * altogether and stays consistent (n == values counted). */
            if (RARELY(counter[j] == NULL)) {
                rc = CM_ENOMEM;
                continue;
            }
            if (skip != NULL && skip[c0 + j])
                continue;
            (*counter[j])++;
            slot_take(&hc[j], &cc[j], vc[j]);
        }
    }
    return rc;
}

int cm_stats_add(cm_stats_t *st, const double *values)
{
    return stats_add(st, values, NULL);
}

int cm_stats_add_skip(cm_stats_t *st, const double *values, const unsigned char *skip)
{
    return stats_add(st, values, skip);
}

/* Merging slot b into slot a, in two steps so that a failure changes no
 * value: slot_merge_reserve makes every allocation (a's capacity may grow),
 * slot_merge_apply cannot fail.  Integer additions, min and max: the result
 * does not depend on the order or grouping of merges.  b's sums are read
 * before a's are written, so a slot can be merged into itself. */
static int slot_merge_reserve(slot_ref_t a, slot_ref_t b, int exact)
{
    if (a.h->rec == REC_NONE)
        return CM_EOK;
    if (exact)
        return values_reserve(a.c, b.c->nvalues) != 0 ? CM_ENOMEM : CM_EOK;
    for (int k = 0; k < 2; k++) {
        const sk_store_t *sb = &b.k->side[k];
        if (sb->imin <= sb->imax && store_reserve(&a.k->side[k], sb->imin, sb->imax) != 0)
            return CM_ENOMEM;
    }
    return CM_EOK;
}

static void slot_merge_apply(slot_ref_t a, slot_ref_t b, int exact)
{
    const uint64_t nb = slot_n(b.h), undef_b = b.h->n_undef;
    a.h->n_undef += undef_b;
    a.h->seen += undef_b;
    if (nb == 0)
        return;
    /* Both normalised (low limbs < 2^32): the sums stay far from 2^63; the
     * top limbs only ever take carries, so they hold the sums' bounded high
     * parts. */
    uint64_t b1[SUM1_LIMBS], b2[SUM2_LIMBS];
    sums_get(b, b1, b2);
    window_flush(a.h, a.c);
    for (int k = 0; k < SUM1_LIMBS; k++)
        a.c->s1[k] += b1[k];
    for (int k = 0; k < SUM2_LIMBS; k++)
        a.c->s2[k] += b2[k];
    limbs_normalise(a.c->s1, SUM1_LIMBS);
    limbs_normalise(a.c->s2, SUM2_LIMBS);
    a.c->overflow |= b.c->overflow;
    a.h->seen += nb;
    if (b.h->min < a.h->min)
        a.h->min = b.h->min;
    if (b.h->max > a.h->max)
        a.h->max = b.h->max;
    if (a.h->rec == REC_NONE)
        return;
    if (exact) {
        size_t nv = b.c->nvalues;
        memmove(a.c->values + a.c->nvalues, b.c->values, nv * sizeof *b.c->values);
        a.c->nvalues += nv;
        a.c->sorted = 0;
    } else {
        a.k->nzero += b.k->nzero;
        for (int k = 0; k < 2; k++) {
            const sk_store_t *sb = &b.k->side[k];
            sk_store_t *sa = &a.k->side[k];
            const int32_t lo = sb->imin, hi = sb->imax;
            for (int32_t j = lo; j <= hi; j++)
                sa->counts[j - sa->off] += store_get(sb, j);
            if (lo <= hi) {
                if (lo < sa->imin)
                    sa->imin = lo;
                if (hi > sa->imax)
                    sa->imax = hi;
            }
        }
    }
}

int cm_stats_merge(cm_stats_t *into, const cm_stats_t *from)
{
    if (into->nslots != from->nslots || into->exact != from->exact)
        return CM_EINTERNAL;
    for (size_t i = 0; i < into->nslots; i++)
        if (cold_parts(into)[i].kind != cold_parts(from)[i].kind)
            return CM_EINTERNAL;
    /* Phase 1: all allocations, so that a failure leaves into's values
     * untouched (only its capacity may have grown). */
    for (size_t i = 0; i < into->nslots; i++)
        if (slot_merge_reserve(slot_at(into, i), slot_at(from, i), into->exact) != CM_EOK)
            return CM_ENOMEM;
    /* Phase 2: cannot fail. */
    for (size_t i = 0; i < into->nslots; i++)
        slot_merge_apply(slot_at(into, i), slot_at(from, i), into->exact);
    return CM_EOK;
}

void cm_stats_counts(const cm_stats_t *st, size_t i, uint64_t *n, uint64_t *n_undef)
{
    const cm_stats_slot_t *h = &st->slots[i];
    *n = slot_n(h);
    *n_undef = h->n_undef;
}

int cm_stats_add_zeros(cm_stats_t *st, size_t i, uint64_t nzero, uint64_t nundef)
{
    slot_ref_t r = slot_at(st, i);
    if (st->exact && r.h->rec != REC_NONE && nzero > 0) {
        if (nzero > SIZE_MAX || values_reserve(r.c, (size_t)nzero) != 0)
            return CM_ENOMEM;
        for (uint64_t k = 0; k < nzero; k++)
            r.c->values[r.c->nvalues++] = 0.0;
        r.c->sorted = 0;
    } else if (!st->exact && r.h->rec != REC_NONE) {
        r.k->nzero += nzero; /* +-0 is below CM_STATS_ZERO (and integer 0) */
    }
    /* Zeros add nothing to the sums.  Flushing first keeps the window's
     * bound: at most SUM_FLUSH_EVERY values between flushes, however seen
     * jumps. */
    window_flush(r.h, r.c);
    r.h->seen += nzero + nundef;
    r.h->n_undef += nundef;
    if (nzero > 0) {
        r.h->min = r.h->min < 0.0 ? r.h->min : 0.0;
        r.h->max = r.h->max > 0.0 ? r.h->max : 0.0;
    }
    return CM_EOK;
}

int cm_stats_copy_slot(cm_stats_t *dst, size_t i, const cm_stats_t *src, size_t j)
{
    if (i >= dst->nslots || j >= src->nslots || dst->exact != src->exact ||
        cold_parts(dst)[i].kind != cold_parts(src)[j].kind)
        return CM_EINTERNAL;
    if (dst == src && i == j)
        return CM_EOK;
    slot_ref_t a = slot_at(dst, i), b = slot_at(src, j);
    /* A cleared slot merged with b is b: the same counts, sums (in their
     * unique normalised form), min and max, so the same bytes written. */
    if (slot_merge_reserve(a, b, dst->exact) != CM_EOK)
        return CM_ENOMEM;
    slot_clear(a);
    slot_merge_apply(a, b, dst->exact);
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
    slot_ref_t r = slot_at(st, slot);
    const uint64_t nn = slot_n(r.h);
    out->n = nn;
    out->n_undef = r.h->n_undef;
    if (nn == 0)
        return;
    const double n = (double)nn;
    out->min = r.h->min;
    out->max = r.h->max;
    if (!r.c->overflow) {
        uint64_t s1[SUM1_LIMBS], s2[SUM2_LIMBS];
        sums_get(r, s1, s2);
        out->mean = sum1_value(s1) / n;
        if (nn >= 2) {
            out->sd = sqrt(sums_var_numerator(s1, s2, nn) / n / (n - 1.0));
            out->se = out->sd / sqrt(n);
        }
        if (r.c->kind == CM_STAT_BINARY) {
            out->prob = out->mean;
            out->prob_se = sqrt(out->mean * (1.0 - out->mean) / n);
        }
    }
    if (r.h->rec == REC_NONE)
        return;
    if (st->exact)
        values_sort(r.c);
    out->p05 = slot_quantile(r, st->exact, 0.05);
    out->p25 = slot_quantile(r, st->exact, 0.25);
    out->p50 = slot_quantile(r, st->exact, 0.50);
    out->p75 = slot_quantile(r, st->exact, 0.75);
    out->p95 = slot_quantile(r, st->exact, 0.95);
    if (r.c->kind == CM_STAT_TAIL_LOW || r.c->kind == CM_STAT_TAIL_HIGH) {
        const int high = r.c->kind == CM_STAT_TAIL_HIGH;
        const uint64_t k = (nn + TAIL_DIV - 1) / TAIL_DIV;
        double sum = st->exact ? exact_tail_sum(r.c, k, high)
                               : sketch_tail_sum(r, k, high);
        out->cvar05 = sum / (double)k;
    }
}

/* ------------------------------------------------------------------ */
/* Serialisation.  Layout (all integers little-endian):
 *   "CMSTATS\0", u32 version (2), u64 nslots, u32 exact,
 *   per slot: u32 kind, u64 n, u64 n_undef, u32 overflow (0/1),
 *     f64 min, max,
 *     S1 normalised: u32 digits[SUM1_LIMBS - 1], i64 top limb,
 *     S2 normalised: u32 digits[SUM2_LIMBS - 1], i64 top limb,
 *     quantile slots in sketch mode: u64 nzero, then for neg and pos:
 *       i32 imin, i32 imax (1, 0 when empty), u64 counts[imin..imax];
 *     quantile slots in exact mode: u64 nvalues, f64 values (sorted).
 * Version 1 (mean and M2 in place of S1 and S2) is not read: its moments
 * depended on the merge order and cannot be turned into exact sums. */

static const char SER_MAGIC[8] = {'C', 'M', 'S', 'T', 'A', 'T', 'S', '\0'};
#define SER_VERSION 2u

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

/* A normalised sum: low digits, then the top limb (two's complement). */
static int put_limbs(FILE *f, const uint64_t *l, int k)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < k - 1; i++)
        rc = put_u32(f, (uint32_t)l[i]);
    return rc == 0 ? put_u64(f, l[k - 1]) : rc;
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
        slot_ref_t r = slot_at(st, i);
        uint64_t s1[SUM1_LIMBS], s2[SUM2_LIMBS];
        sums_get(r, s1, s2);
        rc = put_u32(f, (uint32_t)r.c->kind);
        if (rc == 0)
            rc = put_u64(f, slot_n(r.h));
        if (rc == 0)
            rc = put_u64(f, r.h->n_undef);
        if (rc == 0)
            rc = put_u32(f, r.c->overflow);
        if (rc == 0)
            rc = put_f64(f, r.h->min);
        if (rc == 0)
            rc = put_f64(f, r.h->max);
        if (rc == 0)
            rc = put_limbs(f, s1, SUM1_LIMBS);
        if (rc == 0)
            rc = put_limbs(f, s2, SUM2_LIMBS);
        if (rc != 0 || r.h->rec == REC_NONE)
            continue;
        if (st->exact) {
            values_sort(r.c);
            rc = put_u64(f, (uint64_t)r.c->nvalues);
            for (size_t j = 0; rc == 0 && j < r.c->nvalues; j++)
                rc = put_f64(f, r.c->values[j]);
        } else {
            rc = put_u64(f, r.k->nzero);
            if (rc == 0)
                rc = put_store(f, &r.k->side[SIDE_NEG]);
            if (rc == 0)
                rc = put_store(f, &r.k->side[SIDE_POS]);
        }
    }
    if (rc == 0 && fflush(f) != 0)
        rc = CM_EIO;
    return rc;
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

/* A normalised sum whose top limb lies in [lo, hi]: 0 or CM_EIO. */
static int get_limbs(FILE *f, uint64_t *l, int k, int64_t lo, int64_t hi)
{
    for (int i = 0; i < k - 1; i++) {
        uint32_t d;
        if (get_u32(f, &d) != 0)
            return CM_EIO;
        l[i] = d;
    }
    if (get_u64(f, &l[k - 1]) != 0)
        return CM_EIO;
    const int64_t top = i64_of(l[k - 1]);
    return top >= lo && top <= hi ? 0 : CM_EIO;
}

static int limbs_zero(const uint64_t *l, int k)
{
    for (int i = 0; i < k; i++)
        if (l[i] != 0)
            return 0;
    return 1;
}

/* Top limb bounds (file comment): |S1| < 2^64 2^78 = 2^238 units of 2^-96
 * over 2^192 per top unit; S2 < 2^64 2^156 = 2^412 units of 2^-192 over
 * 2^352.  Reading checks them, so merges of what was read cannot wrap. */
#define SUM1_TOP_MAX (INT64_C(1) << 46)
#define SUM2_TOP_MAX (INT64_C(1) << 60)

static int read_slot(FILE *f, slot_ref_t r, int exact)
{
    cm_stats_slot_t *h = r.h;
    slot_cold_t *c = r.c;
    uint32_t overflow;
    uint64_t n;
    if (get_u64(f, &n) != 0 || get_u64(f, &h->n_undef) != 0 ||
        n > UINT64_MAX - h->n_undef ||
        get_u32(f, &overflow) != 0 || overflow > 1 ||
        get_f64(f, &h->min) != 0 || get_f64(f, &h->max) != 0 ||
        get_limbs(f, c->s1, SUM1_LIMBS, -SUM1_TOP_MAX, SUM1_TOP_MAX) != 0 ||
        get_limbs(f, c->s2, SUM2_LIMBS, 0, SUM2_TOP_MAX) != 0)
        return CM_EIO;
    c->overflow = (uint8_t)overflow;
    h->seen = n + h->n_undef;
    if (n == 0) {
        if (c->overflow || h->min != INFINITY || h->max != -INFINITY ||
            !limbs_zero(c->s1, SUM1_LIMBS) || !limbs_zero(c->s2, SUM2_LIMBS))
            return CM_EIO;
    } else if (!isfinite(h->min) || !isfinite(h->max) || h->min > h->max) {
        return CM_EIO;
    }
    if (h->rec == REC_NONE)
        return 0;
    int rc;
    if (exact) {
        uint64_t nv;
        if (get_u64(f, &nv) != 0 || nv != n)
            return CM_EIO;
        if ((rc = values_reserve(c, (size_t)nv)) != 0)
            return rc;
        for (size_t j = 0; j < (size_t)nv; j++) {
            double x;
            if (get_f64(f, &x) != 0 || !isfinite(x) || x < h->min ||
                x > h->max || (j > 0 && x < c->values[j - 1]))
                return CM_EIO;
            c->values[j] = x;
        }
        c->nvalues = (size_t)nv;
        c->sorted = 1;
    } else {
        sk_store_t *neg = &r.k->side[SIDE_NEG], *pos = &r.k->side[SIDE_POS];
        if (get_u64(f, &r.k->nzero) != 0)
            return CM_EIO;
        if ((rc = get_store(f, neg)) != 0 || (rc = get_store(f, pos)) != 0)
            return rc;
        if (r.k->nzero + store_total(neg) + store_total(pos) != n)
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
        nslots > SIZE_MAX)
        return CM_EIO;
    int rc = CM_EOK;
    if (nslots > 0) {
        st->slots = slots_alloc((size_t)nslots);
        if (st->slots == NULL)
            return CM_ENOMEM;
    }
    st->nslots = (size_t)nslots;
    st->exact = (int)exact;
    for (size_t i = 0; i < st->nslots; i++)
        slot_setup(slot_at(st, i), CM_STAT_PLAIN);
    for (size_t i = 0; rc == 0 && i < st->nslots; i++) {
        uint32_t kind;
        if (get_u32(f, &kind) != 0 || kind > (uint32_t)CM_STAT_INTEGER) {
            rc = CM_EIO;
            break;
        }
        slot_setup(slot_at(st, i), (cm_stat_kind_t)kind);
        rc = read_slot(f, slot_at(st, i), st->exact);
    }
    if (rc != 0)
        cm_stats_free(st);
    else
        rounds_set(st);
    return rc;
}
