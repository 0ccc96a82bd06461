# syntax=docker/dockerfile:1
# The cutover worker: `node dist/client/cli.js worker` on task queue `cutover`.
# Build: docker build -t cutover-worker:local .   (docker-compose.yml builds it as cutover-worker)
#
# node:20 on Debian bookworm (glibc): @temporalio/core-bridge ships prebuilt glibc binaries only
# (x86_64 and aarch64 linux-gnu), so Alpine/musl images would not load it.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile TypeScript, then drop the dev dependencies
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
# Manifests first, so the dependency layer is cached until they change.
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsc -p tsconfig.build.json -> dist/
RUN npm run build \
 && npm prune --omit=dev

# ---- runtime: compiled code and production dependencies only, as the unprivileged `node` user
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# Exec form: node receives SIGTERM directly (compose adds tini with `init: true`) and the
# worker shuts down gracefully.
CMD ["node", "dist/client/cli.js", "worker"]
