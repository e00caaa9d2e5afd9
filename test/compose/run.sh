#!/usr/bin/env bash
# The compose deployment as an integration test (test/compose/README.md): starts dockerd when none answers,
# builds the base images without a registry (deploy/offline/images.sh, kept between runs) and the ratebus
# image from ./Dockerfile once, brings `docker-compose --profile sim` up on free loopback ports, runs the
# end-to-end suite against it plus the compose-only scenarios, and always tears everything down.
#   bash test/compose/run.sh               # after `npm ci && npm run build`
#   RATEBUS_COMPOSE_BENCH=full bash test/compose/run.sh   # container failover figures for docs/benchmarks.md
# Exits non-zero on any failure. Needs root, Debian's docker.io, docker-compose and debootstrap.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

say() { printf '\ncompose-test: %s\n' "$*"; }
die() { echo "compose-test: $*" >&2; exit 1; }

for tool in docker dockerd docker-compose debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install -y docker.io docker-compose debootstrap)"
done

# --- a Docker engine ----------------------------------------------------------------------------------------
started_dockerd=""
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd"
  dockerd >/tmp/ratebus-dockerd.log 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/ratebus-dockerd.log >&2; die "dockerd did not start"; }
fi

# --- images -------------------------------------------------------------------------------------------------
say "base images (deploy/offline/images.sh)"
images=$(deploy/offline/images.sh) || die "building the base images failed"
RATEBUS_NODE_IMAGE=$(printf '%s\n' "$images" | sed -n 's/^RATEBUS_NODE_IMAGE=//p')
RATEBUS_NATS_IMAGE=$(printf '%s\n' "$images" | sed -n 's/^RATEBUS_NATS_IMAGE=//p')
RATEBUS_IMAGE=ratebus:compose-test
export RATEBUS_NODE_IMAGE RATEBUS_NATS_IMAGE RATEBUS_IMAGE
say "ratebus image from ./Dockerfile (NODE_IMAGE=$RATEBUS_NODE_IMAGE)"
build_started=$(date +%s)
docker build -q --build-arg "NODE_IMAGE=$RATEBUS_NODE_IMAGE" -t "$RATEBUS_IMAGE" . >/dev/null \
  || die "docker build failed"
echo "built in $(($(date +%s) - build_started)) s"

# --- the deployment's settings: the environment, so every docker-compose call (the suite's too) sees them ---
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
password() { echo "p$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"; }
work=$(mktemp -d /tmp/ratebus-compose.XXXXXX)
export COMPOSE_PROJECT_NAME="ratebus-test-$$"
export COMPOSE_FILE="docker-compose.yml:test/compose/ports.yml"
export COMPOSE_PROFILES=sim
export OCTOPUS_BASE_URL=http://octopus-sim:8091 OCTOPUS_SIM_CLOCK="" SIM_START="" SIM_SPEED=1 SIM_SEED=1
export RATEBUS_FETCHER_PASSWORD RATEBUS_POD_PASSWORD RATEBUS_GATEWAY_PASSWORD RATEBUS_INSPECTOR_PASSWORD
export RATEBUS_LASTRESORT_PASSWORD
RATEBUS_FETCHER_PASSWORD=$(password) RATEBUS_POD_PASSWORD=$(password)
RATEBUS_GATEWAY_PASSWORD=$(password) RATEBUS_INSPECTOR_PASSWORD=$(password)
RATEBUS_LASTRESORT_PASSWORD=$(password)
export RATEBUS_NATS_PORT RATEBUS_NATS2_PORT RATEBUS_NATS3_PORT RATEBUS_GATEWAY_PORT RATEBUS_SIM_PORT
RATEBUS_NATS_PORT=$(free_port) RATEBUS_NATS2_PORT=$(free_port) RATEBUS_NATS3_PORT=$(free_port)
RATEBUS_GATEWAY_PORT=$(free_port) RATEBUS_SIM_PORT=$(free_port)
# The mirror on a host path, so the suite can read the files the gateway writes (the image's user is uid 1000).
export RATEBUS_MIRROR_VOLUME="$work/mirror"
mkdir -p "$RATEBUS_MIRROR_VOLUME" && chown 1000:1000 "$RATEBUS_MIRROR_VOLUME"
# A PredBat-style cache directory fed by the gateway, on a host path the suite reads (predbat.compose.ts).
export RATEBUS_PREDBAT_VOLUME="$work/predbat" RATEBUS_PREDBAT_CACHE_DIR=/var/lib/ratebus/predbat/cache
export RATEBUS_PREDBAT_TARIFFS=AGILE-24-10-01/E-1R-AGILE-24-10-01-C,GO-VAR-22-10-14/E-1R-GO-VAR-22-10-14-C
export RATEBUS_E2E_PREDBAT_DIR="$RATEBUS_PREDBAT_VOLUME/cache"
mkdir -p "$RATEBUS_E2E_PREDBAT_DIR" && chown -R 1000:1000 "$RATEBUS_PREDBAT_VOLUME"
export LOG_LEVEL=info

teardown() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    say "failed: state and log tails"
    docker-compose ps >&2 || true
    docker-compose logs --no-color --tail=40 >&2 || true
  fi
  say "tearing down ($COMPOSE_PROJECT_NAME)"
  docker-compose down -v --remove-orphans -t 20 >/dev/null 2>&1 || true
  # files the containers wrote (uid 1000) in the mirror
  rm -rf "$work"
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# --- up, and wait until every service is healthy --------------------------------------------------------
say "up: $COMPOSE_PROJECT_NAME with $RATEBUS_NATS_IMAGE (NATS on 127.0.0.1:$RATEBUS_NATS_PORT, gateway :$RATEBUS_GATEWAY_PORT)"
up_started=$(date +%s)
docker-compose up -d --no-build || die "docker-compose up failed"
# shellcheck source=test/compose/healthy.sh
. test/compose/healthy.sh
wait_healthy 180 || die "not every service became healthy within 180 s"
echo "all $(docker-compose ps -q | wc -l) services healthy $(($(date +%s) - up_started)) s after up"

# --- the suites ---------------------------------------------------------------------------------------------
export RATEBUS_E2E_NATS_URL="nats://127.0.0.1:$RATEBUS_NATS_PORT,nats://127.0.0.1:$RATEBUS_NATS2_PORT,nats://127.0.0.1:$RATEBUS_NATS3_PORT"
export RATEBUS_E2E_GATEWAY_URL="http://127.0.0.1:$RATEBUS_GATEWAY_PORT"
export RATEBUS_E2E_SIM_URL="http://127.0.0.1:$RATEBUS_SIM_PORT"
export RATEBUS_E2E_MIRROR_DIR="$RATEBUS_MIRROR_VOLUME"
say "the compose-only scenarios, then the end-to-end suite in compose mode"
# The compose-only scenarios first: the e2e failover test moves the simulator's clock a day ahead.
npx mocha --no-config --timeout 300000 --exit 'test/dist/compose/*.compose.js' 'test/dist/e2e/*.test.js' \
  || die "the compose suites failed"

# Quick by default (2 runs per signal, keeps the code honest); RATEBUS_COMPOSE_BENCH=full records the figures
# in docs/benchmarks.md; RATEBUS_COMPOSE_BENCH=off skips it.
case "${RATEBUS_COMPOSE_BENCH:-quick}" in
  off) ;;
  full) say "container failover benchmark (full: docs/benchmarks.md)"
    node bench/dist/src/main.js --only failover-containers || die "the container failover benchmark failed" ;;
  *) say "container failover benchmark (quick)"
    node bench/dist/src/main.js --only failover-containers --quick || die "the container failover benchmark failed" ;;
esac
say "passed"
