# syntax=docker/dockerfile:1
# extauthz: the ext_authz decision service and OAuth2 issuer.
# Build from the repository root:  docker build -f deploy/docker/extauthz.Dockerfile -t torchgate/extauthz .
FROM golang:1.26.8-bookworm AS build
WORKDIR /src/extauthz
# Build the module alone (GOWORK=off): the image never needs the other modules of go.work.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
# clientmetrics is the module of per-client Prometheus counters both services share (go.mod
# replaces it with ../clientmetrics).
COPY clientmetrics/ /src/clientmetrics/
COPY extauthz/go.mod extauthz/go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY extauthz/ ./
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags='-s -w' -o /out/extauthz ./cmd/extauthz && \
    GOBIN=/out go install github.com/grpc-ecosystem/grpc-health-probe@v0.4.62 && \
    install -d -m 0700 /out/keys

# distroless static, nonroot (uid 65532): no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/extauthz /usr/local/bin/extauthz
COPY --from=build /out/grpc-health-probe /usr/local/bin/grpc-health-probe
# The issuer's signing key directory; a volume (compose) or a Secret (Kubernetes) covers it.
COPY --from=build --chown=65532:65532 /out/keys /var/lib/extauthz/keys
USER 65532:65532
EXPOSE 9191 9192
# grpc.health.v1 on the ext_authz listener: SERVING once every issuer's keys were fetched.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/grpc-health-probe", "-addr=127.0.0.1:9191", "-connect-timeout=2s", "-rpc-timeout=2s"]
ENTRYPOINT ["/usr/local/bin/extauthz"]
CMD ["serve", "--config", "/etc/extauthz/config.yaml"]
