# syntax=docker/dockerfile:1
# worker (CPU build): the Open Inference Protocol server on the pure-Go CPU engine.
# Build from the repository root:  docker build -f deploy/docker/worker.Dockerfile -t torchgate/worker .
FROM golang:1.26.8-bookworm AS build
WORKDIR /src/worker
# Build the module alone (GOWORK=off); the CPU engine needs no cgo.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
# clientmetrics is the module of per-client Prometheus counters both services share (go.mod
# replaces it with ../clientmetrics).
COPY clientmetrics/ /src/clientmetrics/
COPY worker/go.mod worker/go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY worker/ ./
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags='-s -w' -o /out/worker ./cmd/worker && \
    GOBIN=/out go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.62

# distroless static, nonroot (uid 65532): no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/worker /usr/local/bin/worker
COPY --from=build /out/grpc-health-probe /usr/local/bin/grpc-health-probe
USER 65532:65532
EXPOSE 8000 8001
# grpc.health.v1 on the inference gRPC listener (see the report: the worker must register it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/grpc-health-probe", "-addr=127.0.0.1:8001", "-connect-timeout=2s", "-rpc-timeout=2s"]
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["serve", "--model-repository", "/models", "--http", "0.0.0.0:8000", "--grpc", "0.0.0.0:8001"]
