# shellcheck shell=bash
# tests/lib.sh - the runner the shell tests share (sourced, not run).
#
# Each test is a shell function.  Inside it, `fail MSG` marks it failed and
# `skip MSG` marks it as unable to run on this machine.  `run_test NAME
# [KNOWN]` runs NAME, unless ONLY names another test, and tallies it: "ok",
# "FAIL" or (skipped) nothing more.  KNOWN, an engine bug id
# (docs/hardening.md), means the test is expected to fail until that bug is
# fixed: XFAIL, or XPASS (a failure: remove the mark) when it passes.
# `tally NAME [KNOWN]` scores a test whose body already ran.  `finish`
# prints the totals and returns non-zero when anything failed.
passed=0
failed=0
skipped=0
xfailed=0
cur_failed=0
cur_skipped=0
CUR=

fail() { echo "  $*" >&2; cur_failed=1; }
skip() { echo "skip $CUR: $*"; cur_skipped=1; }

tally() {
  local name=$1 known=${2:-}
  if [ "$cur_skipped" -eq 1 ] && [ "$cur_failed" -eq 0 ]; then
    skipped=$((skipped + 1))
  elif [ -n "$known" ]; then
    if [ "$cur_failed" -eq 1 ]; then
      echo "XFAIL $name (known engine bug $known, docs/hardening.md)"
      xfailed=$((xfailed + 1))
    else
      echo "XPASS $name: known bug $known is fixed; remove the test's known=$known mark"
      failed=$((failed + 1))
    fi
  elif [ "$cur_failed" -eq 0 ]; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

run_test() {
  local name=$1 known=${2:-}
  known=${known#known=}
  [ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ] && return 0
  CUR=$name
  cur_failed=0
  cur_skipped=0
  "$name"
  tally "$name" "$known"
}

finish() {
  local extra=""
  [ "$skipped" -gt 0 ] && extra=", $skipped skipped"
  [ "$xfailed" -gt 0 ] && extra="$extra, $xfailed expected failures"
  echo "$passed passed, $failed failed$extra"
  [ "$failed" -eq 0 ]
}
