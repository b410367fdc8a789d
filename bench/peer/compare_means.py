#!/usr/bin/python3
"""compare_means.py - do cmsim and the NumPy peer agree in distribution?

Reads two summary.csv files (cmsim's and the peer's, same layout) and, for
every outcome row (outcome, entity_type, entity, year) present in both:

  means      when n > 30 in both:
             |mean_c - mean_p| <= Z * sqrt(se_c^2 + se_p^2) + floor,
             floor = 1e-9 * (1 + max(|mean_c|, |mean_p|)) so that outcomes
             that are constant (se = 0) must agree to rounding;
  undefined  the fractions of undefined paths f = n_undefined / paths:
             |f_c - f_p| <= Z * sqrt(f (1 - f) (1/N_c + 1/N_p)) + 1e-12,
             f the pooled fraction (binomial standard error).

Z = 5 by default.  Rows present in only one file are a layout disagreement
and fail too.  cmsim's file may hold a batch: its first scenario (the
reference, scenario 0) is used unless --scenario names another.  Prints the
worst z-scores and exits 0 when everything agrees, 1 otherwise (2 on bad
input).

usage: /usr/bin/python3 compare_means.py CMSIM_SUMMARY PEER_SUMMARY [--z 5] [--top 15]
"""

import argparse
import csv
import math
import sys


def read_summary(path, scenario=None):
    """{(outcome, entity_type, entity, year): row} of one scenario (the
    first in the file unless named), and that scenario's name."""
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if scenario is None:
                scenario = r["scenario"]
            if r["scenario"] != scenario:
                continue
            rows[(r["outcome"], r["entity_type"], r["entity"], r["year"])] = r
    return rows, scenario


def fnum(s):
    return float(s) if s not in ("", None) else math.nan


def label(key):
    o, et, e, y = key
    return "%s %s %s%s" % (o, et, e, (" " + y) if y else "")


def compare(c_rows, p_rows, zmax):
    """List of checks (z, kind, key, text); z is the ratio of the difference
    to its allowed tolerance scaled to zmax (z > zmax fails)."""
    checks = []
    for key in sorted(set(c_rows) & set(p_rows)):
        c, p = c_rows[key], p_rows[key]
        nc, npp = int(c["n"]), int(p["n"])
        uc, up = int(c["n_undefined"]), int(p["n_undefined"])
        Nc, Np = nc + uc, npp + up
        if nc > 30 and npp > 30:
            mc, mp = fnum(c["mean"]), fnum(p["mean"])
            sc, sp = fnum(c["se"]), fnum(p["se"])
            se = math.sqrt((sc if sc == sc else 0.0) ** 2 + (sp if sp == sp else 0.0) ** 2)
            floor = 1e-9 * (1.0 + max(abs(mc), abs(mp)))
            d = abs(mc - mp)
            z = zmax * d / (zmax * se + floor) if d > 0 else 0.0
            checks.append((z, "mean", key, "mean c %.6g  p %.6g  (se %.3g, %.3g)" % (mc, mp, sc, sp)))
        if Nc > 0 and Np > 0:
            fc, fp = uc / Nc, up / Np
            f = (uc + up) / (Nc + Np)
            se = math.sqrt(f * (1.0 - f) * (1.0 / Nc + 1.0 / Np))
            d = abs(fc - fp)
            z = zmax * d / (zmax * se + 1e-12) if d > 0 else 0.0
            checks.append((z, "undef", key, "undefined c %.5f  p %.5f" % (fc, fp)))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description="compare cmsim and peer means")
    ap.add_argument("cmsim")
    ap.add_argument("peer")
    ap.add_argument("--scenario", default=None, help="cmsim scenario (default: the first)")
    ap.add_argument("--z", type=float, default=5.0, help="allowed standard errors (5)")
    ap.add_argument("--top", type=int, default=15, help="rows of the worst-z table")
    args = ap.parse_args(argv)
    try:
        c_rows, c_name = read_summary(args.cmsim, args.scenario)
        p_rows, p_name = read_summary(args.peer)
    except (OSError, KeyError, ValueError) as e:
        print("compare_means: %s" % e, file=sys.stderr)
        return 2
    if not c_rows or not p_rows:
        print("compare_means: no rows (scenario %r in cmsim, %r in peer)" % (c_name, p_name),
              file=sys.stderr)
        return 2
    only_c = sorted(set(c_rows) - set(p_rows))
    only_p = sorted(set(p_rows) - set(c_rows))
    checks = compare(c_rows, p_rows, args.z)
    checks.sort(key=lambda x: -x[0])
    bad = [x for x in checks if x[0] > args.z]
    nm = sum(1 for x in checks if x[1] == "mean")
    print("cmsim scenario %r vs peer %r: %d rows in common, %d mean checks, "
          "%d undefined-fraction checks, tolerance %g se"
          % (c_name, p_name, len(set(c_rows) & set(p_rows)), nm, len(checks) - nm, args.z))
    print("worst z-scores:")
    print("  %7s  %-5s  %-44s %s" % ("z", "check", "outcome", ""))
    for z, kind, key, text in checks[:args.top]:
        print("  %7.2f  %-5s  %-44s %s%s" % (z, kind, label(key), text,
                                             "   <-- DISAGREE" if z > args.z else ""))
    for z, kind, key, text in bad[args.top:]:
        print("  %7.2f  %-5s  %-44s %s   <-- DISAGREE" % (z, kind, label(key), text))
    for key in only_c[:20]:
        print("  only in cmsim: %s" % label(key))
    for key in only_p[:20]:
        print("  only in peer:  %s" % label(key))
    if len(only_c) + len(only_p) > 40:
        print("  ... %d rows only in cmsim, %d only in peer" % (len(only_c), len(only_p)))
    ok = not bad and not only_c and not only_p
    print("AGREE" if ok else "DISAGREE: %d checks beyond %g se, %d rows only in cmsim, "
          "%d only in peer" % (len(bad), args.z, len(only_c), len(only_p)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
