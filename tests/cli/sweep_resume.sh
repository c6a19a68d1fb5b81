#!/bin/sh
# A sweep killed with SIGKILL part-way keeps every point it committed: the rerun reports them
# as already done, computes only the rest, and leaves the same rows as an uninterrupted run
# (compared when the sqlite3 shell is there) and no part files. Exit 77 (skip) when the
# machine finished the sweep before it could be killed. Usage: sweep_resume.sh ULTRASIM
set -u
bin=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/us_resume.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
spec=tests/specs/sweep_big.yaml
"$bin" sweep "$spec" --out "$tmp/k.db" --threads 1 >/dev/null 2>&1 &
pid=$!
# wait until the part file holds some committed points (the WAL grows past its schema pages)
i=0
while [ $i -lt 600 ]; do
  s=$(stat -c %s "$tmp/k.db.part0-wal" 2>/dev/null || echo 0)
  [ "$s" -gt 40000 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05; i=$((i + 1))
done
if ! kill -9 $pid 2>/dev/null; then
  wait $pid; echo "the sweep finished before it could be killed; nothing to test"; exit 77
fi
wait $pid 2>/dev/null
[ -e "$tmp/k.db" ] && { echo "a killed sweep left its output database"; exit 1; }
[ -e "$tmp/k.db.part0" ] || { echo "a killed sweep left no part file"; exit 1; }
out=$("$bin" sweep "$spec" --out "$tmp/k.db" --threads 2) || { echo "rerun failed: $out"; exit 1; }
case "$out" in
  *"256 points on 1 rank"*"already done)"*) ;;
  *) echo "rerun did not resume: $out"; exit 1 ;;
esac
done_before=$(echo "$out" | sed -n 's/.*(\([0-9]*\) already done).*/\1/p')
[ "$done_before" -gt 0 ] && [ "$done_before" -lt 256 ] || { echo "resumed $done_before points"; exit 1; }
[ "$(ls "$tmp" | grep -c part)" -eq 0 ] || { echo "part files left behind: $(ls "$tmp")"; exit 1; }
if command -v sqlite3 >/dev/null; then
  "$bin" sweep "$spec" --out "$tmp/one.db" --threads 2 >/dev/null || exit 1
  a=$(sqlite3 "$tmp/one.db" 'SELECT * FROM results ORDER BY point' | cksum)
  b=$(sqlite3 "$tmp/k.db" 'SELECT * FROM results ORDER BY point' | cksum)
  [ "$a" = "$b" ] || { echo "resumed rows differ from an uninterrupted run"; exit 1; }
fi
echo "resumed after $done_before of 256 points: 1 passed, 0 failed"
