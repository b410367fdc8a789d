/* cmsim/config.h - read a libconfig scenario file into a validated scenario.
 *
 * The only module that reads libconfig.  cm_config_load parses the file
 * (with @include resolved against the including file's folder), rejects
 * unknown keys with a "did you mean" hint, checks every value and every
 * cross reference, and collects *all* errors into diag before returning, so
 * a user fixes a file in one pass.  Each diagnostic names the file, the line,
 * the setting path and what was expected, e.g.
 *
 *   scenarios/x.cfg:42: projects.[1].capex.mode: 950 is above max 900
 *
 * Overrides (for batches and the command line) are applied to the parsed
 * tree before validation, so a value set by an override is checked exactly
 * like one written in the file.
 */
#ifndef CMSIM_CONFIG_H
#define CMSIM_CONFIG_H

#include "cmsim/error.h"
#include "cmsim/scenario.h"

/* One override: a setting path (dots; list elements by [index] or, for
 * lists of named groups, by name: "projects.kz_ree.financing.dfc.share")
 * and a value in libconfig syntax ("0.5", "\"annuity\"", "{ dist = ... }"). */
typedef struct {
    const char *path;
    const char *value;
} cm_override_t;

/* Load and validate.  On success returns 0 and fills *out (caller frees with
 * cm_scenario_free).  On failure returns CM_ECONFIG (or CM_EIO when the file
 * cannot be read, CM_ENOMEM), fills diag with every problem found and leaves
 * *out freed. */
int cm_config_load(const char *file, const cm_override_t *overrides,
                   size_t noverrides, cm_scenario_t *out, cm_diag_t *diag);

/* A batch: the reference scenario and its variants, each a full validated
 * scenario (MODEL.md section 2: all share the seed, so the run draws common
 * random numbers).
 *
 * A file becomes a batch with a top-level `batch` group (docs/scenarios.md):
 *   batch = {
 *     reference = "commercial";      # name of the unmodified scenario
 *     variants = ( { name = "dfc"; description = "...";
 *                    set = ( { path = "a.b.c"; value = 0.5; },
 *                            { paths = [ "x.y", "x.z" ]; value = { dist = ...; }; } ); } );
 *     sweeps = ( { name = "share"; base = "dfc";   # optional: start from a variant
 *                  parameters = ( { paths = [ ... ]; values = [ 0.1, 0.2 ]; },
 *                                 { path = "p"; start = 0.0; stop = 1.0; step = 0.25;
 *                                   balance = "q"; total = 1.0; } ); } );
 *   };
 * A sweep expands into the cartesian product of its parameters' values,
 * named <sweep>_<k> (k from 1); `balance` paths are set to total - value.
 * Sweep values are rounded to 12 significant digits, so that 0.13 x 5 is
 * 0.65 and not 0.65000000000000002.  A file without `batch` is a batch of
 * one scenario. */
typedef struct {
    char name[CM_NAME_MAX];   /* the file's own name: the default output folder */
    int nscen;
    cm_scenario_t *scen;      /* nscen scenarios, named after their variants */
    int reference_included;   /* 1 when scen[0] is the batch's reference */
} cm_batch_t;

void cm_batch_init(cm_batch_t *b);
void cm_batch_free(cm_batch_t *b);

/* Load a batch (or a single scenario).  cli overrides apply to every
 * scenario before the variant's own.  only: the name of one scenario to load
 * (--scenario), or NULL for all.  Returns 0, CM_ECONFIG, CM_EIO or CM_ENOMEM
 * with every problem in diag. */
int cm_batch_load(const char *file, const cm_override_t *cli, size_t ncli,
                  const char *only, cm_batch_t *out, cm_diag_t *diag);

#endif
