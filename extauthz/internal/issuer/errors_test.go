package issuer

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// request is one raw call to an issuer endpoint.
type request struct {
	method      string
	path        string // default PathToken
	contentType string // default form
	body        string
	user, pass  string // HTTP Basic when user is set
	header      map[string]string
}

func (e *env) do(t testing.TB, r request) (*http.Response, errorBody) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = PathToken
	}
	if r.contentType == "" {
		r.contentType = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(r.method, e.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", r.contentType)
	if r.user != "" {
		req.SetBasicAuth(url.QueryEscape(r.user), url.QueryEscape(r.pass))
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var eb errorBody
	_ = json.Unmarshal(b, &eb)
	return resp, eb
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AuthFailureBurst = 1000 })
	cc := "grant_type=client_credentials"
	tooFar := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name     string
		req      request
		status   int
		code     string
		wwwBasic bool
	}{
		{name: "GET is not allowed", req: request{method: http.MethodGet}, status: 400, code: "invalid_request"},
		{name: "JSON body", req: request{contentType: "application/json", body: `{"grant_type":"client_credentials"}`, user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "parameters in the query", req: request{path: PathToken + "?client_secret=x", body: cc, user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "body over the cap", req: request{body: cc + "&scope=" + strings.Repeat("a", MaxBodyBytes), user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "repeated parameter", req: request{body: cc + "&scope=infer:mlp&scope=infer:cnn", user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "bad form encoding", req: request{body: cc + "&scope=%zz", user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "grant_type missing", req: request{body: "scope=infer:mlp", user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "unsupported grant type", req: request{body: "grant_type=password&username=a&password=b", user: "svc", pass: e.secret}, status: 400, code: "unsupported_grant_type"},
		{name: "wrong secret with basic", req: request{body: cc, user: "svc", pass: "nope"}, status: 401, code: "invalid_client", wwwBasic: true},
		{name: "wrong secret with post", req: request{body: cc + "&client_id=svc&client_secret=nope"}, status: 401, code: "invalid_client"},
		{name: "unknown client", req: request{body: cc, user: "ghost", pass: e.secret}, status: 401, code: "invalid_client", wwwBasic: true},
		{name: "no client authentication", req: request{body: cc + "&client_id=svc"}, status: 401, code: "invalid_client"},
		{name: "bearer authorization header", req: request{body: cc, header: map[string]string{"Authorization": "Bearer abc"}}, status: 401, code: "invalid_client"},
		{name: "two authentication methods", req: request{body: cc + "&client_secret=" + e.secret, user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "client_id differs from basic", req: request{body: cc + "&client_id=other", user: "svc", pass: e.secret}, status: 400, code: "invalid_request"},
		{name: "disabled client", req: request{body: cc, user: "off", pass: e.offSec}, status: 401, code: "invalid_client", wwwBasic: true},
		{name: "secret for a private_key_jwt client", req: request{body: cc, user: "jwtc", pass: e.secret}, status: 401, code: "invalid_client", wwwBasic: true},
		{name: "scope not allowed", req: request{body: cc + "&scope=infer:mlp+admin", user: "svc", pass: e.secret}, status: 400, code: "invalid_scope"},
		{name: "malformed scope", req: request{body: cc + "&scope=%22quoted%22", user: "svc", pass: e.secret}, status: 400, code: "invalid_scope"},
		{name: "resource not allowed", req: request{body: cc + "&resource=https://elsewhere", user: "svc", pass: e.secret}, status: 400, code: "invalid_target"},
		{name: "audience not allowed", req: request{body: cc + "&audience=elsewhere", user: "svc", pass: e.secret}, status: 400, code: "invalid_target"},
		{name: "client without scopes", req: request{body: cc, user: "noscope", pass: e.secret}, status: 400, code: "unauthorized_client"},
		{name: "wrong assertion type", req: request{body: cc + "&client_assertion_type=urn:x&client_assertion=" + e.assertion(t, nil)}, status: 400, code: "invalid_request"},
		{name: "assertion without exp", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"exp": nil})}, status: 401, code: "invalid_client"},
		{name: "assertion for another audience", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"aud": "https://other.example/token"})}, status: 401, code: "invalid_client"},
		{name: "assertion sub is not the client", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"sub": "svc"})}, status: 401, code: "invalid_client"},
		{name: "assertion without jti", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"jti": nil})}, status: 401, code: "invalid_client"},
		{name: "assertion expiring too late", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"exp": tooFar})}, status: 401, code: "invalid_client"},
		{name: "assertion expired", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})}, status: 401, code: "invalid_client"},
		{name: "assertion issued in the future", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"iat": time.Now().Add(5 * time.Minute).Unix()})}, status: 401, code: "invalid_client"},
		{name: "assertion for an unknown client", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=" + e.assertion(t, map[string]any{"iss": "ghost", "sub": "ghost"})}, status: 401, code: "invalid_client"},
		{name: "assertion is garbage", req: request{body: cc + "&client_assertion_type=" + url.QueryEscape(assertionType) + "&client_assertion=a.b.c"}, status: 401, code: "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, tc.req)
			if resp.StatusCode != tc.status || body.Error != tc.code {
				t.Errorf("got %d %q (%s), want %d %q", resp.StatusCode, body.Error, body.Description, tc.status, tc.code)
			}
			if got := resp.Header.Get("WWW-Authenticate"); strings.HasPrefix(got, "Basic") != tc.wwwBasic {
				t.Errorf("WWW-Authenticate = %q, want Basic: %v", got, tc.wwwBasic)
			}
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
				t.Errorf("cache headers = %q %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
			}
			if strings.Contains(body.Description, e.secret) {
				t.Error("the error echoes the secret")
			}
		})
	}
}

func TestReplayedAssertionRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := "grant_type=client_credentials&client_assertion_type=" + url.QueryEscape(assertionType) +
		"&client_assertion=" + e.assertion(t, nil)
	if resp, b := e.do(t, request{body: body}); resp.StatusCode != 200 {
		t.Fatalf("first use: %d %+v", resp.StatusCode, b)
	}
	if resp, b := e.do(t, request{body: body}); resp.StatusCode != 401 || b.Error != "invalid_client" {
		t.Fatalf("replay: %d %+v, want 401 invalid_client", resp.StatusCode, b)
	}
}

func TestFailedAuthenticationsAreRateLimited(t *testing.T) {
	c := &clock{t: time.Now()}
	e := newEnv(t, func(o *Options) { o.AuthFailureBurst = 2; o.AuthFailureRefill = 10 * time.Second; o.Now = c.Now })
	bad := request{body: "grant_type=client_credentials", user: "svc", pass: "wrong"}
	for i := range 2 {
		if resp, _ := e.do(t, bad); resp.StatusCode != 401 {
			t.Fatalf("failure %d: status %d, want 401", i, resp.StatusCode)
		}
	}
	good := request{body: "grant_type=client_credentials", user: "svc", pass: e.secret}
	resp, body := e.do(t, good)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" || body.Error != "too_many_requests" {
		t.Fatalf("after the burst: %d %q Retry-After %q", resp.StatusCode, body.Error, resp.Header.Get("Retry-After"))
	}
	c.Advance(10 * time.Second)
	if resp, _ := e.do(t, good); resp.StatusCode != 200 {
		t.Fatalf("after the refill: %d, want 200", resp.StatusCode)
	}
	var want = map[string]float64{failBadSecret: 2, failRateLimited: 1}
	mfs, _ := e.reg.Gather()
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "torchgate_issuer_auth_failures_total" {
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("auth failures %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestErrorIsMatchesHintedCopies(t *testing.T) {
	if !errors.Is(ErrInvalidScope.with("x"), ErrInvalidScope) || errors.Is(ErrInvalidScope, ErrInvalidRequest) {
		t.Error("errors.Is does not follow the code")
	}
}
