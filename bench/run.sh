#!/usr/bin/env bash
# bench/run.sh - run cmsim's benchmarks (what `make bench` calls after building).
#
#   bash bench/run.sh [BUILD_DIR] [bench.py options]
#
# BUILD_DIR (default build-bench) must hold a Release build configured with
# -DCMSIM_BUILD_BENCH=ON: `make bench` makes it.  Options go to bench/bench.py
# (--quick for a smoke run, --reps N, --scale X, --only a,b; see --help).
# BENCH_ARGS (environment or make variable) is appended too:
#   make bench BENCH_ARGS=--quick
# Results: bench/results/<date>-<host>.md and .csv; the tables are printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build-bench}
[ $# -gt 0 ] && shift
# Any python3 runs the harness; the NumPy peer is run with /usr/bin/python3
# (bench/peer/README.md), chosen inside bench.py.
py=python3
command -v "$py" >/dev/null 2>&1 || py=/usr/bin/python3
# The command recorded in the results: make sets MAKELEVEL in its recipes.
# (The single quotes below are literal text around an expanded value.)
# shellcheck disable=SC2016
if [ -n "${MAKELEVEL:-}" ]; then
  cmd="make bench${BENCH_ARGS:+ BENCH_ARGS='$BENCH_ARGS'}"
else
  cmd="bash bench/run.sh $build${*:+ $*}${BENCH_ARGS:+ (BENCH_ARGS='$BENCH_ARGS')}"
fi
# shellcheck disable=SC2086
exec "$py" bench/bench.py --build "$build" --command "$cmd" "$@" ${BENCH_ARGS:-}
