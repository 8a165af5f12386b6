// Package edge is the dev edge: a stand-in for Envoy on machines without one. It reads the
// project's Envoy bootstrap (envoy/envoy.yaml) through go-control-plane's v3 types — the same
// file Envoy runs — and implements the subset of Envoy behaviour that file uses:
//
//   - one listener serving HTTP/1.1 and HTTP/2 without TLS (h2c prior knowledge, for gRPC);
//   - the HTTP connection manager: request id generation, X-Forwarded-For with
//     use_remote_address, RFC 3986 path normalisation, merged slashes, escaped-slash rejection,
//     and a JSON access log to stdout with a subset of Envoy's command operators;
//   - virtual hosts by domain and routes by exact path or prefix, routing to a cluster (with a
//     timeout) or answering directly, with route-level response headers;
//   - the HTTP filters header_mutation (request header removal), ext_authz (the Check call over
//     real gRPC, with Envoy's CheckRequest attributes, header mutation semantics, denials,
//     status_on_error and per-route disabled/context_extensions), buffer (request size limit,
//     413; per-route disabled or override) and router;
//   - STATIC clusters with round-robin endpoints, HTTP/1.1 or HTTP/2 upstreams, connect
//     timeouts and active HTTP or gRPC health checks (with Envoy's panic threshold).
//
// Anything else in the file — a field, a filter, a match type, a cluster type — is refused when
// the configuration is compiled, with an error naming the field path, so that the dev edge never
// silently behaves differently from Envoy.
//
// The dev edge is a development and single-host tool. Production runs Envoy or Istio.
//
// # Concurrency
//
// An Edge serves requests concurrently; its configuration is immutable once compiled.
package edge
