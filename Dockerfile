# syntax=docker/dockerfile:1
#
# One image for every role of pv-pipeline:
#   docker run … pv-pipeline serve worker      (api | planner | worker | loader | all)
#   docker run … pv-pipeline run --from … --to …
# It runs the JavaScript that `tsc -b` builds (as `npm install` does on a development machine), with
# production dependencies only; runs as uid 1000 (non-root).
#
# amd64 only: package-lock.json carries DuckDB's native binding for linux-x64 alone, so build with
# `--platform linux/amd64` on arm64 hosts (compose does). The smoke test below fails the build
# otherwise, instead of a loader that crashes at start.
#
# Pin NODE_IMAGE by digest in CI (node:24-slim@sha256:…) for reproducible builds.
ARG NODE_IMAGE=node:24-slim

# ---- the workspace manifests, the base of the two installs below
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Every workspace's manifest (test/deploy checks that this list matches package.json "workspaces").
COPY packages/core/package.json packages/core/
COPY packages/schema/package.json packages/schema/
COPY packages/pvdaq/package.json packages/pvdaq/
COPY packages/sinks/package.json packages/sinks/
COPY packages/stages/package.json packages/stages/
COPY packages/quality/package.json packages/quality/
COPY packages/datasets/package.json packages/datasets/
COPY packages/queue/package.json packages/queue/
COPY services/api/package.json services/api/
COPY services/planner/package.json services/planner/
COPY services/worker/package.json services/worker/
COPY services/loader/package.json services/loader/
COPY services/runtime/package.json services/runtime/

# ---- build: every dependency (TypeScript included), then `tsc -b`: the JavaScript the image runs
FROM manifests AS build
RUN --mount=type=cache,target=/root/.npm \
    npm install --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json ./
COPY src ./src
COPY packages ./packages
COPY services ./services
RUN npx tsc -b tsconfig.build.json \
 && rm -rf packages/*/node_modules services/*/node_modules

# ---- dependencies: `npm install --omit=dev` over the workspace manifests only (cached until they change)
FROM manifests AS deps
ENV NODE_ENV=production
# --ignore-scripts: no install script runs at build time. The native parts (DuckDB, msgpackr) come as
# prebuilt optional packages and need none. typescript survives --omit=dev as an optional peer of
# valibot (Bull Board) but nothing loads it at run time: 23 MB less. test/deploy runs this very
# command line. `npm install` (not `npm ci`): the lockfile pins every version but lacks other
# platforms' optional binaries, which `npm ci` refuses.
RUN --mount=type=cache,target=/root/.npm \
    npm install --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/typescript

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="pv-pipeline" \
      org.opencontainers.image.description="PVDAQ (OEDI S3) -> star schema -> DuckDB / Parquet / BigQuery; every cluster role in one image" \
      org.opencontainers.image.licenses="MIT"
# npm, npx, corepack and yarn are not needed at run time: less to ship, less to patch.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* \
 && mkdir -p /data /staging \
 && chown 1000:1000 /data /staging
WORKDIR /app
# node_modules (with the workspace links) and the manifests from the deps stage, then the built
# JavaScript (each workspace's dist/, the CLI's dist/). Owned by root and read-only to the app user:
# the process cannot rewrite its own code.
COPY --from=deps /app /app
COPY bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages ./packages
COPY --from=build /app/services ./services
# Smoke test: the CLI starts, and DuckDB's native binding loads on this platform.
RUN node bin/pv-pipeline.js --help >/dev/null \
 && node --input-type=module -e "await import('@duckdb/node-api')" \
 && rm -rf /tmp/*

# Container defaults: two malloc arenas and buffers of 256 KiB and more in pages of their own, as the CLI's
# shebang sets (less RSS, bench/RESULTS.md); the sink
# and staging under the two writable directories (the built-in defaults point into /app, which the app
# user cannot write). Compose and the ConfigMap set them too.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=262144 \
    PV_SINK=duckdb:///data/pvdaq.duckdb \
    PV_STAGING=file:///staging
# The named user of the base image as a number, so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# Role from the running `pv-pipeline serve <role>` process: api/all → GET /readyz, others → Redis PING.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "bin/healthcheck.js"]
# A small young generation (2 MiB semi-spaces): parsing garbage is collected young instead of
# piling up in the old generation, which keeps a worker streaming a GB-sized CSV near 200 MB RSS
# (bench/RESULTS.md, "Prize CSVs"); throughput is unchanged. Two V8 helper threads, as the CLI's shebang
# sets: four crowd the other threads of a small container. An old generation that grows 20 % between full
# collections, as the shebang sets: promoted I/O buffers are freed before they pile up.
ENTRYPOINT ["node", "--max-semi-space-size=2", "--v8-pool-size=2", "--heap-growing-percent=20", "bin/pv-pipeline.js"]
CMD ["serve", "all"]
