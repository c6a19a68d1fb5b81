#!/bin/sh
# The HTML reports of run, search, compare, scale and plan in a real browser (Debian's chromium,
# headless): each renders without a console error, its charts exist and are not empty, and
# every figure marked data-json="key" in the rendered DOM equals, in order, the values of
# "key" in the same command's JSON output (to the JSON's 6 significant digits). Skipped (77) when chromium is absent.
bin=$1
browser=$(command -v chromium || command -v chromium-browser) || {
  echo "html_report: chromium not installed; skipped"; exit 77; }
tmp=${TMPDIR:-/tmp}/us_html.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "html_report: $*"; exit 1; }
job=examples/sweep-base-llama3-70b.yaml
render() { # NAME [shot]: dump the DOM of NAME.html, or with "shot" take a screenshot
  if [ "$2" = shot ]; then what="--screenshot=$tmp/$1.png"; else what=--dump-dom; fi
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
    --enable-logging=stderr --v=0 --window-size=1280,2000 "$what" \
    "file://$tmp/$1.html" >"$tmp/$1.dom" 2>"$tmp/$1.log" || fail "$1: chromium exited $?"
  if grep -E 'CONSOLE|Uncaught|SyntaxError' "$tmp/$1.log"; then fail "$1: console errors"; fi
}
# values of "key" in the JSON, numbers only, one per line
json_vals() { grep -o "\"$2\": [-0-9.eE+]*[0-9]" "$tmp/$1.json" | sed 's/.*: //'; }
dom_vals() { grep -o "data-json=\"$2\" data-value=\"[^\"]*\"" "$tmp/$1.dom" | sed 's/.*data-value="//; s/"$//'; }
check() { # NAME ARGS... : render NAME's report and compare its figures with its JSON
  name=$1; keys=$2; shift 2
  # shellcheck disable=SC2068
  "$bin" $@ --format html >"$tmp/$name.html" || fail "$name: --format html exited $?"
  # shellcheck disable=SC2068
  "$bin" $@ --format json >"$tmp/$name.json" || fail "$name: --format json exited $?"
  grep -q 'src=\|href="http\|<script' "$tmp/$name.html" && fail "$name: loads or runs something"
  render "$name"
  charts=$(grep -o '<svg class="chart"' "$tmp/$name.dom" | wc -l)
  [ "$charts" -ge 1 ] || fail "$name: no chart"
  # every chart holds at least one mark (rect, polyline or circle)
  awk 'BEGIN { RS = "<svg class=\"chart\"" } NR > 1 {
         split($0, a, "</svg></figure>"); if (a[1] !~ /<(rect|polyline|circle)/) bad++ }
       END { exit bad > 0 }' "$tmp/$name.dom" || fail "$name: an empty chart"
  for k in $keys; do
    json_vals "$name" "$k" >"$tmp/j"
    dom_vals "$name" "$k" >"$tmp/d"
    [ -s "$tmp/d" ] || fail "$name: no $k in the DOM"
    paste "$tmp/j" "$tmp/d" | awk -v n="$name" -v k="$k" '
      { if ($2 == "" || $1 == "") { print n ": " k " counts differ"; exit 1 }
        d = $1 - $2; if (d < 0) d = -d; s = $1 < 0 ? -$1 : $1
        if (d > 5e-6 * s + 1e-12) { print n ": " k " " $1 " in JSON, " $2 " in the DOM"; exit 1 } }
      END { if (NR == 0) exit 1 }' || fail "$name: $k differs ($(wc -l <"$tmp/j") in JSON, $(wc -l <"$tmp/d") in the DOM)"
  done
  echo "$name: $charts charts; $keys equal in the DOM and the JSON"
}
check run "step_time_s mfu tokens_per_chip_per_step cost_usd_per_hour cost_usd goodput" \
  run "$job" --set training.tokens=1e11
# the power over the step (issue 16): its chart is drawn from the trace's power counter, and
# the peak it states is the JSON's power.peak_mw
grep -q '<title>facility power over one step</title>' "$tmp/run.dom" || fail "run: no power chart"
peak_dom=$(grep -o 'peak [0-9.e+-]* MW, lowest' "$tmp/run.dom" | sed 's/peak //; s/ MW.*//')
peak_json=$(grep -o '"peak_mw": [0-9.e+-]*' "$tmp/run.json" | sed 's/.*: //')
awk -v a="$peak_dom" -v b="$peak_json" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 1e-3 * b) }' ||
  fail "run: power peak $peak_dom MW in the DOM, $peak_json in the JSON"
echo "run: power chart, peak $peak_dom MW (JSON $peak_json)"
check search "step_time_s" search "$job" --top 3 --threads 2
check compare "step_time_s mfu cost_usd_per_hour cost_usd" \
  compare "$job" --systems dgx-h100,dgx-h200 --set training.tokens=1e11
check scale "step_time_s time_to_train_s cost_usd mfu knee_chips" \
  scale "$job" --set training.tokens=1e11 --systems dgx-h100,dgx-h200 --chips 64..1K --threads 2
check plan "finish_day cost_usd" \
  plan tests/specs/scenario_small.yaml --set training.tokens=1e11 --delay dgx-h100:4
render run shot
[ "$(wc -c <"$tmp/run.png")" -gt 20000 ] || fail "the screenshot of the run report is blank"
exit 0
