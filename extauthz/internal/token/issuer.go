package token

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// KeySource finds a verification key by kid; *jwks.Set implements it. An error wrapping
// jwks.ErrUnknownKID means the kid is unknown; any other error means the keys are unavailable.
type KeySource interface {
	LookupKey(ctx context.Context, kid string) (jwk.Key, error)
}

// Issuer is one trusted issuer's policy.
type Issuer struct {
	// Issuer must equal the token's "iss" exactly (RFC 7519 §4.1.1, RFC 9068 §4).
	Issuer string
	// Audiences lists the accepted audiences; "aud" must contain at least one. Required.
	Audiences []string
	// Algorithms is the signing algorithm allowlist; default RS256, ES256, PS256, EdDSA. Only
	// asymmetric algorithms may be listed: "none" and HS* are configuration errors.
	Algorithms []string
	// Types lists the accepted "typ" header values (see the package doc's type policy). Empty
	// means "JWT", "at+jwt" or no typ.
	Types []string
	// Keys supplies the issuer's verification keys, usually a *jwks.Set. Required.
	Keys KeySource
}

// DefaultAlgorithms is the algorithm allowlist of an Issuer that names none.
var DefaultAlgorithms = []string{"RS256", "ES256", "PS256", "EdDSA"}

// keyFit says which key a JWS algorithm needs (RFC 7518 §3.1, RFC 8037 §3.1).
type keyFit struct {
	kty jwa.KeyType
	crv jwa.EllipticCurveAlgorithm // zero for RSA
}

// supportedAlgorithms are the asymmetric algorithms an Issuer may allow.
var supportedAlgorithms = map[string]keyFit{
	"RS256": {kty: jwa.RSA()}, "RS384": {kty: jwa.RSA()}, "RS512": {kty: jwa.RSA()},
	"PS256": {kty: jwa.RSA()}, "PS384": {kty: jwa.RSA()}, "PS512": {kty: jwa.RSA()},
	"ES256": {kty: jwa.EC(), crv: jwa.P256()},
	"ES384": {kty: jwa.EC(), crv: jwa.P384()},
	"ES512": {kty: jwa.EC(), crv: jwa.P521()},
	"EdDSA": {kty: jwa.OKP(), crv: jwa.Ed25519()},
}

// policy is an Issuer compiled for verification.
type policy struct {
	issuer     string
	audiences  []string
	algorithms map[string]keyFit
	types      []string // normalized (see normalizeType)
	missingTyp bool     // a token without typ is accepted
	keys       KeySource
}

// compile validates iss and fills in its defaults.
func compile(iss Issuer) (*policy, error) {
	if iss.Issuer == "" {
		return nil, fmt.Errorf("%w: issuer identifier is empty", ErrConfig)
	}
	if len(iss.Audiences) == 0 || slices.Contains(iss.Audiences, "") {
		return nil, fmt.Errorf("%w: issuer %q: audiences must be non-empty", ErrConfig, iss.Issuer)
	}
	if iss.Keys == nil {
		return nil, fmt.Errorf("%w: issuer %q: no key source", ErrConfig, iss.Issuer)
	}
	p := &policy{issuer: iss.Issuer, audiences: slices.Clone(iss.Audiences), keys: iss.Keys,
		algorithms: make(map[string]keyFit)}
	algs := iss.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		fit, ok := supportedAlgorithms[a]
		if !ok {
			// RFC 8725 §3.1: HMAC and "none" are never acceptable with published keys.
			return nil, fmt.Errorf("%w: issuer %q: algorithm %q is not an allowed asymmetric algorithm", ErrConfig, iss.Issuer, a)
		}
		p.algorithms[a] = fit
	}
	if len(iss.Types) == 0 {
		p.types, p.missingTyp = []string{"jwt", "at+jwt"}, true
	}
	for _, t := range iss.Types {
		if t == "" {
			p.missingTyp = true
			continue
		}
		p.types = append(p.types, normalizeType(t))
	}
	return p, nil
}

// normalizeType lower-cases a media type and drops an "application/" prefix (RFC 7515 §4.1.9,
// RFC 8725 §3.11).
func normalizeType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// typeAccepted applies the type policy to a typ header (nil when absent).
func (p *policy) typeAccepted(typ *string) bool {
	if typ == nil {
		return p.missingTyp
	}
	return slices.Contains(p.types, normalizeType(*typ))
}

// audienceAccepted reports whether aud holds one of the issuer's audiences.
func (p *policy) audienceAccepted(aud []string) bool {
	for _, a := range aud {
		if slices.Contains(p.audiences, a) {
			return true
		}
	}
	return false
}

// keyFits reports whether key may verify alg: the key type and curve must match, and a key
// that names its own algorithm must name this one (RFC 7517 §4.4).
func keyFits(fit keyFit, alg string, key jwk.Key) bool {
	if key.KeyType() != fit.kty {
		return false
	}
	if ka, ok := key.Algorithm(); ok && ka.String() != alg {
		return false
	}
	switch k := key.(type) {
	case jwk.ECDSAPublicKey:
		crv, ok := k.Crv()
		return ok && crv == fit.crv
	case jwk.OKPPublicKey:
		crv, ok := k.Crv()
		return ok && crv == fit.crv
	}
	return fit.crv == jwa.EllipticCurveAlgorithm{}
}
