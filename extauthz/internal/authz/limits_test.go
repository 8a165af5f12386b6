package authz

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"

	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/ratelimit"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

func testLimits(l ratelimit.Limiter) *Limits {
	free := &ratelimit.Tier{Name: "free", Rate: 1, Burst: 2, Quotas: []ratelimit.Quota{{Window: ratelimit.Day, Limit: 3}}, Priority: 0}
	pro := &ratelimit.Tier{Name: "pro", Rate: 100, Burst: 200, Priority: 10}
	gold := &ratelimit.Tier{Name: "gold", Rate: 1000, Burst: 2000, Priority: 20}
	return &Limits{
		Limiter:   l,
		Tiers:     map[string]*ratelimit.Tier{"free": free, "pro": pro, "gold": gold},
		Default:   free,
		Overrides: map[string]*ratelimit.Tier{"batch-scorer": pro},
		Registry: func(id string) string {
			if id == "registered" || id == "batch-scorer" {
				return "gold"
			}
			return ""
		},
	}
}

func TestTierResolutionOrder(t *testing.T) {
	l := testLimits(nil)
	tests := []struct {
		name   string
		claims token.Claims
		want   string
	}{
		{"config override beats registry and claim", token.Claims{ClientID: "batch-scorer", Tier: "gold"}, "pro"},
		{"registry beats claim", token.Claims{ClientID: "registered", Tier: "free"}, "gold"},
		{"token claim", token.Claims{ClientID: "x", Tier: "pro"}, "pro"},
		{"unknown claimed tier falls back to default", token.Claims{ClientID: "x", Tier: "platinum"}, "free"},
		{"nothing: default", token.Claims{ClientID: "x"}, "free"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := l.TierFor(&tc.claims).Name; got != tc.want {
				t.Errorf("tier %q, want %q", got, tc.want)
			}
		})
	}
}

func headerMap(hs []*corev3.HeaderValueOption) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		m[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return m
}

// decodeResponse renders d as the Check handler does and decodes it.
func decodeResponse(t *testing.T, d Decision, r request) *authv3.CheckResponse {
	t.Helper()
	resp := new(authv3.CheckResponse)
	if err := proto.Unmarshal(appendResponse(nil, &d, &r, false), resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestLimitsResponses(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	l := testLimits(ratelimit.NewLocal(ratelimit.LocalOptions{Now: func() time.Time { return now }}))
	c := &token.Claims{ClientID: "trial", Subject: "trial", Scopes: []string{"infer:mlp"}}
	need := policy.Requirement{Scopes: []string{"infer:mlp"}, Model: "mlp", Cost: 1}
	r := request{}

	// Burst 2: two pass with the RateLimit fields and tier headers upstream.
	for i := range 2 {
		d := l.apply(context.Background(), c, need)
		if !d.Allowed {
			t.Fatalf("request %d denied: %s", i, d.Reason)
		}
		ok := decodeResponse(t, d, r).GetOkResponse()
		up := headerMap(ok.GetHeaders())
		if up[HeaderTier] != "free" || up[HeaderPriority] != "0" {
			t.Errorf("upstream headers %v", up)
		}
		down := headerMap(ok.GetResponseHeadersToAdd())
		if down["ratelimit-policy"] != `"burst";q=2;w=2, "day";q=3;w=86400` {
			t.Errorf("RateLimit-Policy = %q", down["ratelimit-policy"])
		}
		if !strings.HasPrefix(down["ratelimit"], fmt.Sprintf(`"burst";r=%d;`, 1-i)) {
			t.Errorf("RateLimit = %q", down["ratelimit"])
		}
	}
	// Third: 429 with Retry-After (1 s at rate 1/s) and the RateLimit fields.
	d := l.apply(context.Background(), c, need)
	if d.Allowed || d.Status != http.StatusTooManyRequests || d.Reason != ratelimit.ReasonRateLimited {
		t.Fatalf("decision %+v, want 429 rate_limited", d)
	}
	resp := decodeResponse(t, d, r)
	h := headerMap(resp.GetDeniedResponse().GetHeaders())
	if h["retry-after"] != "1" || h["ratelimit"] == "" || h["ratelimit-policy"] == "" {
		t.Errorf("429 headers %v", h)
	}
	if !strings.Contains(resp.GetDeniedResponse().GetBody(), `"error":"rate_limited"`) {
		t.Errorf("429 body %s", resp.GetDeniedResponse().GetBody())
	}
	if resp.GetStatus().GetCode() != 8 { // RESOURCE_EXHAUSTED
		t.Errorf("grpc code %d", resp.GetStatus().GetCode())
	}

	// A cost above the burst can never pass: 429 without Retry-After.
	d = l.apply(context.Background(), &token.Claims{ClientID: "big"}, policy.Requirement{Cost: 5})
	if d.Status != http.StatusTooManyRequests || d.RetryAfter != 0 {
		t.Errorf("unsatisfiable decision %+v", d)
	}
	if _, ok := headerMap(decodeResponse(t, d, r).GetDeniedResponse().GetHeaders())["retry-after"]; ok {
		t.Error("Retry-After sent for a request that can never pass")
	}
}

// unavailable is a limiter whose backend is down with on_error: deny.
type unavailable struct{}

func (unavailable) Allow(context.Context, ratelimit.Request) (ratelimit.Result, error) {
	return ratelimit.Result{}, ratelimit.ErrUnavailable
}

func TestLimiterUnavailableIs503NotAuthFailure(t *testing.T) {
	l := testLimits(unavailable{})
	d := l.apply(context.Background(), &token.Claims{ClientID: "c"}, policy.Requirement{Cost: 1})
	if d.Allowed || d.Status != http.StatusServiceUnavailable || d.Reason != ReasonLimiterUnavailable {
		t.Fatalf("decision %+v, want 503", d)
	}
	resp := decodeResponse(t, d, request{})
	if h := headerMap(resp.GetDeniedResponse().GetHeaders()); h["retry-after"] != "1" || h["www-authenticate"] != "" {
		t.Errorf("503 headers %v", h)
	}
	if resp.GetStatus().GetCode() != 14 { // UNAVAILABLE
		t.Errorf("grpc code %d", resp.GetStatus().GetCode())
	}
}
