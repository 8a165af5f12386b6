package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/torchgate/torchgate/extauthz/internal/clients"
	"github.com/torchgate/torchgate/extauthz/internal/redistest"
)

// issuerServer runs extauthz with the built-in issuer on, one registered client, and optional
// extra configuration (e.g. redis). It returns the harness and the client's secret.
func issuerServer(t *testing.T, dir, extra string) (*harness, string) {
	t.Helper()
	secret, err := clients.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := clients.HashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	registry := filepath.Join(dir, "clients.yaml")
	if err := clients.Save(registry, &clients.File{Clients: []*clients.Client{
		{ID: "scorer", SecretHash: hash, Scopes: []string{"infer:mlp", "infer:cnn"}, Tier: "pro"},
	}}); err != nil {
		t.Fatal(err)
	}
	h := startIssuerHarness(t, fmt.Sprintf(`issuer:
  enabled: true
  keys_dir: %s
  clients_file: %s
%s`, filepath.Join(dir, "keys"), registry, extra))
	return h, secret
}

// startIssuerHarness is startWith for a configuration without external issuers: the issuer
// url must be known before the config is written, so the HTTP port is chosen first.
func startIssuerHarness(t *testing.T, extra string) *harness {
	t.Helper()
	dir := t.TempDir()
	httpAddr := freeAddr(t)
	path := filepath.Join(dir, "extauthz.yaml")
	writeConfig(t, path, fmt.Sprintf(`listen: {grpc: 127.0.0.1:0, http: %s}
routes:
  - path_prefix: /v2/models/mlp/
    scopes: [infer:mlp]
    model: mlp
audit: {path: %s}
`, httpAddr, filepath.Join(dir, "audit.log"))+extra)
	return launch(t, path)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fetchToken gets a token with a real OAuth2 client (client_secret_basic).
func fetchToken(t *testing.T, h *harness, secret string, scopes ...string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: "scorer", ClientSecret: secret,
		TokenURL: "http://" + h.srv.HTTPAddr() + "/oauth2/token", Scopes: scopes}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	return tok.AccessToken
}

func TestIssuedTokenPassesCheck(t *testing.T) {
	h, secret := issuerServer(t, t.TempDir(), "")
	tok := fetchToken(t, h, secret, "infer:mlp")
	resp := h.check(bearer(tok), nil)
	if resp.GetOkResponse() == nil {
		t.Fatalf("issued token denied: %s", resp.GetDeniedResponse().GetBody())
	}
	headers := map[string]string{}
	for _, hv := range resp.GetOkResponse().GetHeaders() {
		headers[hv.GetHeader().GetKey()] = hv.GetHeader().GetValue()
	}
	if headers["x-torchgate-client-id"] != "scorer" || headers["x-torchgate-scopes"] != "infer:mlp" {
		t.Errorf("identity headers %v", headers)
	}
	// The discovery document advertises the endpoints the server really serves.
	res, err := http.Get("http://" + h.srv.HTTPAddr() + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"token_endpoint":"http://`+h.srv.HTTPAddr()+`/oauth2/token"`) {
		t.Errorf("metadata: %s", body)
	}
}

func TestRevokedTokenIsDenied(t *testing.T) {
	h, secret := issuerServer(t, t.TempDir(), "")
	tok := fetchToken(t, h, secret)
	if h.check(bearer(tok), nil).GetOkResponse() == nil {
		t.Fatal("fresh token denied")
	}
	form := url.Values{"token": {tok}}
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.srv.HTTPAddr()+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("scorer", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	resp := h.check(bearer(tok), nil)
	if d := resp.GetDeniedResponse(); d == nil || d.GetStatus().GetCode() != 401 || resp.GetStatus().GetMessage() != "revoked" {
		t.Fatalf("revoked token: %v / %v", resp.GetStatus(), d.GetBody())
	}
}

// TestRevocationReachesOtherReplicaWithinOneSecond runs two extauthz servers sharing one real
// redis-server and one registry: a client revoked on A is refused by B within a second.
func TestRevocationReachesOtherReplicaWithinOneSecond(t *testing.T) {
	rdb := redistest.Start(t)
	dir := t.TempDir()
	redisCfg := fmt.Sprintf("redis: {url: %q}\n", rdb.URL())
	a, secret := issuerServer(t, dir, redisCfg)
	b := startIssuerHarness(t, fmt.Sprintf(`issuer:
  enabled: true
  url: http://%s
  keys_dir: %s
  clients_file: %s
%s`, a.srv.HTTPAddr(), filepath.Join(dir, "keys"), filepath.Join(dir, "clients.yaml"), redisCfg))
	tok := fetchToken(t, a, secret)
	if b.check(bearer(tok), nil).GetOkResponse() == nil {
		t.Fatal("replica B denies a token issued by A before any revocation")
	}
	if err := a.srv.auth.revocations.RevokeClient(context.Background(), "scorer", time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for b.check(bearer(tok), nil).GetOkResponse() != nil {
		if time.Since(start) > time.Second {
			t.Fatal("replica B still allows the revoked client's token after 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revocation visible on replica B after %s", time.Since(start))
}

// TestPrivateKeyJWTTokenPassesCheck: a client authenticating with a signed assertion (RFC 7523)
// gets a token through a real OAuth2 client, and that token passes a real gRPC Check.
func TestPrivateKeyJWTTokenPassesCheck(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.Import(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, "signer-1")
	_ = pub.Set(jwk.AlgorithmKey, jwa.ES256())
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	setJSON, _ := json.Marshal(set)
	registry := filepath.Join(dir, "clients.yaml")
	if err := clients.Save(registry, &clients.File{Clients: []*clients.Client{
		{ID: "signer", AuthMethod: clients.AuthPrivateKeyJWT, JWKS: string(setJSON), Scopes: []string{"infer:mlp"}},
	}}); err != nil {
		t.Fatal(err)
	}
	h := startIssuerHarness(t, fmt.Sprintf("issuer:\n  enabled: true\n  keys_dir: %s\n  clients_file: %s\n", filepath.Join(dir, "keys"), registry))
	tokenURL := "http://" + h.srv.HTTPAddr() + "/oauth2/token"
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{"iss": "signer", "sub": "signer", "aud": tokenURL,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "assertion-1"})
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, "signer-1")
	assertion, err := jws.Sign(claims, jws.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: "signer", TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {string(assertion)},
		}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	if resp := h.check(bearer(tok.AccessToken), nil); resp.GetOkResponse() == nil {
		t.Fatalf("private_key_jwt token denied: %s", resp.GetDeniedResponse().GetBody())
	}
	// The same assertion again is a replay.
	if _, err := cc.Token(context.Background()); err == nil {
		t.Error("a replayed client assertion was accepted")
	}
}
