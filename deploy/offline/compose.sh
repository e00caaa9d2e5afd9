#!/usr/bin/env bash
# docker-compose where no container registry is reachable: builds the local base images first
# (deploy/offline/images.sh: Debian minbase + Node.js 24 + this host's CA bundle, nats-server from Debian),
# then runs docker-compose with your arguments and those images. For example:
#   deploy/offline/compose.sh --profile sim up -d --build
#   deploy/offline/compose.sh ps
# Ports, passwords and profiles come from .env as usual (RATEBUS_NATS_PORT etc.: see .env.example).
set -euo pipefail
cd "$(dirname "$0")/../.."
images=$(deploy/offline/images.sh)
export RATEBUS_NODE_IMAGE RATEBUS_NATS_IMAGE
RATEBUS_NODE_IMAGE=$(printf '%s\n' "$images" | sed -n 's/^RATEBUS_NODE_IMAGE=//p')
RATEBUS_NATS_IMAGE=$(printf '%s\n' "$images" | sed -n 's/^RATEBUS_NATS_IMAGE=//p')
exec docker-compose "$@"
