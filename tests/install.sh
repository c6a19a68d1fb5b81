#!/bin/sh
# What `make install PREFIX=...` gives an embedder is enough: install the build into a
# temporary prefix, then build examples/api_example.c with nothing but
# `pkg-config --cflags --libs ultrasim`, against the shared library and (with --static) the
# static one, and run both. Usage: install.sh BUILD_DIR CC
set -u
build=$1
cc=$2
command -v pkg-config >/dev/null || { echo "no pkg-config: skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/us_install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null || { echo "install failed"; exit 1; }
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs ultrasim) || { echo "pkg-config does not know ultrasim"; exit 1; }
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror examples/api_example.c -o "$tmp/dyn" $flags || { echo "shared build failed: $flags"; exit 1; }
out=$(LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/dyn" examples/llama3-405b-h100.yaml) || { echo "shared run failed: $out"; exit 1; }
echo "$out" | grep -q "llama3-405b on 16384 chips" || { echo "unexpected: $out"; exit 1; }
sflags=$(pkg-config --static --cflags --libs ultrasim | sed 's/-lultrasim//')
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Werror examples/api_example.c -o "$tmp/sta" "$tmp/prefix/lib/libultrasim.a" $sflags || { echo "static build failed: $sflags"; exit 1; }
out2=$("$tmp/sta" examples/llama3-405b-h100.yaml) || { echo "static run failed: $out2"; exit 1; }
[ "$out" = "$out2" ] || { echo "static and shared differ: $out2"; exit 1; }
echo "pkg-config --cflags --libs ultrasim: $flags"
echo "1 passed, 0 failed"
