package issuer

import (
	"encoding/json"
	"net/http"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
)

// jwksMaxAge is the Cache-Control max-age of the JWKS response; well under the sign delay of
// new keys, so relying parties see a new key long before it signs.
const jwksMaxAge = "public, max-age=300"

// buildMetadata returns the authorization server metadata (RFC 8414 §2); the OpenID discovery
// document serves the same subset.
func (s *Server) buildMetadata() map[string]any {
	authMethods := []string{clients.AuthSecretBasic, clients.AuthSecretPost, clients.AuthPrivateKeyJWT}
	return map[string]any{
		"issuer":                                s.opts.URL,
		"token_endpoint":                        s.tokenURL,
		"jwks_uri":                              s.opts.URL + PathJWKS,
		"introspection_endpoint":                s.opts.URL + PathIntrospect,
		"revocation_endpoint":                   s.opts.URL + PathRevoke,
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": authMethods,
		"token_endpoint_auth_signing_alg_values_supported":         assertionAlgorithms,
		"introspection_endpoint_auth_methods_supported":            authMethods,
		"revocation_endpoint_auth_methods_supported":               authMethods,
		"introspection_endpoint_auth_signing_alg_values_supported": assertionAlgorithms,
	}
}

// handleMetadata serves RFC 8414 metadata and the OpenID discovery subset.
func (s *Server) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_ = json.NewEncoder(w).Encode(s.metadata)
}

// handleJWKS serves the public keys (kid, alg, use; never private members).
func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	b, err := json.Marshal(s.opts.Keys.JWKS())
	if err != nil {
		writeError(w, ErrServer.wrap(err), false)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", jwksMaxAge)
	_, _ = w.Write(b)
}
