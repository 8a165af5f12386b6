package validation

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	yamlv3 "gopkg.in/yaml.v3"
)

// The copies of envoy/envoy.yaml that docker-compose and Kubernetes mount. They differ from the
// source only as rewriteEnvoy says; TestEnvoyCopies keeps them honest, and
//
//	go test ./validation -run TestEnvoyCopies -update
//
// regenerates them after envoy/envoy.yaml changes.
const (
	composeEnvoyCopy = "deploy/envoy/envoy.yaml"
	k8sEnvoyCopy     = "k8s/base/envoy/envoy.yaml"
)

var update = flag.Bool("update", false, "rewrite the generated envoy.yaml copies from envoy/envoy.yaml")

// envoyTargets say where each copy's clusters point: the compose service names, and the
// Kubernetes Services (fully qualified: Envoy's resolver does not apply search domains).
var envoyTargets = []struct {
	path  string
	hosts map[string]string // service → host name
}{
	{composeEnvoyCopy, map[string]string{"extauthz": "extauthz", "worker": "worker"}},
	{k8sEnvoyCopy, map[string]string{
		"extauthz": "extauthz.torchgate.svc.cluster.local",
		"worker":   "worker.torchgate.svc.cluster.local",
	}},
}

// statsPort is the extra listener of the copies that serves Envoy's /stats/prometheus and /ready
// from the loopback-only admin interface, so Prometheus and kubelet can reach exactly those.
const statsPort = 9902

func TestEnvoyCopies(t *testing.T) {
	src, err := os.ReadFile(repoPath("envoy/envoy.yaml"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("envoy/envoy.yaml does not exist yet (the edge engineer's file): nothing to copy")
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range envoyTargets {
		t.Run(target.path, func(t *testing.T) {
			want, err := rewriteEnvoy(src, target.hosts)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(repoPath(target.path), want, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(repoPath(target.path))
			if err != nil {
				t.Fatalf("%v (generate it: go test ./validation -run TestEnvoyCopies -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s is stale or was edited by hand; regenerate it from envoy/envoy.yaml:\n"+
					"  go test ./validation -run TestEnvoyCopies -update", target.path)
			}
		})
	}
}

func TestRewriteEnvoyRefuses(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{name: "cluster of an unknown service", doc: `
static_resources:
  clusters:
  - name: billing
    type: STATIC
    load_assignment:
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}`},
		{name: "no clusters", doc: "static_resources: {}"},
		{name: "not a mapping", doc: "- a\n- b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rewriteEnvoy([]byte(tc.doc), map[string]string{"worker": "worker"}); err == nil {
				t.Fatal("rewrote a document it cannot map")
			}
		})
	}
}

// rewriteEnvoy turns the single-host envoy.yaml into a copy for a container network: each
// cluster's loopback endpoints point at its service's host (the service is the cluster name up
// to the first "_": extauthz_grpc → extauthz), STATIC clusters become STRICT_DNS (IPv4), and a
// listener on statsPort exposes the admin's /stats/prometheus and /ready only. Comments of the
// source are kept (yaml.v3 nodes), so the copy reads like the original.
func rewriteEnvoy(src []byte, hosts map[string]string) ([]byte, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("envoy.yaml: %w", err)
	}
	if doc.Kind != yamlv3.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yamlv3.MappingNode {
		return nil, errors.New("envoy.yaml: not a mapping")
	}
	root := doc.Content[0]
	clusters := lookup(root, "static_resources", "clusters")
	if clusters == nil || clusters.Kind != yamlv3.SequenceNode || len(clusters.Content) == 0 {
		return nil, errors.New("envoy.yaml: no static_resources.clusters")
	}
	for _, c := range clusters.Content {
		name := scalar(lookup(c, "name"))
		service, _, _ := strings.Cut(name, "_")
		host, ok := hosts[service]
		if !ok {
			return nil, fmt.Errorf("envoy.yaml: cluster %q: no host for service %q", name, service)
		}
		if t := lookup(c, "type"); t != nil && t.Value == "STATIC" {
			t.Value = "STRICT_DNS"
			setKey(c, "dns_lookup_family", "V4_ONLY")
		}
		var rewrite func(n *yamlv3.Node)
		rewrite = func(n *yamlv3.Node) {
			if n.Kind == yamlv3.MappingNode {
				if a := lookup(n, "socket_address", "address"); a != nil && isLoopback(a.Value) {
					a.Value = host
				}
			}
			for _, child := range n.Content {
				rewrite(child)
			}
		}
		rewrite(lookup(c, "load_assignment"))
	}
	if err := appendStats(root); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("# GENERATED from envoy/envoy.yaml by `go test ./validation -run TestEnvoyCopies -update`;\n" +
		"# do not edit. Clusters point at service names (STRICT_DNS) and a listener on :9902 serves\n" +
		"# only the admin's /stats/prometheus and /ready; everything else is the source, unchanged.\n")
	enc := yamlv3.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("envoy.yaml: %w", err)
	}
	return out.Bytes(), nil
}

// statsListener and adminCluster are appended by appendStats.
const statsListener = `
name: admin_stats
address: {socket_address: {address: 0.0.0.0, port_value: %d}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: admin_stats
      http_filters:
      - name: envoy.filters.http.router
        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
      route_config:
        name: admin_stats
        virtual_hosts:
        - name: admin_stats
          domains: ["*"]
          routes:
          - match: {path: /stats/prometheus}
            route: {cluster: envoy_admin}
          - match: {path: /ready}
            route: {cluster: envoy_admin}
          - match: {prefix: /}
            direct_response: {status: 404}
`

const adminCluster = `
name: envoy_admin
type: STATIC
connect_timeout: 0.25s
load_assignment:
  cluster_name: envoy_admin
  endpoints:
  - lb_endpoints:
    - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %s}}}
`

func appendStats(root *yamlv3.Node) error {
	port := scalar(lookup(root, "admin", "address", "socket_address", "port_value"))
	if port == "" {
		return errors.New("envoy.yaml: admin.address.socket_address.port_value is required")
	}
	for _, add := range []struct {
		path []string
		doc  string
	}{
		{[]string{"static_resources", "listeners"}, fmt.Sprintf(statsListener, statsPort)},
		{[]string{"static_resources", "clusters"}, fmt.Sprintf(adminCluster, port)},
	} {
		seq := lookup(root, add.path...)
		if seq == nil || seq.Kind != yamlv3.SequenceNode {
			return fmt.Errorf("envoy.yaml: %s is not a list", strings.Join(add.path, "."))
		}
		var n yamlv3.Node
		if err := yamlv3.Unmarshal([]byte(add.doc), &n); err != nil {
			return fmt.Errorf("envoy.yaml: %w", err)
		}
		seq.Content = append(seq.Content, n.Content[0])
	}
	return nil
}

// lookup follows mapping keys from n; nil when a key is absent.
func lookup(n *yamlv3.Node, keys ...string) *yamlv3.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yamlv3.MappingNode {
			return nil
		}
		var next *yamlv3.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// setKey sets a scalar value in mapping n, adding the key when absent.
func setKey(n *yamlv3.Node, key, value string) {
	if v := lookup(n, key); v != nil {
		v.Value = value
		return
	}
	n.Content = append(n.Content,
		&yamlv3.Node{Kind: yamlv3.ScalarNode, Value: key},
		&yamlv3.Node{Kind: yamlv3.ScalarNode, Value: value})
}

func scalar(n *yamlv3.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

func isLoopback(addr string) bool {
	return addr == "127.0.0.1" || addr == "localhost" || addr == "::1"
}
