#!/bin/sh
# Keeps the include graph one-way, as docs/ARCHITECTURE.md draws it: a file in src/M/ may
# include "X/..." only when X is M, or M depends on X in the architecture table (directly or
# through modules it depends on; "everything above" = every module listed above it), or the
# pair is in the list of known exceptions below, each a debt to pay off, not a licence.
# src/cli/ includes nothing but the public header. Usage: include_graph.sh (from the root)
set -u
doc=docs/ARCHITECTURE.md
# known exceptions: "M X" pairs that break the drawing today (docs/ARCHITECTURE.md says so)
known=""
deps=$(awk -F'|' '/^\| `src\/[a-z_]+\/`/ {
  m = $2; gsub(/[ `]|src\/|\//, "", m)
  d = $4; gsub(/`/, "", d)
  if (d ~ /everything above/) d = above
  else if (d ~ /only/) d = ""
  gsub(/,/, " ", d)
  printf "%s:%s\n", m, d
  above = above " " m
}' "$doc")
modules=$(echo "$deps" | cut -d: -f1)
closure() { # closure M: M's dependencies, transitively
  queue=$1; seen=""
  while [ -n "$queue" ]; do
    set -- $queue; x=$1; shift; queue="$*"
    for y in $(echo "$deps" | sed -n "s/^$x://p"); do
      echo "$modules" | grep -qx "$y" || continue
      case " $seen " in *" $y "*) ;; *) seen="$seen $y"; queue="$queue $y" ;; esac
    done
  done
  echo "$seen"
}
fail=0
for m in $(ls src); do
  echo "$modules" | grep -qx "$m" || { echo "src/$m/ is not in $doc"; fail=1; continue; }
  allowed=" $m $(closure "$m") "
  for f in src/"$m"/*.[ch]; do
    for x in $(sed -n 's|^#include "\([a-z_]*\)/.*|\1|p' "$f" | sort -u); do
      case "$allowed" in *" $x "*) continue ;; esac
      echo "$known" | grep -qx "$m $x" && continue
      echo "$f includes $x/, which $doc does not let $m depend on"; fail=1
    done
  done
done
# an exception that no longer happens is taken off the list
echo "$known" | while read -r m x; do
  [ -n "$m" ] || continue
  grep -lq "^#include \"$x/" src/"$m"/*.[ch] 2>/dev/null || grep -q "^#include \"$x/" src/"$m"/*.[ch] ||
    { echo "known exception '$m -> $x' is gone: remove it from $0"; exit 1; }
done || fail=1
# every public function is defined under src/api/ (the facade), nowhere else
for f in $(ls src/*/*.c | grep -v '^src/api/\|^src/cli/'); do
  if grep -n '^[a-z][a-z_ ]*[ *]us_[a-z_]*(' "$f" | grep -v ';$'; then
    echo "$f defines a public us_* function: it belongs under src/api/"; fail=1
  fi
done
[ $fail -eq 0 ] && echo "include graph follows $doc: 1 passed, 0 failed"
exit $fail
