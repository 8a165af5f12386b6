package token

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"
	"github.com/torchgate/torchgate/extauthz/internal/tokencache"
)

// DefaultClockSkew is the leeway on exp, nbf and iat when Options.ClockSkew is zero.
const DefaultClockSkew = 30 * time.Second

// maxTokenBytes bounds the tokens Verify parses; ParseAuthorization caps them lower.
const maxTokenBytes = 64 << 10

// Options tune a Verifier. A zero field takes its default.
type Options struct {
	// ClockSkew is the leeway on exp, nbf and iat; default 30s.
	ClockSkew time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Cache, when set, holds verified claims by the token's SHA-256. Give each Verifier its own
	// cache: a hit is trusted under the policy of the Verifier that stored it.
	Cache *tokencache.Cache[*Claims]
}

// Verifier verifies bearer JWTs against a fixed set of trusted issuers. It is safe for
// concurrent use.
type Verifier struct {
	issuers map[string]*policy
	skew    time.Duration
	now     func() time.Time
	cache   *tokencache.Cache[*Claims]
}

// NewVerifier compiles the issuers' policies. It fails with an error wrapping ErrConfig when an
// issuer is incomplete, listed twice, or allows a symmetric or unknown algorithm.
func NewVerifier(issuers []Issuer, opts Options) (*Verifier, error) {
	if len(issuers) == 0 {
		return nil, fmt.Errorf("%w: no issuers", ErrConfig)
	}
	if opts.ClockSkew < 0 {
		return nil, fmt.Errorf("%w: negative clock skew", ErrConfig)
	}
	v := &Verifier{issuers: make(map[string]*policy, len(issuers)), skew: opts.ClockSkew,
		now: opts.Now, cache: opts.Cache}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, iss := range issuers {
		p, err := compile(iss)
		if err != nil {
			return nil, err
		}
		if _, dup := v.issuers[p.issuer]; dup {
			return nil, fmt.Errorf("%w: issuer %q listed twice", ErrConfig, p.issuer)
		}
		v.issuers[p.issuer] = p
	}
	return v, nil
}

// Verify checks raw as described in the package doc and returns its claims, or an *Error. The
// returned Claims may be shared with the cache and must not be modified.
func (v *Verifier) Verify(ctx context.Context, raw Raw) (*Claims, error) {
	if raw == "" {
		return nil, ErrMissing
	}
	if len(raw) > maxTokenBytes {
		return nil, ErrTooLarge
	}
	now := v.now()
	if v.cache == nil {
		return v.verify(ctx, raw, now)
	}
	// The hit path parses nothing: hash, look up, check expiry. Sum256 only reads the bytes, so
	// viewing the string's memory without a copy is safe.
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(string(raw)), len(raw)))
	if c, ok := v.cache.Get(key, now); ok {
		if err := v.checkExpiry(c, now); err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	v.cache.Put(key, c, v.cache.ExpiryFor(now, c.Expiry))
	return c, nil
}

// verify is the full check of a token not found in the cache.
func (v *Verifier) verify(ctx context.Context, raw Raw, now time.Time) (*Claims, error) {
	jws, err := splitJWS(string(raw))
	if err != nil {
		return nil, err
	}
	hdr, err := jws.header()
	if err != nil {
		return nil, err
	}
	// RFC 8725 §3.1-3.2: refuse "none" and HMAC before anything else, whatever the issuer.
	if _, ok := supportedAlgorithms[hdr.Alg]; !ok {
		return nil, ErrAlgorithm
	}
	// RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood and
	// supported by the recipient, then the JWS is invalid." We support none.
	if hdr.Crit != nil {
		return nil, ErrCrit
	}
	if hdr.B64 != nil {
		// RFC 7797 §6: "b64" must be listed in crit; we support neither.
		return nil, ErrCrit
	}
	cs, err := jws.claimSet()
	if err != nil {
		return nil, err
	}
	p, ok := v.issuers[cs.Iss]
	if !ok {
		return nil, ErrWrongIssuer
	}
	fit, ok := p.algorithms[hdr.Alg]
	if !ok {
		return nil, ErrAlgorithm.with("the signing algorithm is not allowed for this issuer")
	}
	if !p.typeAccepted(hdr.Typ) {
		return nil, ErrWrongType
	}
	key, err := p.keys.LookupKey(ctx, hdr.Kid)
	if err != nil {
		if errors.Is(err, jwks.ErrUnknownKID) {
			return nil, ErrUnknownKID
		}
		return nil, ErrKeysUnavailable.wrap(err)
	}
	if !keyFits(fit, hdr.Alg, key) {
		return nil, ErrAlgorithm.with("the signing algorithm does not match the key")
	}
	if err := jws.verifySignature(hdr.Alg, key); err != nil {
		return nil, err
	}
	return v.checkClaims(p, cs, now)
}

// checkClaims applies the time and audience checks to a payload whose signature verified.
func (v *Verifier) checkClaims(p *policy, cs *claimSet, now time.Time) (*Claims, error) {
	c := cs.claims()
	if c.Expiry.IsZero() {
		// RFC 9068 §2.2: exp is REQUIRED in a JWT access token.
		return nil, ErrMalformed.with("the access token has no expiry")
	}
	if err := v.checkExpiry(c, now); err != nil {
		return nil, err
	}
	if !c.NotBefore.IsZero() && now.Add(v.skew).Before(c.NotBefore) {
		return nil, ErrNotYetValid
	}
	if !c.IssuedAt.IsZero() && now.Add(v.skew).Before(c.IssuedAt) {
		return nil, ErrNotYetValid.with("the access token was issued in the future")
	}
	if !p.audienceAccepted(c.Audience) {
		return nil, ErrWrongAudience
	}
	return c, nil
}

// checkExpiry applies exp with leeway: "the current date/time MUST be before the expiration
// date/time listed in the exp claim" (RFC 7519 §4.1.4).
func (v *Verifier) checkExpiry(c *Claims, now time.Time) error {
	if !now.Before(c.Expiry.Add(v.skew)) {
		return ErrExpired
	}
	return nil
}
