#!/bin/sh
# compare at equal hourly spend picks, per system, the chip count at or under the spend
# that is best for the objective (time) - not the roundest count near it (issue 14: a 1T
# dense model got GB200 on 45,056 chips, PP 22, when 32,768 were faster and cheaper).
# Relationships only, so the test survives changes to the step-time model:
#   - the chosen count costs at most the spend per hour;
#   - its time to train is no worse than at the roundest count within 10% of the spend
#     (what compare used to take) nor at the largest power of two under it;
#   - every row has figures or a reason.
bin=$1
job=tests/specs/compare_dense_1t.yaml
tmp=${TMPDIR:-/tmp}/us_spend.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "compare_spend: $*"; exit 1; }
"$bin" compare "$job" --systems dgx-h100,gb200-nvl72 --format csv >"$tmp/c.csv" ||
  fail "compare exited $?"
# field NAME of the row whose first two fields are COMPARISON,"SYSTEM"
field() {
  awk -F, -v name="$1" -v cmp="$2" -v sys="\"$3\"" '
    NR == 1 { for (i = NF; i >= 1; i--) if ($i == name) c = i; next }
    $1 == cmp && $2 == sys { print $c }' "$tmp/c.csv"
}
[ "$(wc -l <"$tmp/c.csv")" -eq 5 ] || fail "want a header and 4 rows"
awk -F, 'NR > 1 && $3 != "ok" && $4 == "\"\"" { exit 1 }' "$tmp/c.csv" ||
  fail "a row without figures has no reason"
spend=$(field cost_usd_per_hour equal_chips dgx-h100)
eq_h=$(field cost_usd_per_hour equal_chips gb200-nvl72)
eq_n=$(field chips equal_chips gb200-nvl72)
n=$(field chips equal_spend gb200-nvl72)
h=$(field cost_usd_per_hour equal_spend gb200-nvl72)
t=$(field time_to_train_days equal_spend gb200-nvl72)
[ -n "$spend" ] && [ -n "$n" ] && [ -n "$t" ] || fail "missing figures"
awk -v h="$h" -v s="$spend" 'BEGIN { exit !(h <= s * (1 + 1e-9)) }' ||
  fail "the equal-spend count costs $h per hour, over the spend $s"
# the roundest count within 10% of the spend and the largest power of two under it
target=$(awk -v s="$spend" -v h="$eq_h" -v n="$eq_n" 'BEGIN { printf "%.6f", s / (h / n) }')
round=$(awk -v t="$target" 'BEGIN {
  hi = int(t); for (p = 2 ^ 40; p >= 1; p /= 2) { c = int(hi / p) * p
    if (c > 0 && c >= 0.9 * t) { print c; exit } } }')
pow2=$(awk -v t="$target" 'BEGIN { p = 1; while (p * 2 <= t) p *= 2; print p }')
for other in $round $pow2; do
  "$bin" run "$job" --set system=gb200-nvl72 --set chips="$other" --format csv >"$tmp/r.csv" ||
    continue # no valid layout there: nothing to beat
  t2=$(awk -F, 'NR == 1 { for (i = NF; i >= 1; i--) if ($i == "time_to_train_days") c = i; next }
                { print $c }' "$tmp/r.csv")
  awk -v a="$t" -v b="$t2" 'BEGIN { exit !(a <= b * (1 + 1e-6)) }' ||
    fail "equal spend chose $n chips ($t days) but $other chips take $t2 days"
  echo "gb200-nvl72 at equal spend: $n chips, $t days; $other chips: $t2 days"
done
exit 0
