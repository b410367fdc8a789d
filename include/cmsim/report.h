/* cmsim/report.h - write a finished run's results: summary.csv,
 * compare.csv, run.json, and the table printed at the end.
 *
 * Files are written into a fresh temporary folder beside the output folder
 * and renamed into place only when every file is complete and flushed, so
 * an interrupted or failed run never leaves a folder that looks finished.
 * An existing output folder is replaced only with force.
 *
 * CSV conventions (docs/outputs.md): C locale, numbers with %.17g (they
 * round-trip), an empty field for undefined values (never "nan"), column
 * names of letters, digits and underscores of at most 32 characters, text
 * fields quoted only when needed (RFC 4180).
 */
#ifndef CMSIM_REPORT_H
#define CMSIM_REPORT_H

#include <stdio.h>

#include "cmsim/driver.h"
#include "cmsim/error.h"

/* What run.json records besides the statistics. */
typedef struct {
    const char *scenario_file;  /* as given on the command line */
    const char *command_line;   /* the command, for the record */
    int processes;              /* 1 without MPI */
    const cm_diag_t *warnings;  /* warnings to record (may be NULL) */
} cm_report_info_t;

/* Fail with CM_EEXISTS (and a diagnostic) when outdir exists and is not
 * empty and force is 0; used before a run starts so no time is wasted. */
int cm_report_check_outdir(const char *outdir, int force, cm_diag_t *diag);

/* Write every result file of run into outdir, atomically.  Returns 0,
 * CM_EEXISTS, CM_EIO (with the path and strerror in diag) or CM_ENOMEM. */
int cm_report_write(const cm_run_t *run, const char *outdir, int force,
                    const cm_report_info_t *info, cm_diag_t *diag);

/* The contents of summary.csv, compare.csv and run.json written to a stream
 * (the pieces cm_report_write assembles; also for tools and tests).  Every
 * write is checked and f is flushed at the end, not closed.  Returns 0 or
 * CM_EIO, with errno set to the first failure's (ENOSPC on a full disk). */
int cm_report_write_summary(const cm_run_t *run, FILE *f);
int cm_report_write_compare(const cm_run_t *run, FILE *f);
int cm_report_write_json(const cm_run_t *run, const cm_report_info_t *info,
                         FILE *f);

/* The short human-readable table of key outcomes per scenario. */
void cm_report_print_table(const cm_run_t *run, FILE *f);

/* SHA-256 of a file as 64 lowercase hex digits + NUL; returns 0 or CM_EIO. */
int cm_sha256_file(const char *path, char hex[65]);

#endif
