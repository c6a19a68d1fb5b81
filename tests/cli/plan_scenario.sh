#!/bin/sh
# plan: the answers keep their definitions whatever the step-time model says -
#   - the cheapest plan meeting the deadline finishes by it and costs no more than the
#     earliest plan (when that one meets the deadline too);
#   - the earliest finish is no later than the cheapest plan's;
#   - delaying one vendor's deliveries never makes the earliest finish sooner, and a price
#     rise never makes the cheapest plan cheaper;
#   - the table explains each answer in words.
bin=$1
sc=tests/specs/scenario_small.yaml
tmp=${TMPDIR:-/tmp}/us_plan.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "plan_scenario: $*"; cat "$tmp/p.json" 2>/dev/null; exit 1; }
get() { # KEY FIELD: a number of the plan object KEY in p.json
  grep "^  \"$1\": {" "$tmp/p.json" | grep -o "\"$2\": [-0-9.e+]*" | sed 's/.*: //'
}
for shock in "--delay dgx-h100:4" "--delay dgx-h200:3" "--price-shock dgx-h100:2" \
  "--price-shock dgx-h200:1.5@2"; do
  # shellcheck disable=SC2086
  "$bin" plan "$sc" --set training.tokens=1e11 $shock --format json >"$tmp/p.json" ||
    fail "plan $shock exited $?"
  ef=$(get earliest finish_day); ec=$(get earliest cost_usd)
  cf=$(get cheapest_by_deadline finish_day); cc=$(get cheapest_by_deadline cost_usd)
  sf=$(get shocked_earliest finish_day); scc=$(get shocked_cheapest_by_deadline cost_usd)
  [ -n "$ef" ] && [ -n "$cf" ] && [ -n "$sf" ] || fail "missing plans"
  awk -v ef="$ef" -v ec="$ec" -v cf="$cf" -v cc="$cc" -v sf="$sf" -v scc="$scc" \
    -v shock="$shock" 'BEGIN {
      if (cf > 10 + 1e-9) { print "the cheapest plan misses the deadline: day " cf; exit 1 }
      if (ef > cf + 1e-9) { print "the earliest finish " ef " is after the cheapest " cf; exit 1 }
      if (ef <= 10 && cc > ec * (1 + 1e-9)) { print "cheapest " cc " costs more than earliest " ec; exit 1 }
      if (shock ~ /delay/ && sf < ef - 1e-9) { print "a delay made the earliest finish sooner"; exit 1 }
      if (shock ~ /price/ && scc != "" && scc < cc * (1 - 1e-9)) { print "a price rise made the plan cheaper"; exit 1 }
    }' || fail "$shock"
done
"$bin" plan "$sc" --set training.tokens=1e11 --delay dgx-h100:4 >"$tmp/p.txt" || fail "table"
for w in "Earliest finish: start on day" "Cheapest plan that meets the deadline (day 10)" \
  "With dgx-h100's deliveries 4 days late, the earliest finish becomes" "on dgx-h200 alone"; do
  grep -qF "$w" "$tmp/p.txt" || fail "the table lacks: $w"
done
echo "plan: earliest day $ef, cheapest by the deadline day $cf"
exit 0
