#!/bin/sh
# Runs one CLI case file against the ultrasim binary. A case is data:
#   args: ARGUMENTS...          (split by the shell; run from the repository root)
#   setup: COMMAND              (optional, repeatable; a shell command run first, in the
#                                repository root, e.g. to put a file where the case writes;
#                                $US is the ultrasim binary)
#   stdin: FILE                 (optional; fed to standard input)
#   exit: N                     (expected exit code)
#   stdout: TEXT                (a line of standard output must contain TEXT; repeatable)
#   stderr: TEXT                (the same for standard error)
#   stdout-not: TEXT / stderr-not: TEXT   (must not appear anywhere)
#   stderr-lines: N             (standard error has exactly N lines)
#   stdout-matches: REGEX       (grep -E on standard output; repeatable)
#   stdout-is: FILE             (standard output equals FILE byte for byte: the whole output)
#   stderr-is: FILE             (the same for standard error)
#   file: PATH                  (a file that must exist afterwards)
#   nofile: PATH                (a file that must not exist afterwards)
#   file-is: PATH FILE          (PATH afterwards equals FILE byte for byte)
# @TMP@ in any line stands for a folder of this case's own, empty at the start and removed
# afterwards, so cases never write into the source or build tree. Lines starting with # are
# comments. Regenerate an expected file with UPDATE=1 (writes FILE from the actual output).
bin=$1
case_file=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/us_cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/T"
sub() { sed -n "s/^$1: //p" "$case_file" | sed "s|@TMP@|$tmp/T|g"; }
args=$(sub args)
want_exit=$(sub exit)
stdin_file=$(sub stdin)
[ -n "$stdin_file" ] || stdin_file=/dev/null
export US="$bin" # the binary, for setup commands
sub setup | while IFS= read -r c; do sh -c "$c" || { echo "$case_file: setup failed: $c"; exit 1; }; done || exit 1
# shellcheck disable=SC2086
eval "\"$bin\" $args" <"$stdin_file" >"$tmp/out" 2>"$tmp/err"
got_exit=$?
fail=0
report() { echo "$case_file: $*"; fail=1; }
same() { # same ACTUAL EXPECTED: byte equality, or rewrite EXPECTED under UPDATE=1
  if [ -n "${UPDATE:-}" ]; then cp "$1" "$2"; return 0; fi
  [ -f "$2" ] || { report "no expected file $2"; return 1; }
  cmp -s "$1" "$2" || { report "differs from $2:"; diff "$2" "$1" | head -20; }
}
[ "$got_exit" = "$want_exit" ] || report "exit code $got_exit, want $want_exit"
sed "s|@TMP@|$tmp/T|g" "$case_file" >"$tmp/case"
while IFS= read -r line; do
  case "$line" in
    "stdout: "*) t=${line#stdout: }; grep -qF -- "$t" "$tmp/out" || report "stdout lacks: $t" ;;
    "stderr: "*) t=${line#stderr: }; grep -qF -- "$t" "$tmp/err" || report "stderr lacks: $t" ;;
    "stdout-not: "*) t=${line#stdout-not: }; grep -qF -- "$t" "$tmp/out" && report "stdout has: $t" ;;
    "stderr-not: "*) t=${line#stderr-not: }; grep -qF -- "$t" "$tmp/err" && report "stderr has: $t" ;;
    "stdout-matches: "*) t=${line#stdout-matches: }; grep -qE -- "$t" "$tmp/out" || report "stdout does not match: $t" ;;
    "stdout-is: "*) same "$tmp/out" "${line#stdout-is: }" ;;
    "stderr-is: "*) same "$tmp/err" "${line#stderr-is: }" ;;
    "stderr-lines: "*) n=${line#stderr-lines: }; l=$(wc -l <"$tmp/err"); [ "$l" -eq "$n" ] || report "stderr has $l lines, want $n" ;;
    "file: "*) f=${line#file: }; [ -f "$f" ] || report "missing file $f" ;;
    "nofile: "*) f=${line#nofile: }; [ -e "$f" ] && report "file should not exist: $f" ;;
    "file-is: "*) t=${line#file-is: }; same "${t%% *}" "${t#* }" ;;
  esac
done <"$tmp/case"
if [ $fail -ne 0 ]; then
  echo "--- stdout"; head -c 4000 "$tmp/out"; echo "--- stderr"; head -c 4000 "$tmp/err"
  exit 1
fi
exit 0
