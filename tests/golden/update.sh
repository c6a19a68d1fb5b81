#!/bin/sh
# Regenerates every golden file (one per system preset, tests/golden/SYSTEM.json) from the
# current build, and removes goldens of presets that no longer exist. Run from anywhere:
#   tests/golden/update.sh [ULTRASIM]     (default: build/release/ultrasim, then build/dev)
# then review `git diff tests/golden` and commit the goldens with the change that moved them.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
bin=${1:-}
if [ -z "$bin" ]; then
  for b in "$root/build/release/ultrasim" "$root/build/dev/ultrasim"; do
    [ -x "$b" ] && { bin=$b; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "build ultrasim first (make build)"; exit 1; }
cd "$root"
systems=$("$bin" list systems | awk '{print $1}')
for f in "$dir"/*.json; do
  [ -e "$f" ] || continue
  s=$(basename "$f" .json)
  echo "$systems" | grep -qx "$s" || { rm -f "$f"; echo "removed $f (no such preset)"; }
done
for s in $systems; do UPDATE=1 sh "$dir/run.sh" "$bin" "$s"; done
