#!/bin/sh
# Compares two JSON outputs of ultrasim line by line (both as `--format json` prints them,
# one value per line). Lines must be equal, except that a line whose only difference is its
# one number passes when the numbers agree within a relative tolerance (TOL, default 1e-6:
# the JSON prints 9 significant digits, so this absorbs compiler and libm rounding, never a
# change of the model). Usage: compare.sh EXPECTED ACTUAL [TOL]
exec awk -v tol="${3:-1e-6}" -v exp_file="$1" '
function num_split(s, parts,   r) {   # parts[1] before, parts[2] the number, parts[3] after
  if (!match(s, /-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) return 0
  parts[1] = substr(s, 1, RSTART - 1); parts[2] = substr(s, RSTART, RLENGTH)
  parts[3] = substr(s, RSTART + RLENGTH)
  r = parts[3]; if (match(r, /[0-9]/)) return 0   # more than one number: exact only
  return 1
}
function abs(x) { return x < 0 ? -x : x }
NR == FNR { e[FNR] = $0; n = FNR; next }
{
  m = FNR
  if (FNR > n) { printf "line %d: unexpected %s\n", FNR, $0; bad++; next }
  if ($0 == e[FNR]) next
  if (num_split(e[FNR], pe) && num_split($0, pa) && pe[1] == pa[1] && pe[3] == pa[3]) {
    x = pe[2] + 0; y = pa[2] + 0; big = abs(x) > abs(y) ? abs(x) : abs(y)
    if (abs(x - y) <= tol * big) next
    printf "line %d: %s%s -> %s (relative difference %.3g, tolerance %g)\n", FNR, pe[1], pe[2], pa[2], abs(x - y) / big, tol
  } else {
    printf "line %d:\n  want %s\n  got  %s\n", FNR, e[FNR], $0
  }
  bad++
}
END {
  if (m < n) { printf "%d lines missing (first: %s)\n", n - m, e[m + 1]; bad++ }
  if (bad) { printf "%d lines differ from %s\n", bad, exp_file; exit 1 }
}' "$1" "$2"
