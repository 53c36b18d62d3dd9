#!/usr/bin/env bash
# Host tools the local executor and the tests use: python3 (runs .py artifacts), bash, setsid (util-linux),
# a JDK (.jar entrypoints and the Java test). Installs what is missing with apt-get where we are root on Debian;
# elsewhere it only reports.
set -euo pipefail
missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v bash >/dev/null || missing+=(bash)
command -v setsid >/dev/null || missing+=(util-linux)
command -v javac >/dev/null || missing+=(default-jdk-headless)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "setup-host: please install: ${missing[*]}" >&2
  exit 1
fi
