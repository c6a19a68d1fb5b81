#!/bin/sh
# One golden case: `ultrasim run tests/golden/job.yaml --set system=SYSTEM --format json`
# must equal tests/golden/SYSTEM.json within compare.sh's tolerance. With UPDATE=1 the golden
# file is rewritten instead. Usage: run.sh ULTRASIM SYSTEM
set -u
bin=$1
sys=$2
dir=$(dirname "$0")
want="$dir/$sys.json"
tmp=$(mktemp "${TMPDIR:-/tmp}/us_golden.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
"$bin" run "$dir/job.yaml" --set "system=$sys" --format json >"$tmp"
rc=$?
[ $rc -eq 0 ] || { echo "$sys: exit $rc"; exit 1; }
if [ -n "${UPDATE:-}" ]; then cp "$tmp" "$want"; echo "wrote $want"; exit 0; fi
[ -f "$want" ] || { echo "no golden $want: run tests/golden/update.sh"; exit 1; }
sh "$dir/compare.sh" "$want" "$tmp" || {
  echo "$sys: the output drifted from its golden. If the change is intended, regenerate all"
  echo "goldens with 'tests/golden/update.sh' (or 'cmake --build --preset dev --target golden-update')"
  echo "and commit them with the change that moved them."
  exit 1
}
echo "$sys: 1 passed, 0 failed"
