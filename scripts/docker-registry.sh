#!/usr/bin/env bash
# A container registry for the container tests' pulls (Debian's docker-registry, the CNCF Distribution registry):
# started in the background on 127.0.0.1 when none answers on its port, with htpasswd (basic) authentication, and
# dsjobs-test/busybox:1 pushed to it as dsjobs-test/pulled:1 when the registry does not have it yet.
# Plain HTTP: dockerd treats registries on 127.0.0.0/8 as insecure by default, so it needs no TLS or daemon flags.
# Prints what a test needs, one KEY=VALUE a line: address, username, password, image, digest (the manifest's).
# Needs scripts/docker-engine.sh and scripts/docker-test-images.sh to have run. Root only (state in /var/lib).
#   DSJOBS_TEST_REGISTRY_PORT  the port (default 5055)
#   DSJOBS_TEST_REGISTRY_DIR   its storage, htpasswd and password (default /var/lib/dsjobs-test-registry)
set -euo pipefail
port=${DSJOBS_TEST_REGISTRY_PORT:-5055}
dir=${DSJOBS_TEST_REGISTRY_DIR:-/var/lib/dsjobs-test-registry}
sock=${DOCKER_SOCKET:-/var/run/docker.sock}
address="127.0.0.1:$port"
user=dsjobs-test
repo=dsjobs-test/pulled
tag=1
docker() { command docker -H "unix://$sock" "$@"; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

command -v docker-registry >/dev/null || { echo "docker-registry: not installed (Debian: apt-get install docker-registry)" >&2; exit 1; }
mkdir -p "$dir/storage"
chmod 700 "$dir"
# One password per host, made once: a registry already running from an earlier call keeps answering to it.
if [ ! -s "$dir/password" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password")
fi
password=$(cat "$dir/password")
if [ ! -s "$dir/htpasswd" ]; then
  # The registry takes bcrypt only; cost 4, the lowest, as every pull checks it. Apache's htpasswd where installed,
  # else glibc's crypt through Debian's python3 (its crypt module, removed in Python 3.13, is there in Debian 12's).
  if command -v htpasswd >/dev/null; then
    htpasswd -nbB -C 4 "$user" "$password" | head -n 1 >"$dir/htpasswd"
  else
    /usr/bin/python3 -W ignore -c '
import crypt, sys
print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$user" "$password" >"$dir/htpasswd"
  fi
fi
cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
http:
  addr: $address
auth:
  htpasswd:
    realm: dsjobs-test
    path: $dir/htpasswd
EOF

if ! answers; then
  # setsid: the registry outlives the test process that started it (other test files use it too).
  setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
  # To stop it: kill "$(cat "$dir/registry.pid")".
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 300); do
    answers && break
    sleep 0.1
  done
  answers || { echo "docker-registry: nothing answers on $address within 30 s; see $dir/registry.log" >&2; tail -n 20 "$dir/registry.log" >&2; exit 1; }
fi

link="$dir/storage/docker/registry/v2/repositories/$repo/_manifests/tags/$tag/current/link"
if [ ! -s "$link" ]; then
  # A login of its own (DOCKER_CONFIG): the host's docker client config is left as it was.
  cfg=$(mktemp -d)
  trap 'rm -rf "$cfg"' EXIT
  # Its output only on failure (it warns that the throwaway config stores the password unencrypted).
  out=$(echo "$password" | DOCKER_CONFIG=$cfg docker login -u "$user" --password-stdin "$address" 2>&1) || { echo "$out" >&2; exit 1; }
  docker tag dsjobs-test/busybox:1 "$address/$repo:$tag"
  DOCKER_CONFIG=$cfg docker push "$address/$repo:$tag" >/dev/null
  # Only the registry has it: a test's run pulls it.
  docker rmi "$address/$repo:$tag" >/dev/null
fi
echo "address=$address"
echo "username=$user"
echo "password=$password"
echo "image=$address/$repo:$tag"
echo "digest=$(cat "$link")"
