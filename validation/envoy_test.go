package validation

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	// Every extension an envoy.yaml of this repository may name in a typed_config; protojson
	// resolves "@type" through the global registry these imports fill. A type missing here is
	// reported by name ("unable to resolve").
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/buffer/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// envoyFiles are every envoy.yaml of the repository: the policy edge (the source) and the copies
// that docker-compose and Kubernetes mount (generated from it, see envoycopy_test.go).
var envoyFiles = []string{
	"envoy/envoy.yaml",
	composeEnvoyCopy,
	k8sEnvoyCopy,
}

// validator is what protoc-gen-validate generates on every Envoy message.
type validator interface{ ValidateAll() error }

func TestEnvoyConfigs(t *testing.T) {
	for _, name := range envoyFiles {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(repoPath(name))
			if errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s does not exist yet (the edge engineer's file, or its generated copy)", name)
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := decodeBootstrap(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateBootstrap(b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEnvoyValidationCatches proves the checks can fail: each broken document is refused.
func TestEnvoyValidationCatches(t *testing.T) {
	const listener = `
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 0.0.0.0, port_value: 8080}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: edge
          http_filters:
          - name: envoy.filters.http.ext_authz
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
              transport_api_version: V3
              grpc_service: {envoy_grpc: {cluster_name: %s}}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          route_config:
            virtual_hosts:
            - name: v
              domains: ["*"]
              routes:
              - match: {prefix: /}
                route: {cluster: %s}
  clusters:
  - name: authz
    connect_timeout: %s
`
	tests := []struct {
		name string
		doc  string
		ok   bool
	}{
		{name: "consistent document", doc: fmt.Sprintf(listener, "authz", "authz", "1s"), ok: true},
		{name: "route to a missing cluster", doc: fmt.Sprintf(listener, "authz", "worker", "1s")},
		{name: "ext_authz to a missing cluster", doc: fmt.Sprintf(listener, "nowhere", "authz", "1s")},
		{name: "invalid value inside a typed_config", doc: fmt.Sprintf(listener, `""`, "authz", "1s")},
		{name: "invalid value in the bootstrap", doc: fmt.Sprintf(listener, "authz", "authz", "-1s")},
		{name: "unknown field", doc: "static_resources: {listners: []}"},
		{name: "unresolvable typed_config", doc: `
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 0.0.0.0, port_value: 1}}
    filter_chains:
    - filters:
      - name: x
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.nothing.v3.Nothing}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := decodeBootstrap([]byte(tc.doc))
			if err == nil {
				err = validateBootstrap(b)
			}
			if tc.ok && err != nil {
				t.Fatalf("refused a valid document: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatal("accepted a broken document")
			}
		})
	}
}

// decodeBootstrap reads an envoy.yaml (YAML → JSON → protojson) into the v3 Bootstrap. protojson
// refuses unknown fields and resolves every typed_config through the registry.
func decodeBootstrap(data []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return &b, nil
}

// validateBootstrap runs ValidateAll on the bootstrap and on every typed_config unpacked from it
// (ValidateAll checks an Any's type URL only, never its contents), and checks that every cluster
// a route or a gRPC service names is defined.
func validateBootstrap(b *bootstrapv3.Bootstrap) error {
	if err := b.ValidateAll(); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
	}
	var errs []error
	walk(b.ProtoReflect(), func(m proto.Message) {
		switch v := m.(type) {
		case *anypb.Any:
			inner, err := v.UnmarshalNew()
			if err != nil {
				errs = append(errs, fmt.Errorf("typed_config %s: %w", v.GetTypeUrl(), err))
				return
			}
			if val, ok := inner.(validator); ok {
				if err := val.ValidateAll(); err != nil {
					errs = append(errs, fmt.Errorf("typed_config %s: %w", v.GetTypeUrl(), err))
				}
			}
		case *routev3.RouteAction:
			names := []string{v.GetCluster()}
			for _, w := range v.GetWeightedClusters().GetClusters() {
				names = append(names, w.GetName())
			}
			for _, n := range names {
				if n != "" && !clusters[n] {
					errs = append(errs, fmt.Errorf("a route names cluster %q, which is not defined (clusters: %v)", n, sortedKeys(clusters)))
				}
			}
		case *corev3.GrpcService_EnvoyGrpc:
			if !clusters[v.GetClusterName()] {
				errs = append(errs, fmt.Errorf("a grpc_service names cluster %q, which is not defined", v.GetClusterName()))
			}
		}
	})
	return errors.Join(errs...)
}

// walk calls visit on m and on every message below it. An Any is visited, then its unpacked
// contents are walked (an Any that does not unpack is left to visit to report).
func walk(m protoreflect.Message, visit func(proto.Message)) {
	visit(m.Interface())
	if a, ok := m.Interface().(*anypb.Any); ok {
		if inner, err := a.UnmarshalNew(); err == nil {
			walk(inner.ProtoReflect(), visit)
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message(), visit)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message(), visit)
				}
			}
		case fd.Message() != nil:
			walk(v.Message(), visit)
		}
		return true
	})
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
