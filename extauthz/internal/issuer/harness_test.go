package issuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/revocation"
	"github.com/torchgate/torchgate/extauthz/internal/signing"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an issuer behind an httptest server with three registered clients:
//   - "svc" (secret, scopes infer:mlp infer:cnn, tier pro),
//   - "jwtc" (private_key_jwt with an inline ES256 key),
//   - "off" (disabled).
type env struct {
	srv      *httptest.Server
	issuer   *Server
	reg      *prometheus.Registry
	secret   string
	offSec   string
	jwtKey   *ecdsa.PrivateKey
	revoked  *revocation.Store
	registry *clients.Registry
}

func newEnv(t testing.TB, mutate func(*Options)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{reg: prometheus.NewPedanticRegistry()}
	var err error
	if e.secret, err = clients.GenerateSecret(); err != nil {
		t.Fatal(err)
	}
	e.offSec, _ = clients.GenerateSecret()
	h1, _ := clients.HashSecret(e.secret)
	h2, _ := clients.HashSecret(e.offSec)
	e.jwtKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.PublicKeyOf(e.jwtKey.Public())
	_ = pub.Set(jwk.KeyIDKey, "c1")
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	setJSON, _ := json.Marshal(set)
	file := &clients.File{Clients: []*clients.Client{
		{ID: "svc", SecretHash: h1, Scopes: []string{"infer:mlp", "infer:cnn"}, Audiences: []string{"torchgate", "other-api"}, Tier: "pro"},
		{ID: "jwtc", AuthMethod: clients.AuthPrivateKeyJWT, JWKS: string(setJSON), Scopes: []string{"infer:mlp"}},
		{ID: "off", SecretHash: h2, Scopes: []string{"infer:mlp"}, Disabled: true},
		{ID: "noscope", SecretHash: h1},
	}}
	path := filepath.Join(dir, "clients.yaml")
	if err := clients.Save(path, file); err != nil {
		t.Fatal(err)
	}
	if e.registry, err = clients.Open(path); err != nil {
		t.Fatal(err)
	}
	keys, err := signing.Open(filepath.Join(dir, "keys"), signing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	opts := Options{URL: e.srv.URL, Audience: "torchgate", Clients: e.registry, Keys: keys, Registerer: e.reg}
	if mutate != nil {
		mutate(&opts)
	}
	if opts.Revocations == nil {
		opts.Revocations = revocation.New(revocation.Options{Clients: e.registry, Issuer: e.srv.URL, Now: opts.Now})
	}
	e.revoked = opts.Revocations
	if e.issuer, err = New(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.issuer.Close)
	e.issuer.Register(mux)
	return e
}

// assertion signs a client assertion for "jwtc" with the given claims changes.
func (e *env) assertion(t testing.TB, claims map[string]any) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{"iss": "jwtc", "sub": "jwtc", "aud": e.srv.URL + PathToken,
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": rand.Text()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	payload, _ := json.Marshal(c)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, "c1")
	b, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), e.jwtKey, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
