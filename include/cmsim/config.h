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

#endif
