package authz

import (
	"context"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/torchgate/torchgate/extauthz/internal/policy"
	"github.com/torchgate/torchgate/extauthz/internal/testidp"
	"github.com/torchgate/torchgate/extauthz/internal/token"
)

// newService builds a Service whose verifier takes keys straight from idp (no HTTP).
func newService(t testing.TB, idp *testidp.IdP) *Service {
	t.Helper()
	v, err := token.NewVerifier([]token.Issuer{{Issuer: idp.URL(), Audiences: []string{"torchgate"}, Keys: idp}}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	routes := policy.New([]policy.Route{{PathPrefix: "/v2/models/mlp/", Scopes: []string{"infer:mlp"}, Model: "mlp", Cost: 1}}, false)
	p := &Policy{Verifier: v, Routes: routes, MaxHeaderBytes: 8 << 10}
	return NewService(p, Options{Metrics: NewMetrics(prometheus.NewPedanticRegistry(), 10)})
}

func newIdP(t testing.TB) *testidp.IdP {
	t.Helper()
	idp, err := testidp.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(idp.Close)
	return idp
}

func mint(t testing.TB, idp *testidp.IdP, tok testidp.Token) string {
	t.Helper()
	base := map[string]any{"sub": "svc", "client_id": "svc", "scope": "infer:mlp", "jti": "j"}
	for k, v := range tok.Claims {
		base[k] = v
	}
	tok.Claims = base
	s, err := idp.Mint(tok)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReasonCodes(t *testing.T) {
	idp := newIdP(t)
	s := newService(t, idp)
	other := newIdP(t) // a second IdP: its tokens carry a foreign iss and keys
	now := time.Now()
	tests := []struct {
		name       string
		auth       string
		path       string
		ext        map[string]string
		wantStatus int32
		wantReason string
	}{
		{"allowed", "Bearer " + mint(t, idp, testidp.Token{}), "/v2/models/mlp/infer", nil, 0, ReasonAllowed},
		{"missing token", "", "/v2/models/mlp/infer", nil, 401, "missing_token"},
		{"malformed", "Bearer not-a-jwt", "/v2/models/mlp/infer", nil, 401, "malformed"},
		{"wrong scheme", "Basic dXNlcjpwYXNz", "/v2/models/mlp/infer", nil, 401, "malformed"},
		{"oversize", "Bearer " + strings.Repeat("a", 9000) + ".b.c", "/v2/models/mlp/infer", nil, 401, "token_too_large"},
		{"expired", "Bearer " + mint(t, idp, testidp.Token{Now: now.Add(-time.Hour)}), "/v2/models/mlp/infer", nil, 401, "expired"},
		{"not yet valid", "Bearer " + mint(t, idp, testidp.Token{Claims: map[string]any{"nbf": now.Add(time.Hour).Unix()}}), "/v2/models/mlp/infer", nil, 401, "not_yet_valid"},
		{"wrong issuer", "Bearer " + mint(t, other, testidp.Token{}), "/v2/models/mlp/infer", nil, 401, "wrong_issuer"},
		{"wrong audience", "Bearer " + mint(t, idp, testidp.Token{Claims: map[string]any{"aud": "billing"}}), "/v2/models/mlp/infer", nil, 401, "wrong_audience"},
		{"bad signature", "Bearer " + tamper(mint(t, idp, testidp.Token{})), "/v2/models/mlp/infer", nil, 401, "bad_signature"},
		{"insufficient scope", "Bearer " + mint(t, idp, testidp.Token{Claims: map[string]any{"scope": "infer:cnn"}}), "/v2/models/mlp/infer", nil, 403, ReasonInsufficientScope},
		{"no route", "Bearer " + mint(t, idp, testidp.Token{}), "/admin", nil, 403, ReasonNoRoute},
		{"bad route context", "Bearer " + mint(t, idp, testidp.Token{}), "/v2/models/mlp/infer", map[string]string{"cost": "x", "scope": "infer:mlp"}, 500, ReasonBadRouteContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.auth != "" {
				h["authorization"] = tc.auth
			}
			r := wireRequest(t, httpRequest(&authv3.AttributeContext_HttpRequest{Method: "POST", Path: tc.path, Headers: h}))
			for k, v := range tc.ext {
				r.context.Set([]byte(k), []byte(v))
			}
			d := s.decide(context.Background(), s.policy.Load(), &r)
			if d.Reason != tc.wantReason {
				t.Fatalf("reason %q, want %q (%s)", d.Reason, tc.wantReason, d.Description)
			}
			if tc.wantStatus == 0 {
				if !d.Allowed {
					t.Fatal("not allowed")
				}
				return
			}
			if d.Allowed || int32(d.Status) != tc.wantStatus {
				t.Errorf("allowed=%v status=%d, want denial %d", d.Allowed, d.Status, tc.wantStatus)
			}
		})
	}
}

// tamper flips one character of the signature part.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) - 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestWWWAuthenticate(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		want string
	}{
		{"no credentials carries no error (RFC 6750 3.1)", denyToken(token.ErrMissing), `Bearer realm="torchgate"`},
		{"invalid token", denyToken(token.ErrExpired),
			`Bearer realm="torchgate", error="invalid_token", error_description="` + token.ErrExpired.Description + `"`},
		{"insufficient scope names the scopes", denyScope(&token.Claims{}, policy.Requirement{Scopes: []string{"infer:mlp", "infer:all"}}),
			`Bearer realm="torchgate", error="insufficient_scope", error_description="the access token does not carry a scope this route requires", scope="infer:mlp infer:all"`},
		{"no route takes no challenge", denyRoute(&token.Claims{}, policy.ErrNoRoute), ""},
		{"quotes and controls are dropped", Decision{Status: 401, Error: "invalid_token", Description: "a\"b\\c\nd"},
			`Bearer realm="torchgate", error="invalid_token", error_description="abcd"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.wwwAuthenticate(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDeniedResponseBody(t *testing.T) {
	d := denyToken(token.ErrMissing)
	resp := new(authv3.CheckResponse)
	if err := proto.Unmarshal(appendResponse(nil, &d, &request{}, false), resp); err != nil {
		t.Fatal(err)
	}
	body := resp.GetDeniedResponse().GetBody()
	if body != `{"error":"unauthorized","error_description":"`+token.ErrMissing.Description+`"}` {
		t.Errorf("body = %s", body)
	}
	hdr := map[string]string{}
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		hdr[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	if hdr["content-type"] != "application/json" || hdr["cache-control"] != "no-store" {
		t.Errorf("headers = %v", hdr)
	}
}

// FuzzCheck drives arbitrary header bytes, paths and route context through the whole decision.
// Whatever arrives, Check must answer (never panic) and must never allow: no input the fuzzer
// can produce carries a valid signature.
func FuzzCheck(f *testing.F) {
	idp := newIdP(f)
	s := newService(f, idp)
	valid := mint(f, idp, testidp.Token{})
	parts := strings.Split(valid, ".")
	for _, seed := range []struct{ auth, path, scope string }{
		{"", "/v2/models/mlp/infer", ""},
		{"Bearer " + parts[0] + "." + parts[1] + ".", "/v2/models/mlp/infer", ""},
		{"Bearer " + parts[0] + "." + parts[1] + ".AAAA", "/v2/models/mlp/infer", "infer:mlp"},
		{"bearer   a.b.c", "/v2/models/mlp/infer?x", "s"},
		{"Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", "/", ""},
		{"Bearer \xff\xfe", "/\x00", "\xff"},
		{"Bearer a.b.c,Bearer d.e.f", "/v2/models/mlp/infer", ""},
	} {
		f.Add(seed.auth, seed.path, seed.scope)
	}
	f.Fuzz(func(t *testing.T, auth, path, scope string) {
		var ext map[string]string
		if scope != "" {
			ext = map[string]string{"scope": scope, "cost": "1"}
		}
		cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: path, Headers: map[string]string{"authorization": auth},
			}},
			ContextExtensions: ext,
		}}
		if _, err := proto.Marshal(cr); err != nil {
			return // not UTF-8: gRPC could not have delivered it
		}
		resp := checkProto(t, s, cr)
		if resp.GetOkResponse() != nil {
			t.Fatalf("allowed a forged request: auth=%q", auth)
		}
		if auth != "" && len(auth) > 20 && strings.Contains(resp.GetDeniedResponse().GetBody(), auth) {
			t.Fatal("denial echoes the authorization header")
		}
	})
}
