#!/usr/bin/env bash
# Prints the directory whose include/node/ holds the C headers of the node on PATH (npm's `nodedir`), or exits 1
# saying what is missing.
#
# Why: better-sqlite3 is a native addon. Its install first downloads a prebuilt binary from GitHub; where that cannot
# be reached, node-gyp compiles it and, unless nodedir names a local copy, downloads Node's headers from nodejs.org
# first. With the headers already on the machine the build needs nothing beyond the npm registry.
#
# Looks in npm's configured nodedir (npm_config_nodedir, e.g. from ~/.npmrc) and in the prefix node is installed under
# (/usr for Debian's and NodeSource's packages, /usr/local for the official tarball, ~/.nvm/versions/node/vX for nvm).
# Headers count only when they are of the same major version as node: an addon built against another major's
# headers does not load.
set -euo pipefail
node_bin=$(command -v node || true)
if [ -z "$node_bin" ]; then
  echo "node-headers: no node on PATH" >&2
  exit 1
fi
version=$("$node_bin" -p 'process.versions.node')
major=${version%%.*}
prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")

headers_major() { # DIR -> the NODE_MAJOR_VERSION of DIR/include/node, or nothing
  sed -n 's/^#define NODE_MAJOR_VERSION \([0-9]*\).*/\1/p' "$1/include/node/node_version.h" 2>/dev/null | head -n 1 || true
}

looked=()
for dir in ${npm_config_nodedir:+"$npm_config_nodedir"} "$prefix"; do
  found=$(headers_major "$dir")
  if [ "$found" = "$major" ] && [ -f "$dir/include/node/node.h" ]; then
    echo "$dir"
    exit 0
  fi
  looked+=("$dir/include/node (${found:+headers of node $found}${found:-no headers})")
done

{
  echo "node-headers: the C headers of node $version (include/node/node.h) are not on this machine."
  echo "  Looked in: ${looked[*]}"
  echo "  better-sqlite3 then has to download a prebuilt binary from github.com or Node's headers from nodejs.org."
  echo "  Install the headers of node $major: Debian/Ubuntu's nodejs package has them in libnode-dev (its version must"
  echo "  be $major.x), NodeSource's nodejs and the nodejs.org tarball ship them in <prefix>/include/node;"
  echo "  or point npm at a copy: npm_config_nodedir=DIR where DIR/include/node/node.h exists."
} >&2
exit 1
