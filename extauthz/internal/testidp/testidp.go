// Package testidp is a small, real OAuth2 identity provider for tests and load generators: it
// holds signing keys, serves them as a JWKS with OIDC discovery over HTTP on loopback, and
// mints signed JWT access tokens. It exists so that extauthz's integration tests and benchmarks
// exercise the same HTTP key fetching and signature checks as production, without a fake.
//
// It is not for production use: keys live in memory and are generated at start.
package testidp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/torchgate/torchgate/extauthz/internal/jwks"
)

// IdP is a running test identity provider. Its methods are safe for concurrent use.
type IdP struct {
	srv *httptest.Server

	mu       sync.Mutex
	keys     map[string]signingKey // by kid; guarded by mu
	order    []string              // kids in creation order; guarded by mu
	nextKID  int                   // guarded by mu
	maxAge   time.Duration         // Cache-Control max-age of the JWKS; guarded by mu
	fetches  atomic.Int64
	down     atomic.Bool
	jwksPath string
}

type signingKey struct {
	alg     jwa.SignatureAlgorithm
	private crypto.Signer
	public  jwk.Key
}

// New starts an IdP on 127.0.0.1 with one RS256 and one ES256 key.
func New() (*IdP, error) {
	p := &IdP{keys: make(map[string]signingKey), jwksPath: "/jwks"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET "+p.jwksPath, p.serveJWKS)
	p.srv = httptest.NewServer(mux)
	for _, alg := range []string{"RS256", "ES256"} {
		if _, err := p.AddKey(alg); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// URL is the issuer identifier (and base URL) of the IdP.
func (p *IdP) URL() string { return p.srv.URL }

// JWKSURL is the URL of the key set.
func (p *IdP) JWKSURL() string { return p.srv.URL + p.jwksPath }

// Close stops the HTTP server.
func (p *IdP) Close() { p.srv.Close() }

// Fetches counts JWKS requests served (including those answered 503 while down).
func (p *IdP) Fetches() int64 { return p.fetches.Load() }

// SetDown makes the IdP answer every request with 503 (an outage) or serve again.
func (p *IdP) SetDown(down bool) { p.down.Store(down) }

// SetMaxAge sets the Cache-Control max-age sent with the JWKS (0: no header).
func (p *IdP) SetMaxAge(d time.Duration) {
	p.mu.Lock()
	p.maxAge = d
	p.mu.Unlock()
}

// AddKey generates a key for alg (RS256, PS256, ES256 or EdDSA), publishes it, and returns its kid.
func (p *IdP) AddKey(alg string) (string, error) {
	var (
		priv crypto.Signer
		err  error
		sa   jwa.SignatureAlgorithm
	)
	switch alg {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		sa = map[string]jwa.SignatureAlgorithm{"RS256": jwa.RS256(), "PS256": jwa.PS256()}[alg]
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sa = jwa.ES256()
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
		sa = jwa.EdDSA()
	default:
		return "", fmt.Errorf("testidp: unsupported algorithm %q", alg)
	}
	if err != nil {
		return "", fmt.Errorf("testidp: generate %s key: %w", alg, err)
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		return "", fmt.Errorf("testidp: import key: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextKID++
	kid := fmt.Sprintf("key-%d-%s", p.nextKID, alg)
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: sa, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(k, v); err != nil {
			return "", fmt.Errorf("testidp: set %s: %w", k, err)
		}
	}
	p.keys[kid] = signingKey{alg: sa, private: priv, public: pub}
	p.order = append(p.order, kid)
	return kid, nil
}

// RemoveKey unpublishes a key (tokens it signed no longer verify after a refetch).
func (p *IdP) RemoveKey(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, kid)
	for i, k := range p.order {
		if k == kid {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

// KID returns the kid of the first published key for alg, or "".
func (p *IdP) KID(alg string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kid := range p.order {
		if p.keys[kid].alg.String() == alg {
			return kid
		}
	}
	return ""
}

// Token describes a token to mint. Zero fields get working defaults: iss = the IdP, aud =
// "torchgate", iat = now, exp = now + 15 min, typ = at+jwt, kid = the first key of Alg.
type Token struct {
	Alg     string         // default RS256
	KID     string         // signing key; default the first key of Alg
	Claims  map[string]any // merged over the defaults; a nil value deletes a default claim
	Headers map[string]any // extra or overriding protected header fields (typ, crit, jku, ...)
	Now     time.Time      // default time.Now()
}

// Mint signs a token.
func (p *IdP) Mint(t Token) (string, error) {
	if t.Alg == "" {
		t.Alg = "RS256"
	}
	if t.KID == "" {
		t.KID = p.KID(t.Alg)
	}
	if t.Now.IsZero() {
		t.Now = time.Now()
	}
	p.mu.Lock()
	key, ok := p.keys[t.KID]
	p.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("testidp: no key %q", t.KID)
	}
	claims := map[string]any{
		"iss": p.URL(), "aud": "torchgate", "iat": t.Now.Unix(), "exp": t.Now.Add(15 * time.Minute).Unix(),
	}
	for k, v := range t.Claims {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("testidp: claims: %w", err)
	}
	h := jws.NewHeaders()
	fields := map[string]any{jws.KeyIDKey: t.KID, jws.TypeKey: "at+jwt"}
	for k, v := range t.Headers {
		fields[k] = v
	}
	for k, v := range fields {
		if v == nil {
			continue
		}
		if err := h.Set(k, v); err != nil {
			return "", fmt.Errorf("testidp: header %s: %w", k, err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(key.alg, key.private, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("testidp: sign: %w", err)
	}
	return string(out), nil
}

func (p *IdP) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	if p.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.URL(), "jwks_uri": p.JWKSURL()})
}

func (p *IdP) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	p.fetches.Add(1)
	if p.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	set := jwk.NewSet()
	p.mu.Lock()
	for _, kid := range p.order {
		_ = set.AddKey(p.keys[kid].public)
	}
	maxAge := p.maxAge
	p.mu.Unlock()
	if maxAge > 0 {
		w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", int(maxAge.Seconds())))
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_ = json.NewEncoder(w).Encode(set)
}

// LookupKey returns the public key published under kid, straight from memory (no HTTP), so an
// IdP can stand in as a token.KeySource in unit tests.
func (p *IdP) LookupKey(_ context.Context, kid string) (jwk.Key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ok := p.keys[kid]
	if !ok {
		return nil, fmt.Errorf("testidp: %w: %q", jwks.ErrUnknownKID, kid)
	}
	return k.public, nil
}
