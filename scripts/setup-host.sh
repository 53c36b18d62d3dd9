#!/usr/bin/env bash
# Host tools the local executor and the tests use: python3 (runs .py artifacts), bash, setsid (util-linux),
# a JDK (.jar entrypoints and the Java test), Debian's chromium (the web console's browser tests, driven by
# playwright-core: playwright's own browser download cannot work on a closed network); and for run isolation
# (docs/isolation.md): bubblewrap (the sandbox), mkfs.ext4 and mount (block storage volumes). Installs what is missing with apt-get where we are root on Debian;
# elsewhere it only reports. Without the isolation tools runs still work, and the server says what is off.
# better-sqlite3 compiles (node-gyp: python3, make, a C++ compiler) where its prebuilt binary cannot be downloaded,
# against Node's own headers (scripts/node-headers.sh); Debian's are in libnode-dev, installed here when its version
# is node's.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
optional=()
command -v python3 >/dev/null || missing+=(python3)
command -v bash >/dev/null || missing+=(bash)
command -v setsid >/dev/null || missing+=(util-linux)
command -v javac >/dev/null || missing+=(default-jdk-headless)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v make >/dev/null || missing+=(make)
command -v c++ >/dev/null || missing+=(g++)
if ! bash scripts/node-headers.sh >/dev/null 2>&1 && command -v apt-cache >/dev/null; then
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  candidate=$(apt-cache policy libnode-dev 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9]*\).*/\1/p')
  # Only the headers of node's own major version build an addon that loads; others would only hide the problem.
  if [ "$candidate" = "$node_major" ]; then missing+=(libnode-dev); fi
fi
# PostgreSQL 15 (the second store, issue 18): its tests and benchmark start a throwaway cluster with
# scripts/postgres.sh (initdb + pg_ctl in a temp dir); no system service is used.
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
# Container jobs (src/executors/docker/): Docker Engine, started by scripts/docker-engine.sh where no systemd does;
# busybox-static and Debian's python3.11 make the test images (scripts/docker-test-images.sh).
PATH="$PATH:/usr/sbin:/sbin" command -v dockerd >/dev/null || optional+=(docker.io)
[ -x /bin/busybox ] || optional+=(busybox-static)
[ -x /usr/bin/python3.11 ] || optional+=(python3.11)
# Container image pulls with registry credentials: a local registry (scripts/docker-registry.sh).
command -v docker-registry >/dev/null || optional+=(docker-registry)
# ADS runtimes (docs/ads-runtimes.md): gitPython clones with git inside the run (its tests serve repositories with
# `git daemon` and `git http-backend`) and signs its principal's requests with openssl; notebooks run on Debian's
# Jupyter (nbformat, jupyter_client and an ipykernel for /usr/bin/python3).
command -v git >/dev/null || missing+=(git)
command -v openssl >/dev/null || missing+=(openssl)
command -v jupyter-nbconvert >/dev/null || missing+=(jupyter-nbconvert)
/usr/bin/python3 -c 'import ipykernel' 2>/dev/null || missing+=(python3-ipykernel)
command -v bwrap >/dev/null || optional+=(bubblewrap)
PATH="$PATH:/usr/sbin:/sbin" command -v mkfs.ext4 >/dev/null || optional+=(e2fsprogs)
PATH="$PATH:/usr/sbin:/sbin" command -v mount >/dev/null || optional+=(mount)
# Slurm: the Slurm executor's tests and benchmark start a two-node cluster on this machine (scripts/slurm-cluster.sh)
# with Debian's slurm-wlm (slurmctld, slurmd and the client tools) and munge (its authentication); optional like
# the isolation tools: without them those tests skip (never under CI, which installs them as root).
PATH="$PATH:/usr/sbin:/sbin" command -v slurmctld >/dev/null || optional+=(slurm-wlm)
PATH="$PATH:/usr/sbin:/sbin" command -v munged >/dev/null || optional+=(munge)
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
