#!/bin/sh
# The libraries an embedder links export the public API and nothing else: every defined
# global symbol of libultrasim.so and of the installed libultrasim.a starts with us_, and
# every function include/ultrasim.h marks US_API is there. Usage: symbols.sh SO A HEADER
set -u
so=$1
a=$2
header=$3
command -v nm >/dev/null || { echo "no nm: skipped"; exit 77; }
fail=0
# a public function declared without US_API would be hidden from every embedder
bare=$(grep -nE '^(const |struct |enum |void |size_t |bool |int |double |unsigned |int64_t |uint64_t )[^;{(]*[ *]us_[a-z0-9_]*\(' "$header" || true)
[ -z "$bare" ] || { echo "declared without US_API (so not exported):"; echo "$bare"; fail=1; }
want=$(sed -n 's/^US_API .*[ *]\(us_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
nwant=$(echo "$want" | wc -l)
check() { # check WHAT LIST
  # sanitizer runtimes hook in with their own names (only in the asan build)
  other=$(echo "$2" | grep -v '^us_' | grep -Ev '^_*(asan|ubsan|sanitizer|odr_asan)' || true)
  if [ -n "$other" ]; then
    echo "$1 exports $(echo "$other" | wc -l) symbols without us_, e.g.:"; echo "$other" | head -5
    fail=1
  fi
  missing=$(echo "$want" | while read -r f; do echo "$2" | grep -qx "$f" || echo "$f"; done)
  if [ -n "$missing" ]; then echo "$1 lacks: $missing"; fail=1; fi
}
check "$so" "$(nm -D --defined-only "$so" | awk 'NF==3 {print $3}' | sort -u)"
check "$a" "$(nm -g --defined-only "$a" | awk 'NF==3 {print $3}' | sort -u)"
[ $fail -eq 0 ] || exit 1
echo "$nwant us_* functions, nothing else exported: 1 passed, 0 failed"
