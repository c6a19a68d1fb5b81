#!/bin/sh
# data/drift: the repository carries its own copies of the calibration set and the
# HuggingFace configs (so a bare clone tests and validates); this reports when the copies
# differ from ../shared, where new versions arrive. Exit 77 (skipped) without ../shared.
shared=$1
[ -d "$shared/calibration" ] || { echo "no $shared: nothing to compare (skipped)"; exit 77; }
fail=0
cmp -s data/calibration/published.yaml "$shared/calibration/published.yaml" || {
  echo "data/calibration/published.yaml differs from $shared/calibration/published.yaml: copy it over"
  fail=1
}
for f in "$shared"/reference/hf-configs/*; do
  b=$(basename "$f")
  cmp -s "data/hf-configs/$b" "$f" || { echo "data/hf-configs/$b differs from $f (or is missing)"; fail=1; }
done
for f in data/hf-configs/*; do
  [ -e "$shared/reference/hf-configs/$(basename "$f")" ] || { echo "$f is not in $shared"; fail=1; }
done
[ $fail -eq 0 ] && echo "data/ matches $shared"
exit $fail
