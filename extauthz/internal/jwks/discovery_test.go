package jwks

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// idp serves metadata documents at the given paths, each pointing at its own /jwks; issuerFor
// maps the path to the issuer value the document claims ("" means the test server's own URL
// plus issuerPath).
func idp(t *testing.T, issuerPath string, metadataPaths []string, claimedIssuer string) (*httptest.Server, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL + issuerPath
	if claimedIssuer == "" {
		claimedIssuer = issuer
	}
	for _, p := range metadataPaths {
		mux.HandleFunc(p, func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": claimedIssuer, "jwks_uri": srv.URL + "/jwks"})
		})
	}
	keys := jwksJSON(jwkJSON(t, map[string]string{"kid": "a"}))
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(keys)) })
	return srv, issuer
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name          string
		issuerPath    string
		metadataPaths []string
		claimedIssuer string
		wantErr       error
	}{
		{name: "openid configuration", metadataPaths: []string{"/.well-known/openid-configuration"}},
		{name: "openid configuration under an issuer path", issuerPath: "/realms/ml", metadataPaths: []string{"/realms/ml/.well-known/openid-configuration"}},
		{name: "rfc 8414 fallback", metadataPaths: []string{"/.well-known/oauth-authorization-server"}},
		{name: "rfc 8414 fallback with issuer path", issuerPath: "/tenant1", metadataPaths: []string{"/.well-known/oauth-authorization-server/tenant1"}},
		{name: "issuer mismatch refused", metadataPaths: []string{"/.well-known/openid-configuration"}, claimedIssuer: "https://evil.example", wantErr: ErrNotFetched},
		{name: "no metadata", wantErr: ErrNotFetched},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, issuer := idp(t, tc.issuerPath, tc.metadataPaths, tc.claimedIssuer)
			s := newSet(t, Options{Issuer: issuer})
			if _, err := s.LookupKey(t.Context(), "a"); !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestDiscoveryError(t *testing.T) {
	_, issuer := idp(t, "", nil, "")
	s := newSet(t, Options{Issuer: issuer})
	if _, err := s.fetchKeys(t.Context()); !errors.Is(err, ErrDiscovery) {
		t.Fatalf("err = %v, want ErrDiscovery", err)
	}
}
