#!/bin/sh
# scale: the knee is what docs/MODEL.md 9 says - the first chip count whose doubling cuts
# the time to train by less than 25% - on every curve; tokens per chip is the batch over
# the chips; a larger batch does not pull the knee in; JSON and CSV agree. Relationships
# only, so the test survives changes to the step-time model.
bin=$1
job=examples/sweep-base-llama3-70b.yaml
tmp=${TMPDIR:-/tmp}/us_scale.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "scale_knee: $*"; exit 1; }
args="$job --set training.tokens=1e12 --systems dgx-h100 --chips 64..4K --batch 128,512"
# shellcheck disable=SC2086
"$bin" scale $args --format csv >"$tmp/s.csv" || fail "scale exited $?"
[ "$(wc -l <"$tmp/s.csv")" -eq 15 ] || fail "want a header and 2 x 7 rows"
awk -F, '
  NR == 1 { next }
  $4 != "ok" { bad = "row " NR " is not ok"; exit }
  {
    key = $1 "," $2
    if ($16 + 0 != $2 / $3) { bad = "tokens/chip " $16 " is not " $2 "/" $3; exit }
    if (key == prev && $3 == 2 * pchips) {
      cut = 1 - $11 / pdays
      want = (!found[key] && cut < 0.25) ? "true" : "false"
      if (want == "true") { found[key] = 1; knee[key] = pchips }
      if (pknee != want) { bad = "chips " pchips " of " key ": knee " pknee ", want " want; exit }
    } else if (key == prev) { bad = "not a doubling"; exit }
    if (key != prev && prev != "" && plast_knee == "true") { bad = "the last point is a knee"; exit }
    prev = key; pchips = $3; pdays = $11; pknee = $17; plast_knee = $17
  }
  END {
    if (bad != "") { print bad; exit 1 }
    if (plast_knee == "true") { print "the last point is a knee"; exit 1 }
    k1 = knee["\"dgx-h100\",1048576"]; k2 = knee["\"dgx-h100\",4194304"]
    if (k1 == "") { print "the small batch has no knee in 64..4096"; exit 1 }
    if (k2 != "" && k2 < k1) { print "the larger batch pulls the knee in: " k2 " < " k1; exit 1 }
    print "knee at batch 128: " k1 " chips; at batch 512: " (k2 == "" ? "beyond 4096" : k2)
  }' "$tmp/s.csv" || fail "$(cat "$tmp/s.csv")"
# JSON: the same knees and times as the CSV
# shellcheck disable=SC2086
"$bin" scale $args --format json >"$tmp/s.json" || fail "scale --format json exited $?"
grep -q '"knee_chips": 1024\|"knee_chips": [0-9]' "$tmp/s.json" || fail "no knee in the JSON"
for k in $(awk -F, '$17 == "true" { print $3 }' "$tmp/s.csv"); do
  grep -q "\"knee_chips\": $k," "$tmp/s.json" || fail "the CSV's knee $k is not in the JSON"
done
exit 0
