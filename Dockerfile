# The pfs image: pfsd (the daemon), pfs (the CLI) and pfsd-entrypoint, the start script of the
# StatefulSet that `pfs deploy kubernetes` prints. Build from the repository root:
#   docker build -t pfs:0.1.0 .
# (deploy/kubernetes/README.md: loading it into kind or minikube, pushing it to a registry).
# Two stages: the first compiles the TypeScript with the dev dependencies; the second holds
# only the compiled code, the .proto files it loads at run time and the production
# dependencies, and runs as the unprivileged `node` user (uid 1000, the pods' runAsUser).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are here (the build below does);
# no dependency needs an install script (package.json allowScripts).
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY cmd ./cmd
COPY pkg ./pkg
RUN npx tsc -p tsconfig.json

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/cmd ./dist/cmd
COPY --from=build /src/dist/pkg ./dist/pkg
# pkg/proto/*.ts load their .proto files from here at run time (../../../pkg/proto from dist).
COPY pkg/proto ./pkg/proto
COPY deploy/kubernetes/pfsd-entrypoint.sh /usr/local/bin/pfsd-entrypoint
RUN chmod 0755 /usr/local/bin/pfsd-entrypoint dist/cmd/pfsd.js dist/cmd/pfs.js \
  && ln -s /app/dist/cmd/pfsd.js /usr/local/bin/pfsd \
  && ln -s /app/dist/cmd/pfs.js /usr/local/bin/pfs \
  && mkdir -p /var/lib/pfs \
  && chown node:node /var/lib/pfs
USER node
# etcd client, Raft peer, metrics and health (/metrics, /livez, /readyz), pfs API.
EXPOSE 2379 2380 2381 30650
# The StatefulSet names pfsd-entrypoint as its command; `docker run pfs:0.1.0 pfs version` works.
CMD ["pfsd-entrypoint"]
