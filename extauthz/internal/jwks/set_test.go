package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a fake Now that tests advance by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// keyServer serves a JWKS whose content, status and headers tests change between requests and
// counts the requests it answered.
type keyServer struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	body     string
	status   int
	header   http.Header
}

func newKeyServer(t *testing.T, body string) *keyServer {
	t.Helper()
	ks := &keyServer{body: body, status: http.StatusOK}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ks.requests.Add(1)
		ks.mu.Lock()
		body, status, header := ks.body, ks.status, ks.header
		ks.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) serve(status int, body string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.status, ks.body = status, body
}

// jwkJSON returns one public JWK object with the given extra members (kid, use, ...).
func jwkJSON(t *testing.T, members map[string]string) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range members {
		if err := k.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jwksJSON(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

func newSet(t *testing.T, opts Options) *Set {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotation(t *testing.T) {
	a := jwkJSON(t, map[string]string{"kid": "a"})
	b := jwkJSON(t, map[string]string{"kid": "b"})
	ks := newKeyServer(t, jwksJSON(a))
	clk := &clock{now: t0}
	s := newSet(t, Options{URI: ks.URL, Now: clk.Now})
	ctx := t.Context()
	start(t, s)
	if _, err := s.LookupKey(ctx, "a"); err != nil {
		t.Fatalf("lookup a: %v", err)
	}
	ks.serve(http.StatusOK, jwksJSON(a, b)) // the IdP rotates in key b
	if _, err := s.LookupKey(ctx, "b"); err != nil {
		t.Fatalf("lookup b after rotation: %v", err)
	}
	if n := ks.requests.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want 2 (first fetch + one refetch)", n)
	}
	if _, err := s.LookupKey(ctx, "b"); err != nil || ks.requests.Load() != 2 {
		t.Fatalf("known kid refetched or failed: %v, %d requests", err, ks.requests.Load())
	}
}

func TestUnknownKIDCooldown(t *testing.T) {
	ks := newKeyServer(t, jwksJSON(jwkJSON(t, map[string]string{"kid": "a"})))
	clk := &clock{now: t0}
	var fetches atomic.Int64
	s := newSet(t, Options{URI: ks.URL, Now: clk.Now, UnknownKIDCooldown: time.Minute,
		OnFetch: func(string) { fetches.Add(1) }})
	ctx := t.Context()
	if _, err := s.LookupKey(ctx, "a"); err != nil { // first fetch, triggered by a lookup
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // the lookup-triggered first fetch started a cooldown; let it pass

	const callers = 1000
	var wg sync.WaitGroup
	var unknown atomic.Int64
	start := make(chan struct{})
	for range callers {
		wg.Go(func() {
			<-start
			if _, err := s.LookupKey(ctx, "forged"); errors.Is(err, ErrUnknownKID) {
				unknown.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := ks.requests.Load(); n != 2 {
		t.Fatalf("server saw %d requests, want exactly 2 (first fetch + one refetch)", n)
	}
	if unknown.Load() != callers {
		t.Fatalf("%d of %d callers got ErrUnknownKID", unknown.Load(), callers)
	}
	if fetches.Load() != 2 {
		t.Fatalf("OnFetch called %d times, want 2", fetches.Load())
	}

	clk.Advance(59 * time.Second)
	if _, err := s.LookupKey(ctx, "other"); !errors.Is(err, ErrUnknownKID) || ks.requests.Load() != 2 {
		t.Fatalf("inside cooldown: err %v, %d requests; want ErrUnknownKID without a fetch", err, ks.requests.Load())
	}
	clk.Advance(time.Second)
	if _, err := s.LookupKey(ctx, "other"); !errors.Is(err, ErrUnknownKID) || ks.requests.Load() != 3 {
		t.Fatalf("after cooldown: err %v, %d requests; want one more fetch", err, ks.requests.Load())
	}
}

func TestIdPDownKeepsKeys(t *testing.T) {
	ks := newKeyServer(t, jwksJSON(jwkJSON(t, map[string]string{"kid": "a"})))
	clk := &clock{now: t0}
	var results []string
	s := newSet(t, Options{URI: ks.URL, Now: clk.Now, OnFetch: func(r string) { results = append(results, r) }})
	ctx := t.Context()
	start(t, s)
	ks.serve(http.StatusServiceUnavailable, "down")
	if _, err := s.LookupKey(ctx, "b"); !errors.Is(err, ErrUnknownKID) {
		t.Fatalf("unknown kid while IdP down: %v, want ErrUnknownKID", err)
	}
	if _, err := s.LookupKey(ctx, "a"); err != nil {
		t.Fatalf("cached key a while IdP down: %v", err)
	}
	if !s.Ready() {
		t.Fatal("Ready false after a failed refresh")
	}
	if strings.Join(results, ",") != "ok,error" {
		t.Fatalf("OnFetch results %v, want [ok error]", results)
	}
}

func TestNeverFetched(t *testing.T) {
	ks := newKeyServer(t, "")
	ks.serve(http.StatusInternalServerError, "")
	s := newSet(t, Options{URI: ks.URL})
	if _, err := s.LookupKey(t.Context(), "a"); !errors.Is(err, ErrNotFetched) {
		t.Fatalf("err = %v, want ErrNotFetched", err)
	}
	if s.Ready() {
		t.Fatal("Ready true without keys")
	}
}

func TestKeySelection(t *testing.T) {
	tests := []struct {
		name    string
		keys    []string
		kid     string
		wantErr error
	}{
		{name: "sig key found", keys: []string{jwkJSON(t, map[string]string{"kid": "a", "use": "sig"})}, kid: "a"},
		{name: "enc key skipped", keys: []string{jwkJSON(t, map[string]string{"kid": "a", "use": "enc"}), jwkJSON(t, map[string]string{"kid": "b"})}, kid: "a", wantErr: ErrUnknownKID},
		{name: "symmetric key skipped", keys: []string{`{"kty":"oct","kid":"h","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`, jwkJSON(t, map[string]string{"kid": "b"})}, kid: "h", wantErr: ErrUnknownKID},
		{name: "no kid with one key", keys: []string{jwkJSON(t, map[string]string{"kid": "a"})}, kid: ""},
		{name: "no kid with a kid-less single key", keys: []string{jwkJSON(t, nil)}, kid: ""},
		{name: "no kid with two keys", keys: []string{jwkJSON(t, map[string]string{"kid": "a"}), jwkJSON(t, map[string]string{"kid": "b"})}, kid: "", wantErr: ErrUnknownKID},
		{name: "only symmetric keys", keys: []string{`{"kty":"oct","kid":"h","k":"c2VjcmV0"}`}, kid: "h", wantErr: ErrNotFetched},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks := newKeyServer(t, jwksJSON(tc.keys...))
			s := newSet(t, Options{URI: ks.URL})
			k, err := s.LookupKey(t.Context(), tc.kid)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				if _, ok := k.(jwk.ECDSAPublicKey); !ok {
					t.Fatalf("got %T, want a public EC key", k)
				}
			}
		})
	}
}

func TestPrivateKeyReducedToPublic(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, "p")
	b, _ := json.Marshal(k)
	ks := newKeyServer(t, jwksJSON(string(b)))
	got, err := newSet(t, Options{URI: ks.URL}).LookupKey(t.Context(), "p")
	if err != nil {
		t.Fatal(err)
	}
	if got.(jwk.AsymmetricKey).IsPrivate() {
		t.Fatal("private key material kept")
	}
}

func TestBodyCap(t *testing.T) {
	ks := newKeyServer(t, `{"keys":[],"pad":"`+strings.Repeat("x", MaxBodyBytes)+`"}`)
	s := newSet(t, Options{URI: ks.URL})
	if _, err := s.LookupKey(t.Context(), "a"); !errors.Is(err, ErrNotFetched) {
		t.Fatalf("err = %v, want ErrNotFetched", err)
	}
	if _, err := s.fetchKeys(t.Context()); !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("fetch err = %v, want an oversized-body ErrFetch", err)
	}
}

func TestRefreshInterval(t *testing.T) {
	tests := []struct {
		name         string
		min, max     time.Duration
		cacheControl string
		want         time.Duration
	}{
		{name: "max-age within bounds honoured", cacheControl: "public, max-age=1200", want: 20 * time.Minute},
		{name: "short max-age raised to min", cacheControl: "max-age=10", want: 5 * time.Minute},
		{name: "long max-age lowered to max", cacheControl: "max-age=86400", want: 60 * time.Minute},
		{name: "huge max-age does not overflow", cacheControl: "max-age=99999999999999999", want: 60 * time.Minute},
		{name: "no header uses 15m", want: 15 * time.Minute},
		{name: "no header with small max", max: 10 * time.Minute, want: 10 * time.Minute},
		{name: "no header with large min", min: 20 * time.Minute, want: 20 * time.Minute},
		{name: "no-store refreshes at min", cacheControl: "no-store", want: 5 * time.Minute},
		{name: "malformed max-age ignored", cacheControl: "max-age=soon", want: 15 * time.Minute},
		{name: "directive names are case-insensitive", cacheControl: "Max-Age=1800", want: 30 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSet(t, Options{URI: "https://idp.example/jwks", MinRefresh: tc.min, MaxRefresh: tc.max})
			if got := s.refreshInterval(tc.cacheControl); got != tc.want {
				t.Fatalf("refreshInterval(%q) = %v, want %v", tc.cacheControl, got, tc.want)
			}
		})
	}
}

func TestCacheControlFromResponse(t *testing.T) {
	ks := newKeyServer(t, jwksJSON(jwkJSON(t, map[string]string{"kid": "a"})))
	ks.header = http.Header{"Cache-Control": {"public, max-age=1200, must-revalidate"}}
	next, err := newSet(t, Options{URI: ks.URL}).fetchKeys(t.Context())
	if err != nil || next != 20*time.Minute {
		t.Fatalf("fetchKeys = %v, %v; want 20m from max-age", next, err)
	}
	ks.header = http.Header{"Cache-Control": {"max-age=7"}}
	next, err = newSet(t, Options{URI: ks.URL, MinRefresh: time.Minute}).fetchKeys(t.Context())
	if err != nil || next != time.Minute {
		t.Fatalf("fetchKeys = %v, %v; want max-age 7s raised to MinRefresh 1m", next, err)
	}
}

func TestStartRetriesAndRefreshes(t *testing.T) {
	ks := newKeyServer(t, jwksJSON(jwkJSON(t, map[string]string{"kid": "a"})))
	ks.serve(http.StatusBadGateway, "")
	var okFetches atomic.Int64
	s := newSet(t, Options{URI: ks.URL, OnFetch: func(r string) {
		if r == "ok" {
			okFetches.Add(1)
		}
	}})
	s.retryDelay = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s.Start(ctx)
	s.Start(ctx) // a second Start does nothing
	waitFor(t, func() bool { return ks.requests.Load() >= 3 })
	if s.Ready() {
		t.Fatal("Ready while every fetch failed")
	}
	ks.serve(http.StatusOK, jwksJSON(jwkJSON(t, map[string]string{"kid": "a"})))
	waitFor(t, s.Ready)
	if okFetches.Load() != 1 {
		t.Fatalf("%d successful fetches, want 1 (next refresh is minutes away)", okFetches.Load())
	}
}

// start starts s's background refresh for the test's lifetime and waits for the first fetch.
func start(t *testing.T, s *Set) {
	t.Helper()
	s.Start(t.Context())
	waitFor(t, s.Ready)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "neither URI nor issuer", opts: Options{}},
		{name: "relative URI", opts: Options{URI: "/jwks"}},
		{name: "non-http issuer", opts: Options{Issuer: "ftp://idp.example"}},
		{name: "min above max", opts: Options{URI: "https://idp.example/jwks", MinRefresh: time.Hour, MaxRefresh: time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
		})
	}
}
