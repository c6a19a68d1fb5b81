#!/bin/sh
# MPI sweep (only registered when ultrasim is built with MPI): 2 ranks must write exactly
# the rows one process writes. Usage: mpi_sweep.sh MPIEXEC ULTRASIM
set -eu
mpiexec=$1
bin=$2
tmp=${TMPDIR:-/tmp}/us_mpi.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$bin" sweep examples/sweep-llama3-70b.yaml --out "$tmp/one.db" --threads 1 >/dev/null
out=$("$mpiexec" --oversubscribe -n 2 "$bin" sweep examples/sweep-llama3-70b.yaml \
  --out "$tmp/two.db" --threads 1)
case "$out" in
  *"32 points on 2 ranks"*) ;;
  *) echo "expected 32 points on 2 ranks, got: $out"; exit 1 ;;
esac
[ "$(ls "$tmp" | grep -c part)" -eq 0 ] || { echo "rank part files left behind"; exit 1; }
a=$(sqlite3 "$tmp/one.db" 'SELECT * FROM results ORDER BY point' | cksum)
b=$(sqlite3 "$tmp/two.db" 'SELECT * FROM results ORDER BY point' | cksum)
[ "$a" = "$b" ] || { echo "2-rank rows differ from 1-process rows"; exit 1; }
echo "1 passed, 0 failed"
