#!/bin/sh
# Runs one CLI case file against the ultrasim binary. A case is data:
#   args: ARGUMENTS...          (split by the shell; run from the repository root)
#   stdin: FILE                 (optional; fed to standard input)
#   exit: N                     (expected exit code)
#   stdout: TEXT                (a line of standard output must contain TEXT; repeatable)
#   stderr: TEXT                (the same for standard error)
#   stdout-not: TEXT / stderr-not: TEXT   (must not appear anywhere)
#   stderr-lines: N             (standard error has exactly N lines)
#   stdout-matches: REGEX       (grep -E on standard output; repeatable)
#   file: PATH                  (a file that must exist afterwards; removed first)
#   nofile: PATH                (a file that must not exist afterwards)
# Lines starting with # are comments.
bin=$1
case_file=$2
tmp=${TMPDIR:-/tmp}/us_cli.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
args=$(sed -n 's/^args: //p' "$case_file")
want_exit=$(sed -n 's/^exit: //p' "$case_file")
stdin_file=$(sed -n 's/^stdin: //p' "$case_file")
sed -n 's/^file: //p; s/^nofile: //p' "$case_file" | while read -r f; do rm -f "$f"; done
[ -n "$stdin_file" ] || stdin_file=/dev/null
# shellcheck disable=SC2086
eval "\"$bin\" $args" <"$stdin_file" >"$tmp/out" 2>"$tmp/err"
got_exit=$?
fail=0
report() { echo "$case_file: $*"; fail=1; }
[ "$got_exit" = "$want_exit" ] || report "exit code $got_exit, want $want_exit"
while IFS= read -r line; do
  case "$line" in
    "stdout: "*) t=${line#stdout: }; grep -qF -- "$t" "$tmp/out" || report "stdout lacks: $t" ;;
    "stderr: "*) t=${line#stderr: }; grep -qF -- "$t" "$tmp/err" || report "stderr lacks: $t" ;;
    "stdout-not: "*) t=${line#stdout-not: }; grep -qF -- "$t" "$tmp/out" && report "stdout has: $t" ;;
    "stderr-not: "*) t=${line#stderr-not: }; grep -qF -- "$t" "$tmp/err" && report "stderr has: $t" ;;
    "stdout-matches: "*) t=${line#stdout-matches: }; grep -qE -- "$t" "$tmp/out" || report "stdout does not match: $t" ;;
    "stderr-lines: "*) n=${line#stderr-lines: }; l=$(wc -l <"$tmp/err"); [ "$l" -eq "$n" ] || report "stderr has $l lines, want $n" ;;
    "file: "*) f=${line#file: }; [ -f "$f" ] || report "missing file $f"; rm -f "$f" ;;
    "nofile: "*) f=${line#nofile: }; [ -e "$f" ] && report "file should not exist: $f" ;;
  esac
done <"$case_file"
if [ $fail -ne 0 ]; then
  echo "--- stdout"; head -c 4000 "$tmp/out"; echo "--- stderr"; head -c 4000 "$tmp/err"
  exit 1
fi
exit 0
