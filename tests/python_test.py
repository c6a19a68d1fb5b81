"""python/ultrasim.py against the command line: run, search and compare return dicts that
agree with `ultrasim ... --format json`, and bad input raises UltrasimError with the CLI's
status and one-line diagnostic. Usage: python3 python_test.py ULTRASIM_BINARY (with
ULTRASIM_LIB naming libultrasim.so); run from the repository root."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.getcwd(), "python"))
import ultrasim  # noqa: E402

bin_path = sys.argv[1]
job = "examples/llama3-405b-h100.yaml"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("check failed:", what)


def cli_json(*args):
    p = subprocess.run([bin_path, *args, "--format", "json"], capture_output=True, text=True)
    return json.loads(p.stdout)


# run: the very dict the CLI writes
r = ultrasim.run(job, closed_form=True)
check(isinstance(r, dict) and r["valid"] and r["fits"], "run is valid")
check(r == cli_json("run", job, "--closed-form"), "run dict equals `run --format json`")
r2 = ultrasim.run(job, sets=["parallel.pp=8", "parallel.dp=256"], closed_form=True)
check(r2["layout"]["pp"] == 8 and r2["layout"]["dp"] == 256, "sets reach the job")

# an infeasible plan is a result, not an exception
r3 = ultrasim.run(job, sets=["parallel.pp=8"], closed_form=True)
check(not r3["valid"] and "8192 != chips" in r3["reason"], "infeasible is a result")

# bad input raises with the CLI's status and place
try:
    ultrasim.run(job, sets=["training.seq_len=-5"])
    check(False, "bad input raises")
except ultrasim.UltrasimError as e:
    check(e.status == 2 and str(e).startswith("--set:1:18: training.seq_len:"), str(e))
try:
    ultrasim.run("no/such/job.yaml")
    check(False, "a missing file raises")
except ultrasim.UltrasimError as e:
    check(e.status == 2 and "no/such/job.yaml" in str(e), str(e))

# search: the CLI's best layout, best first
s = ultrasim.search(job, top=3, closed_form=True)
cli = cli_json("search", job, "--top", "3", "--closed-form")
check(1 <= len(s["top"]) <= 3, "search returns up to top entries")
best = s["top"][0]
check(all(best["layout"][k] == cli["best"]["layout"][k]
          for k in ("tp", "pp", "dp", "vpp", "zero", "recompute", "micro_batch")),
      "search best layout equals the CLI's: %s vs %s" % (best["layout"], cli["best"]["layout"]))
check(all(a["time_s"] <= b["time_s"] for a, b in zip(s["top"], s["top"][1:])),
      "top is best first")
l = best["layout"]
check(l["tp"] * l["pp"] * l["dp"] * l["cp"] == best["chips"] == 16384, "layout covers chips")
# the layout's TP-overlap choice (the field after the stage ends): torchtitan's async TP is
# searched on for this tp-2 job, and every entry says what the CLI's JSON says
tt = ["training.framework=torchtitan", "parallel.tp=2"]
s2 = ultrasim.search("tests/specs/job_presets.yaml", sets=tt, top=2, closed_form=True)
cli2 = cli_json("search", "tests/specs/job_presets.yaml", "--set", tt[0], "--set", tt[1],
                "--top", "2", "--closed-form")
check([e["layout"]["tp_overlap"] for e in s2["top"]] == [e["tp_overlap"] for e in cli2["top"]]
      and s2["top"][0]["layout"]["tp_overlap"] == "on",
      "tp_overlap as the CLI reports it: %s" % [e["layout"]["tp_overlap"] for e in s2["top"]])
check(s["space"] > 0 and s["estimated"] > 0, "search counts")

# compare: one run dict per system
c = ultrasim.compare("examples/frontier.yaml", ["dgx-h100", "gb300-nvl72"], closed_form=True)
check(sorted(c) == ["dgx-h100", "gb300-nvl72"], "compare keys")
check(all(v["system"] == k and v["step_time_s"] > 0 for k, v in c.items()), "compare values")

print("test_python: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
