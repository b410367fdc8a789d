#!/usr/bin/env bash
# tests/hardening/tsan.sh - the threaded tests under ThreadSanitizer (part of
# `make sanitize`).
#
# usage: tests/hardening/tsan.sh [BUILD_DIR]   (default build-tsan)
#
# GCC's libgomp is not instrumented and TSan reports its internal
# synchronisation as races, so this build uses clang with LLVM's OpenMP
# runtime (libomp) and its Archer tool (libarcher.so, OMPT), which tells
# TSan about OpenMP's barriers, ordered regions and reductions.  Needs clang
# and libomp-dev (installed with apt-get when running as root); without
# them it says so and exits 0 (TSAN_REQUIRED=1 makes that an error).
#
# The tests: every program that runs the parallel driver on more than one
# thread (test_batch, test_edges: 2 threads; test_cli: 1, 2 and 3 threads,
# reversed block order, SIGTERM during a run).  A race ends the program with
# exit status 66, which fails its test.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-tsan}
JOBS=$(nproc 2>/dev/null || echo 2)
TESTS=(test_batch test_edges test_cli)
TARGETS=(cmsim_cli test_batch test_edges)

archer() {
  local f
  for f in /usr/lib/llvm-*/lib/libarcher.so; do
    [ -e "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}
have_tsan() {
  command -v clang >/dev/null 2>&1 && archer >/dev/null || return 1
  local d ok=0
  d=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-tsancheck.XXXXXX")
  printf '#include <omp.h>\nint main(void) { int n = 0;\n#pragma omp parallel reduction(+:n)\n n += 1;\n return n > 0 ? 0 : 1; }\n' > "$d/t.c"
  # run as the tests run: without Archer, libomp's own locking reads as races
  clang -fsanitize=thread -fopenmp "$d/t.c" -o "$d/t" >/dev/null 2>&1 &&
    OMP_TOOL_LIBRARIES=$(archer) TSAN_OPTIONS=ignore_noninstrumented_modules=1 "$d/t" >/dev/null 2>&1 || ok=1
  rm -rf "$d"
  return $ok
}

if ! have_tsan; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "tsan: installing clang libomp-dev"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends clang libomp-dev; } || true
  fi
  if ! have_tsan; then
    echo "tsan: SKIPPED: clang with -fsanitize=thread and LLVM's libomp with libarcher.so are not available" >&2
    echo "tsan: install them with: apt-get install clang libomp-dev" >&2
    [ "${TSAN_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
  fi
fi

# -Werror off: clang warns where GCC does not (e.g. -Wbitwise-instead-of-logical).
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMSIM_BUILD_TESTS=ON -DCMSIM_WERROR=OFF \
  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"
OMP_TOOL_LIBRARIES=$(archer)
export OMP_TOOL_LIBRARIES
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
regex=$(IFS='|'; echo "^(${TESTS[*]})\$")
cd "$BUILD" && ctest --output-on-failure -j "$JOBS" -R "$regex"
