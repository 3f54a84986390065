# The fruits image: the `fruits` CLI (worker, run, serve, dashboard, queue-metrics, …) with its
# production dependencies and a verified MobileNetV2 model. Build from the repository root:
#   docker build -t fruits .
# No credentials go in: AWS access comes from the task role at run time, the Redis token from
# Secrets Manager (see deploy/image/entrypoint.sh). The CDK app in deploy/ builds this at deploy.

ARG NODE_VERSION=24
ARG DEBIAN_RELEASE=bookworm

# Model: the ONNX Model Zoo's MobileNetV2-7, fetched once at build time and kept only if its
# sha256 matches (the same checksum the app's model registry holds). Its own stage, so source
# changes never download it again.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE} AS model
ARG MODEL_URL=https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-7.onnx
ARG MODEL_FILE=mobilenetv2-7.onnx
ARG MODEL_SHA256=c1c513582d56afceff8516c73804e484c81c6a830712ab6d682253f4a3cd042f
WORKDIR /models
RUN curl --fail --silent --show-error --location --retry 3 --output "${MODEL_FILE}" "${MODEL_URL}" \
 && echo "${MODEL_SHA256}  ${MODEL_FILE}" | sha256sum --check --strict -

# Build: all dependencies, compile TypeScript and bundle it (esbuild, a dev dependency), then drop
# the dev dependencies.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` would compile before the sources are copied (the
# build runs below); sharp and msgpackr-extract load prebuilt binaries from optional packages;
# onnxruntime-node's script (a CUDA download) is denied in package.json's allowScripts anyway; and
# the `node` devDependency stays unset up, so this image's own Node 24 runs the build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
# onnxruntime-node ships macOS and Windows binaries too (~220 MB): a Linux image never loads them,
# and every worker start pulls the image, so they go.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32

# Runtime: slim Node, no compilers, no npm cache, not root.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS runtime
ENV NODE_ENV=production \
    FRUITS_MODEL_DIR=/opt/fruits/models \
    FRUITS_CACHE_DIR=/tmp/fruits-cache
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=model /models/ /opt/fruits/models/
COPY deploy/image/entrypoint.sh /usr/local/bin/fruits-entrypoint
# Files stay owned by root: the app can read its code and model but not change them.
USER node
EXPOSE 8080 3000
ENTRYPOINT ["/usr/local/bin/fruits-entrypoint"]
CMD ["--help"]
