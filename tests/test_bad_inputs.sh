#!/usr/bin/env bash
# test_bad_inputs.sh - the catalogue of bad input at the program level
# (tests/bad_inputs/cases.txt): each case runs the cmsim program and checks
# the exit status, the exact error text (file:line: setting.path: message),
# that a failed case leaves no result folder and no partial file behind, and
# that a case that must run leaves clean result files.
#
# usage: test_bad_inputs.sh CMSIM_BINARY SOURCE_DIR [CASE_NAME]
# Prints "ok NAME" / "FAIL NAME" per case ("XFAIL"/"XPASS" for the known
# engine bugs marked known=ID) and "N passed, M failed" at the end.
# Generated inputs (garbage, NUL bytes, 50 MB files) are written to a
# temporary folder at run time and removed at exit; none is committed.
set -u
BIN=$(realpath "$1")
SRC=$(realpath "$2")
ONLY=${3:-}
CASES="$SRC/tests/bad_inputs"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cmsim-bad.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
GEN="$TMP/gen"   # generated inputs (%T)
OUTS="$TMP/out"  # one result folder per case, must stay absent on failure
WORK="$TMP/cwd"  # the working directory: nothing may be written here
mkdir -p "$GEN" "$OUTS" "$WORK"
# shellcheck source=lib.sh
. "$SRC/tests/lib.sh"

# --- generated inputs --------------------------------------------------------
generate() {
  local valid="$CASES/valid.cfg"
  # 4 KiB of deterministic binary garbage (every byte value, no text)
  python3 -c 'import sys; sys.stdout.buffer.write(bytes((i * 167 + 13) % 256 for i in range(4096)))' \
    > "$GEN/garbage.cfg"
  # a NUL byte at the start of line 10 of a valid file
  python3 - "$valid" "$GEN/nul.cfg" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b"countries = (")
open(sys.argv[2], "wb").write(b[:i] + b"\0" + b[i:])
EOF
  # 20000 nested lists: the parser's stack limit
  python3 -c 'print("x = " + "(" * 20000 + ")" * 20000 + ";")' > "$GEN/deep.cfg"
  # 50 MB files: binary noise; a valid file padded with comments; 4.7 million
  # distinct unknown keys
  python3 - "$valid" "$GEN" <<'EOF'
import random, sys
valid, gen = sys.argv[1], sys.argv[2]
size = 50 * 1024 * 1024
rnd = random.Random(20261128)
with open(gen + "/huge_binary.cfg", "wb") as f:
    f.write(b"\x00\xff" + rnd.randbytes(size - 2))
comment = b"# " + b"padding " * 15 + b"\n"
with open(gen + "/huge_comment.cfg", "wb") as f:
    f.write(open(valid, "rb").read())
    f.write(comment * (size // len(comment)))
with open(gen + "/huge_keys.cfg", "wb") as f:
    n, i = 0, 0
    while n < size:
        line = b"k%07d = 1;\n" % i
        f.write(line)
        n += len(line)
        i += 1
# a description of 1 MB on line 3
with open(gen + "/long_string.cfg", "w") as f:
    lines = open(valid).read().split("\n")
    lines.insert(2, 'description = "' + "d" * (1 << 20) + '";')
    f.write("\n".join(lines))
EOF
  echo "not a folder" > "$GEN/a_file"
  mkdir -p "$GEN/full_folder" && echo "earlier results" > "$GEN/full_folder/summary.csv"
}

# --- one case ---------------------------------------------------------------
# Expand placeholders into the array ARGS.
expand_args() {
  ARGS=()
  local tok
  for tok in $1; do
    case $tok in
      @*) ARGS+=("$CASES/${tok#@}") ;;
      %T) ARGS+=("$GEN") ;;
      %T/*) ARGS+=("$GEN/${tok#%T/}") ;;
      "''") ARGS+=("") ;;
      *) ARGS+=("$tok") ;;
    esac
  done
}

# run_one NAME MODE EXIT FRAGMENT TIMEOUT ARGS...: MODE is validate, run or ""
run_one() {
  local name=$1 mode=$2 want=$3 frag=$4 limit=$5
  shift 5
  local out="$OUTS/$name-$mode"
  local cmd=("$@")
  if [ "$mode" = run ]; then
    case " $* " in
      *" --out "*) cmd=(run "${cmd[@]}" --quiet) ;; # the case names its own
      *) cmd=(run "${cmd[@]}" --out "$out" --quiet) ;;
    esac
  elif [ "$mode" = validate ]; then
    cmd=(validate "${cmd[@]}")
  fi
  local rc
  (cd "$WORK" && timeout -k 5 "$limit" "$BIN" "${cmd[@]}" >"$TMP/stdout" 2>"$TMP/stderr")
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "$name ($mode): no answer within ${limit} s"
    return
  fi
  [ "$rc" -eq "$want" ] || fail "$name ($mode): exit $rc, expected $want; stderr: $(head -c 600 "$TMP/stderr")"
  if [ -n "$frag" ]; then
    local where="$TMP/stderr"
    [ "$want" -eq 0 ] && where="$TMP/stdout $TMP/stderr"
    # shellcheck disable=SC2086
    cat $where | grep -qF -- "$frag" ||
      fail "$name ($mode): expected '$frag' in: $(head -c 600 "$TMP/stderr")"
  fi
  # Nothing may be written in the working directory, whatever happened.
  if [ -n "$(ls -A "$WORK")" ]; then
    fail "$name ($mode): wrote into the working directory: $(ls -A "$WORK")"
    rm -rf "${WORK:?}"/* "${WORK:?}"/.[!.]* 2>/dev/null
  fi
  if [ "$rc" -ne 0 ]; then
    [ -e "$out" ] && fail "$name ($mode): result folder written after exit $rc"
    if find "$TMP" -name '*partial*' -print -quit | grep -q .; then
      fail "$name ($mode): partial files left: $(find "$TMP" -name '*partial*' | head -3)"
      find "$TMP" -name '*partial*' -exec rm -rf {} + 2>/dev/null
    fi
    grep -qiE '(^|[^a-z])(nan|inf)([^a-z]|$)' "$TMP/stdout" &&
      fail "$name ($mode): nan/inf on stdout"
  elif [ "$mode" = run ]; then
    [ -f "$out/summary.csv" ] && [ -f "$out/run.json" ] || fail "$name ($mode): result files missing"
    if grep -qiE '(^|,)"?(-?nan|-?inf(inity)?)"?(,|$)' "$out/summary.csv" 2>/dev/null; then
      fail "$name ($mode): nan/inf text in summary.csv"
    fi
    rm -rf "$out"
  fi
}

run_case() {
  local name=$1 want=$2 command=$3 frag=$4 flags=$5
  [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && return
  local limit=60 known="" f
  for f in $flags; do
    case $f in
      timeout=*) limit=${f#timeout=} ;;
      known=*) known=${f#known=} ;;
      *) echo "bad flag '$f' in case $name" >&2; failed=$((failed + 1)); return ;;
    esac
  done
  CUR=$name
  cur_failed=0
  cur_skipped=0
  local first=${command%% *}
  if [ "$first" = both ]; then
    expand_args "${command#both}"
    run_one "$name" validate "$want" "$frag" "$limit" "${ARGS[@]}"
    run_one "$name" run "$want" "$frag" "$limit" "${ARGS[@]}"
  elif [ "$first" = run ]; then
    expand_args "${command#run}"
    run_one "$name" run "$want" "$frag" "$limit" "${ARGS[@]}"
  else
    expand_args "$command"
    run_one "$name" "" "$want" "$frag" "$limit" "${ARGS[@]}"
  fi
  tally "$name" "$known"
}

command -v python3 >/dev/null 2>&1 || { echo "test_bad_inputs: python3 is needed to generate inputs" >&2; exit 1; }
generate
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }
ncases=0
while IFS= read -r line || [ -n "$line" ]; do
  case $line in ''|'#'*) continue ;; esac
  IFS='|' read -r c_name c_exit c_cmd c_frag c_flags <<<"$line"
  ncases=$((ncases + 1))
  run_case "$(trim "$c_name")" "$(trim "$c_exit")" "$(trim "$c_cmd")" "$(trim "$c_frag")" "$(trim "${c_flags:-}")"
done < "$CASES/cases.txt"
[ -z "$ONLY" ] && [ $ncases -lt 60 ] && { echo "only $ncases cases in cases.txt (at least 60 expected)"; failed=$((failed + 1)); }
[ -n "$ONLY" ] && [ $((passed + failed + xfailed)) -eq 0 ] && { echo "no case named $ONLY"; exit 2; }
finish
