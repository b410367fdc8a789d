#!/usr/bin/env bash
# test_cli.sh - the command-line program end to end: reproducibility across
# thread counts and block orders, result files, atomic writes, exit codes.
#
# usage: test_cli.sh CMSIM_BINARY SOURCE_DIR [TEST_NAME]
# Prints "ok NAME" / "FAIL NAME" per test and "N passed, M failed" at the end.
set -u
BIN=$1
SRC=$2
ONLY=${3:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SCEN="$SRC/scenarios/example.cfg"
# shellcheck source=lib.sh
. "$SRC/tests/lib.sh"

# --- tests -------------------------------------------------------------------

help_and_version() {
  "$BIN" --help | grep -q "cmsim run FILE" || fail "--help does not show usage"
  "$BIN" --version | grep -Eq '^cmsim [0-9]+\.[0-9]+\.[0-9]+' || fail "--version"
  "$BIN" >/dev/null 2>&1; [ $? -eq 3 ] || fail "no arguments should exit 3"
  "$BIN" frobnicate x >/dev/null 2>&1; [ $? -eq 3 ] || fail "unknown command should exit 3"
  "$BIN" run "$SCEN" --paths 0 >/dev/null 2>&1; [ $? -eq 3 ] || fail "--paths 0 should exit 3"
  "$BIN" run "$SCEN" --paths 12x >/dev/null 2>&1; [ $? -eq 3 ] || fail "--paths 12x should exit 3"
  "$BIN" run "$SCEN" --bogus >/dev/null 2>&1; [ $? -eq 3 ] || fail "unknown option should exit 3"
}

validate_example() {
  local out
  out=$("$BIN" validate "$SCEN") || fail "validate example.cfg failed"
  echo "$out" | grep -q "valid scenario 'example'" || fail "validate summary: $out"
  "$BIN" validate "$TMP/missing.cfg" 2>"$TMP/err"; local rc=$?
  [ $rc -eq 4 ] || fail "missing file should exit 4, got $rc"
  grep -q "missing.cfg" "$TMP/err" || fail "missing file message lacks the path"
  printf 'name = "x";\nrun = { paths = 10; horizon = 5; seeed = 3; };\n' > "$TMP/bad.cfg"
  "$BIN" validate "$TMP/bad.cfg" 2>"$TMP/err"; rc=$?
  [ $rc -eq 2 ] || fail "bad config should exit 2, got $rc"
  grep -q "bad.cfg:2" "$TMP/err" || fail "bad config message lacks file:line: $(cat "$TMP/err")"
  grep -q "seed" "$TMP/err" || fail "no did-you-mean for seeed: $(cat "$TMP/err")"
}

threads_identical() {
  for t in 1 2 3; do
    "$BIN" run "$SCEN" --paths 5000 --threads $t --out "$TMP/t$t" --quiet || { fail "run with $t threads"; return; }
  done
  cmp -s "$TMP/t1/summary.csv" "$TMP/t2/summary.csv" || fail "1 vs 2 threads differ"
  cmp -s "$TMP/t1/summary.csv" "$TMP/t3/summary.csv" || fail "1 vs 3 threads differ"
  # the reverse block order (a hidden test option) computes blocks last to first
  "$BIN" run "$SCEN" --paths 5000 --threads 1 --reverse-blocks --out "$TMP/rev" --quiet || { fail "reverse run"; return; }
  cmp -s "$TMP/t1/summary.csv" "$TMP/rev/summary.csv" || fail "reverse block order differs"
  # a different seed gives different numbers
  "$BIN" run "$SCEN" --paths 5000 --seed 7 --out "$TMP/s7" --quiet || fail "seed 7 run"
  cmp -s "$TMP/t1/summary.csv" "$TMP/s7/summary.csv" && fail "seed does not change results"
}

csv_is_clean() {
  "$BIN" run "$SCEN" --paths 2000 --out "$TMP/c" --quiet --dump-paths "$TMP/c_paths.csv" || { fail "run"; return; }
  [ -f "$TMP/c/summary.csv" ] && [ -f "$TMP/c/run.json" ] || fail "result files missing"
  if grep -qiE '(^|,)(-?nan|-?inf)(,|$)' "$TMP/c/summary.csv" "$TMP/c_paths.csv"; then fail "nan/inf text in CSV"; fi
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$TMP/c/summary.csv" "$TMP/c_paths.csv" "$TMP/c/run.json" <<'EOF' || fail "python checks"
import csv, json, re, sys
for path in sys.argv[1:3]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    assert all(re.fullmatch(r"[A-Za-z0-9_]{1,32}", h) for h in head), (path, [h for h in head if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", h)])
    assert all(len(r) == len(head) for r in rows), path
    assert len(rows) > 1, path
j = json.load(open(sys.argv[3]))
assert j["paths"] == 2000 and j["seed"] == 20261128, j
assert len(j["scenario_sha256"]) == 64
EOF
  else
    echo "  SKIP python3 checks: python3 not found" >&2
  fi
  [ "$(($(wc -l < "$TMP/c_paths.csv") - 1))" -eq 2000 ] || fail "dump rows != paths"
}

force_semantics() {
  "$BIN" run "$SCEN" --paths 1000 --out "$TMP/f" --quiet || { fail "first run"; return; }
  local before
  before=$(sha256sum "$TMP/f/summary.csv")
  "$BIN" run "$SCEN" --paths 1000 --seed 9 --out "$TMP/f" --quiet 2>"$TMP/err"; local rc=$?
  [ $rc -eq 5 ] || fail "existing output without --force should exit 5, got $rc"
  grep -q -- "--force" "$TMP/err" || fail "message should mention --force"
  [ "$(sha256sum "$TMP/f/summary.csv")" = "$before" ] || fail "existing results were touched"
  "$BIN" run "$SCEN" --paths 1000 --seed 9 --out "$TMP/f" --quiet --force || fail "--force run"
  [ "$(sha256sum "$TMP/f/summary.csv")" != "$before" ] || fail "--force did not replace results"
  ls "$TMP" | grep -q partial && fail "a .partial folder was left behind"
  return 0
}

killed_run_leaves_nothing() {
  "$BIN" run "$SCEN" --paths 50000000 --threads 2 --out "$TMP/k" --quiet &
  local pid=$!
  sleep 1
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  [ -e "$TMP/k/summary.csv" ] && fail "summary.csv exists after SIGKILL"
  [ -e "$TMP/k" ] && fail "result folder exists after SIGKILL"
  # SIGTERM: clean stop, documented exit status 7, no results
  "$BIN" run "$SCEN" --paths 50000000 --threads 2 --out "$TMP/k2" --quiet &
  pid=$!
  sleep 1
  kill -TERM $pid
  wait $pid; local rc=$?
  [ $rc -eq 7 ] || fail "SIGTERM should exit 7, got $rc"
  [ -e "$TMP/k2" ] && fail "result folder exists after SIGTERM"
  ls "$TMP" | grep -q partial && fail "partial folder left after SIGTERM"
  return 0
}

set_override() {
  "$BIN" run "$SCEN" --paths 1000 --out "$TMP/o1" --quiet || fail "base run"
  "$BIN" run "$SCEN" --paths 1000 --out "$TMP/o2" --quiet --set projects.kz_cu.royalty=0.5 || fail "override run"
  cmp -s "$TMP/o1/summary.csv" "$TMP/o2/summary.csv" && fail "--set had no effect"
  "$BIN" run "$SCEN" --paths 1000 --out "$TMP/o3" --quiet --set projects.kz_cu.royalti=0.5 2>"$TMP/err"; local rc=$?
  [ $rc -eq 2 ] || fail "override of a missing path should exit 2, got $rc"
  [ -e "$TMP/o3" ] && fail "output written after a configuration error"
  return 0
}

run_test help_and_version
run_test validate_example
run_test threads_identical
run_test csv_is_clean
run_test force_semantics
run_test killed_run_leaves_nothing
run_test set_override
finish
