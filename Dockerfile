# syntax=docker/dockerfile:1
# ChittyID gRPC ID-minting service (SOP-DEPLOY-002 5.1.1).
# Build:  see README "Deploy" (docker build --build-arg VERSION=... --build-arg GIT_COMMIT=... .)
# Checked by: npm run check:deploy (deploy/checks/dockerfile).

# ---------------------------------------------------------------------------
# Stage 1: build — all dependencies, codegen, TypeScript, then drop dev deps.
# ---------------------------------------------------------------------------
# Pinned patch + Alpine release (SOP 8.1: never a floating tag); bump deliberately.
FROM node:20.20.2-alpine3.23 AS builder

# No python3/make/g++ (unlike the SOP sample): no dependency compiles native code
# (pg is pure JS, PGlite is WebAssembly, buf ships a static binary).
WORKDIR /build

# Dependency manifests first so the npm ci layer is cached across source edits.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Sources; .dockerignore keeps tests, secrets, .env files, dist/ and node_modules/ out.
COPY . .

# --omit=optional leaves out the embedded database (@electric-sql/pglite, 20 MB): the image
# runs on PostgreSQL (DATABASE_URL). prune-node-modules.sh then drops source maps, .d.ts,
# docs, tests and bundler-only builds that Node never loads (see deploy/measure-app-layer.sh).
RUN npm run generate \
 && npm run build \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund \
 && sh scripts/prune-node-modules.sh node_modules \
 && npm cache clean --force

# ---------------------------------------------------------------------------
# Stage 2: production — production dependencies and compiled JS only.
# ---------------------------------------------------------------------------
FROM node:20.20.2-alpine3.23 AS production

# OCI image annotations (SOP 5.2.1), filled from build arguments; none is a secret.
ARG BUILD_DATE=unknown
ARG VERSION=0.0.0-dev
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.title="ChittyID" \
      org.opencontainers.image.description="Universal Identity System: gRPC ChittyID minting service" \
      org.opencontainers.image.vendor="ChittyCorp" \
      org.opencontainers.image.url="https://id.chitty.cc" \
      org.opencontainers.image.source="https://github.com/chittycorp/chittyid" \
      org.opencontainers.image.licenses="UNLICENSED"

# tini reaps zombies and forwards SIGTERM to node (graceful shutdown < 30 s).
# No curl: the HEALTHCHECK uses busybox wget, already in the base image (smaller, fewer CVEs).
# The base image's npm/yarn/corepack are removed: the container runs node directly, and
# npm's own dependency tree is the usual source of scanner findings (SOP 5.2.2).
# /app/tmp is 1777 (like /tmp) because a tmpfs mounted over it (compose read_only + tmpfs) is
# root-owned and takes this directory's mode: with 0755 the service (TMPDIR) could not write there.
RUN apk add --no-cache tini \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /opt/yarn* /usr/local/bin/yarn /usr/local/bin/yarnpkg \
 && addgroup -g 1001 -S chittyid \
 && adduser -u 1001 -S -D -H -G chittyid -s /sbin/nologin chittyid \
 && mkdir -p /app/logs /app/tmp /app/data \
 && chown chittyid:chittyid /app/logs /app/tmp /app/data \
 && chmod 1777 /app/tmp

WORKDIR /app

# Application files stay root-owned (read-only to the service); only logs/tmp/data are writable.
COPY --from=builder /build/package.json /build/package-lock.json ./
COPY --from=builder /build/node_modules ./node_modules
COPY --from=builder /build/dist ./dist
# The .proto contract, shipped with the image so operators can hand it to client teams
# (reflection itself serves the compiled descriptors in dist/src/gen/descriptor-set.js).
COPY --from=builder /build/proto ./proto

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    GRPC_PORT=50051 \
    PORT=3000 \
    METRICS_PORT=9090 \
    CHITTYID_DATA_DIR=/app/data \
    TMPDIR=/app/tmp

USER chittyid:chittyid

# gRPC, HTTP health shim (/health, /ready), Prometheus /metrics.
EXPOSE 50051 3000 9090

# Liveness via the HTTP shim. busybox wget exits non-zero on refusal or an HTTP error status.
HEALTHCHECK --interval=30s --timeout=3s --start-period=40s --retries=3 \
  CMD ["wget", "-q", "-T", "2", "-O", "/dev/null", "http://127.0.0.1:3000/health"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["/sbin/tini", "--"]
# node directly (not npm): signals reach the service, and no npm process sits in between.
# --max-semi-space-size=4 (MB, default 16) keeps each isolate's young generation small: peak RSS
# under MintBatch load 270 → 195 MB with no measurable throughput cost (loadtest/RESULTS.md).
CMD ["node", "--max-semi-space-size=4", "--import", "./dist/src/telemetry/instrumentation.js", "dist/src/main.js"]
