#!/usr/bin/env bash
# tests/fuzz/seed.sh - assemble the fuzzer's seed corpus into a folder.
#
# usage: tests/fuzz/seed.sh OUT_DIR
#
# Seeds: the scenario files (scenarios/*.cfg), the hand-written seeds
# (tests/fuzz/seeds: a small scenario touching every kind of setting, a
# batch with variants and sweeps, includes), every case of the bad-input
# catalogue (tests/bad_inputs/*.cfg, written by the catalogue's generator
# as single edits of a valid scenario), and every past finding
# (tests/fuzz/regressions).  Catalogue cases that include another file of
# the catalogue are turned into the harness's two-file form (fuzz_config.c:
# the included text after a "#@@ include" line, named inc.cfg).
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
OUT=${1:?usage: seed.sh OUT_DIR}
mkdir -p "$OUT"
cp "$SRC"/scenarios/*.cfg "$SRC"/tests/fuzz/seeds/* "$OUT"/
for f in "$SRC"/tests/fuzz/regressions/*; do
  [ -f "$f" ] && cp "$f" "$OUT/regression_$(basename "$f")"
done
for f in "$SRC"/tests/bad_inputs/*.cfg; do
  name=$(basename "$f" .cfg)
  inc=$(sed -n 's/^[[:space:]]*@include "\([^"]*\)".*/\1/p' "$f" | head -1)
  if [ -n "$inc" ] && [ -f "$SRC/tests/bad_inputs/$inc" ]; then
    { sed "s|@include \"$inc\"|@include \"inc.cfg\"|" "$f"
      printf '#@@ include\n'
      cat "$SRC/tests/bad_inputs/$inc"; } > "$OUT/bad_$name.cfg"
  else
    cp "$f" "$OUT/bad_$name.cfg"
  fi
done
echo "seed.sh: $(ls "$OUT" | wc -l) seeds in $OUT"
