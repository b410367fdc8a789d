#!/usr/bin/env bash
# test_parts.sh - runs split into parts and merged, checkpoints and resume,
# and (when an MPI build and mpirun are available) MPI ranks: all must give
# result files byte-identical to one plain run.
#
# usage: test_parts.sh CMSIM_BINARY SOURCE_DIR [TEST_NAME]
# The MPI test uses CMSIM_MPI_BINARY (an MPI build of cmsim) when set, and
# says SKIP loudly otherwise.
set -u
BIN=$1
SRC=$2
ONLY=${3:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-parts.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SCEN="$SRC/scenarios/example.cfg"
# a small batch: the example and one variant, so compare.csv is checked too
cp "$SCEN" "$TMP/example.cfg"
cat > "$TMP/batch.cfg" <<'EOF_BATCH'
@include "example.cfg"
batch = { reference = "base";
  variants = ( { name = "dfc"; description = "more concessional debt for uz_cu";
    set = ( { path = "projects.uz_cu.financing.dfc.share"; value = 0.6; },
            { path = "projects.uz_cu.financing.grant.share"; value = 0.1; } ); } ); };
EOF_BATCH
BATCH="$TMP/batch.cfg"
# shellcheck source=lib.sh
. "$SRC/tests/lib.sh"

same_results() { # dir1 dir2
  local f
  for f in summary.csv compare.csv; do
    if [ -e "$1/$f" ] || [ -e "$2/$f" ]; then
      cmp -s "$1/$f" "$2/$f" || fail "$f differs between $1 and $2"
    fi
  done
}

parts_merge_identical() {
  "$BIN" run "$BATCH" --paths 20000 --out "$TMP/single" --quiet || { fail "single run"; return; }
  for k in 1 2 3; do
    "$BIN" run "$BATCH" --paths 20000 --part $k/3 --out "$TMP/p$k.cmpart" --quiet --threads $k ||
      fail "part $k"
  done
  # any order of the part files on the command line
  "$BIN" merge --out "$TMP/merged" --quiet "$TMP/p3.cmpart" "$TMP/p1.cmpart" "$TMP/p2.cmpart" ||
    { fail "merge"; return; }
  same_results "$TMP/single" "$TMP/merged"
  # a different split of the same run merges to the same bytes
  for k in 1 2; do
    "$BIN" run "$BATCH" --paths 20000 --part $k/2 --out "$TMP/q$k.cmpart" --quiet || fail "part $k/2"
  done
  "$BIN" merge --out "$TMP/merged2" --quiet "$TMP/q1.cmpart" "$TMP/q2.cmpart" || fail "merge 2"
  same_results "$TMP/single" "$TMP/merged2"
}

merge_refuses_bad_parts() {
  for k in 1 2 3; do
    "$BIN" run "$SCEN" --paths 5000 --part $k/3 --out "$TMP/e$k.cmpart" --quiet || fail "part $k"
  done
  "$BIN" merge --out "$TMP/m_missing" "$TMP/e1.cmpart" "$TMP/e3.cmpart" 2>"$TMP/err"
  [ $? -eq 2 ] || fail "missing part should exit 2"
  grep -q "part 2 of 3 is missing" "$TMP/err" || fail "missing part not named: $(cat "$TMP/err")"
  "$BIN" merge --out "$TMP/m_dup" "$TMP/e1.cmpart" "$TMP/e1.cmpart" "$TMP/e2.cmpart" "$TMP/e3.cmpart" 2>"$TMP/err"
  [ $? -eq 2 ] || fail "duplicated part should exit 2"
  grep -q "parts overlap" "$TMP/err" || fail "overlap not reported: $(cat "$TMP/err")"
  cp "$TMP/e2.cmpart" "$TMP/bad.cmpart"
  printf 'X' | dd of="$TMP/bad.cmpart" bs=1 seek=2000 conv=notrunc 2>/dev/null
  "$BIN" merge --out "$TMP/m_bad" "$TMP/e1.cmpart" "$TMP/bad.cmpart" "$TMP/e3.cmpart" 2>"$TMP/err"
  [ $? -eq 4 ] || fail "corrupt part should exit 4"
  grep -q "checksum mismatch" "$TMP/err" || fail "corruption not reported: $(cat "$TMP/err")"
  head -c 5000 "$TMP/e2.cmpart" > "$TMP/short.cmpart"
  "$BIN" merge --out "$TMP/m_short" "$TMP/e1.cmpart" "$TMP/short.cmpart" "$TMP/e3.cmpart" 2>"$TMP/err"
  [ $? -eq 4 ] || fail "truncated part should exit 4"
  grep -q "truncated" "$TMP/err" || fail "truncation not reported: $(cat "$TMP/err")"
  # a part of another seed
  "$BIN" run "$SCEN" --paths 5000 --seed 99 --part 2/3 --out "$TMP/o2.cmpart" --quiet || fail "seed part"
  "$BIN" merge --out "$TMP/m_seed" "$TMP/e1.cmpart" "$TMP/o2.cmpart" "$TMP/e3.cmpart" 2>"$TMP/err"
  [ $? -eq 2 ] || fail "another seed should exit 2"
  grep -q "another run: seed 99" "$TMP/err" || fail "seed mismatch not named: $(cat "$TMP/err")"
  # a part of another scenario (other settings)
  "$BIN" run "$SCEN" --paths 5000 --set projects.kz_cu.royalty=0.07 --part 2/3 --out "$TMP/s2.cmpart" --quiet ||
    fail "override part"
  "$BIN" merge --out "$TMP/m_set" "$TMP/e1.cmpart" "$TMP/s2.cmpart" "$TMP/e3.cmpart" 2>"$TMP/err"
  [ $? -eq 2 ] || fail "other settings should exit 2"
  grep -q "another scenario or other settings" "$TMP/err" || fail "settings mismatch: $(cat "$TMP/err")"
  for d in m_missing m_dup m_bad m_short m_seed m_set; do
    [ -e "$TMP/$d" ] && fail "$d written despite the error"
  done
  # an existing part file is not overwritten without --force
  "$BIN" run "$SCEN" --paths 5000 --part 1/3 --out "$TMP/e1.cmpart" --quiet 2>/dev/null
  [ $? -eq 5 ] || fail "existing part file should exit 5"
  return 0
}

sigterm_then_resume() {
  "$BIN" run "$BATCH" --paths 200000 --out "$TMP/full" --quiet || { fail "full run"; return; }
  "$BIN" run "$BATCH" --paths 200000 --out "$TMP/res" --quiet --threads 2 \
    --checkpoint "$TMP/ck.state" --checkpoint-every 1 &
  local pid=$!
  sleep 2
  kill -TERM $pid
  wait $pid
  local rc=$?
  if [ $rc -eq 0 ]; then
    echo "  (the run finished before SIGTERM: machine too fast for this check)" >&2
  else
    [ $rc -eq 7 ] || fail "SIGTERM should exit 7, got $rc"
    [ -s "$TMP/ck.state" ] || fail "no checkpoint written"
    [ -e "$TMP/res" ] && fail "results written by the interrupted run"
    "$BIN" run "$BATCH" --paths 200000 --out "$TMP/res" --quiet --threads 1 \
      --resume "$TMP/ck.state" --checkpoint "$TMP/ck.state" || fail "resume"
    same_results "$TMP/full" "$TMP/res"
    [ -e "$TMP/ck.state" ] && fail "the spent checkpoint was not removed"
  fi
  # a checkpoint of another run is refused
  "$BIN" run "$SCEN" --paths 3000 --out "$TMP/x" --quiet --checkpoint "$TMP/ck2.state" \
    --checkpoint-every 0.001 &
  pid=$!
  sleep 0.3
  kill -TERM $pid 2>/dev/null
  wait $pid
  if [ -s "$TMP/ck2.state" ]; then
    "$BIN" run "$SCEN" --paths 4000 --out "$TMP/x2" --quiet --resume "$TMP/ck2.state" 2>"$TMP/err"
    [ $? -eq 2 ] || fail "resume with other paths should exit 2"
  fi
  return 0
}

mpi_identical() {
  local mbin=${CMSIM_MPI_BINARY:-}
  if [ -z "$mbin" ] || [ ! -x "$mbin" ] || ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP mpi_identical: no MPI build (CMSIM_MPI_BINARY) or no mpirun"
    echo "SKIP mpi_identical: no MPI build (CMSIM_MPI_BINARY) or no mpirun" >&2
    cur_skipped=1
    return 0
  fi
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  "$BIN" run "$BATCH" --paths 20000 --out "$TMP/plain" --quiet || { fail "plain run"; return; }
  for np in 1 2 3; do
    mpirun --oversubscribe --bind-to none -np $np "$mbin" run "$BATCH" --paths 20000 \
      --threads 1 --out "$TMP/mpi$np" --quiet || { fail "mpirun -np $np"; continue; }
    same_results "$TMP/plain" "$TMP/mpi$np"
  done
}

run_test parts_merge_identical
run_test merge_refuses_bad_parts
run_test sigterm_then_resume
run_test mpi_identical
finish
