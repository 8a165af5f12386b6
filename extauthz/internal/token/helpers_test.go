package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/torchgate/torchgate/extauthz/internal/jwks"
	"github.com/torchgate/torchgate/extauthz/internal/tokencache"
)

func newCache() *tokencache.Cache[*Claims] { return tokencache.New[*Claims](1000, 5*time.Minute) }

// t0 is the fake now of every verification test.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

const (
	testIssuer   = "https://idp.test"
	strictIssuer = "https://strict.test" // RFC 9068 typ policy, RS384 allowed
	downIssuer   = "https://down.test"   // JWKS endpoint always fails
	testAudience = "https://models.test"
)

// testKeys are generated once per test binary: RSA 2048 is slow to generate.
type testKeys struct {
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	attacker *ecdsa.PrivateKey
}

var keys = sync.OnceValue(func() *testKeys {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	att, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &testKeys{rsa: r, ec: ec, ed: ed, attacker: att}
})

// publicJWKS renders the public halves of the named keys as a JWKS document.
func publicJWKS(t testing.TB, named map[string]crypto.Signer) []byte {
	t.Helper()
	set := jwk.NewSet()
	for kid, k := range named {
		pub, err := jwk.Import(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// serveJWKS serves body at an httptest URL and counts the requests.
func serveJWKS(t testing.TB, status int, body []byte) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// keySet returns a real jwks.Set over an httptest server.
func keySet(t testing.TB, status int, body []byte) *jwks.Set {
	t.Helper()
	url, _ := serveJWKS(t, status, body)
	s, err := jwks.New(jwks.Options{URI: url})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTestVerifier trusts three issuers: the default policy, a strict one and one whose keys
// are unavailable. The clock stands at t0.
func newTestVerifier(t testing.TB, cache bool) *Verifier {
	t.Helper()
	k := keys()
	good := keySet(t, http.StatusOK, publicJWKS(t, map[string]crypto.Signer{"rsa": k.rsa, "ec": k.ec, "ed": k.ed}))
	opts := Options{Now: func() time.Time { return t0 }}
	if cache {
		opts.Cache = newCache()
	}
	v, err := NewVerifier([]Issuer{
		{Issuer: testIssuer, Audiences: []string{testAudience, "other-api"}, Keys: good},
		{Issuer: strictIssuer, Audiences: []string{testAudience}, Algorithms: []string{"RS256", "RS384"},
			Types: []string{"at+jwt"}, Keys: good},
		{Issuer: downIssuer, Audiences: []string{testAudience}, Keys: keySet(t, http.StatusBadGateway, nil)},
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// claimsAt returns valid claims for testIssuer at t0, with overrides (a nil value deletes).
func claimsAt(over map[string]any) map[string]any {
	c := map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience, "client_id": "client-1",
		"exp": t0.Add(5 * time.Minute).Unix(), "iat": t0.Add(-time.Minute).Unix(),
		"jti": "jti-1", "scope": "infer read",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign signs claims with jwx, alg alg and the given extra protected headers.
func sign(t testing.TB, alg jwa.SignatureAlgorithm, key any, hdr map[string]any, claims map[string]any) Raw {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	for k, v := range hdr {
		if err := h.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return Raw(b)
}

// forge assembles a compact JWS by hand, with any header and signature bytes.
func forge(t testing.TB, hdr, claims map[string]any, sig func(signingInput []byte) []byte) Raw {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	return Raw(in + "." + enc.EncodeToString(sig([]byte(in))))
}
