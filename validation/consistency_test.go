package validation

import (
	"strconv"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"google.golang.org/protobuf/proto"
	yamlv3 "gopkg.in/yaml.v3"
	"sigs.k8s.io/yaml"
)

// extauthzFile is the part of an extauthz configuration these checks read.
type extauthzFile struct {
	Listen struct {
		GRPC string `yaml:"grpc"`
		HTTP string `yaml:"http"`
	} `yaml:"listen"`
	Routes []struct {
		Path       string   `yaml:"path"`
		PathPrefix string   `yaml:"path_prefix"`
		Scopes     []string `yaml:"scopes"`
		Model      string   `yaml:"model"`
		Cost       int64    `yaml:"cost"`
	} `yaml:"routes"`
	Redis struct {
		URL string `yaml:"url"`
	} `yaml:"redis"`
}

func readExtauthzFile(t *testing.T, path string) extauthzFile {
	t.Helper()
	var c extauthzFile
	if err := yamlv3.Unmarshal(readRepoFile(t, path), &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestExtauthzConfigs checks the container configurations listen beyond loopback and name the
// Redis their stack provides.
func TestExtauthzConfigs(t *testing.T) {
	tests := []struct {
		name, path, redis string
	}{
		{name: "compose", path: "deploy/extauthz/config.yaml", redis: "redis://redis:6379/0"},
		{name: "kubernetes", path: "k8s/base/extauthz/config.yaml", redis: "redis://redis:6379/0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := readExtauthzFile(t, tc.path)
			if c.Listen.GRPC != "0.0.0.0:9191" || c.Listen.HTTP != "0.0.0.0:9192" {
				t.Errorf("listeners %s, %s; want 0.0.0.0:9191 and 0.0.0.0:9192", c.Listen.GRPC, c.Listen.HTTP)
			}
			if c.Redis.URL != tc.redis {
				t.Errorf("redis.url %q, want %q", c.Redis.URL, tc.redis)
			}
		})
	}
}

// TestIstioRoutesMatchEnvoy checks that the routes table extauthz uses under Istio (which sends
// no context_extensions) gives every route of envoy/envoy.yaml the same scopes, model and cost.
func TestIstioRoutesMatchEnvoy(t *testing.T) {
	b, err := decodeBootstrap(readRepoFile(t, k8sEnvoyCopy))
	if err != nil {
		t.Fatal(err)
	}
	cfg := readExtauthzFile(t, "k8s/base/extauthz/config.yaml")
	checked := 0
	walk(b.ProtoReflect(), func(m proto.Message) {
		r, ok := m.(*routev3.Route)
		if !ok {
			return
		}
		perFilter, ok := r.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
		if !ok {
			return
		}
		var per extauthzv3.ExtAuthzPerRoute
		if err := perFilter.UnmarshalTo(&per); err != nil {
			t.Fatal(err)
		}
		ext := per.GetCheckSettings().GetContextExtensions()
		if per.GetDisabled() || ext == nil {
			return
		}
		checked++
		path, prefix := r.GetMatch().GetPath(), r.GetMatch().GetPrefix()
		wantCost := int64(1)
		if c, ok := ext["cost"]; ok {
			wantCost, _ = strconv.ParseInt(c, 10, 64)
		}
		for _, cr := range cfg.Routes {
			if cr.Path != path || cr.PathPrefix != prefix {
				continue
			}
			cost := cr.Cost
			if cost == 0 {
				cost = 1
			}
			if strings.Join(cr.Scopes, " ") != ext["scope"] || cr.Model != ext["model"] || cost != wantCost {
				t.Errorf("route %s%s: config has scopes %v model %q cost %d; envoy.yaml has %v",
					path, prefix, cr.Scopes, cr.Model, cost, ext)
			}
			return
		}
		t.Errorf("route %s%s of envoy.yaml has no entry in k8s/base/extauthz/config.yaml routes", path, prefix)
	})
	if checked == 0 {
		t.Fatal("no ext_authz routes found in envoy.yaml")
	}
}

// TestIstioProvider checks the mesh config's provider is the one the AuthorizationPolicy names
// and points at extauthz's gRPC Service port, failing closed.
func TestIstioProvider(t *testing.T) {
	var mesh struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			MeshConfig struct {
				ExtensionProviders []struct {
					Name              string `json:"name"`
					EnvoyExtAuthzGrpc struct {
						Service       string `json:"service"`
						Port          int    `json:"port"`
						Timeout       string `json:"timeout"`
						FailOpen      bool   `json:"failOpen"`
						StatusOnError string `json:"statusOnError"`
					} `json:"envoyExtAuthzGrpc"`
				} `json:"extensionProviders"`
			} `json:"meshConfig"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(readRepoFile(t, "k8s/components/istio/mesh-config.yaml"), &mesh); err != nil {
		t.Fatalf("mesh-config.yaml: %v", err)
	}
	var policy string
	for _, o := range buildOverlay(t, "istio") {
		if p, ok := o.value.(*authorizationPolicy); ok && p.Spec.Action == "CUSTOM" {
			policy = p.Spec.Provider.Name
		}
	}
	providers := mesh.Spec.MeshConfig.ExtensionProviders
	if len(providers) != 1 || providers[0].Name != policy {
		t.Fatalf("mesh providers %+v; the CUSTOM AuthorizationPolicy names %q", providers, policy)
	}
	p := providers[0].EnvoyExtAuthzGrpc
	if p.Service != "extauthz.torchgate.svc.cluster.local" || p.Port != 9191 || p.FailOpen {
		t.Errorf("provider %+v; want extauthz.torchgate.svc.cluster.local:9191, failOpen false", p)
	}
}
