#!/usr/bin/env bash
# tests/fuzz/run.sh - build the libFuzzer harness and fuzz the configuration
# path for a while (make fuzz).
#
# usage: tests/fuzz/run.sh [SECONDS]      (default: $FUZZ_SECONDS or 60)
# environment:
#   FUZZ_BUILD     build folder (default build-fuzz); the corpus grown by
#                  earlier runs is kept in FUZZ_BUILD/corpus
#   FUZZ_OPTIONAL  1: when clang with libFuzzer cannot be had, say so and
#                  exit 0 (CI); otherwise that is an error
#   FUZZ_ARGS      extra libFuzzer flags (e.g. -jobs=2)
#
# Steps: make sure clang, libFuzzer and LLVM's OpenMP runtime are there
# (installing clang libclang-rt-14-dev libomp-dev with apt-get as root when
# they are not), build with -fsanitize=fuzzer,address,undefined, replay every
# regression input in tests/fuzz/regressions, then fuzz from the seeds
# (tests/fuzz/seed.sh: scenarios/, tests/fuzz/seeds, tests/bad_inputs/, the
# regressions) and the corpus earlier runs grew.  A
# crash leaves its input in FUZZ_BUILD/artifacts/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-${FUZZ_SECONDS:-60}}
BUILD=${FUZZ_BUILD:-build-fuzz}
OPTIONAL=${FUZZ_OPTIONAL:-0}
JOBS=$(nproc 2>/dev/null || echo 2)

have_libfuzzer() {
  command -v clang >/dev/null 2>&1 || return 1
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-fuzzcheck.XXXXXX")
  printf '#include <stdint.h>\n#include <stddef.h>\n#include <omp.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return omp_get_max_threads() > 0 ? 0 : 1; }\n' > "$d/t.c"
  local ok=0
  clang -fsanitize=fuzzer,address,undefined -fopenmp "$d/t.c" -o "$d/t" >/dev/null 2>&1 || ok=1
  rm -rf "$d"
  return $ok
}

if ! have_libfuzzer; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: installing clang libclang-rt-14-dev libomp-dev"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev libomp-dev; } || true
  fi
  if ! have_libfuzzer; then
    echo "fuzz: SKIPPED: clang with libFuzzer (-fsanitize=fuzzer) and libomp are not available here;" >&2
    echo "fuzz: install them with: apt-get install clang libclang-rt-14-dev libomp-dev" >&2
    [ "$OPTIONAL" = 1 ] && exit 0
    exit 1
  fi
fi

cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMSIM_BUILD_TESTS=OFF -DCMSIM_BUILD_FUZZ=ON -DCMSIM_WERROR=OFF >/dev/null
cmake --build "$BUILD" --target fuzz_config -j "$JOBS"
FUZZER="$BUILD/tests/fuzz/fuzz_config"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp}

# Every past finding must stay fixed (each input runs once).
shopt -s nullglob
regs=(tests/fuzz/regressions/*)
if [ ${#regs[@]} -gt 0 ]; then
  echo "fuzz: replaying ${#regs[@]} regression inputs"
  "$FUZZER" "${regs[@]}" >"$BUILD/regressions.log" 2>&1 || { cat "$BUILD/regressions.log"; exit 1; }
fi

mkdir -p "$BUILD/corpus" "$BUILD/artifacts"
rm -rf "$BUILD/seeds"
bash tests/fuzz/seed.sh "$BUILD/seeds"
echo "fuzz: fuzzing for $SECONDS_TO_RUN s (corpus $BUILD/corpus, findings in $BUILD/artifacts/)"
set +e
# shellcheck disable=SC2086
"$FUZZER" -max_total_time="$SECONDS_TO_RUN" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
  -dict=tests/fuzz/cmsim.dict -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/" \
  -seed="${FUZZ_SEED:-1}" \
  ${FUZZ_ARGS:-} "$BUILD/corpus" "$BUILD/seeds" \
  >"$BUILD/fuzz.log" 2>&1
status=$?
set -e
grep -E '^(#[0-9]+.*(INITED|DONE)|stat::|Done [0-9]+ runs)' "$BUILD/fuzz.log" || true
if [ "$status" -ne 0 ]; then
  tail -n 80 "$BUILD/fuzz.log"
  echo "fuzz: FAILED (exit $status); the input is in $BUILD/artifacts/ (log: $BUILD/fuzz.log)" >&2
  exit 1
fi
echo "fuzz: no findings in $SECONDS_TO_RUN s"
