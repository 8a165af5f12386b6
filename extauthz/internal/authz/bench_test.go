package authz

import (
	"context"
	"io"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/torchgate/torchgate/extauthz/internal/audit"
	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/testidp"
	"github.com/torchgate/torchgate/extauthz/internal/token"
	"github.com/torchgate/torchgate/extauthz/internal/tokencache"
)

// BenchmarkCheck measures one whole decision as the gRPC handler runs it (parsing the request's
// wire bytes, verification, policy, writing the response's wire bytes, metrics and the audit
// log), without the transport.
func BenchmarkCheck(b *testing.B) {
	idp := newIdP(b)
	for _, bc := range []struct {
		name  string
		alg   string
		cache bool
	}{
		{"cache_hit", "ES256", true},
		{"cache_miss_RS256", "RS256", false},
		{"cache_miss_ES256", "ES256", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := token.Options{}
			if bc.cache {
				opts.Cache = tokencache.New[*token.Claims](1000, 0)
			}
			v, err := token.NewVerifier([]token.Issuer{{Issuer: idp.URL(), Audiences: []string{"torchgate"}, Keys: idp}}, opts)
			if err != nil {
				b.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			al := audit.New(io.Discard, 1<<16, reg)
			defer al.Close()
			s := NewService(&Policy{
				Verifier: v, MaxHeaderBytes: 8 << 10,
				Routes: policy.New([]policy.Route{{PathPrefix: "/v2/models/mlp/", Scopes: []string{"infer:mlp"}, Model: "mlp", Cost: 1}}, false),
			}, Options{Metrics: NewMetrics(reg, 100), Audit: al})
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
				Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
					Method: "POST", Path: "/v2/models/mlp/infer",
					Headers: map[string]string{"authorization": "Bearer " + mint(b, idp, testidp.Token{Alg: bc.alg}), "x-request-id": "r"},
				}},
				ContextExtensions: map[string]string{"scope": "infer:mlp", "model": "mlp", "cost": "1"},
			}}
			wire, err := proto.Marshal(req)
			if err != nil {
				b.Fatal(err)
			}
			if resp := checkProto(b, s, req); resp.GetOkResponse() == nil {
				b.Fatal("denied")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var r request
				if err := parseCheckRequest(wire, &r); err != nil {
					b.Fatal(err)
				}
				s.check(context.Background(), &r)
			}
		})
	}
}
