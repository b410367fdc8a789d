#!/usr/bin/env bash
# test_slurm.sh - the cluster job scripts of jobs/ for real: a private single-node Slurm
# (slurmctld + slurmd + munged, all started here as child processes on a slurm.conf in a
# temporary folder) runs cmsim-node.sbatch, cmsim-mpi.sbatch (one rank, srun launcher), a
# node job stopped by its warning signal and resumed from its checkpoint, and the array +
# merge chain of submit-array.sh; every result must be byte-identical to a plain
# `cmsim run` of the same scenario, seed and paths, and a failed part must cancel the
# merge.  Before that, tests that need no scheduler: shellcheck, the scripts run by hand
# outside Slurm/PBS, their argument checks, and submit-array.sh's wiring against a
# recording sbatch stand-in.
#
# usage: test_slurm.sh CMSIM_BINARY SOURCE_DIR [TEST_NAME]
# Prints "ok NAME" / "FAIL NAME" / "SKIP NAME: why" per test and "N passed, M failed" at the
# end.  Slurm needs root: without slurm-wlm and munge, the test installs them with apt-get
# (no service is left running) when it is root; when it cannot (not root, no apt-get, no
# network), the Slurm tests print SKIP on stdout and stderr and do not count as failures.
# Nothing system-wide is configured: every Slurm command gets SLURM_CONF pointing at the
# temporary slurm.conf, every daemon started here is stopped by its PID on exit.
set -u
BIN=$1
SRC=$2
ONLY=${3:-}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
SRC=$(cd "$SRC" && pwd)
JOBS=$SRC/jobs
SCEN=$SRC/scenarios/example.cfg
PATHS=4000
SEED=7
NPARTS=3

# No job or setting of an enclosing Slurm may leak into these tests or the private Slurm.
for v in $(compgen -e | grep -E '^(SLURM_|SBATCH_|SALLOC_|SRUN_|SQUEUE_|SINFO_|SCONTROL_|PBS_)'); do
  unset "$v"
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-slurm.XXXXXX")
chmod 0755 "$TMP"          # munged wants its socket folder not writable by others

passed=0
failed=0
skipped=0
cur_failed=0
DAEMON_PIDS=()             # munged, slurmctld, slurmd: stopped in this order reversed
CREATED_POLICY=""          # a policy-rc.d we created for the install, removed again
SLURM_READY=""             # "" not tried, yes, or the reason it is not available

fail() { echo "  $*" >&2; cur_failed=1; }
skip() { cur_skip=$*; }   # inside a test: it could not run here (REASON)

skip_loudly() {   # NAME REASON: on stdout and stderr
  echo "SKIP $1: $2"
  echo "SKIP $1: $2" >&2
  skipped=$((skipped + 1))
}

run_test() {
  local name=$1
  [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && return
  cur_failed=0
  cur_skip=""
  "$name"
  if [ $cur_failed -ne 0 ]; then echo "FAIL $name"; failed=$((failed + 1))
  elif [ -n "$cur_skip" ]; then skip_loudly "$name" "$cur_skip"
  else echo "ok   $name"; passed=$((passed + 1)); fi
}

# A Slurm test: runs only once the private cluster is up; SKIP (loudly) when Slurm
# cannot be had, FAIL when it should start and does not.
run_slurm_test() {
  local name=$1
  [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && return
  if [ -z "$SLURM_READY" ]; then
    start_slurm
  fi
  case $SLURM_READY in
    yes) run_test "$name" ;;
    broken) echo "FAIL $name (Slurm did not start)"; failed=$((failed + 1)) ;;
    *) skip_loudly "$name" "$SLURM_READY" ;;
  esac
}

# --- the private Slurm -------------------------------------------------------------

stop_pid() {   # PID: TERM, up to 15 s, then KILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  local i
  if [ "${#DAEMON_PIDS[@]}" -gt 0 ] && [ -f "$TMP/etc/slurm.conf" ]; then
    # jobs first (their slurmstepd are not our children), then the daemons.
    scancel --quiet --user="$(id -un)" >/dev/null 2>&1
    for ((i = 0; i < 100; i++)); do
      [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for ((i = ${#DAEMON_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${DAEMON_PIDS[i]}"
  done
  [ -n "$CREATED_POLICY" ] && rm -f "$CREATED_POLICY"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

daemon_pids() {   # PIDs of munge/Slurm daemons running now, one line
  local d
  command -v pgrep >/dev/null 2>&1 || return 0
  for d in munged slurmctld slurmd slurmdbd; do pgrep -x "$d"; done | tr '\n' ' '
}

# Install slurm-wlm and munge when missing, if we may.  Sets WHY: "" when they are there,
# else the reason they are not.
ensure_slurm_installed() {
  WHY=""
  local tools=(slurmctld slurmd slurmstepd sbatch sinfo squeue scancel srun munged munge)
  local t missing=0
  for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing=1; done
  [ "$missing" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    WHY="slurm-wlm/munge are not installed and installing them needs root"; return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    WHY="slurm-wlm/munge are not installed and there is no apt-get"; return 0
  fi
  echo "  installing slurm-wlm and munge with apt-get (no service is started)" >&2
  # No service may start during the install (and none may keep running after it).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d &&
      CREATED_POLICY=/usr/sbin/policy-rc.d
  fi
  local before after p
  before=" $(daemon_pids) "
  local log=$TMP/apt.log
  if ! DEBIAN_FRONTEND=noninteractive timeout 180 apt-get install -y -q --no-install-recommends \
        slurm-wlm munge >"$log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 90 apt-get update -q >>"$log" 2>&1
    DEBIAN_FRONTEND=noninteractive timeout 180 apt-get install -y -q --no-install-recommends \
        slurm-wlm munge >>"$log" 2>&1
  fi
  # Stop, by PID, any daemon the install started despite policy-rc.d.
  after=$(daemon_pids)
  for p in $after; do
    case $before in *" $p "*) ;; *) stop_pid "$p" ;; esac
  done
  if [ -n "$CREATED_POLICY" ]; then rm -f "$CREATED_POLICY"; CREATED_POLICY=""; fi
  for t in "${tools[@]}"; do
    if ! command -v "$t" >/dev/null 2>&1; then
      WHY="apt-get install slurm-wlm munge failed ($t missing): $(tail -n 1 "$log")"
      return 0
    fi
  done
  return 0
}

free_ports() {   # two distinct TCP ports nobody listens on now
  if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
  else
    local p=$((20000 + RANDOM % 30000))
    echo "$p" $((p + 1))
  fi
}

# Start munged, slurmctld and slurmd on TMP; sets SLURM_READY.
start_slurm() {
  ensure_slurm_installed
  if [ -n "$WHY" ]; then SLURM_READY=$WHY; return; fi
  if [ "$(id -u)" -ne 0 ]; then
    SLURM_READY="slurmd must run as root to start jobs; this test runs as $(id -un)"
    return
  fi
  SLURM_READY=broken
  export SLURM_CONF=$TMP/etc/slurm.conf
  mkdir -p "$TMP/munge" "$TMP/etc" "$TMP/state" "$TMP/spool" "$TMP/log" "$TMP/run" "$TMP/work"
  chmod 0755 "$TMP/munge"

  # munged with a key of its own (root-owned, 0400) on its own socket.
  local sock=$TMP/munge/munge.socket
  head -c 1024 /dev/urandom >"$TMP/munge/munge.key"
  chmod 0400 "$TMP/munge/munge.key"
  munged -F --force --socket="$sock" --key-file="$TMP/munge/munge.key" \
         --log-file="$TMP/log/munged.log" --pid-file="$TMP/munge/munged.pid" \
         --seed-file="$TMP/munge/munged.seed" >"$TMP/log/munged.out" 2>&1 &
  DAEMON_PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then
    echo "  munged did not start:" >&2
    tail -n 20 "$TMP/log/munged.log" "$TMP/log/munged.out" >&2 2>/dev/null
    return
  fi

  # One node: this machine as slurmd sees it, memory a little under the machine's.
  local host node cpus mem ports
  host=$(hostname -s 2>/dev/null || uname -n)
  host=${host%%.*}
  read -r -a ports <<<"$(free_ports)"
  node=$(slurmd -C 2>/dev/null | head -n 1)
  case $node in
    NodeName=*) node=${node/NodeName=$host /NodeName=$host NodeAddr=127.0.0.1 } ;;
    *) node="NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000" ;;
  esac
  mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  node=$(echo "$node" | sed -E "s/RealMemory=[0-9]+/RealMemory=$mem/")
  cpus=$(echo "$node" | sed -nE 's/.*CPUs=([0-9]+).*/\1/p')
  NCPUS=${cpus:-$(nproc)}
  cat >"$SLURM_CONF" <<EOF
ClusterName=cmsimtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$sock
CredType=cred/munge
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/run/slurmctld.pid
SlurmdPidFile=$TMP/run/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=30
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  slurmctld -D -c -i -f "$SLURM_CONF" >"$TMP/log/slurmctld.out" 2>&1 &
  DAEMON_PIDS+=($!)
  slurmd -D -f "$SLURM_CONF" -N "$host" >"$TMP/log/slurmd.out" 2>&1 &
  DAEMON_PIDS+=($!)

  local state=""
  for ((i = 0; i < 300; i++)); do
    state=$(sinfo -h -N -n "$host" -o %t 2>/dev/null | head -n 1)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    echo "  the node is not idle after 60 s (state '$state'):" >&2
    tail -n 15 "$TMP/log/slurmctld.log" "$TMP/log/slurmd.log" \
               "$TMP/log/slurmctld.out" "$TMP/log/slurmd.out" >&2 2>/dev/null
    return
  fi
  SLURM_READY=yes
}

# --- helpers -------------------------------------------------------------------------

# The reference: a plain run of SCEN with PATHS and SEED (made once).
reference() {
  if [ ! -f "$TMP/ref/summary.csv" ]; then
    "$BIN" run "$SCEN" --paths $PATHS --seed $SEED --out "$TMP/ref" --quiet ||
      fail "the reference run failed"
  fi
}

same_as_reference() {   # DIR WHAT
  if [ ! -f "$1/summary.csv" ]; then fail "$2: no $1/summary.csv"; return; fi
  cmp -s "$TMP/ref/summary.csv" "$1/summary.csv" || fail "$2: summary.csv differs from a plain run"
  if [ -f "$TMP/ref/compare.csv" ]; then   # batches only
    cmp -s "$TMP/ref/compare.csv" "$1/compare.csv" || fail "$2: compare.csv differs from a plain run"
  fi
  [ -f "$1/run.json" ] || fail "$2: no run.json"
}

show_file() {   # FILE: a failing job's output, for the log
  if [ -f "$1" ]; then echo "  $1:" >&2; sed 's/^/    | /' "$1" >&2; fi
}

show_files() {   # DIR: every job output file in it
  local f
  for f in "$1"/*.out; do show_file "$f"; done
}

# --- tests without a scheduler --------------------------------------------------------

shellcheck_clean() {
  if ! command -v shellcheck >/dev/null 2>&1; then
    skip "shellcheck is not installed (apt-get install shellcheck): the scripts were not linted"
    return
  fi
  shellcheck "$JOBS"/*.sbatch "$JOBS"/*.pbs "$JOBS"/*.sh "$SRC/tests/test_slurm.sh" >&2 ||
    fail "shellcheck finds problems"
}

strict_mode_everywhere() {
  local f
  for f in "$JOBS"/*.sbatch "$JOBS"/*.pbs "$JOBS"/*.sh; do
    grep -q '^set -euo pipefail$' "$f" || fail "$(basename "$f") lacks set -euo pipefail"
    head -n 1 "$f" | grep -q '^#!/usr/bin/env bash$' || fail "$(basename "$f") lacks the bash shebang"
  done
  # directives must come before the first command, or the scheduler ignores them
  for f in "$JOBS"/*.sbatch; do
    awk '/^[^#]/ && NF { code = 1 } /^#SBATCH/ && code { bad = 1 } END { exit bad }' "$f" ||
      fail "$(basename "$f"): an #SBATCH line after the first command"
  done
  awk '/^[^#]/ && NF { code = 1 } /^#PBS/ && code { bad = 1 } END { exit bad }' "$JOBS/cmsim-node.pbs" ||
    fail "cmsim-node.pbs: a #PBS line after the first command"
  grep -q -- '--cpus-per-task' "$JOBS/cmsim-node.sbatch" || fail "node script without --cpus-per-task"
  grep -q 'PBS_O_WORKDIR' "$JOBS/cmsim-node.pbs" || fail "PBS script does not use PBS_O_WORKDIR"
}

node_script_by_hand() {
  reference
  local w=$TMP/hand
  mkdir -p "$w"
  # Outside Slurm: one thread per CPU this process may use, results named local-<pid>.
  (cd "$w" && env -u SLURM_JOB_ID -u SLURM_CPUS_PER_TASK CMSIM_BIN="$BIN" \
     bash "$JOBS/cmsim-node.sbatch" "$SCEN" $PATHS "" --seed $SEED --quiet) >"$w/log" 2>&1 ||
    { fail "cmsim-node.sbatch by hand failed"; show_file "$w/log"; return; }
  local d
  d=$(find "$w/results" -mindepth 1 -maxdepth 1 -name 'cmsim-local-*' -type d | head -n 1)
  [ -n "$d" ] || { fail "no results/cmsim-local-<pid> folder"; show_file "$w/log"; return; }
  same_as_reference "$d" "node script by hand"
  grep -q "$(nproc) threads" "$w/log" || fail "node script did not use nproc threads: $(head -n 1 "$w/log")"
  # a second run into the same folder stops with cmsim's "exists" status
  (cd "$w" && CMSIM_BIN="$BIN" bash "$JOBS/cmsim-node.sbatch" "$SCEN" $PATHS "$d" --quiet) >/dev/null 2>&1
  local rc=$?
  [ $rc -eq 5 ] || fail "re-run into an existing folder: status $rc, expected 5"
  # an unknown program is a usage error, before anything runs
  CMSIM_BIN=$TMP/no-such-cmsim bash "$JOBS/cmsim-node.sbatch" "$SCEN" >/dev/null 2>&1
  rc=$?
  [ $rc -eq 3 ] || fail "missing cmsim program: status $rc, expected 3"
}

pbs_script_by_hand() {
  reference
  local w=$TMP/pbs
  mkdir -p "$w"
  # As PBS would start it: in the home folder, PBS_O_WORKDIR naming the submit folder.
  (cd / && env PBS_O_WORKDIR="$w" PBS_JOBID=77.pbs-server PBS_JOBNAME=cmsimpbs NCPUS=2 \
      CMSIM_SCENARIO="$SCEN" CMSIM_PATHS=$PATHS CMSIM_SEED=$SEED CMSIM_BIN="$BIN" \
      bash "$JOBS/cmsim-node.pbs") >"$w/log" 2>&1 ||
    { fail "cmsim-node.pbs by hand failed"; show_file "$w/log"; return; }
  same_as_reference "$w/results/cmsimpbs-77" "PBS script"
  grep -q "2 threads" "$w/log" || fail "PBS script did not take NCPUS=2: $(head -n 1 "$w/log")"
}

array_and_merge_by_hand() {
  reference
  local w=$TMP/arr k rc
  mkdir -p "$w"
  # The array tasks as Slurm would start them (last first: order must not matter); the
  # middle one keeps a checkpoint, which the finished part removes.
  local ck
  for k in $(seq $NPARTS -1 1); do
    ck=no
    [ "$k" -eq 2 ] && ck=yes
    (cd "$w" && env SLURM_ARRAY_TASK_ID="$k" SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=$NPARTS \
        SLURM_ARRAY_TASK_COUNT=$NPARTS SLURM_ARRAY_JOB_ID=500 SLURM_JOB_ID=$((500 + k)) \
        SLURM_JOB_NAME=cmsim-part SLURM_CPUS_PER_TASK=1 CMSIM_BIN="$BIN" \
        CMSIM_CHECKPOINT=$ck \
        bash "$JOBS/cmsim-array.sbatch" "$SCEN" $PATHS "" --seed $SEED) >>"$w/log" 2>&1 ||
      { fail "array task $k failed"; show_file "$w/log"; return; }
  done
  for k in $(seq 1 $NPARTS); do
    [ -f "$w/results/cmsim-part-500.parts/part-$k-of-$NPARTS.cmpart" ] || fail "part $k missing"
  done
  grep -qF -- "--checkpoint results/cmsim-part-500.parts/part-2-of-$NPARTS.ckpt" "$w/log" ||
    fail "CMSIM_CHECKPOINT=yes did not ask for a checkpoint"
  [ -e "$w/results/cmsim-part-500.parts/part-2-of-$NPARTS.ckpt" ] && fail "a finished part left its checkpoint"
  # a task run again replaces its part file (requeue) and the result stays the same
  (cd "$w" && env SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=$NPARTS \
      SLURM_ARRAY_TASK_COUNT=$NPARTS SLURM_ARRAY_JOB_ID=500 SLURM_JOB_NAME=cmsim-part \
      SLURM_CPUS_PER_TASK=2 CMSIM_BIN="$BIN" \
      bash "$JOBS/cmsim-array.sbatch" "$SCEN" $PATHS "" --seed $SEED) >>"$w/log" 2>&1 ||
    { fail "array task 1 run again failed"; show_file "$w/log"; return; }
  (cd "$w" && CMSIM_BIN="$BIN" bash "$JOBS/cmsim-merge.sbatch" results/cmsim-part-500.parts "" --quiet) \
    >>"$w/log" 2>&1 || { fail "merge failed"; show_file "$w/log"; return; }
  same_as_reference "$w/results/cmsim-part-500" "array + merge by hand"

  # the merge names missing parts and refuses
  rm "$w/results/cmsim-part-500.parts/part-2-of-$NPARTS.cmpart"
  CMSIM_BIN="$BIN" bash "$JOBS/cmsim-merge.sbatch" "$w/results/cmsim-part-500.parts" "$w/m2" \
    >/dev/null 2>"$w/err"
  rc=$?
  [ $rc -eq 4 ] || fail "merge with a part missing: status $rc, expected 4"
  grep -q "lacks part(s) 2 of $NPARTS" "$w/err" || fail "missing part not named: $(cat "$w/err")"
  [ -e "$w/m2" ] && fail "a merge with a missing part left a result folder"
  # ... and part files of different splits
  : >"$w/results/cmsim-part-500.parts/part-1-of-5.cmpart"
  CMSIM_BIN="$BIN" bash "$JOBS/cmsim-merge.sbatch" "$w/results/cmsim-part-500.parts" "$w/m3" \
    >/dev/null 2>&1
  rc=$?
  [ $rc -eq 3 ] || fail "merge of mixed splits: status $rc, expected 3"
  (cd "$w" && env SLURM_ARRAY_TASK_ID=1 CMSIM_PARTS=3 CMSIM_CHECKPOINT=maybe CMSIM_BIN="$BIN" \
     bash "$JOBS/cmsim-array.sbatch" "$SCEN" $PATHS "$w/p4") >/dev/null 2>&1
  rc=$?
  [ $rc -eq 3 ] || fail "CMSIM_CHECKPOINT=maybe: status $rc, expected 3"
  [ -e "$w/p4" ] && fail "a refused array task created its parts folder"
  # outside Slurm altogether (CMSIM_PARTS given): part files under results/cmsim-part-local.parts
  (cd "$w" && env SLURM_ARRAY_TASK_ID=3 CMSIM_PARTS=3 CMSIM_BIN="$BIN" \
     bash "$JOBS/cmsim-array.sbatch" "$SCEN" $PATHS "" --seed $SEED) >/dev/null 2>&1 ||
    fail "array task without SLURM_JOB_ID failed"
  [ -s "$w/results/cmsim-part-local.parts/part-3-of-3.cmpart" ] ||
    fail "no results/cmsim-part-local.parts/part-3-of-3.cmpart"
  # an array task outside 1..N, or not in an array at all, is refused
  env SLURM_ARRAY_TASK_ID=4 CMSIM_PARTS=3 CMSIM_BIN="$BIN" bash "$JOBS/cmsim-array.sbatch" "$SCEN" \
    >/dev/null 2>&1
  rc=$?
  [ $rc -eq 3 ] || fail "array index 4 of 3: status $rc, expected 3"
  env -u SLURM_ARRAY_TASK_ID CMSIM_BIN="$BIN" bash "$JOBS/cmsim-array.sbatch" "$SCEN" >/dev/null 2>&1
  rc=$?
  [ $rc -eq 3 ] || fail "array script outside an array: status $rc, expected 3"
  # a partial resubmission (--array=2) must be told N
  env SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=2 SLURM_ARRAY_TASK_MAX=2 SLURM_ARRAY_TASK_COUNT=1 \
    CMSIM_BIN="$BIN" bash "$JOBS/cmsim-array.sbatch" "$SCEN" >/dev/null 2>"$w/err"
  rc=$?
  [ $rc -eq 3 ] || fail "array 2-2 without CMSIM_PARTS: status $rc, expected 3"
  grep -q CMSIM_PARTS "$w/err" || fail "array 2-2 without CMSIM_PARTS: no advice: $(cat "$w/err")"
}

mpi_script_checks() {
  # several ranks of a program without MPI would each run everything: refused
  if command -v ldd >/dev/null 2>&1 && ! ldd "$BIN" | grep -q libmpi; then
    local rc
    env SLURM_NTASKS=2 SLURM_CPUS_PER_TASK=1 CMSIM_BIN="$BIN" bash "$JOBS/cmsim-mpi.sbatch" "$SCEN" \
      >/dev/null 2>"$TMP/mpierr"
    rc=$?
    [ $rc -eq 3 ] || fail "2 ranks of a non-MPI cmsim: status $rc, expected 3"
    grep -q CMSIM_WITH_MPI "$TMP/mpierr" || fail "no advice to build with MPI: $(cat "$TMP/mpierr")"
  fi
  env SLURM_NTASKS=1 CMSIM_LAUNCHER=bogus CMSIM_BIN="$BIN" bash "$JOBS/cmsim-mpi.sbatch" "$SCEN" \
    >/dev/null 2>&1
  [ $? -eq 3 ] || fail "unknown launcher accepted"
}

# submit-array.sh against a stand-in sbatch that records its arguments.
submit_array_wiring() {
  local w=$TMP/fake rc
  mkdir -p "$w/bin"
  cat >"$w/bin/sbatch" <<'EOF'
#!/usr/bin/env bash
n=$(($(cat "$FAKE_DIR/count" 2>/dev/null || echo 0) + 1))
echo "$n" >"$FAKE_DIR/count"
printf '%s\n' "$@" >"$FAKE_DIR/call$n"
echo "CMSIM_PARTS=${CMSIM_PARTS:-} CMSIM_BIN=${CMSIM_BIN:-}" >"$FAKE_DIR/env$n"
echo "$((4100 + n));fakecluster"
exit "${FAKE_RC:-0}"
EOF
  # scontrol show job -o ID, as the controller answers after the job ended
  cat >"$w/bin/scontrol" <<'EOF'
#!/usr/bin/env bash
if [ "$4" = 4101 ]; then
  echo "JobId=4103 ArrayJobId=4101 ArrayTaskId=2 JobName=cmsim UserId=u(1) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 ExitCode=2:0"
  echo "JobId=4101 ArrayJobId=4101 ArrayTaskId=1 JobName=cmsim UserId=u(1) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1 ExitCode=0:0"
else
  echo "JobId=$4 JobName=cmsim-merge UserId=u(1) JobState=${FAKE_STATE:-COMPLETED} Reason=None Dependency=(null) Requeue=1 ExitCode=0:0"
fi
EOF
  chmod +x "$w/bin/sbatch" "$w/bin/scontrol"
  (cd "$w" && PATH="$w/bin:$PATH" FAKE_DIR=$w bash "$JOBS/submit-array.sh" -n 3 -p 900 -b /x/cmsim \
      -s --partition=short -a --cpus-per-task=8 "$SCEN" --seed 5) >"$w/out" 2>&1 ||
    { fail "submit-array.sh with a stand-in sbatch failed"; show_file "$w/out"; return; }
  grep -qx -- '--array=1-3' "$w/call1" || fail "array call lacks --array=1-3"
  grep -qx -- '--partition=short' "$w/call1" || fail "array call lacks the -s option"
  grep -qx -- '--cpus-per-task=8' "$w/call1" || fail "array call lacks the -a option"
  grep -qx -- "$JOBS/cmsim-array.sbatch" "$w/call1" || fail "array call does not submit cmsim-array.sbatch"
  # script arguments: SCENARIO PATHS PARTS_DIR(default) then the run options
  tail -n 5 "$w/call1" | tr '\n' '|' | grep -qxF -- "$SCEN|900||--seed|5|" ||
    fail "array script arguments: $(tail -n 5 "$w/call1" | tr '\n' '|')"
  grep -qx 'CMSIM_PARTS=3 CMSIM_BIN=/x/cmsim' "$w/env1" || fail "array environment: $(cat "$w/env1")"
  grep -qx -- '--dependency=afterok:4101' "$w/call2" || fail "merge does not depend on the array id"
  grep -qx -- '--kill-on-invalid-dep=yes' "$w/call2" || fail "merge lacks --kill-on-invalid-dep=yes"
  grep -qx -- '--partition=short' "$w/call2" || fail "merge lacks the -s option"
  grep -qx -- '--cpus-per-task=8' "$w/call2" && fail "the -a option reached the merge"
  grep -qx -- '--wait' "$w/call2" && fail "--wait without -w"
  tail -n 3 "$w/call2" | tr '\n' '|' | grep -qxF -- "$JOBS/cmsim-merge.sbatch|results/cmsim-4101.parts|results/cmsim-4101|" ||
    fail "merge script arguments: $(tail -n 3 "$w/call2" | tr '\n' '|')"
  grep -q '^array job 4101' "$w/out" || fail "array id not printed: $(cat "$w/out")"
  grep -q '^merge job 4102' "$w/out" || fail "merge id not printed: $(cat "$w/out")"

  # --out DIR puts the parts in DIR.parts; -w waits
  rm -f "$w"/call* "$w"/count
  (cd "$w" && PATH="$w/bin:$PATH" FAKE_DIR=$w bash "$JOBS/submit-array.sh" -w -o runs/x/ "$SCEN") \
    >"$w/out" 2>&1 || fail "submit-array.sh -w -o failed: $(cat "$w/out")"
  tail -n 3 "$w/call2" | tr '\n' '|' | grep -qxF -- "$JOBS/cmsim-merge.sbatch|runs/x.parts|runs/x|" ||
    fail "merge arguments with --out: $(tail -n 3 "$w/call2" | tr '\n' '|')"
  tail -n 3 "$w/call1" | tr '\n' '|' | grep -qxF -- "$SCEN||runs/x.parts|" ||
    fail "array arguments with --out: $(tail -n 3 "$w/call1" | tr '\n' '|')"
  grep -qx -- '--wait' "$w/call2" || fail "-w does not make the merge sbatch wait"
  grep -q '^merged results in runs/x$' "$w/out" || fail "-w: no final line: $(cat "$w/out")"

  # -w: a merge that ended CANCELLED (a part failed) is a failure, whatever sbatch says
  rm -f "$w"/call* "$w"/count
  (cd "$w" && PATH="$w/bin:$PATH" FAKE_DIR=$w FAKE_STATE=CANCELLED \
      bash "$JOBS/submit-array.sh" -w "$SCEN") >"$w/out" 2>&1
  rc=$?
  [ $rc -eq 1 ] || fail "-w with a cancelled merge: status $rc, expected 1"
  grep -q 'merge job 4102 did not succeed (CANCELLED)' "$w/out" || fail "cancelled merge: $(cat "$w/out")"
  grep -q 'part 2: FAILED, exit code 2:0' "$w/out" || fail "failed part not shown: $(cat "$w/out")"

  # a failing sbatch is reported with its status
  rm -f "$w"/call* "$w"/count
  (cd "$w" && PATH="$w/bin:$PATH" FAKE_DIR=$w FAKE_RC=1 bash "$JOBS/submit-array.sh" "$SCEN") \
    >/dev/null 2>&1
  rc=$?
  [ $rc -eq 1 ] || fail "failing sbatch: status $rc, expected 1"
  # usage errors
  bash "$JOBS/submit-array.sh" --help | grep -q 'usage: submit-array.sh' || fail "--help"
  bash "$JOBS/submit-array.sh" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "no arguments: status $rc, expected 2"
  bash "$JOBS/submit-array.sh" -n 0 "$SCEN" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "--parts 0: status $rc, expected 2"
  bash "$JOBS/submit-array.sh" "$TMP/none.cfg" >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] || fail "missing scenario: status $rc, expected 2"
}

# --- tests on the private Slurm --------------------------------------------------------

slurm_node_job() {
  reference
  local w=$TMP/work/node id
  mkdir -p "$w"
  id=$(cd "$w" && CMSIM_BIN="$BIN" timeout 120 sbatch --parsable --wait --cpus-per-task="$NCPUS" \
         --time=15 "$JOBS/cmsim-node.sbatch" "$SCEN" $PATHS "" --seed $SEED --quiet) ||
    { fail "sbatch --wait cmsim-node.sbatch failed"; show_files "$w"; return; }
  id=${id%%;*}
  same_as_reference "$w/results/cmsim-$id" "node job $id"
  grep -q "$NCPUS threads" "$w/cmsim-$id.out" ||
    fail "node job did not run $NCPUS threads: $(head -n 2 "$w/cmsim-$id.out")"
}

slurm_mpi_job_one_rank() {
  reference
  local w=$TMP/work/mpi id
  mkdir -p "$w"
  id=$(cd "$w" && CMSIM_BIN="$BIN" timeout 120 sbatch --parsable --wait --nodes=1 --ntasks-per-node=1 \
         --cpus-per-task="$NCPUS" --time=15 "$JOBS/cmsim-mpi.sbatch" "$SCEN" $PATHS "" --seed $SEED --quiet) ||
    { fail "sbatch --wait cmsim-mpi.sbatch failed"; show_files "$w"; return; }
  id=${id%%;*}
  same_as_reference "$w/results/cmsim-mpi-$id" "one-rank MPI job $id"
  grep -q "1 ranks (1 per node) x $NCPUS threads" "$w/cmsim-mpi-$id.out" ||
    fail "MPI job layout: $(head -n 1 "$w/cmsim-mpi-$id.out")"
}

# The warning signal before the time limit (--signal=B:TERM, here sent by hand with
# scancel --batch): the node script passes it to cmsim, which writes its checkpoint and
# exits 7; the same command submitted again resumes and ends as one uninterrupted run.
slurm_checkpoint_resume() {
  local w=$TMP/work/ckpt paths=200000 id id2 i state
  mkdir -p "$w"
  "$BIN" run "$SCEN" --paths $paths --seed $SEED --out "$w/ref" --quiet ||
    { fail "reference run of $paths paths"; return; }
  submit() {
    (cd "$w" && CMSIM_BIN="$BIN" CMSIM_CHECKPOINT=$w/run.ckpt sbatch --parsable --cpus-per-task=1 \
       --time=15 "$JOBS/cmsim-node.sbatch" "$SCEN" $paths "$w/out" --seed $SEED)
  }
  id=$(submit) || { fail "sbatch of the node job with a checkpoint"; return; }
  id=${id%%;*}
  # signal once cmsim has started computing (its start line is in the job output)
  for ((i = 0; i < 300; i++)); do
    grep -q "^cmsim: example:" "$w/cmsim-$id.out" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  scancel --batch --signal=TERM "$id" || fail "scancel --batch --signal=TERM $id"
  for ((i = 0; i < 300; i++)); do
    state=$(scontrol show job -o "$id" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p')
    case $state in PENDING|RUNNING|COMPLETING|'') sleep 0.1 ;; *) break ;; esac
  done
  scontrol show job -o "$id" | grep -q ' ExitCode=7:0' ||
    { fail "interrupted job: $(scontrol show job -o "$id" | grep -o 'JobState=[^ ]* .*ExitCode=[^ ]*')"
      show_files "$w"; return; }
  [ -f "$w/run.ckpt" ] || fail "no checkpoint after the interruption"
  [ -e "$w/out" ] && fail "an interrupted run left a result folder"
  grep -q "submit the same command again to resume" "$w/cmsim-$id.out" ||
    fail "no resume advice in the job output"

  id2=$(submit) || { fail "sbatch of the resumed job"; return; }
  id2=${id2%%;*}
  for ((i = 0; i < 600; i++)); do
    state=$(scontrol show job -o "$id2" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p')
    case $state in PENDING|RUNNING|COMPLETING|'') sleep 0.2 ;; *) break ;; esac
  done
  [ "$state" = COMPLETED ] || { fail "resumed job $id2 ended $state"; show_files "$w"; return; }
  grep -q "resuming from" "$w/cmsim-$id2.out" || fail "the second job did not resume"
  cmp -s "$w/ref/summary.csv" "$w/out/summary.csv" ||
    fail "interrupted + resumed run differs from one plain run"
  [ -e "$w/run.ckpt" ] && fail "the checkpoint was not removed after the finished run"
}

slurm_array_merge() {
  reference
  local w=$TMP/work/array aid mid
  mkdir -p "$w"
  (cd "$w" && timeout 150 bash "$JOBS/submit-array.sh" --wait -n $NPARTS -p $PATHS -b "$BIN" \
      -s --time=15 -a --cpus-per-task=1 "$SCEN" --seed $SEED) >"$w/submit.log" 2>&1 ||
    { fail "submit-array.sh --wait failed"; show_file "$w/submit.log"; show_files "$w"; return; }
  aid=$(awk '/^array job/ { sub(":", "", $3); print $3 }' "$w/submit.log")
  mid=$(awk '/^merge job/ { sub(":", "", $3); print $3 }' "$w/submit.log")
  if [ -z "$aid" ] || [ -z "$mid" ]; then fail "job ids not printed: $(cat "$w/submit.log")"; return; fi
  local k
  for k in $(seq 1 $NPARTS); do
    [ -f "$w/results/cmsim-$aid.parts/part-$k-of-$NPARTS.cmpart" ] || fail "part $k of array $aid missing"
    [ -f "$w/cmsim-${aid}_$k.out" ] || fail "no output file of array task $k"
  done
  same_as_reference "$w/results/cmsim-$aid" "array $aid + merge $mid"
  grep -q "results in results/cmsim-$aid" "$w/cmsim-merge-$mid.out" ||
    fail "merge job output: $(cat "$w/cmsim-merge-$mid.out")"
}

slurm_failed_part_cancels_merge() {
  local w=$TMP/work/bad rc
  mkdir -p "$w"
  printf 'name = "bad";\nrun = { paths = 100; horizon = 5; seeed = 3; };\n' >"$w/bad.cfg"
  (cd "$w" && timeout 150 bash "$JOBS/submit-array.sh" --wait -n 2 -o out -b "$BIN" \
      -s --time=15 -a --cpus-per-task=1 bad.cfg) >"$w/submit.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] || fail "submit-array.sh --wait succeeded although every part failed"
  [ $rc -eq 124 ] && fail "the merge was left waiting (timeout): no --kill-on-invalid-dep?"
  [ -e "$w/out" ] && fail "a result folder appeared although the parts failed"
  ls "$w"/cmsim-merge-*.out >/dev/null 2>&1 && fail "the merge job ran although the parts failed"
  grep -q "did not succeed" "$w/submit.log" || fail "no failure message: $(cat "$w/submit.log")"
  local k
  for k in 1 2; do
    grep -q "part $k: FAILED, exit code 2:0" "$w/submit.log" ||
      fail "failed part $k is not listed: $(cat "$w/submit.log")"
  done
}

run_test shellcheck_clean
run_test strict_mode_everywhere
run_test node_script_by_hand
run_test pbs_script_by_hand
run_test array_and_merge_by_hand
run_test mpi_script_checks
run_test submit_array_wiring
run_slurm_test slurm_node_job
run_slurm_test slurm_mpi_job_one_rank
run_slurm_test slurm_checkpoint_resume
run_slurm_test slurm_array_merge
run_slurm_test slurm_failed_part_cancels_merge

if [ $skipped -gt 0 ]; then
  echo "SKIP test_slurm: $skipped test(s) skipped (see the SKIP lines above)"
  echo "SKIP test_slurm: $skipped test(s) skipped (see the SKIP lines above)" >&2
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
