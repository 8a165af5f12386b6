package token

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/torchgate/torchgate/extauthz/internal/jwks"
)

// verifyCase is one token and the outcome Verify must give it.
type verifyCase struct {
	name    string
	raw     Raw
	wantErr error
}

func verifyCases(t testing.TB) []verifyCase {
	k := keys()
	rs := func(hdr map[string]any, over map[string]any) Raw {
		if hdr == nil {
			hdr = map[string]any{}
		}
		if _, ok := hdr["kid"]; !ok {
			hdr["kid"] = "rsa"
		}
		return sign(t, jwa.RS256(), k.rsa, hdr, claimsAt(over))
	}
	at := func(d time.Duration) int64 { return t0.Add(d).Unix() }
	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(k.rsa.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	randomSig := func([]byte) []byte {
		b := make([]byte, 64)
		_, _ = rand.Read(b)
		return b
	}
	return []verifyCase{
		// Accepted tokens.
		{name: "RS256 accepted", raw: rs(nil, nil)},
		{name: "ES256 accepted", raw: sign(t, jwa.ES256(), k.ec, map[string]any{"kid": "ec"}, claimsAt(nil))},
		{name: "EdDSA accepted", raw: sign(t, jwa.EdDSA(), k.ed, map[string]any{"kid": "ed"}, claimsAt(nil))},
		{name: "PS256 accepted", raw: sign(t, jwa.PS256(), k.rsa, map[string]any{"kid": "rsa"}, claimsAt(nil))},
		{name: "aud as array accepted", raw: rs(nil, map[string]any{"aud": []string{"x", "other-api"}})},
		{name: "fractional exp accepted", raw: rs(nil, map[string]any{"exp": float64(at(time.Minute)) + 0.5})},
		{name: "expired within skew accepted", raw: rs(nil, map[string]any{"exp": at(-29 * time.Second)})},
		{name: "nbf within skew accepted", raw: rs(nil, map[string]any{"nbf": at(29 * time.Second)})},
		{name: "iat within skew accepted", raw: rs(nil, map[string]any{"iat": at(29 * time.Second)})},
		{name: "typ JWT accepted by default", raw: rs(map[string]any{"typ": "JWT"}, nil)},
		{name: "typ application/at+jwt accepted by default", raw: rs(map[string]any{"typ": "application/at+jwt"}, nil)},
		{name: "strict issuer accepts AT+JWT", raw: rs(map[string]any{"typ": "AT+JWT"}, map[string]any{"iss": strictIssuer})},
		{name: "strict issuer allows RS384", raw: sign(t, jwa.RS384(), k.rsa, map[string]any{"kid": "rsa", "typ": "at+jwt"}, claimsAt(map[string]any{"iss": strictIssuer}))},
		{name: "jku header ignored, key from issuer", raw: rs(map[string]any{"jku": "http://127.0.0.1:1/jwks", "x5u": "http://127.0.0.1:1/cert"}, nil)},

		// missing_token, malformed, token_too_large.
		{name: "empty token", raw: "", wantErr: ErrMissing},
		{name: "two segments", raw: "abc.def", wantErr: ErrMalformed},
		{name: "four segments", raw: rs(nil, nil) + ".x", wantErr: ErrMalformed},
		{name: "header not base64url", raw: "a+b.e30.c2ln", wantErr: ErrMalformed},
		{name: "header not json", raw: "bm90IGpzb24.e30.c2ln", wantErr: ErrMalformed},
		{name: "claims not json", raw: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", wantErr: ErrMalformed},
		{name: "exp as string", raw: rs(nil, map[string]any{"exp": "tomorrow"}), wantErr: ErrMalformed},
		{name: "aud as number", raw: rs(nil, map[string]any{"aud": 7}), wantErr: ErrMalformed},
		{name: "exp missing", raw: rs(nil, map[string]any{"exp": nil}), wantErr: ErrMalformed},
		{name: "oversized token", raw: Raw(strings.Repeat("a", maxTokenBytes+1)), wantErr: ErrTooLarge},

		// bad_signature, unknown_kid, keys_unavailable.
		{name: "signed by another key under a known kid", raw: sign(t, jwa.ES256(), k.attacker, map[string]any{"kid": "ec"}, claimsAt(nil)), wantErr: ErrBadSignature},
		{name: "claims altered after signing", raw: tamper(t, rs(nil, nil)), wantErr: ErrBadSignature},
		{name: "embedded jwk header not trusted", raw: sign(t, jwa.ES256(), k.attacker, map[string]any{"kid": "ec", "jwk": mustJWK(t, k.attacker.Public())}, claimsAt(nil)), wantErr: ErrBadSignature},
		{name: "unknown kid", raw: rs(map[string]any{"kid": "rotated-away"}, nil), wantErr: ErrUnknownKID},
		{name: "kid absent with several keys", raw: sign(t, jwa.RS256(), k.rsa, nil, claimsAt(nil)), wantErr: ErrUnknownKID},
		{name: "jku pointing at attacker keys", raw: sign(t, jwa.ES256(), k.attacker, map[string]any{"kid": "attacker", "jku": "http://127.0.0.1:1/jwks"}, claimsAt(nil)), wantErr: ErrUnknownKID},
		{name: "issuer keys never fetched", raw: rs(nil, map[string]any{"iss": downIssuer}), wantErr: ErrKeysUnavailable},

		// bad_algorithm.
		{name: "alg none with empty signature", raw: forge(t, map[string]any{"alg": "none"}, claimsAt(nil), func([]byte) []byte { return nil }), wantErr: ErrMalformed},
		{name: "alg none", raw: forge(t, map[string]any{"alg": "none", "kid": "rsa"}, claimsAt(nil), randomSig), wantErr: ErrAlgorithm},
		{name: "HS256 signed with the public key", raw: forge(t, map[string]any{"alg": "HS256", "kid": "rsa"}, claimsAt(nil), func(in []byte) []byte {
			m := hmac.New(sha256.New, pubPEM)
			m.Write(in)
			return m.Sum(nil)
		}), wantErr: ErrAlgorithm},
		{name: "RS256 header with an EC key", raw: forge(t, map[string]any{"alg": "RS256", "kid": "ec"}, claimsAt(nil), randomSig), wantErr: ErrAlgorithm},
		{name: "ES256 header with an RSA key", raw: forge(t, map[string]any{"alg": "ES256", "kid": "rsa"}, claimsAt(nil), randomSig), wantErr: ErrAlgorithm},
		{name: "algorithm outside the issuer allowlist", raw: sign(t, jwa.RS384(), k.rsa, map[string]any{"kid": "rsa"}, claimsAt(nil)), wantErr: ErrAlgorithm},
		{name: "EdDSA not allowed for strict issuer", raw: sign(t, jwa.EdDSA(), k.ed, map[string]any{"kid": "ed", "typ": "at+jwt"}, claimsAt(map[string]any{"iss": strictIssuer})), wantErr: ErrAlgorithm},
		{name: "unknown algorithm", raw: forge(t, map[string]any{"alg": "XS999", "kid": "rsa"}, claimsAt(nil), randomSig), wantErr: ErrAlgorithm},

		// unsupported_crit.
		{name: "crit header", raw: rs(map[string]any{"crit": []string{"exp"}, "exp": 1}, nil), wantErr: ErrCrit},
		{name: "b64 header", raw: forge(t, map[string]any{"alg": "RS256", "kid": "rsa", "b64": false}, claimsAt(nil), randomSig), wantErr: ErrCrit},

		// expired, not_yet_valid.
		{name: "expired beyond skew", raw: rs(nil, map[string]any{"exp": at(-31 * time.Second)}), wantErr: ErrExpired},
		{name: "exp zero", raw: rs(nil, map[string]any{"exp": 0}), wantErr: ErrExpired},
		{name: "nbf beyond skew", raw: rs(nil, map[string]any{"nbf": at(31 * time.Second)}), wantErr: ErrNotYetValid},
		{name: "iat in the future", raw: rs(nil, map[string]any{"iat": at(time.Minute)}), wantErr: ErrNotYetValid},

		// wrong_issuer, wrong_audience, wrong_type.
		{name: "untrusted issuer", raw: rs(nil, map[string]any{"iss": "https://evil.test"}), wantErr: ErrWrongIssuer},
		{name: "issuer with trailing slash", raw: rs(nil, map[string]any{"iss": testIssuer + "/"}), wantErr: ErrWrongIssuer},
		{name: "missing issuer", raw: rs(nil, map[string]any{"iss": nil}), wantErr: ErrWrongIssuer},
		{name: "wrong audience", raw: rs(nil, map[string]any{"aud": "https://elsewhere.test"}), wantErr: ErrWrongAudience},
		{name: "audience array without ours", raw: rs(nil, map[string]any{"aud": []string{"a", "b"}}), wantErr: ErrWrongAudience},
		{name: "missing audience", raw: rs(nil, map[string]any{"aud": nil}), wantErr: ErrWrongAudience},
		{name: "typ JOSE refused", raw: rs(map[string]any{"typ": "JOSE"}, nil), wantErr: ErrWrongType},
		{name: "id token typ refused", raw: rs(map[string]any{"typ": "id_token+jwt"}, nil), wantErr: ErrWrongType},
		{name: "strict issuer refuses missing typ", raw: rs(nil, map[string]any{"iss": strictIssuer}), wantErr: ErrWrongType},
		{name: "strict issuer refuses typ JWT", raw: rs(map[string]any{"typ": "JWT"}, map[string]any{"iss": strictIssuer}), wantErr: ErrWrongType},
	}
}

// tamper swaps the payload of a signed token for another one.
func tamper(t testing.TB, raw Raw) Raw {
	parts := strings.Split(string(raw), ".")
	other := strings.Split(string(sign(t, jwa.RS256(), keys().rsa, nil, claimsAt(map[string]any{"scope": "admin"}))), ".")
	return Raw(parts[0] + "." + other[1] + "." + parts[2])
}

func mustJWK(t testing.TB, pub any) jwk.Key {
	k, err := jwk.Import(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerify(t *testing.T) {
	for _, cached := range []bool{false, true} {
		v := newTestVerifier(t, cached)
		for _, tc := range verifyCases(t) {
			name := tc.name
			if cached {
				name += " (cache)"
			}
			t.Run(name, func(t *testing.T) {
				// Twice: with a cache, the second call is a hit (or a repeated failure).
				for range 2 {
					c, err := v.Verify(t.Context(), tc.raw)
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("err = %v, want %v", err, tc.wantErr)
					}
					if err != nil {
						var te *Error
						if !errors.As(err, &te) || c != nil {
							t.Fatalf("failure is %T with claims %v, want *Error and nil", err, c)
						}
						continue
					}
					if c.Expiry.IsZero() || c.Issuer == "" {
						t.Fatalf("claims incomplete: %+v", c)
					}
				}
			})
		}
	}
}

func TestVerifyNeverFetchesTokenURLs(t *testing.T) {
	url, hits := serveJWKS(t, http.StatusOK, publicJWKS(t, nil))
	v := newTestVerifier(t, false)
	raw := sign(t, jwa.ES256(), keys().attacker, map[string]any{"kid": "attacker", "jku": url, "x5u": url}, claimsAt(nil))
	if _, err := v.Verify(t.Context(), raw); !errors.Is(err, ErrUnknownKID) {
		t.Fatalf("err = %v, want ErrUnknownKID", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("verifier fetched the token's jku/x5u %d times", hits.Load())
	}
}

func TestVerifyClaims(t *testing.T) {
	v := newTestVerifier(t, false)
	tests := []struct {
		name       string
		over       map[string]any
		wantClient string
		wantScopes []string
		wantAud    []string
	}{
		{name: "client_id wins", over: map[string]any{"azp": "azp-1"}, wantClient: "client-1", wantScopes: []string{"infer", "read"}, wantAud: []string{testAudience}},
		{name: "azp when no client_id", over: map[string]any{"client_id": nil, "azp": "azp-1"}, wantClient: "azp-1", wantScopes: []string{"infer", "read"}, wantAud: []string{testAudience}},
		{name: "sub when neither", over: map[string]any{"client_id": nil}, wantClient: "user-1", wantScopes: []string{"infer", "read"}, wantAud: []string{testAudience}},
		{name: "scp array", over: map[string]any{"scope": nil, "scp": []string{"a", "b"}}, wantClient: "client-1", wantScopes: []string{"a", "b"}, wantAud: []string{testAudience}},
		{name: "scp string", over: map[string]any{"scope": nil, "scp": "a  b"}, wantClient: "client-1", wantScopes: []string{"a", "b"}, wantAud: []string{testAudience}},
		{name: "scope wins over scp", over: map[string]any{"scope": "x", "scp": []string{"a"}}, wantClient: "client-1", wantScopes: []string{"x"}, wantAud: []string{testAudience}},
		{name: "empty scope does not fall back to scp", over: map[string]any{"scope": "", "scp": []string{"a"}}, wantClient: "client-1", wantScopes: []string{}, wantAud: []string{testAudience}},
		{name: "aud array kept", over: map[string]any{"aud": []string{"x", testAudience}}, wantClient: "client-1", wantScopes: []string{"infer", "read"}, wantAud: []string{"x", testAudience}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), sign(t, jwa.RS256(), keys().rsa, map[string]any{"kid": "rsa"}, claimsAt(tc.over)))
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientID != tc.wantClient || strings.Join(c.Scopes, "|") != strings.Join(tc.wantScopes, "|") ||
				strings.Join(c.Audience, "|") != strings.Join(tc.wantAud, "|") {
				t.Fatalf("client %q scopes %q aud %q; want %q %q %q", c.ClientID, c.Scopes, c.Audience, tc.wantClient, tc.wantScopes, tc.wantAud)
			}
		})
	}
	c, err := v.Verify(t.Context(), sign(t, jwa.RS256(), keys().rsa, map[string]any{"kid": "rsa"},
		claimsAt(map[string]any{"tier": "gold", "nbf": t0.Add(-time.Minute).Unix(), "exp": 1772600767.25})))
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Issuer: testIssuer, Subject: "user-1", JTI: "jti-1", Tier: "gold",
		IssuedAt: t0.Add(-time.Minute), NotBefore: t0.Add(-time.Minute), Expiry: time.Unix(1772600767, 250_000_000)}
	if c.Issuer != want.Issuer || c.Subject != want.Subject || c.JTI != want.JTI || c.Tier != want.Tier ||
		!c.IssuedAt.Equal(want.IssuedAt) || !c.NotBefore.Equal(want.NotBefore) || !c.Expiry.Equal(want.Expiry) {
		t.Fatalf("claims %+v, want %+v", c, want)
	}
}

func TestVerifyCacheHitStillChecksExpiry(t *testing.T) {
	now := t0
	cache := newCache()
	good := keySet(t, http.StatusOK, publicJWKS(t, map[string]crypto.Signer{"rsa": keys().rsa}))
	v, err := NewVerifier([]Issuer{{Issuer: testIssuer, Audiences: []string{testAudience}, Keys: good}},
		Options{Now: func() time.Time { return now }, Cache: cache, ClockSkew: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw := sign(t, jwa.RS256(), keys().rsa, map[string]any{"kid": "rsa"}, claimsAt(map[string]any{"exp": t0.Add(time.Minute).Unix()}))
	first, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if cache.Len() != 1 {
		t.Fatalf("cache holds %d entries after a verified token, want 1", cache.Len())
	}
	second, err := v.Verify(t.Context(), raw)
	if err != nil || second != first {
		t.Fatalf("second Verify = %p, %v; want the cached claims %p", second, err, first)
	}
	if hits, _ := cache.Stats(); hits != 1 {
		t.Fatalf("cache hits = %d, want 1", hits)
	}
	now = t0.Add(time.Minute + time.Second)
	if _, err := v.Verify(t.Context(), raw); !errors.Is(err, ErrExpired) {
		t.Fatalf("after exp: err = %v, want ErrExpired", err)
	}
}

func TestVerifyCanceledContext(t *testing.T) {
	url, _ := serveJWKS(t, http.StatusOK, publicJWKS(t, map[string]crypto.Signer{"rsa": keys().rsa}))
	set, err := jwks.New(jwks.Options{URI: url})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier([]Issuer{{Issuer: testIssuer, Audiences: []string{testAudience}, Keys: set}},
		Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = v.Verify(ctx, sign(t, jwa.RS256(), keys().rsa, map[string]any{"kid": "rsa"}, claimsAt(nil)))
	if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrKeysUnavailable wrapping context.Canceled", err)
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	ks := keySet(t, http.StatusOK, nil)
	ok := Issuer{Issuer: testIssuer, Audiences: []string{testAudience}, Keys: ks}
	with := func(f func(*Issuer)) []Issuer { i := ok; f(&i); return []Issuer{i} }
	tests := []struct {
		name    string
		issuers []Issuer
		opts    Options
	}{
		{name: "no issuers"},
		{name: "empty issuer", issuers: with(func(i *Issuer) { i.Issuer = "" })},
		{name: "no audience", issuers: with(func(i *Issuer) { i.Audiences = nil })},
		{name: "empty audience", issuers: with(func(i *Issuer) { i.Audiences = []string{""} })},
		{name: "no key source", issuers: with(func(i *Issuer) { i.Keys = nil })},
		{name: "HS256 allowed", issuers: with(func(i *Issuer) { i.Algorithms = []string{"RS256", "HS256"} })},
		{name: "none allowed", issuers: with(func(i *Issuer) { i.Algorithms = []string{"none"} })},
		{name: "unknown algorithm", issuers: with(func(i *Issuer) { i.Algorithms = []string{"RS1"} })},
		{name: "duplicate issuer", issuers: []Issuer{ok, ok}},
		{name: "negative skew", issuers: []Issuer{ok}, opts: Options{ClockSkew: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewVerifier(tc.issuers, tc.opts); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}
