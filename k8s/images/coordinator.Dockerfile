# syntax=docker/dockerfile:1.7
# The slim image: coordinator, CLI (submit/status/results/report) and `ballast download`; no tfjs
# native binding. Build from the repository root:
#   docker build -f k8s/images/coordinator.Dockerfile -t ballast/coordinator:0.1.0 .
# (BuildKit reads coordinator.Dockerfile.dockerignore beside this file.)

FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
# npm 11, as on the developers' machines: it skips dependency install scripts unless allowed, and
# this image needs none (the root's own postinstall, patch-package, still runs).
RUN npm install -g npm@11.19.1
COPY package.json package-lock.json ./
COPY patches ./patches
# Optional dependencies are tfjs-node(-gpu): not in this image. Dev dependencies are needed for the
# postinstall (patch-package) and pruned right after.
RUN npm ci --omit=optional --no-audit --no-fund \
 && npm prune --omit=dev --omit=optional --no-audit --no-fund \
 && npm cache clean --force

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY cli ./cli
COPY proto ./proto
COPY coordinator ./coordinator
COPY trainer ./trainer
COPY examples ./examples
# Non-root; the Kubernetes pods also run with a read-only root filesystem (tsx caches in /tmp).
RUN ln -s /app/bin/ballast.mjs /usr/local/bin/ballast \
 && groupadd --gid 10001 ballast && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ballast
USER 10001:10001
EXPOSE 50051 9464
ENTRYPOINT ["ballast"]
CMD ["--help"]
