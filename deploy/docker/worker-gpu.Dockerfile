# syntax=docker/dockerfile:1
# worker (GPU build): the worker with the CUDA backend (worker/cuda, cgo: CUDA driver API and
# cuBLAS). Needs the NVIDIA Container Toolkit on the host, which injects libcuda and the device.
# Build from the repository root:  docker build -f deploy/docker/worker-gpu.Dockerfile -t torchgate/worker-gpu .
#
# The builder is CUDA's devel image (headers for cgo) with Go copied in from the pinned golang
# image, so the binary links against the same glibc as the runtime image below.
FROM golang:1.26.8-bookworm AS go

FROM nvidia/cuda:12.6.3-devel-ubuntu22.04 AS build
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH CGO_ENABLED=1 GOFLAGS=-trimpath
WORKDIR /src
# The GPU module lives inside the worker module and uses go.work's genproto replace (DESIGN.md).
COPY go.work go.work.sum ./
COPY extauthz/go.mod extauthz/go.sum extauthz/
COPY validation/go.mod validation/go.sum validation/
COPY clientmetrics/ clientmetrics/
COPY worker/ worker/
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -tags cuda -ldflags='-s -w' -o /out/worker ./worker/cuda/cmd/worker && \
    CGO_ENABLED=0 GOBIN=/out go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.62

# The runtime image carries cuBLAS (the base image has only cudart); no compiler, no headers.
FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04
COPY --from=build /out/worker /usr/local/bin/worker
COPY --from=build /out/grpc-health-probe /usr/local/bin/grpc-health-probe
USER 65532:65532
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["/usr/local/bin/grpc-health-probe", "-addr=127.0.0.1:8001", "-connect-timeout=2s", "-rpc-timeout=2s"]
ENTRYPOINT ["/usr/local/bin/worker"]
CMD ["serve", "--model-repository", "/models", "--device", "cuda", "--http", "0.0.0.0:8000", "--grpc", "0.0.0.0:8001"]
