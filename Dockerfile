# One image for every ratebus Node service. The compose file picks the service by its command:
#   node services/fetcher/dist/src/main.js      (the default below)
#   node services/gateway/dist/src/main.js
#   node services/octopus-sim/dist/src/main.js
#   node services/cli/dist/src/main.js watch <product> <tariff>
# Build: docker build -t ratebus:local .   (or `docker-compose build`)
# Base: Node.js 24 LTS. Without a registry, deploy/offline/images.sh builds a local base and
#   docker build --build-arg NODE_IMAGE=ratebus-offline/node:24 -t ratebus:local .
ARG NODE_IMAGE=node:24-bookworm-slim

# --- manifests: only package.json files and the lock, so `npm ci` layers are reused until they change ------
# (copying the whole tree and deleting the rest keeps up with new workspaces without editing this file)
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -depth -type d -empty -delete

# --- build: every dependency, then `npm run build` (tsc -b) -------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && mkdir /out \
 && for d in packages/*/dist/src services/*/dist/src; do cp -R --parents "$d" /out/; done

# --- production dependencies only -------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime: production node_modules + compiled dist/src of each workspace; no sources, no dev tools ---------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app ./
COPY --from=build /out/ ./
# Writable state for the gateway (file mirror, persisted copy). Named volumes mounted here start with this
# ownership, so the non-root user can write them.
RUN mkdir -p /var/lib/ratebus/mirror /var/lib/ratebus/cache /var/lib/ratebus/predbat/cache \
 && chown -R node:node /var/lib/ratebus
USER node
ENTRYPOINT ["node"]
CMD ["services/fetcher/dist/src/main.js"]
