#!/bin/sh
# Every system preset has a golden file and every golden file a preset.
# Usage: coverage.sh ULTRASIM
set -u
dir=$(dirname "$0")
systems=$("$1" list systems | awk '{print $1}')
fail=0
for s in $systems; do [ -f "$dir/$s.json" ] || { echo "no golden for $s: run tests/golden/update.sh"; fail=1; }; done
for f in "$dir"/*.json; do
  s=$(basename "$f" .json)
  echo "$systems" | grep -qx "$s" || { echo "golden $f has no preset: run tests/golden/update.sh"; fail=1; }
done
[ $fail -eq 0 ] && echo "$(echo "$systems" | wc -l) presets, each with a golden: 1 passed, 0 failed"
exit $fail
