#!/usr/bin/env bash
# Builds the native run supervisor (src/executors/local/supervisor.c, with the native sandbox in sandbox.c) next to the compiled executor. Without a C
# compiler the local executor falls back to a POSIX sh supervisor (slower start, exit codes only).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/executors/local/dsjobs-supervisor
mkdir -p "$(dirname "$out")"
cc=$(command -v cc || command -v gcc || command -v clang || true)
if [ -z "$cc" ]; then
  echo "build-supervisor: no C compiler found; runs will use the sh supervisor" >&2
  rm -f "$out"
  exit 0
fi
"$cc" -O2 -Wall -Wextra -o "$out.tmp" src/executors/local/supervisor.c src/executors/local/sandbox.c
mv "$out.tmp" "$out"
