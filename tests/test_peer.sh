#!/usr/bin/env bash
# test_peer.sh - cmsim against the independent NumPy peer (bench/peer/):
# the two implementations of MODEL.md must agree in distribution.
#
# For each scenario: `cmsim run FILE --paths 20000` and the peer on the same
# file with 20000 paths of its own random streams; compare_means.py then
# requires, for every outcome row present in both, |mean_c - mean_p| <= 5
# combined standard errors (n > 30 in both) and the fractions of undefined
# paths within 5 binomial standard errors; the row sets must match.
#
# usage: test_peer.sh CMSIM_BINARY SOURCE_DIR [TEST_NAME]
# Prints "ok NAME" / "FAIL NAME" per test and "N passed, M failed" at the end.
# Needs a Python 3 with numpy and libconf (Debian: python3-numpy,
# python3-libconf; set CMSIM_PYTHON to choose one); without it the whole
# test prints SKIP and exits 0.
set -u
BIN=$1
SRC=$2
ONLY=${3:-}
PEER="$SRC/bench/peer/cmsim_peer.py"
CMP="$SRC/bench/peer/compare_means.py"
PATHS=20000
# shellcheck source=lib.sh
. "$SRC/tests/lib.sh"

# An interpreter with numpy and libconf: Debian's python3 first, since a
# pyenv python3 earlier on PATH often lacks them.
PY=""
for cand in ${CMSIM_PYTHON:-} /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
  if [ -z "$cand" ] || [ ! -x "$cand" ]; then continue; fi
  if "$cand" -c 'import numpy, libconf' >/dev/null 2>&1; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then
  echo "SKIP test_peer: no python3 with numpy and libconf (install python3-numpy python3-libconf," >&2
  echo "SKIP test_peer: or set CMSIM_PYTHON); the cmsim-peer agreement was NOT checked" >&2
  echo "SKIP test_peer: no python3 with numpy and libconf"
  exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-peer.XXXXXX")
trap 'rm -rf "$TMP"' EXIT


# agree TAG FILE [cmsim options...]: run both on FILE, compare, keep the report
agree() {
  local tag=$1 file=$2
  shift 2
  "$BIN" run "$file" --paths $PATHS --out "$TMP/$tag.c" --quiet "$@" \
    || { fail "cmsim run $file failed"; return 1; }
  "$PY" "$PEER" run "$file" --paths $PATHS --out "$TMP/$tag.p.csv" \
    || { fail "peer run $file failed"; return 1; }
  "$PY" "$CMP" "$TMP/$tag.c/summary.csv" "$TMP/$tag.p.csv" --top 10 > "$TMP/$tag.report"
  local rc=$?
  sed 's/^/    /' "$TMP/$tag.report" >&2
  return $rc
}

# --- tests -------------------------------------------------------------------

peer_selftest() {
  "$PY" "$PEER" selftest > "$TMP/selftest" 2>&1 || { sed 's/^/    /' "$TMP/selftest" >&2; fail "peer selftest"; }
}

example_agrees() {
  agree example "$SRC/scenarios/example.cfg" || fail "cmsim and peer disagree on example.cfg"
}

central_asia_agrees() {
  local f="$SRC/scenarios/central_asia.cfg"
  if [ ! -f "$f" ]; then echo "  SKIP central_asia.cfg: not present" >&2; return; fi
  if ! "$BIN" validate "$f" >/dev/null 2>&1; then
    echo "  SKIP central_asia.cfg: does not load in cmsim (cmsim validate fails)" >&2; return
  fi
  # the batch group is ignored by the peer: it simulates the reference
  # scenario, compared with cmsim's scenario 0
  agree central_asia "$f" || fail "cmsim and peer disagree on central_asia.cfg"
}

# Edge cases of every model section in one scenario: continuous build years
# (rounded, at least 1), builds running past the horizon, an upper-tail
# truncated normal, clamped normal utilisation, negative and zero capex
# cases, a zero-rate one-year annuity, a negative rate, linear and annuity
# tranches with different graces, a share-0 tranche, a grant, PRI 0.5 and
# 1.0, hazards that are certain (bernoulli 1) or discrete, a project inside
# the dominant country (no price multiplier, not in `covered`), a project in
# a country that is not a listed producer, a producer with zero output, an
# explicit "Other" with a region, routes with and without fallback, gbm and
# ou with jumps, a mineral without a market, a 3-mineral correlation.
write_stress() {
  cat > "$TMP/stress.cfg" <<'EOF'
name = "peer_stress";
run = { seed = 7L; paths = 20000; horizon = 20; base_year = 2030;
        discount_rate = 0.07; equity_discount_rate = 0.11; region = "west"; };
countries = (
  { name = "Dom"; expropriation = 0.0; },
  { name = "A"; region = "west"; expropriation = { dist = "beta"; a = 2.0; b = 30.0; min = 0.0; max = 0.5; }; },
  { name = "B"; region = "west"; expropriation = { dist = "bernoulli"; p = 0.05; }; },
  { name = "C"; expropriation = { dist = "discrete"; values = [0.0, 0.05, 0.2]; weights = [0.5, 0.3, 0.2]; }; },
  { name = "Other"; region = "west"; expropriation = { dist = "pert"; min = 0.0; mode = 0.01; max = 0.1; lambda = 2.0; }; }
);
routes = (
  { name = "fb"; cost = 50.0; disruption = 0.3; cut = 0.4; fallback_cost = 200.0; },
  { name = "nofb"; cost = 30.0; disruption = 0.25; cut = 0.6; },
  { name = "full"; cost = 20.0; disruption = 0.2; cut = 1.0; }
);
minerals = (
  { name = "m1"; price = { model = "gbm"; p0 = 1000.0; mu = 0.02; sigma = 0.25;
                           jumps = { rate = 0.3; mean = -0.1; sd = 0.15; }; };
    controls = { p_start = 0.3; p_end = 0.4; price_multiplier = 1.5; export_cut = 0.7; };
    market = { dominant = "Dom"; export_fraction = 0.8;
      producers = (
        { country = "Dom"; output0 = 5000.0; growth = { dist = "uniform"; min = -0.05; max = 0.05; }; },
        { country = "A"; output0 = 1000.0; },
        { country = "Other"; output0 = 500.0; growth = { dist = "triangular"; min = 0.0; mode = 0.05; max = 0.1; }; }
      ); }; },
  { name = "m2"; price = { model = "ou"; p0 = 50.0; long_run = 60.0; kappa = 0.5; sigma = 0.3;
                           jumps = { rate = 0.5; mean = 0.2; sd = 0.1; }; };
    controls = { p_start = 0.5; p_end = 0.5; price_multiplier = 0.8; export_cut = 0.3; };
    market = { dominant = "Dom"; export_fraction = 0.5;
      producers = ( { country = "Dom"; output0 = 200000.0; growth = 0.02; },
                    { country = "C"; output0 = 0.0; } ); }; },
  { name = "m3"; price = { model = "ou"; p0 = 10.0; long_run = 10.0; kappa = 2.0; sigma = 0.5; }; }
);
correlations = (
  { between = [ "m1", "m2" ]; rho = -0.6; },
  { between = [ "m2", "m3" ]; rho = 0.5; }
);
projects = (
  { name = "pa"; country = "A"; mineral = "m1"; route = "fb"; start = 0;
    capex = { dist = "uniform"; min = 20.0; max = 60.0; };
    build_years = { dist = "uniform"; min = 0.2; max = 3.7; };
    capacity = { dist = "normal"; mean = 10000.0; sd = 3000.0; min = 12000.0; max = 20000.0; };
    ramp_up = [ 0.2, 0.5, 0.9, 0.95 ]; life = 12;
    utilization = { dist = "normal"; mean = 0.85; sd = 0.25; };
    opex = { dist = "lognormal"; mu = 6.0; sigma = 0.4; };
    royalty = 0.1; tax = 0.3; depreciation_years = 5;
    discount_rate = 0.05; equity_discount_rate = 0.2; pri_cover = 0.5;
    financing = (
      { name = "eq"; type = "equity"; share = 0.4; },
      { name = "zero"; type = "debt"; share = 0.6; rate = 0.0; tenor = 1; grace = 0; amortisation = "annuity"; }
    ); },
  { name = "pb"; country = "B"; mineral = "m1"; route = "nofb"; start = 17;
    capex = 30.0;
    build_years = { dist = "discrete"; values = [1, 2, 3, 4]; weights = [1, 1, 1, 1]; };
    capacity = 3000.0; life = 30;
    utilization = 1.0; opex = 400.0;
    royalty = 0.0; tax = 0.0; depreciation_years = 1;
    financing = ( { name = "eq"; type = "equity"; share = 0.5; },
                  { name = "bank"; type = "debt"; share = 0.5; rate = 0.1; tenor = 3; grace = 0; amortisation = "linear"; } ); },
  { name = "pc"; country = "Dom"; mineral = "m2"; route = "full"; start = 1;
    capex = { dist = "triangular"; min = 5.0; mode = 5.0; max = 15.0; };
    build_years = 2; capacity = { dist = "beta"; a = 2.0; b = 2.0; min = 50000.0; max = 150000.0; };
    ramp_up = [ 0.5 ]; life = 10;
    utilization = { dist = "beta"; a = 5.0; b = 1.0; };
    opex = { dist = "normal"; mean = 30.0; sd = 20.0; };
    royalty = 0.05; tax = 0.25; depreciation_years = 20;
    financing = (
      { name = "eq"; type = "equity"; share = 0.2; },
      { name = "grant"; type = "grant"; share = 0.1; },
      { name = "bank"; type = "debt"; share = 0.3; rate = 0.09; tenor = 4; grace = 1; amortisation = "annuity"; },
      { name = "soft"; type = "debt"; share = 0.4; rate = 0.02; tenor = 8; grace = 3; amortisation = "linear"; },
      { name = "unused"; type = "debt"; share = 0.0; rate = 0.5; tenor = 1; grace = 0; }
    ); },
  { name = "pd"; country = "C"; mineral = "m2"; start = 0;
    capex = { dist = "discrete"; values = [0.0, 4.0]; weights = [0.3, 0.7]; };
    build_years = 1; capacity = 40000.0; life = 25;
    utilization = { dist = "bernoulli"; p = 0.8; };
    opex = { dist = "pert"; min = 20.0; mode = 40.0; max = 70.0; };
    royalty = 0.02; tax = 0.1; depreciation_years = 3; pri_cover = 1.0;
    financing = ( { name = "eq"; type = "equity"; share = 0.25; },
                  { name = "bank"; type = "debt"; share = 0.75; rate = 0.06; tenor = 5; grace = 2; } ); },
  { name = "pe"; country = "Other"; mineral = "m3"; route = "nofb"; start = 3;
    capex = { dist = "lognormal"; mean = 10.0; sd = 5.0; };
    build_years = { dist = "triangular"; min = 1.0; mode = 2.0; max = 5.0; };
    capacity = 100000.0; ramp_up = [ 0.0, 0.3 ]; life = 6;
    utilization = 0.9; opex = { dist = "normal"; mean = 9.0; sd = 2.0; min = 5.0; };
    royalty = 0.0; tax = 0.35; depreciation_years = 2;
    financing = ( { name = "bank"; type = "debt"; share = 1.0; rate = -0.01; tenor = 2; grace = 0; } ); }
);
EOF
}

stress_agrees() {
  write_stress
  agree stress "$TMP/stress.cfg" || fail "cmsim and peer disagree on the stress scenario"
}

# Fixed inputs, sigma = 0: every outcome is a number both must reproduce to
# rounding (se = 0).  Build years 2.5 (a tie: MODEL.md's nearest integer,
# halves away from zero, gives 3, first output 2029) and a falling price
# that makes the flows -, +, -: f(-0.99) < 0, f(0) > 0, f(10) < 0, so f
# does not change sign between the ends and the IRR is undefined although
# f has roots at -0.060 and 0.752.
deterministic_agrees() {
  cat > "$TMP/det.cfg" <<'EOF'
name = "det";
run = { seed = 3L; paths = 100; horizon = 10; discount_rate = 0.08; };
countries = ( { name = "X"; } );
minerals = ( { name = "m"; price = { model = "gbm"; p0 = 1000.0; mu = -0.2; sigma = 0.0; }; } );
projects = (
  { name = "p"; country = "X"; mineral = "m"; start = 0; capex = 10.0; build_years = 2.5;
    capacity = 100000.0; life = 20; utilization = 1.0; opex = 300.0; royalty = 0.0; tax = 0.0;
    depreciation_years = 5;
    financing = ( { name = "eq"; type = "equity"; share = 1.0; } ); }
);
EOF
  "$BIN" run "$TMP/det.cfg" --out "$TMP/det.c" --quiet || { fail "cmsim run det.cfg"; return; }
  "$PY" "$PEER" run "$TMP/det.cfg" --out "$TMP/det.p.csv" || { fail "peer run det.cfg"; return; }
  "$PY" "$CMP" "$TMP/det.c/summary.csv" "$TMP/det.p.csv" --top 5 > "$TMP/det.report" \
    || { sed 's/^/    /' "$TMP/det.report" >&2; fail "cmsim and peer disagree on fixed inputs"; }
  # the hand values: first output 2026 + 3, IRR undefined on every path
  grep -q '^det,first_output_year,project,p,,calendar year,100,0,2029,' "$TMP/det.c/summary.csv" \
    || fail "cmsim: build years 2.5 should round to 3 (first output 2029)"
  grep -q '^det,irr,project,p,,fraction per year,0,100,' "$TMP/det.c/summary.csv" \
    || fail "cmsim: irr should be undefined (no sign change between -0.99 and 10)"
}

# The check must be able to fail: cmsim with a royalty of 50 % on kz_cu
# against the peer on the unchanged file.
detects_disagreement() {
  if agree wrong "$SRC/scenarios/example.cfg" --set projects.kz_cu.royalty=0.5 2>/dev/null; then
    fail "compare_means did not notice a royalty of 0.5 instead of 0.06"
  fi
  grep -q 'npv project kz_cu.*DISAGREE' "$TMP/wrong.report" || fail "npv of kz_cu not flagged"
}

run_test peer_selftest
run_test example_agrees
run_test central_asia_agrees
run_test stress_agrees
run_test deterministic_agrees
run_test detects_disagreement
finish
