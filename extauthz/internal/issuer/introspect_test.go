package issuer

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// token obtains a token for svc.
func (e *env) token(t testing.TB) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathToken, strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", e.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

func (e *env) introspect(t *testing.T, tok string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathIntrospect, strings.NewReader("token="+url.QueryEscape(tok)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", e.secret)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(r2.Body).Decode(&out); err != nil || r2.StatusCode != 200 {
		t.Fatal(err)
	}
	return out
}

func TestIntrospectionAndRevocation(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t)

	got := e.introspect(t, tok)
	if got["active"] != true || got["client_id"] != "svc" || got["scope"] != "infer:mlp infer:cnn" ||
		got["iss"] != e.srv.URL || got["tier"] != "pro" || got["token_type"] != "Bearer" {
		t.Errorf("active introspection = %v", got)
	}
	if got := e.introspect(t, "not.a.token"); len(got) != 1 || got["active"] != false {
		t.Errorf("garbage introspection = %v, want only active=false", got)
	}

	// RFC 7009: another client may not revoke svc's token.
	resp, body := e.do(t, request{path: PathRevoke, body: "token=" + tok, user: "noscope", pass: e.secret})
	if resp.StatusCode != 400 || body.Error != "unauthorized_client" {
		t.Errorf("foreign revoke: %d %q", resp.StatusCode, body.Error)
	}
	// Unknown tokens are answered 200.
	if resp, _ := e.do(t, request{path: PathRevoke, body: "token=unknown", user: "svc", pass: e.secret}); resp.StatusCode != 200 {
		t.Errorf("revoking an unknown token: %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.do(t, request{path: PathRevoke, body: "token=" + tok, user: "svc", pass: e.secret}); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if got := e.introspect(t, tok); len(got) != 1 || got["active"] != false {
		t.Errorf("introspection after revoke = %v", got)
	}
	// Introspection needs client authentication.
	if resp, body := e.do(t, request{path: PathIntrospect, body: "token=" + tok}); resp.StatusCode != 401 || body.Error != "invalid_client" {
		t.Errorf("unauthenticated introspection: %d %q", resp.StatusCode, body.Error)
	}
	if resp, body := e.do(t, request{path: PathIntrospect, user: "svc", pass: e.secret}); resp.StatusCode != 400 || body.Error != "invalid_request" {
		t.Errorf("introspection without token: %d %q", resp.StatusCode, body.Error)
	}
}

func TestExpiredTokenIsInactive(t *testing.T) {
	c := &clock{t: time.Now()}
	e := newEnv(t, func(o *Options) { o.Now = c.Now })
	tok := e.token(t)
	c.Advance(DefaultTTL)
	if got := e.introspect(t, tok); len(got) != 1 || got["active"] != false {
		t.Errorf("expired introspection = %v", got)
	}
}

func TestMetadataAndJWKS(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{PathASMetadata, PathOIDCDiscovery} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var md map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		if md["issuer"] != e.srv.URL || md["token_endpoint"] != e.srv.URL+PathToken ||
			md["jwks_uri"] != e.srv.URL+PathJWKS || md["revocation_endpoint"] != e.srv.URL+PathRevoke ||
			md["introspection_endpoint"] != e.srv.URL+PathIntrospect {
			t.Errorf("%s = %v", path, md)
		}
	}
	resp, err := http.Get(e.srv.URL + PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set, err := jwk.Parse(b)
	if err != nil || set.Len() != 1 {
		t.Fatalf("jwks: %v, %d keys", err, set.Len())
	}
	k, _ := set.Key(0)
	kid, _ := k.KeyID()
	alg, _ := k.Algorithm()
	use, _ := k.KeyUsage()
	if kid == "" || alg.String() != "ES256" || use != "sig" || strings.Contains(string(b), `"d"`) {
		t.Errorf("jwks key kid=%q alg=%v use=%q body=%s", kid, alg, use, b)
	}
}

func TestIssuedTokensCounted(t *testing.T) {
	e := newEnv(t, nil)
	e.token(t)
	e.token(t)
	want := `
# HELP torchgate_issuer_tokens_issued_total Access tokens issued, by client (the busiest clients by name, the rest as other).
# TYPE torchgate_issuer_tokens_issued_total counter
torchgate_issuer_tokens_issued_total{client_id="other"} 2
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "torchgate_issuer_tokens_issued_total"); err != nil {
		t.Error(err)
	}
	// The first scrape promoted svc; later tokens count under its own name.
	e.token(t)
	want += `torchgate_issuer_tokens_issued_total{client_id="svc"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "torchgate_issuer_tokens_issued_total"); err != nil {
		t.Error(err)
	}
}

func TestResourceAndAudience(t *testing.T) {
	e := newEnv(t, nil)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PathToken,
		strings.NewReader("grant_type=client_credentials&resource=other-api&resource=torchgate&scope=infer:cnn"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", e.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.Scope != "infer:cnn" {
		t.Fatalf("two resources: %d %v %+v", resp.StatusCode, err, tr)
	}
	got := e.introspect(t, tr.AccessToken)
	if aud, _ := json.Marshal(got["aud"]); string(aud) != `["other-api","torchgate"]` {
		t.Errorf("aud = %s", aud)
	}
}
