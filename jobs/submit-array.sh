#!/usr/bin/env bash
# submit-array.sh - split one cmsim run into N Slurm array tasks and merge them: submits
# jobs/cmsim-array.sbatch as --array=1-N, then jobs/cmsim-merge.sbatch with
# --dependency=afterok:<array job id>, and prints both job ids.  The merged result folder
# is byte-identical to a single `cmsim run` of the same scenario, seed and paths.
#
# usage: submit-array.sh [OPTION...] SCENARIO [RUN_OPTION...]
#   -n, --parts N        number of parts = array tasks                 [4]
#   -p, --paths P        Monte Carlo paths of the whole run            [the file's run.paths]
#   -o, --out DIR        merged result folder; the parts go to DIR.parts
#                                                  [results/<name>-<array job id>]
#   -J, --name NAME      job name of the array; the merge is NAME-merge [cmsim]
#   -b, --bin PROG       the cmsim program (exported as CMSIM_BIN)     [the job scripts' default]
#   -s, --sbatch OPT     an sbatch option for both jobs (repeat it), e.g. -s --partition=short
#   -a, --array-sbatch OPT  an sbatch option for the array only, e.g. -a --cpus-per-task=64
#   -w, --wait           wait until the merge job ends; exit with its status
#   -h, --help           this text
#   RUN_OPTION...        more `cmsim run` options for every part (--seed 7, --set K=V)
# Environment: sbatch's own input variables (SBATCH_PARTITION, SBATCH_ACCOUNT,
# SBATCH_TIMELIMIT, ...) apply to both jobs; the job scripts must be in the same folder as
# this script.  Relative paths are relative to the current folder, where the jobs also run.
#
# Exit status: 0 submitted (with --wait: merged), 2 usage error, 1 sbatch failed, or with
# --wait the merge job's status (non-zero also when a part failed and the merge was
# cancelled).
set -euo pipefail

usage() { sed -n '/^# usage:/,/^# Exit status/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "submit-array: $*" >&2; exit 2; }

parts=4
paths=""
out=""
name=cmsim
wait=0
both=()
array_only=()
while [ $# -gt 0 ]; do
  case $1 in
    -n|--parts)        [ $# -ge 2 ] || die "$1 needs a value"; parts=$2; shift 2 ;;
    -p|--paths)        [ $# -ge 2 ] || die "$1 needs a value"; paths=$2; shift 2 ;;
    -o|--out)          [ $# -ge 2 ] || die "$1 needs a value"; out=$2; shift 2 ;;
    -J|--name)         [ $# -ge 2 ] || die "$1 needs a value"; name=$2; shift 2 ;;
    -b|--bin)          [ $# -ge 2 ] || die "$1 needs a value"; export CMSIM_BIN=$2; shift 2 ;;
    -s|--sbatch)       [ $# -ge 2 ] || die "$1 needs a value"; both+=("$2"); shift 2 ;;
    -a|--array-sbatch) [ $# -ge 2 ] || die "$1 needs a value"; array_only+=("$2"); shift 2 ;;
    -w|--wait)         wait=1; shift ;;
    -h|--help)         usage; exit 0 ;;
    --)                shift; break ;;
    -*)                die "unknown option $1 (see --help)" ;;
    *)                 break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
scenario=$1
shift
case $parts in ''|*[!0-9]*|0) die "--parts must be a positive whole number, not '$parts'" ;; esac
[ -f "$scenario" ] || die "no scenario file $scenario"
command -v sbatch >/dev/null 2>&1 || die "sbatch not found: run this on a Slurm login node"

jobs_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for f in cmsim-array.sbatch cmsim-merge.sbatch; do
  [ -f "$jobs_dir/$f" ] || die "missing $jobs_dir/$f"
done

# Every part must learn N even if the array is throttled or only partly resubmitted; the
# other settings travel as arguments, so none may come from the caller's environment.
export CMSIM_PARTS=$parts
unset CMSIM_SCENARIO CMSIM_PATHS CMSIM_OUT CMSIM_PARTS_DIR
if [ -n "$out" ]; then
  out=${out%/}
  parts_dir=$out.parts
else
  parts_dir=""           # cmsim-array.sbatch's default: results/<name>-<array job id>.parts
fi

submitted=$(sbatch --parsable --job-name="$name" --array="1-$parts" \
                   ${both[@]+"${both[@]}"} ${array_only[@]+"${array_only[@]}"} \
                   "$jobs_dir/cmsim-array.sbatch" "$scenario" "$paths" "$parts_dir" \
                   ${1+"$@"}) || { echo "submit-array: sbatch of the array failed" >&2; exit 1; }
array_id=${submitted%%;*}
if [ -z "$out" ]; then
  out=results/$name-$array_id
  parts_dir=$out.parts
fi
echo "array job $array_id: $parts parts of $scenario -> $parts_dir"

merge=(sbatch --parsable --job-name="$name-merge" --dependency="afterok:$array_id"
       --kill-on-invalid-dep=yes ${both[@]+"${both[@]}"})
[ "$wait" -eq 1 ] && merge+=(--wait)
merge+=("$jobs_dir/cmsim-merge.sbatch" "$parts_dir" "$out")

# With --wait, sbatch prints the id at submission and returns when the job ends.  Its
# status alone does not tell a merge that was cancelled (a part failed) from one that ran,
# so the job's final state is asked for too.
shopt -s lastpipe
rc=0
merge_id=""
"${merge[@]}" | {
  if IFS= read -r line; then
    merge_id=${line%%;*}
    echo "merge job $merge_id: after $array_id -> $out"
    cat
  else
    false
  fi
} || rc=$?
if [ "$rc" -eq 0 ] && [ "$wait" -eq 1 ]; then
  state=$(scontrol show job -o "$merge_id" 2>/dev/null | sed -n 's/.* JobState=\([A-Z_]*\).*/\1/p')
  case $state in
    COMPLETED|'') ;;   # '': the controller has forgotten it; sbatch's status stands
    *) rc=1 ;;
  esac
fi
if [ "$rc" -ne 0 ]; then
  if [ "$wait" -eq 1 ] && [ -n "$merge_id" ]; then
    echo "submit-array: the merge job $merge_id did not succeed (${state:-status $rc})" >&2
    # which parts failed: one line per array task the controller still knows
    scontrol show job -o "$array_id" 2>/dev/null |
      sed -n 's/.* ArrayTaskId=\([^ ]*\) .* JobState=\([A-Z_]*\) .* ExitCode=\([0-9:]*\).*/  part \1: \2, exit code \3/p' >&2
  else
    echo "submit-array: sbatch of the merge failed; the array job $array_id is queued" >&2
  fi
  exit "$rc"
fi
[ "$wait" -eq 1 ] && echo "merged results in $out"
exit 0
