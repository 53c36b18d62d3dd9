#!/usr/bin/env bash
# The container tests' images, made locally with `docker import` (no registry is reachable in CI): built only when
# missing, so a second call costs one `docker image inspect` per image.
#   dsjobs-test/busybox:1  busybox-static and its applets (~2 MB): starts fastest (the start-latency benchmark).
#   dsjobs-test/tools:1    busybox + bash + the host's python3.11 with its libraries and standard library (~60 MB):
#                          the conformance suite's scripts are bash and python3.
# Copying the host's own binaries is seconds; mmdebstrap would need Debian's archive and minutes.
set -euo pipefail
sock=${DOCKER_SOCKET:-/var/run/docker.sock}
docker() { command docker -H "unix://$sock" "$@"; }
have() { docker image inspect "$1" >/dev/null 2>&1; }

busybox_root() {
  local root=$1
  mkdir -p "$root/bin" "$root/usr/bin" "$root/tmp" "$root/home/datascience" "$root/etc"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'datascience:x:1000:1000::/home/datascience:/bin/sh' >>"$root/etc/passwd"
  printf 'root:x:0:\ndatascience:x:1000:\n' >"$root/etc/group"
}

# Copies a binary and the shared libraries ldd names for it, at the same paths.
copy_with_libs() {
  local root=$1 bin=$2
  mkdir -p "$root$(dirname "$bin")"
  cp -L "$bin" "$root$bin"
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! have dsjobs-test/busybox:1; then
  busybox_root "$work/busybox"
  tar -C "$work/busybox" -c . | docker import -c 'CMD ["sh"]' -c 'WORKDIR /home/datascience' - dsjobs-test/busybox:1 >/dev/null
fi

if ! have dsjobs-test/tools:1; then
  # Debian's own python (a pyenv or venv python3 first on PATH is not self-contained the same way).
  py=/usr/bin/python3.11
  [ -x "$py" ] || { echo "docker-test-images: /usr/bin/python3.11 is needed (apt-get install python3.11)" >&2; exit 1; }
  root="$work/tools"
  busybox_root "$root"
  rm -f "$root/bin/sh"
  copy_with_libs "$root" /bin/bash
  ln -s bash "$root/bin/sh"
  copy_with_libs "$root" "$py"
  ln -s "$(basename "$py")" "$root/usr/bin/python3"
  stdlib=/usr/lib/python3.11
  mkdir -p "$root/usr/lib"
  tar -C "$(dirname "$stdlib")" --exclude='*/test' --exclude='*/__pycache__' --exclude='*/idlelib' --exclude='*/tkinter' \
    -c "$(basename "$stdlib")" | tar -C "$root/usr/lib" -x
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' -c 'WORKDIR /home/datascience' -c 'ENV PATH=/usr/bin:/bin' - dsjobs-test/tools:1 >/dev/null
fi
