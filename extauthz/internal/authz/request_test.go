package authz

import (
	"slices"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

func httpRequest(h *authv3.AttributeContext_HttpRequest) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: h},
	}}
}

func TestReadRequestHeadersMapAndRawHeaderMapAgree(t *testing.T) {
	asMap := httpRequest(&authv3.AttributeContext_HttpRequest{
		Method: "POST", Path: "/v2/models/mlp/infer?debug=1",
		Headers: map[string]string{
			"authorization": "Bearer a.b.c", "x-request-id": "r1",
			"x-torchgate-tier": "gold", "content-type": "application/json",
		},
	})
	asRaw := httpRequest(&authv3.AttributeContext_HttpRequest{
		Method: "POST", Path: "/v2/models/mlp/infer?debug=1",
		HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "authorization", RawValue: []byte("Bearer a.b.c")},
			{Key: "x-request-id", RawValue: []byte("r1")},
			{Key: "X-Torchgate-Tier", RawValue: []byte("gold")},
			{Key: "content-type", RawValue: []byte("application/json")},
		}},
	})
	for name, cr := range map[string]*authv3.CheckRequest{"headers map": asMap, "raw header_map": asRaw} {
		t.Run(name, func(t *testing.T) {
			r := wireRequest(t, cr)
			if r.path != "/v2/models/mlp/infer" || r.method != "POST" || r.requestID != "r1" {
				t.Errorf("request = %+v", r)
			}
			if len(r.authorization) != 1 || string(r.authorization[0]) != "Bearer a.b.c" {
				t.Errorf("authorization = %q", r.authorization)
			}
			if !slices.Equal(r.identityHeaders, []string{"x-torchgate-tier"}) {
				t.Errorf("identity headers = %q", r.identityHeaders)
			}
		})
	}
}

func TestReadRequestRepeatedAuthorization(t *testing.T) {
	raw := wireRequest(t, httpRequest(&authv3.AttributeContext_HttpRequest{
		HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			{Key: "authorization", RawValue: []byte("Bearer a.b.c")},
			{Key: "authorization", RawValue: []byte("Bearer \xff\xfe.b.c")},
		}},
	}))
	joined := wireRequest(t, httpRequest(&authv3.AttributeContext_HttpRequest{
		Headers: map[string]string{"authorization": "Bearer a.b.c,Bearer d.e.f"},
	}))
	if len(raw.authorization) != 2 || len(joined.authorization) != 2 {
		t.Fatalf("repeated headers lost: raw %d, joined %d", len(raw.authorization), len(joined.authorization))
	}
	if string(raw.authorization[1]) != "Bearer \xff\xfe.b.c" {
		t.Errorf("non-UTF-8 bytes altered: %q", raw.authorization[1])
	}
}

func TestReadRequestValueFallback(t *testing.T) {
	r := wireRequest(t, httpRequest(&authv3.AttributeContext_HttpRequest{
		HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "authorization", Value: "Bearer x.y.z"}}},
	}))
	if len(r.authorization) != 1 || string(r.authorization[0]) != "Bearer x.y.z" {
		t.Errorf("authorization = %q", r.authorization)
	}
}
