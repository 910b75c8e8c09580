# The opgraph worker image (docker-compose.yml builds it for opgraph-worker and s3-setup):
#   docker build -t opgraph-worker .
#   docker run --env-file worker.env opgraph-worker
# The job definitions are part of the image (OPGRAPH_DEFINITIONS, default examples/definitions.ts):
# rebuild it when they change (`docker compose up --build`).
FROM node:20.19-bookworm-slim
WORKDIR /app
# Dependencies first, so that a code change does not reinstall them. `npm ci`: exactly package-lock.json;
# no devDependencies (tests, linters): the worker runs TypeScript with tsx, a dependency.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
# The Temporal worker shuts down gracefully on SIGTERM (docker stop); init: true in compose reaps children.
USER node
CMD ["node", "--import", "tsx", "worker.ts"]
