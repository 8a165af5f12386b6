package token

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// b64 decodes JWS segments: base64url without padding (RFC 7515 §2), strict about trailing bits.
var b64 = base64.RawURLEncoding.Strict()

// compactJWS is a token split into its three segments (RFC 7515 §7.1).
type compactJWS struct {
	signingInput string // header "." payload
	header64     string
	payload64    string
	signature64  string
}

// splitJWS splits a compact JWS; it does not decode anything.
func splitJWS(s string) (compactJWS, error) {
	h, rest, ok1 := strings.Cut(s, ".")
	p, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h == "" || p == "" || sig == "" || strings.Contains(sig, ".") {
		return compactJWS{}, ErrMalformed.with("the access token is not a compact JWS")
	}
	return compactJWS{signingInput: s[:len(h)+1+len(p)], header64: h, payload64: p, signature64: sig}, nil
}

// joseHeader holds the protected header members the verifier reads. Crit and B64 are kept raw
// only to detect their presence.
type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// header decodes the protected header.
func (j compactJWS) header() (*joseHeader, error) {
	b, err := b64.DecodeString(j.header64)
	if err != nil {
		return nil, ErrMalformed.with("the access token header is not base64url")
	}
	var h joseHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, ErrMalformed.with("the access token header is not a JSON object")
	}
	return &h, nil
}

// claimSet decodes the payload. Before the signature is verified its content is untrusted and
// serves only to pick the issuer.
func (j compactJWS) claimSet() (*claimSet, error) {
	b, err := b64.DecodeString(j.payload64)
	if err != nil {
		return nil, ErrMalformed.with("the access token payload is not base64url")
	}
	var cs claimSet
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, ErrMalformed.with("the access token claims are malformed")
	}
	return &cs, nil
}

// verifySignature checks the signature with jwx's JWS primitive. The caller has already
// matched alg to the issuer's allowlist and to key.
func (j compactJWS) verifySignature(alg string, key jwk.Key) error {
	sig, err := b64.DecodeString(j.signature64)
	if err != nil {
		return ErrMalformed.with("the access token signature is not base64url")
	}
	if err := jwsbb.Verify(key, alg, []byte(j.signingInput), sig); err != nil {
		return ErrBadSignature
	}
	return nil
}
