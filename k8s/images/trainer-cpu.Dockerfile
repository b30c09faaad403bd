# syntax=docker/dockerfile:1.7
# Trainer for CPU nodes: the trainer with @tensorflow/tfjs-node (libtensorflow, multi-threaded;
# Ballast's backend selection picks it over wasm). Build from the repository root:
#   docker build -f k8s/images/trainer-cpu.Dockerfile -t ballast/trainer-cpu:0.1.0 .

FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
# tfjs-node's install script fetches libtensorflow and its prebuilt binding (node-pre-gyp); the
# fallback build from source needs python3, make and g++.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g npm@11.19.1
COPY package.json package-lock.json ./
COPY patches ./patches
# npm 11 blocks dependency install scripts unless allowed. tfjs-node's is the one this image needs
# (it downloads libtensorflow 2.9 and the N-API binding), so it, and only it, is allowed by name;
# tfjs-node-gpu (the other optional dependency) is not wanted here and is left out of the tree.
RUN npm ci --omit=optional --no-audit --no-fund \
 && npm install --no-save --no-audit --no-fund --allow-scripts=@tensorflow/tfjs-node @tensorflow/tfjs-node@4.22.0 \
 && node -e "require('@tensorflow/tfjs-node')" \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@tensorflow/tfjs-node-gpu \
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
RUN ln -s /app/bin/ballast.mjs /usr/local/bin/ballast \
 && groupadd --gid 10001 ballast && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ballast
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["ballast"]
CMD ["trainer", "--help"]
