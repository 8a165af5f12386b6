// Package validation holds the tests that prove torchgate's deployable stack agrees with itself
// and with the programs it runs: every envoy.yaml decodes into Envoy's v3 Bootstrap with each
// typed_config resolved and validated, docker-compose.yml loads with compose-go, every kustomize
// overlay builds and decodes strictly into Kubernetes types, and every metric that a Grafana
// dashboard or a Prometheus alert names is exported by a running extauthz or worker.
//
// The package has no runtime code; its heavy dependencies (compose-go, kustomize, k8s.io/api,
// go-control-plane's extension packages) live in this module only, so they never enter the
// binaries. Run it from the repository root with
//
//	go test ./validation/...
package validation
