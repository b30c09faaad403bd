# syntax=docker/dockerfile:1.7
# Trainer for GPU nodes: @tensorflow/tfjs-node-gpu 4.22 binds libtensorflow 2.9.1, built against
# CUDA 11.2 and cuDNN 8, hence this base. One pod per GPU (k8s/overlays/gpu). Build from the
# repository root:
#   docker build -f k8s/images/trainer-gpu.Dockerfile -t ballast/trainer-gpu:0.1.0 .
# The node needs an NVIDIA driver recent enough for CUDA 11.2 (>= 460) and the device plugin.

ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

FROM ${CUDA_IMAGE} AS node
ARG NODE_VERSION=20.19.5
# Node from the official release tarball (checksum-verified): Ubuntu 20.04's own nodejs is v10.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl xz-utils \
 && rm -rf /var/lib/apt/lists/* \
 && curl -fsSLO "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-x64.tar.xz" \
 && curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/SHASUMS256.txt" | grep " node-v${NODE_VERSION}-linux-x64.tar.xz\$" | sha256sum -c - \
 && tar -xJf "node-v${NODE_VERSION}-linux-x64.tar.xz" -C /usr/local --strip-components=1 --no-same-owner \
 && rm "node-v${NODE_VERSION}-linux-x64.tar.xz" \
 && node --version

FROM node AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g npm@11.19.1
COPY package.json package-lock.json ./
COPY patches ./patches
# npm 11 skips every dependency install script that package.json's allowScripts (or
# --allow-scripts) does not name. tfjs-node-gpu's script is what makes it work at all: it downloads
# libtensorflow-gpu 2.9.1 and the N-API binding. So it is allowed explicitly, by name, here in the
# image build and nowhere else (developers' machines have no CUDA and keep it blocked). The require
# afterwards fails the build if the binding did not land.
RUN npm ci --omit=optional --no-audit --no-fund \
 && npm install --no-save --no-audit --no-fund --allow-scripts=@tensorflow/tfjs-node-gpu @tensorflow/tfjs-node-gpu@4.22.0 \
 && test -e node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/@tensorflow/tfjs-node \
 && npm cache clean --force

FROM node
ENV NODE_ENV=production \
    # tfjs-node-gpu grabs all GPU memory up front by default; let it grow instead, so that the
    # tfjs_bytes metric and nvidia-smi tell the truth.
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    BALLAST_BACKEND=tensorflow
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
