#!/usr/bin/env bash
# Starts Docker Engine (dockerd) in the background when none answers on /var/run/docker.sock, for the container
# executor's tests and CI (a fresh Debian machine has docker.io installed by setup-host.sh, but no systemd to start
# it). Waits until it answers (at most 60 s). Its output goes to /var/log/dsjobs-dockerd.log. Root only.
set -euo pipefail
# dockerd is in /usr/sbin, which a minimal PATH (CI's, cron's) leaves out.
PATH="$PATH:/usr/sbin:/sbin"
sock=${DOCKER_SOCKET:-/var/run/docker.sock}
if docker -H "unix://$sock" version >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null; then
  echo "docker-engine: dockerd is not installed (Debian: apt-get install docker.io)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "docker-engine: dockerd is not running on $sock and only root can start it" >&2
  exit 1
fi
# setsid: the daemon outlives the test process that started it (other test files use it too).
setsid dockerd -H "unix://$sock" >/var/log/dsjobs-dockerd.log 2>&1 < /dev/null &
for _ in $(seq 1 600); do
  if docker -H "unix://$sock" version >/dev/null 2>&1; then exit 0; fi
  sleep 0.1
done
echo "docker-engine: dockerd did not answer on $sock within 60 s; see /var/log/dsjobs-dockerd.log" >&2
tail -n 20 /var/log/dsjobs-dockerd.log >&2 || true
exit 1
