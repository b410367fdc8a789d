/* cmsim/rng.h - addressed random streams (MODEL.md section 2).
 *
 * Every draw is a pure function of (seed, site, path, year, k):
 *
 *   site hash  h   = FNV-1a 64 of the site name's bytes ("price/REO", ...)
 *   key        K   = cm_rng_mix64(h ^ cm_rng_mix64(seed))   (64 bits)
 *   counter    c   = { path low 32 bits, path high 32 bits,
 *                      year (low 16 bits) | k << 16, j }
 *
 * where j counts the 4x32-bit blocks drawn so far at that address.  The
 * generator is Philox4x32-10 from Random123, wrapped as a gsl_rng_type by
 * Random123's own GSL_MICRORNG, so every gsl_ran_* sampler draws from it,
 * including samplers that consume a variable number of words (rejection).
 *
 * Limits: year < 65536, k < 65536, path < 2^64, 2^32 blocks per address.
 *
 * The hash and the mixer are fixed forever: changing either changes every
 * result ever published with cmsim.  Thread-safety: a cm_stream_t belongs to
 * one thread; the functions hold no global state.
 */
#ifndef CMSIM_RNG_H
#define CMSIM_RNG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

/* 64-bit FNV-1a of a NUL-terminated string (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3). */
uint64_t cm_rng_hash(const char *site);

/* SplitMix64's finaliser (Stafford variant 13): a bijective 64-bit mixer. */
uint64_t cm_rng_mix64(uint64_t x);

/* The Philox key of a site under a seed: mix64(hash ^ mix64(seed)). */
uint64_t cm_rng_site_key(uint64_t seed, const char *site);

/* One thread's stream: a gsl_rng repositioned at each address. */
typedef struct {
    gsl_rng *r;
} cm_stream_t;

/* Allocate; returns 0 or CM_ENOMEM.  cm_stream_free is safe on a zeroed
 * struct and after a failed init. */
int cm_stream_init(cm_stream_t *s);
void cm_stream_free(cm_stream_t *s);

/* Position the stream at (key, path, year, k) and return the gsl_rng to
 * draw from.  Cost: a few stores; the first draw then runs Philox once. */
gsl_rng *cm_stream_at(cm_stream_t *s, uint64_t key, uint64_t path,
                      unsigned year, unsigned k);

/* The raw 4x32 Philox4x32-10 block for a counter and key, exposed for tests
 * against Random123's known-answer vectors. */
void cm_rng_philox_block(const uint32_t ctr[4], const uint32_t key[2],
                         uint32_t out[4]);

#endif
