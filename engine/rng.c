/* rng.c - addressed random streams (MODEL.md section 2, include/cmsim/rng.h).
 *
 * A draw is a pure function of (key, path, year, k, j): Philox4x32-10 from
 * Random123 applied to the counter
 *
 *   v[0] = path & 0xffffffff      v[1] = path >> 32
 *   v[2] = (year & 0xffff) | (k << 16)
 *   v[3] = j, the 4x32-bit block drawn at that address (0, 1, 2, ...)
 *
 * under the 64-bit key K split as { K & 0xffffffff, K >> 32 }.  Random123's
 * GSL_MICRORNG keeps j itself in v[3] (it ORs its block count into the last
 * counter word), which is why the address uses only v[0..2] and leaves v[3]
 * zero.  Within a block the wrapper hands out v[3], v[2], v[1], v[0] in that
 * order (it counts its element index down); the tests pin this order so that
 * a change of Random123's wrapper cannot silently change published results.
 *
 * Workload: one cm_stream_at per uncertain quantity per path and year, each
 * followed by a handful of draws, so repositioning must be cheap: it is a
 * few stores, and Philox runs once per four 32-bit words actually drawn.
 *
 * No global mutable state: the gsl_rng_type below is a constant table, and
 * each cm_stream_t owns its generator state.
 */
#include "cmsim/rng.h"

#include <assert.h>
#include <stddef.h>

#include <Random123/philox.h>
#include <Random123/gsl_microrng.h>

#include "cmsim/error.h"

/* Defines the gsl_rng_type gsl_rng_cm_philox (a constant table behind a
 * pointer that nothing writes) and the static inline
 * cm_philox_reset(rng, ctr, key). */
extern const gsl_rng_type *gsl_rng_cm_philox;
GSL_MICRORNG(cm_philox, philox4x32);

uint64_t cm_rng_hash(const char *site)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const unsigned char *p = (const unsigned char *)site; *p != '\0'; p++) {
        h ^= *p;
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint64_t cm_rng_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

uint64_t cm_rng_site_key(uint64_t seed, const char *site)
{
    return cm_rng_mix64(cm_rng_hash(site) ^ cm_rng_mix64(seed));
}

/* gsl_rng_alloc reports an allocation failure through GSL's error handler
 * before returning NULL; under GSL's default handler that aborts, so the
 * CM_ENOMEM return needs the program to have called
 * gsl_set_error_handler_off() once at start-up (STYLE.md). */
int cm_stream_init(cm_stream_t *s)
{
    s->r = gsl_rng_alloc(gsl_rng_cm_philox);
    if (s->r == NULL)
        return CM_ENOMEM;
    /* GSL_MICRORNG leaves a fresh generator unpositioned; place it at a
     * defined address so that even a draw before the first cm_stream_at is
     * reproducible. */
    cm_stream_at(s, 0, 0, 0, 0);
    return CM_EOK;
}

void cm_stream_free(cm_stream_t *s)
{
    if (s == NULL)
        return;
    gsl_rng_free(s->r); /* safe on NULL */
    s->r = NULL;
}

/* year and k above 65535 are a programming error of the caller (rng.h
 * documents the limits).  Debug builds assert; release builds keep the low
 * 16 bits of each, so such an address aliases a legal one: nothing is
 * clamped or corrected behind the caller's back beyond what the layout
 * itself implies. */
gsl_rng *cm_stream_at(cm_stream_t *s, uint64_t key, uint64_t path,
                      unsigned year, unsigned k)
{
    assert(year <= 0xffffu && "year must be below 65536");
    assert(k <= 0xffffu && "k must be below 65536");
    philox4x32_ctr_t c = {{(uint32_t)(path & 0xffffffffu), (uint32_t)(path >> 32),
                           (uint32_t)((year & 0xffffu) | ((k & 0xffffu) << 16)),
                           0}};
    philox4x32_key_t kk = {{(uint32_t)(key & 0xffffffffu), (uint32_t)(key >> 32)}};
    cm_philox_reset(s->r, c, kk);
    return s->r;
}

void cm_rng_philox_block(const uint32_t ctr[4], const uint32_t key[2],
                         uint32_t out[4])
{
    philox4x32_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32(c, k);
    for (int i = 0; i < 4; i++)
        out[i] = r.v[i];
}
