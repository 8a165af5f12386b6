package issuer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenRequest throws arbitrary bodies, content types and Authorization headers at the
// token endpoint: form parsing, client authentication and assertion parsing must never panic
// and must answer a status the endpoint documents. The static seeds are also committed under
// testdata/fuzz/FuzzTokenRequest; the signed-assertion seed is made per run.
func FuzzTokenRequest(f *testing.F) {
	e := newEnv(f, func(o *Options) { o.AuthFailureBurst = 1 << 30 })
	seeds := []struct{ ct, body, authz string }{
		{"application/x-www-form-urlencoded", "grant_type=client_credentials", "Basic c3ZjOng="},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&scope=infer:mlp&scope=x", ""},
		{"application/x-www-form-urlencoded; charset=utf-8", "grant_type=client_credentials&client_id=svc&client_secret=x", ""},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + e.assertion(f, nil), ""},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJub25lIn0.eyJpc3MiOiJqd3RjIn0.", ""},
		{"application/json", "{}", "Bearer x"},
		{"application/x-www-form-urlencoded", "%zz", "Basic %%%"},
		{"application/x-www-form-urlencoded", "grant_type=client_credentials&resource=a&resource=b&audience=c", "Basic c3ZjOg=="},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body, s.authz)
	}
	h := http.NewServeMux()
	e.issuer.Register(h)
	allowed := map[int]bool{200: true, 400: true, 401: true, 429: true, 503: true}
	f.Fuzz(func(t *testing.T, ct, body, authz string) {
		req := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control: no-store")
		}
	})
}
