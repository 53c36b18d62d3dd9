#!/usr/bin/env bash
# Runs npm (`npm ci` for the set-up) with npm_config_nodedir set to this machine's Node headers (scripts/node-headers.sh),
# so that native addons (better-sqlite3) compile without downloading headers from nodejs.org. Computed here at every
# install rather than written to an .npmrc: the path depends on the machine. Without local headers npm still runs
# (a prebuilt binary may download), and a failure ends with what is missing instead of only node-gyp's output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
missing=$(mktemp)
trap 'rm -f "$missing"' EXIT
if nodedir=$(bash "$here/node-headers.sh" 2>"$missing"); then
  export npm_config_nodedir="$nodedir"
else
  cat "$missing" >&2
fi
status=0
npm "$@" || status=$?
if [ "$status" -ne 0 ] && [ -s "$missing" ]; then
  echo "" >&2
  echo "npm $1 failed; a likely cause is above, repeated here:" >&2
  cat "$missing" >&2
fi
exit "$status"
