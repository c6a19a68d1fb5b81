#!/bin/sh
# Runs tests/python_test.py under python3; exit 77 (skipped) where python3 is absent.
# Usage: python_test.sh ULTRASIM LIBULTRASIM_SO
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }
ULTRASIM_LIB=$2 exec python3 tests/python_test.py "$1"
