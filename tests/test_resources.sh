#!/usr/bin/env bash
# test_resources.sh - the program when resources fail: folders it may not
# write, a read-only file system, a disk that fills up mid-write, a file
# size limit, a full device as the per-path dump, memory allocations that
# fail (injected at every allocation of a small run), real memory exhaustion
# under a limit, and a stop request on a very long run.
#
# usage: test_resources.sh CMSIM_BINARY SOURCE_DIR [TEST_NAME]
# environment: CMSIM_FAILALLOC_BINARY, the program built with
#   tests/hardening/fail_alloc.c (tests/CMakeLists.txt sets it); without it the
#   allocation tests are skipped loudly.
# Tests that need root (mounts, device nodes) or an unprivileged user (root
# ignores file permissions) print "skip NAME: why" when they cannot run.
# Known engine bugs (docs/hardening.md, "Findings") print XFAIL; when fixed
# they print XPASS and fail the test, so the mark gets removed.
# Prints "ok NAME" / "FAIL NAME" per test and "N passed, M failed" at the end.
set -u
BIN=$(realpath "$1")
SRC=$(realpath "$2")
ONLY=${3:-}
FAILALLOC=${CMSIM_FAILALLOC_BINARY:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-res.XXXXXX")
MOUNTS=()
cleanup() {
  local m
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  chmod -R u+rwX "$TMP" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
VALID="$SRC/tests/bad_inputs/valid.cfg"
# shellcheck source=lib.sh
. "$SRC/tests/lib.sh"

# no_results DIR: a failed run left neither DIR nor any partial file beside it.
no_results() {
  local dir=$1
  [ -e "$dir" ] && fail "result folder $dir exists after a failure: $(ls -A "$dir" | head -3)"
  local parent
  parent=$(dirname "$dir")
  local left
  left=$(find "$parent" -maxdepth 1 \( -name '*partial*' -o -name '*.old-*' \) 2>/dev/null | head -3)
  [ -z "$left" ] || fail "partial files left in $parent: $left"
  return 0
}

# expect RC WANT FRAGMENT STDERR_FILE
expect() {
  [ "$1" -eq "$2" ] || fail "exit $1, expected $2; stderr: $(head -c 400 "$4")"
  grep -qF -- "$3" "$4" || fail "expected '$3' in stderr: $(head -c 400 "$4")"
}

# Run a command as an unprivileged user (root ignores permissions), or
# return 125 when that is not possible here.
NOBODY=()
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  grp=$(id -gn nobody)
  if command -v setpriv >/dev/null 2>&1; then
    NOBODY=(setpriv --reuid=nobody --regid="$grp" --clear-groups)
  elif command -v runuser >/dev/null 2>&1; then
    NOBODY=(runuser -u nobody --)
  fi
fi
as_nobody_ready() {
  if [ "$(id -u)" -ne 0 ]; then
    NOBODY=()  # already unprivileged: permissions apply to us
    return 0
  fi
  if [ ${#NOBODY[@]} -eq 0 ]; then
    skip "running as root without setpriv/runuser and user nobody: permissions cannot be tested"
    return 1
  fi
  if ! "${NOBODY[@]}" "$BIN" --version >/dev/null 2>&1; then
    skip "user nobody cannot execute $BIN (a folder on its path is not searchable)"
    return 1
  fi
  return 0
}

# A folder nobody can read (scenario) but not write.
make_public_dir() {
  local d="$TMP/pub"
  mkdir -p "$d/ro"
  chmod 755 "$TMP" "$d" "$d/ro"
  cp "$VALID" "$d/valid.cfg"
  chmod 644 "$d/valid.cfg"
  cp "$VALID" "$d/secret.cfg"
  chmod 600 "$d/secret.cfg"
  PUB=$d
}

# 0 when the program is built with a sanitizer: their runtimes reserve huge
# address ranges and map shadow memory, which RLIMIT_AS and RLIMIT_FSIZE
# break (TSan dies with SIGBUS under a file size limit).
sanitized() {
  grep -qaE '__(asan|tsan|msan)_init' "$BIN"
}

# --- folders and files without permission ---------------------------------

unwritable_output_folder() {
  as_nobody_ready || return
  make_public_dir
  "${NOBODY[@]}" "$BIN" run "$PUB/valid.cfg" --paths 100 --out "$PUB/ro/out" --quiet 2>"$TMP/err"
  expect $? 4 "Permission denied" "$TMP/err"
  grep -qF "$PUB/ro/out" "$TMP/err" || fail "the message does not name the folder: $(cat "$TMP/err")"
  no_results "$PUB/ro/out"
}

unreadable_scenario() {
  as_nobody_ready || return
  make_public_dir
  "${NOBODY[@]}" "$BIN" validate "$PUB/secret.cfg" 2>"$TMP/err"
  expect $? 4 "secret.cfg: cannot read the scenario file: Permission denied" "$TMP/err"
}

unwritable_dump_file() {
  as_nobody_ready || return
  make_public_dir
  chmod 777 "$TMP/pub"  # results could go here; only the dump may not
  "${NOBODY[@]}" "$BIN" run "$PUB/valid.cfg" --paths 100 --out "$PUB/out" --quiet \
    --dump-paths "$PUB/ro/paths.csv" 2>"$TMP/err"
  expect $? 4 "ro/paths.csv: cannot write: Permission denied" "$TMP/err"
  no_results "$PUB/out"
  chmod 755 "$TMP/pub"
}

# --- file systems that refuse or fill up -----------------------------------

# mount_or_skip DIR ARGS...: mount (root), remembered for cleanup.
mount_or_skip() {
  local dir=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then skip "mounting needs root"; return 1; fi
  mkdir -p "$dir"
  if ! mount "$@" "$dir" 2>"$TMP/mount.err"; then
    skip "cannot mount here ($(cat "$TMP/mount.err"))"
    return 1
  fi
  MOUNTS+=("$dir")
  return 0
}

read_only_file_system() {
  mkdir -p "$TMP/rofs"
  mount_or_skip "$TMP/rofs" --bind -o ro "$TMP/rofs" || return
  "$BIN" run "$VALID" --paths 100 --out "$TMP/rofs/out" --quiet 2>"$TMP/err"
  expect $? 4 "Read-only file system" "$TMP/err"
  no_results "$TMP/rofs/out"
  umount "$TMP/rofs"
}

# A 32 KiB tmpfs: summary.csv (27 KB) fits, run.json (65 KB) does not, so the
# disk fills up in the middle of writing the result set.
disk_full_mid_write() {
  mount_or_skip "$TMP/small" -t tmpfs -o size=32k tmpfs || return
  "$BIN" run "$VALID" --paths 100 --out "$TMP/small/out" --quiet 2>"$TMP/err"
  expect $? 4 "No space left on device" "$TMP/err"
  no_results "$TMP/small/out"
  [ -z "$(ls -A "$TMP/small")" ] || fail "files left on the full disk: $(ls -A "$TMP/small")"
  # and the space the partial files took is given back
  local used
  used=$(df -k --output=used "$TMP/small" | tail -1 | tr -d ' ')
  [ "$used" -le 4 ] || fail "$used KiB still used on the tmpfs after the failed run"
  umount "$TMP/small"
}

# RLIMIT_FSIZE with SIGXFSZ ignored: writes past 20 KiB fail with EFBIG
# (no privileges needed).
file_size_limit() {
  if sanitized; then skip "the program is built with a sanitizer (RLIMIT_FSIZE breaks its runtime)"; return; fi
  (trap '' XFSZ; ulimit -f 20; exec "$BIN" run "$VALID" --paths 100 --out "$TMP/fsz/out" --quiet) 2>"$TMP/err"
  expect $? 4 "File too large" "$TMP/err"
  no_results "$TMP/fsz/out"
}

# --dump-paths to a full device (a private node like /dev/full, never the
# system's own).
dump_to_full_device() {
  if [ "$(id -u)" -ne 0 ]; then skip "mknod needs root"; return; fi
  if ! mknod -m 666 "$TMP/full" c 1 7 2>/dev/null || ! (echo x >"$TMP/full") 2>&1 | grep -q "No space"; then
    skip "cannot make a working full device node under $TMP (nodev?)"
    return
  fi
  "$BIN" run "$VALID" --paths 2000 --out "$TMP/dumpfull" --quiet --dump-paths "$TMP/full" 2>"$TMP/err"
  expect $? 4 "No space left on device" "$TMP/err"
  [ -c "$TMP/full" ] || fail "the device node was replaced by a regular file ($(ls -l "$TMP/full"))"
  no_results "$TMP/dumpfull"
}

# --- memory ------------------------------------------------------------------

failalloc_ready() {
  if [ -z "$FAILALLOC" ] || [ ! -x "$FAILALLOC" ]; then
    skip "CMSIM_FAILALLOC_BINARY is not set (build the cmsim_failalloc target)"
    return 1
  fi
  return 0
}

# The number of allocations a small run makes, and its summary.csv.
alloc_reference() {
  [ -n "${ALLOCS:-}" ] && return 0
  rm -rf "$TMP/aref"
  CMSIM_FAIL_ALLOC_REPORT="$TMP/allocs" "$FAILALLOC" run "$VALID" --paths 100 --threads 1 \
    --out "$TMP/aref" --quiet || { fail "the reference run failed"; return 1; }
  ALLOCS=$(cat "$TMP/allocs")
  [ "$ALLOCS" -gt 50 ] || { fail "only $ALLOCS allocations counted: is the wrapper linked?"; return 1; }
  return 0
}

# sweep MODE: fail allocation N (once) or every allocation from N on
# (always), for every N of the run's sequence.
alloc_sweep() {
  local mode=$1 n rc bad=0 silent=0 ok_same=0
  for ((n = 0; n < ALLOCS; n++)); do
    rm -rf "$TMP/as"
    if [ "$mode" = once ]; then
      CMSIM_FAIL_ALLOC_AFTER=$n CMSIM_FAIL_ALLOC_ONCE=1 timeout -k 5 60 "$FAILALLOC" run "$VALID" \
        --paths 100 --threads 1 --out "$TMP/as" --quiet >"$TMP/aout" 2>"$TMP/aerr"
    else
      CMSIM_FAIL_ALLOC_AFTER=$n timeout -k 5 60 "$FAILALLOC" run "$VALID" \
        --paths 100 --threads 1 --out "$TMP/as" --quiet >"$TMP/aout" 2>"$TMP/aerr"
    fi
    rc=$?
    if [ $rc -eq 0 ]; then
      # A failure the program worked around must not change the results.
      if cmp -s "$TMP/as/summary.csv" "$TMP/aref/summary.csv"; then
        ok_same=$((ok_same + 1))
      else
        fail "$mode N=$n: exit 0 with different or missing results"; bad=$((bad + 1))
      fi
      continue
    fi
    if [ $rc -ne 6 ]; then
      fail "$mode N=$n: exit $rc, expected 6; stderr: $(head -c 300 "$TMP/aerr")"; bad=$((bad + 1))
    fi
    if ! grep -q "out of memory" "$TMP/aerr"; then
      silent=$((silent + 1))
      [ "$mode" = once ] && { fail "$mode N=$n: no 'out of memory' message: $(head -c 300 "$TMP/aerr")"; bad=$((bad + 1)); }
    fi
    no_results "$TMP/as"
    [ $bad -gt 10 ] && { fail "stopping the sweep after 10 problems"; break; }
  done
  SILENT=$silent
  echo "  $mode: $ALLOCS allocations swept, $ok_same worked around with identical results, $silent without a message" >&2
}

alloc_failure_once() {
  failalloc_ready || return
  alloc_reference || return
  alloc_sweep once
}

# Memory gone for good: exit 6, nothing written (checked for every N).  The
# message is checked apart (alloc_failure_message, known F5).
alloc_failure_persistent() {
  failalloc_ready || return
  alloc_reference || return
  alloc_sweep always
  PERSISTENT_SILENT=$SILENT
}

alloc_failure_message() {
  failalloc_ready || return
  alloc_reference || return
  if [ -z "${PERSISTENT_SILENT:-}" ]; then alloc_sweep always >/dev/null 2>&1; PERSISTENT_SILENT=$SILENT; fi
  [ "$PERSISTENT_SILENT" -eq 0 ] ||
    fail "$PERSISTENT_SILENT of $ALLOCS runs out of memory for good exit 6 without saying 'out of memory'"
}

# A file whose integer overflows 32 bits (paths = 2^32 + 200, which libconfig
# 1.5 reads as 200): whatever allocation fails, the program must not run it.
alloc_failure_keeps_literal_check() {
  failalloc_ready || return
  sed 's/^  paths = 200;/  paths = 4294967496;/' "$VALID" > "$TMP/wrap.cfg"
  local n rc total
  CMSIM_FAIL_ALLOC_REPORT="$TMP/wallocs" "$FAILALLOC" validate "$TMP/wrap.cfg" >/dev/null 2>&1
  total=$(cat "$TMP/wallocs")
  for ((n = 0; n < total; n++)); do
    CMSIM_FAIL_ALLOC_AFTER=$n CMSIM_FAIL_ALLOC_ONCE=1 "$FAILALLOC" run "$TMP/wrap.cfg" \
      --threads 1 --out "$TMP/wr" --quiet >/dev/null 2>"$TMP/werr"
    rc=$?
    case $rc in
      2) grep -qF "wrap.cfg:5: run.paths: integer 4294967496 does not fit in 32 bits" "$TMP/werr" ||
           fail "N=$n: exit 2 without the overflow message: $(head -c 300 "$TMP/werr")" ;;
      6) ;;
      *) fail "N=$n: exit $rc: a failed allocation let the misread file through (expected 2 or 6)"
         rm -rf "$TMP/wr" ;;
    esac
  done
}

# Real exhaustion: exact quantiles keep every value (22 000 yearly slots at
# a horizon of 1000 years: 176 KB a path); under a 400 MB address-space
# limit a long run must stop with exit 6 and a message, not crash.
memory_limit() {
  if sanitized; then
    skip "the program is built with a sanitizer (it reserves more address space than any limit)"
    return
  fi
  (ulimit -v 400000; exec "$BIN" run "$SRC/tests/bad_inputs/valid_horizon_1000.cfg" --paths 400000000 \
    --threads 1 --exact-quantiles \
    --out "$TMP/vlim" --quiet) 2>"$TMP/err"
  local rc=$?
  expect $rc 6 "out of memory" "$TMP/err"
  no_results "$TMP/vlim"
}

# --- signals -----------------------------------------------------------------

# SIGTERM on a run of 10^11 paths must stop it promptly (exit 7, within 3 s:
# a block of 1024 paths takes milliseconds), not after the remaining hundred
# million blocks have been skipped one by one.
stop_long_run_promptly() {
  "$BIN" run "$VALID" --paths 100000000000 --threads 2 --out "$TMP/long" --quiet 2>"$TMP/err" &
  local pid=$! i rc
  sleep 1 # past start-up: the handler is installed before the run begins
  kill -TERM $pid 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 $pid 2>/dev/null; then
    fail "still running 3 s after SIGTERM"
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    return
  fi
  wait $pid
  rc=$?
  [ $rc -eq 7 ] || fail "exit $rc after SIGTERM, expected 7"
  no_results "$TMP/long"
}

run_test unwritable_output_folder
run_test unreadable_scenario
run_test unwritable_dump_file
run_test read_only_file_system
run_test disk_full_mid_write
run_test file_size_limit
run_test dump_to_full_device
run_test alloc_failure_once
run_test alloc_failure_persistent
run_test alloc_failure_message
run_test alloc_failure_keeps_literal_check
run_test memory_limit
run_test stop_long_run_promptly
[ -n "$ONLY" ] && [ $((passed + failed + skipped + xfailed)) -eq 0 ] && { echo "no test named $ONLY"; exit 2; }
finish
