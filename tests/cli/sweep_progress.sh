#!/bin/sh
# On a terminal, sweep shows "sweep DONE / TOTAL points, RATE/s, ETA N s" on stderr; into a
# file or pipe it shows nothing. The terminal comes from script(1) (util-linux); exit 77
# (skip) without it. Usage: sweep_progress.sh ULTRASIM
set -u
bin=$1
command -v script >/dev/null || { echo "no script(1): skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/us_progress.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
script -qec "'$bin' sweep examples/sweep-llama3-70b.yaml --out '$tmp/a.db' --threads 1" /dev/null \
  | tr '\r' '\n' >"$tmp/tty" || { echo "sweep failed"; cat "$tmp/tty"; exit 1; }
grep -Eq '^sweep 32 / 32 points, [0-9.]+/s, ETA 0 s' "$tmp/tty" ||
  { echo "no progress line on a terminal:"; cat "$tmp/tty"; exit 1; }
"$bin" sweep examples/sweep-llama3-70b.yaml --out "$tmp/b.db" --threads 1 >/dev/null 2>"$tmp/err" || exit 1
[ -s "$tmp/err" ] && { echo "progress written to a non-terminal:"; cat "$tmp/err"; exit 1; }
echo "1 passed, 0 failed"
