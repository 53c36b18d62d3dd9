#!/usr/bin/env bash
# Host tools the local executor and the tests use: python3 (runs .py artifacts), bash, setsid (util-linux),
# a JDK (.jar entrypoints and the Java test), Debian's chromium (the web console's browser tests, driven by
# playwright-core: playwright's own browser download cannot work on a closed network); and for run isolation
# (docs/isolation.md): bubblewrap (the sandbox), mkfs.ext4 and mount (block storage volumes). Installs what is missing with apt-get where we are root on Debian;
# elsewhere it only reports. Without the isolation tools runs still work, and the server says what is off.
set -euo pipefail
missing=()
optional=()
command -v python3 >/dev/null || missing+=(python3)
command -v bash >/dev/null || missing+=(bash)
command -v setsid >/dev/null || missing+=(util-linux)
command -v javac >/dev/null || missing+=(default-jdk-headless)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null || optional+=(bubblewrap)
PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null || optional+=(e2fsprogs)
PATH="$PATH:/usr/sbin:/sbin" command -v mount >/dev/null || optional+=(mount)
if [ ${#missing[@]} -eq 0 ] && [ ${#optional[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup-host: installing ${missing[*]} ${optional[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" "${optional[@]}" >/dev/null
elif [ ${#missing[@]} -gt 0 ]; then
  echo "setup-host: please install: ${missing[*]} ${optional[*]}" >&2
  exit 1
else
  echo "setup-host: for run isolation, install: ${optional[*]} (runs work without; the server reports what is off)" >&2
fi
